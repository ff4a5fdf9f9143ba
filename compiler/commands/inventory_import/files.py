"""Editing the inventory's files so that what people wrote stays: documents that did not change are written back
byte for byte; one that changed is edited in place, its lines that did not change kept as they are (edit.py);
every file is written or none."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.commands.inventory_import.edit import Style, edited, new_document, style_of
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


def _dump_doc(doc: Doc, explicit_start: bool, style: Style) -> str:
    if doc.text is not None and not doc.dirty:
        return doc.text
    if doc.text is None:
        return new_document(doc.data, style, explicit_start)
    text = edited(doc.text, doc.data)  # what people wrote stays: only the lines whose data changed are new
    if text is not None:
        return text
    text = yamlio.dump(doc.data)  # a document ruamel.yaml cannot read (yet easel can): written anew
    return f"---\n{text}" if doc.text.startswith("---") else text


def dump(file: File) -> str:
    """The file's text: its new documents indented as its others are."""
    several = sum(1 for d in file.docs if d.is_document and not d.removed) > 1
    style = style_of("".join(d.text for d in file.docs if d.is_document and d.text))
    parts = [_dump_doc(d, several, style) if d.is_document else d.text for d in file.docs if not d.removed]
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
