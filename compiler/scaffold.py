"""`easel init`: copy a small working config repository (compiler/init_repo) into a folder."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

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

    walk(resources.files("compiler").joinpath(_ROOT), "")
    return dict(sorted(found.items()))


def conflicts(target: Path) -> list[str]:
    return [p for p in _files() if (target / p).exists()]


def write(target: Path) -> list[str]:
    written = []
    for path, data in _files().items():
        destination = target / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
        written.append(path)
    return written
