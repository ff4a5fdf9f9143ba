"""Editing the inventory's files so that what people wrote stays: documents that did not change are written back
byte for byte; one that changed and holds comments is edited with ruamel.yaml's round trip; every file is written
or none."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.commands.inventory_import.nodes import NodeListError
from compiler.diagnostics import Diagnostics
from compiler.load import yamlio


@dataclass
class Doc:
    """One document of a file: its data, and its original text, written back as it was unless it changed."""
    data: Any
    text: str | None  # None: a new document
    dirty: bool = False
    removed: bool = False
    is_document: bool = True  # False: comments above the first '---'


@dataclass
class File:
    path: str
    docs: list[Doc]

    def document(self, index: int) -> Doc:
        return [d for d in self.docs if d.is_document][index]

    @property
    def changed(self) -> bool:
        return any(d.dirty or d.removed or d.text is None for d in self.docs)


def _chunks(text: str) -> list[str]:
    """The text cut before every '---' line: one piece per document (and the comments above the first)."""
    pieces: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("---") and line[3:4] in ("", " ", "\n", "\r", "\t") and current:
            pieces.append("".join(current))
            current = []
        current.append(line)
    if current:
        pieces.append("".join(current))
    return pieces


def load(root: Path, path: str) -> File:
    text = _read(root, path)
    docs = []
    for chunk in _chunks(text):
        parsed, problems = yamlio.parse(chunk)
        if problems or len(parsed) > 1:
            raise NodeListError(f"{path}: cannot tell its documents apart; write each after a '---' line")
        if parsed:
            docs.append(Doc(parsed[0].data, chunk))
        else:
            docs.append(Doc(None, chunk, is_document=False))
    return File(path, docs)


def _sync(target: Any, source: Any) -> Any:
    """target (a ruamel.yaml node, with comments) made equal to source, keeping what did not change."""
    if isinstance(target, dict) and isinstance(source, dict):
        for key in [k for k in target if k not in source]:
            del target[key]
        for key, value in source.items():
            target[key] = _sync(target[key], value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(source, list):
        named = all(isinstance(i, dict) and "name" in i for i in [*target, *source])
        if named:  # devices listed inline: match by name
            by_name = {item["name"]: item for item in target}
            target[:] = [_sync(by_name[item["name"]], item) if item["name"] in by_name else item for item in source]
            return target
        if len(target) == len(source):
            target[:] = [_sync(t, s) for t, s in zip(target, source, strict=False)]
            return target
    return source


def _dump_doc(doc: Doc, explicit_start: bool) -> str:
    if doc.text is not None and not doc.dirty:
        return doc.text
    if doc.text is not None and "#" in doc.text:  # a person's comments: edit the document in place
        from ruamel.yaml import YAML

        yaml = YAML()
        yaml.width = 4096
        yaml.explicit_start = doc.text.startswith("---")
        original = yaml.load(doc.text)
        out = io.StringIO()
        yaml.dump(_sync(original, doc.data), out)
        return out.getvalue()
    text = yamlio.dump(doc.data)
    started = doc.text.startswith("---") if doc.text is not None else explicit_start
    return f"---\n{text}" if started else text


def dump(file: File) -> str:
    several = sum(1 for d in file.docs if d.is_document and not d.removed) > 1
    parts = [_dump_doc(d, several) if d.is_document else d.text for d in file.docs if not d.removed]
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)


def _read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8") if (root / path).exists() else ""


def write_all(root: Path, texts: dict[str, str], diagnostics: Diagnostics) -> bool:
    """Write every file or none: each goes to a temporary file beside it first."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in texts.items():
            final = root / path
            final.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".easel-", dir=final.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            staged.append((temporary, final))
    except OSError as exc:
        for temporary, _ in staged:
            os.unlink(temporary)
        diagnostics.error("E802", f"cannot write {exc.filename}: {exc.strerror}; nothing was changed")
        return False
    for temporary, final in staged:
        os.replace(temporary, final)
    return True
