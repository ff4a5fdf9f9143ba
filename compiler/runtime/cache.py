"""easel's local cache, in `.easel-cache/` at the repository root (ignored by Git, like ruff's or mypy's).

It is never a source of truth: every entry is checked before it is used (the easel build that wrote it, and a
digest of its content), and anything missing, truncated, corrupt or from another build is ignored, so deleting
the folder at any time only costs time. `--no-cache` bypasses it. Three entries:

- documents: the parsed data of every YAML file by the digest of its bytes, and which of its documents passed
  their kind's schema, so an unchanged file is neither parsed nor checked again;
- a run: the key of a compile (every input's digest, the lock, the request, the output folder) with what it
  printed, so a compile with nothing changed makes no decision again;
- the manifest: each output file's size, mtime and digest as easel last wrote or found it, trusted only while
  the size and mtime on disk still match (as Git's index is).

Entries are JSON (safe to read whatever the folder holds), written to a temporary file and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from sys import intern  # one string per path for the tree, the listing and this (render/__init__.py)
from typing import Any

from compiler import __version__
from compiler.diagnostics import Diagnostic, Location, Note, Severity, Subject
from compiler.runtime.state import cache_dir, make_cache_dir

FORMAT = 1
DOCUMENTS, RUNS, MANIFEST = "documents.json", "runs.json", "manifest.json"


@cache
def build() -> str:
    """This easel build: its version and the size and mtime of its every module, so a cache written by other code
    (a development checkout between two edits) is never read."""
    package = Path(__file__).parent
    parts = [__version__]
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json"):
            info = path.stat()
            parts.append(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Cache:
    folder: Path | None  # None: no cache (--no-cache, or a folder that cannot be used)

    @classmethod
    def at(cls, root: Path, enabled: bool = True) -> Cache:
        return cls(cache_dir(root) if enabled else None)

    def read(self, name: str) -> Any | None:
        """The entry's value; None when there is none that this build wrote intact."""
        body = self.read_bytes(name)
        if body is None:
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None

    @staticmethod
    def _header(checksum: str) -> bytes:
        return f"easel-cache {FORMAT} {build()} {checksum}\n".encode()  # of a fixed width

    def read_bytes(self, name: str) -> bytes | None:
        if self.folder is None:
            return None
        try:
            with open(self.folder / name, "rb") as handle:
                header = handle.readline()
                body = handle.read()
            magic, fmt, writer, checksum = header.decode("ascii").split()
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if (magic, fmt, writer) != ("easel-cache", str(FORMAT), build()) or content_digest(body) != checksum:
            return None
        return body

    def write(self, name: str, value: Any) -> None:
        """Replace the entry; a cache that cannot be written is no cache, never an error."""
        try:
            body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError, RecursionError):
            return
        self.write_bytes(name, body)

    def write_bytes(self, name: str, body: bytes | Iterable[bytes]) -> None:
        """body: the bytes, or pieces of them (written as they come, so a large entry is never whole in memory;
        the header, whose digest covers them all, is written last, in its place at the start)."""
        if self.folder is None:
            return
        temporary = self.folder / f".{name}.{os.getpid()}"
        pieces = [body] if isinstance(body, bytes) else body
        try:
            make_cache_dir(self.folder.parent)
            with open(temporary, "wb") as handle:
                handle.write(self._header("0" * 64))
                checksum = hashlib.sha256()
                for piece in pieces:
                    checksum.update(piece)
                    handle.write(piece)
                handle.seek(0)
                handle.write(self._header(checksum.hexdigest()))
            os.replace(temporary, self.folder / name)
        except (OSError, ValueError):  # ValueError: a piece its producer could not make (no entry then)
            with contextlib.suppress(OSError):
                temporary.unlink()


# documents

@dataclass(frozen=True)
class ParsedFile:
    """One YAML file as load and validate left it: its mapping documents, and those that passed their schema."""
    documents: tuple[tuple[int, Any], ...]  # (index in the file, data)
    checked: frozenset[int] = frozenset()


@dataclass
class DocumentMemo:
    """Parsed files by the digest of their bytes: what load reuses, and what this run adds for the next."""
    known: dict[str, ParsedFile] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Cache) -> DocumentMemo:
        data = store.read(DOCUMENTS)
        known: dict[str, ParsedFile] = {}
        if isinstance(data, dict):
            for key, entry in data.items():
                try:
                    documents, checked = entry
                    known[key] = ParsedFile(tuple((int(i), d) for i, d in documents), frozenset(checked))
                except (TypeError, ValueError):
                    continue
        return cls(known)

    def write(self, store: Cache, files: dict[str, ParsedFile]) -> None:
        """Keep exactly the files of this run (so the entry does not grow with every edit ever made)."""
        if set(files) == set(self.known) and all(self.known[k].checked == f.checked for k, f in files.items()):
            return
        store.write(DOCUMENTS, {key: [[list(d) for d in f.documents], sorted(f.checked)]
                                for key, f in sorted(files.items())})


# runs

def run_key(*parts: Any) -> str:
    """A digest of everything a run's outcome depends on."""
    return content_digest(json.dumps([FORMAT, build(), *parts], sort_keys=True, default=str).encode())


def diagnostic_data(d: Diagnostic) -> dict[str, Any]:
    return {"code": d.code, "message": d.message, "location": _location_data(d.location), "hint": d.hint,
            "severity": d.severity.value, "notes": [[n.message, _location_data(n.location)] for n in d.notes],
            "subject": None if d.subject is None else [d.subject.kind, list(d.subject.names), d.subject.cluster]}


def diagnostic_from(data: dict[str, Any]) -> Diagnostic:
    subject = data["subject"]
    return Diagnostic(data["code"], data["message"], _location_from(data["location"]), data["hint"],
                      Severity(data["severity"]),
                      tuple(Note(message, _location_from(where)) for message, where in data["notes"]),
                      None if subject is None else Subject(subject[0], tuple(subject[1]), subject[2]))


def _location_data(loc: Location | None) -> list | None:
    if loc is None:
        return None
    return [loc.file, loc.doc, list(loc.path), loc.key, loc.line, loc.column, loc.text_line]


def _location_from(data: list | None) -> Location | None:
    if data is None:
        return None
    file, doc, path, key, line, column, text_line = data
    return Location(file, doc, tuple(path), key, line, column, text_line)


# the output manifest

# a file's size, mtime_ns and digest (write's, 16 bytes), as the manifest keeps them and a write records them
RECORD = struct.Struct("<qq16s")
_PATHS_PER_PIECE = 10_000


def read_manifest(store: Cache, out: Path) -> dict[str, tuple[int, int, bytes]]:
    """path -> (size, mtime_ns, digest) of the output folder's files as easel last wrote or found them."""
    body = store.read_bytes(MANIFEST)
    try:
        head, _, rest = body.partition(b"\n")  # type: ignore[union-attr]
        header = json.loads(head)
        if header["out"] != str(out):
            return {}
        count = int(header["count"])
        records = rest[:RECORD.size * count]
        paths = rest[RECORD.size * count:].decode().split("\n") if count else []
        if len(paths) != count or len(records) != RECORD.size * count:
            return {}
    except (AttributeError, KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return dict(zip(map(intern, paths), RECORD.iter_unpack(records), strict=True))


def write_manifest(store: Cache, out: Path, paths: Iterable[str], records: bytes | bytearray) -> None:
    """A line of JSON (the folder, the count), each file's RECORD (in the order of paths), and the paths one per
    line: a fleet's manifest holds a million files, and this reads in a fraction of a second. records: the files'
    RECORDs packed, as write.Stats keeps them (never a million tuples)."""
    count = len(records) // RECORD.size

    def pieces() -> Iterable[bytes]:
        yield json.dumps({"out": str(out), "count": count}).encode() + b"\n"
        yield bytes(records)
        chunk: list[str] = []
        first = True
        for path in paths:
            if "\n" in path:  # cannot be listed one per line: no manifest (the next compile reads the files)
                raise ValueError(path)
            chunk.append(path)
            if len(chunk) == _PATHS_PER_PIECE:
                yield ("" if first else "\n").encode() + "\n".join(chunk).encode()
                chunk, first = [], False
        if chunk:
            yield ("" if first else "\n").encode() + "\n".join(chunk).encode()

    store.write_bytes(MANIFEST, pieces())
