"""`easel init`: copy a small working config repository (compiler/init_repo) into a folder, with what editors
need beside it: VS Code's settings and the schemas they point at (editor.py, as `easel schema --out` writes them)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from compiler.commands import editor

_ROOT = "init_repo"


def _files() -> dict[str, bytes]:
    found: dict[str, bytes] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            if child.name.startswith(("__", ".")):
                continue
            path = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, path + "/")
            else:
                found[path] = child.read_bytes()

    walk(resources.files(__package__).joinpath(_ROOT), "")
    found.update({path: text.encode() for path, text in editor.editor_files().items()})
    return dict(sorted(found.items()))


def _paths() -> list[str]:
    return [*_files(), *(f"{editor.SCHEMA_FOLDER}/{name}" for name in editor.schema_files())]


def conflicts(target: Path) -> list[str]:
    return [p for p in _paths() if (target / p).exists() or (target / p).is_symlink()]


def write(target: Path) -> list[str]:
    written = []
    for path, data in _files().items():
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
        written.append(path)
    written += [f"{editor.SCHEMA_FOLDER}/{name}" for name in editor.write_schemas(target / editor.SCHEMA_FOLDER)]
    return written
