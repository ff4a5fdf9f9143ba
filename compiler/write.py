"""Stage 6, write: make the output folder hold exactly the rendered files, and easel.lock with them. The only
stage that writes.

Changed and new files (and the lock) are first written to a staging folder inside the output folder; only when
all of them are on disk, and the journal says so (transaction.py), are they moved into place (each move
atomic), and files no longer produced are removed. A failure while staging leaves the previous output and lock
as they were; a process killed after the journal's commit is completed by the next easel command. Unchanged
files are not touched, so a recompile with nothing changed writes nothing. Nothing is written outside the
output folder but easel.lock and easel's own `.easel-cache/`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern  # the same path strings as the rendered tree's (render/__init__.py)
from typing import Callable

from . import progress, transaction
from .diagnostics import Diagnostics
from .source import PathOutsideRepository, normalize

STAGING_PREFIX = ".easel-staging-"
_EASEL_MARKERS = ("clusters", "bootstrap")


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # every file the output holds afterwards: path -> (size, mtime_ns, digest), the cache's manifest (cache.py)
    stats: dict[str, tuple[int, int, bytes]] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class Listing:
    """What the output folder holds, read in one walk: each file's size and mtime, every folder, and the
    symbolic links (easel writes only through real folders, never through one)."""
    # path -> size << 64 | mtime_ns: one number, as a fleet's output holds a million files (see stat_of)
    files: dict[str, int] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)


def listing(out: Path, owns: Callable[[str], bool] | None = None) -> Listing:
    """owns: which files count (a shard's, sharding.py); the others are as good as absent."""
    found = Listing()
    if not out.is_dir():
        return found
    pending = [("", str(out))]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    found.links.append(prefix + entry.name)
                elif entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith(STAGING_PREFIX):
                        pending.append((f"{prefix}{entry.name}/", entry.path))
                elif owns is None or owns(prefix + entry.name):
                    info = entry.stat(follow_symlinks=False)
                    found.files[intern(prefix + entry.name)] = info.st_size << 64 | info.st_mtime_ns
    found.links.sort()
    return found


# path -> (size, mtime_ns, digest) of files as easel last wrote or found them (cache.py keeps it)
Manifest = dict[str, tuple[int, int, bytes]]


def holds_exactly(out: Path, expected: Manifest) -> bool:
    """Whether out holds exactly the expected files (with their size and mtime_ns), and no link: how the cache tells
    that the output is still as easel left it. At fleet scale this walk is most of a replayed compile, so where
    the system can fork, a second process walks half of the folders."""
    if not out.is_dir():
        return not expected
    units: list[tuple[str, str]] = []  # (prefix, folder) below the first two levels
    matched = _match_level([("", str(out))], expected, units, depth=2)
    if matched < 0:
        return False
    if len(units) < 64 or not hasattr(os, "fork"):
        found = _match_level(units, expected, None)
        return found >= 0 and matched + found == len(expected)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: count its half, say the number, and leave without running anything else
        try:
            os.close(reader)
            os.write(writer, str(_match_level(units[1::2], expected, None)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    mine = _match_level(units[0::2], expected, None)
    with os.fdopen(reader, "rb") as pipe:
        said = pipe.read()
    os.waitpid(pid, 0)
    try:
        theirs = int(said)
    except ValueError:
        return False
    return mine >= 0 and theirs >= 0 and matched + mine + theirs == len(expected)


def _match_level(folders: list[tuple[str, str]], expected: Manifest,
                 deeper: list[tuple[str, str]] | None, depth: int = 0) -> int:
    """How many files under folders match expected; -1 at the first that does not (or a link, or a stray file).
    With deeper given, folders past depth levels are put there instead of walked."""
    count = 0
    pending = [(prefix, folder, 0) for prefix, folder in folders]
    while pending:
        prefix, folder, level = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    return -1
                if entry.is_dir(follow_symlinks=False):
                    if entry.name.startswith(STAGING_PREFIX):
                        continue
                    if deeper is not None and level + 1 >= depth:
                        deeper.append((f"{prefix}{entry.name}/", entry.path))
                    else:
                        pending.append((f"{prefix}{entry.name}/", entry.path, level + 1))
                    continue
                known = expected.get(prefix + entry.name)
                if known is None:
                    return -1
                info = entry.stat(follow_symlinks=False)
                if info.st_size != known[0] or info.st_mtime_ns != known[1]:
                    return -1
                count += 1
    return count


def digest(data: bytes) -> bytes:
    """A file's content digest, as the cache's manifest records it."""
    return hashlib.blake2b(data, digest_size=16).digest()


def diff(out: Path, files: dict[str, str], manifest: Manifest | None = None,
         owns: Callable[[str], bool] | None = None) -> Changes:
    """How the output folder differs from the rendered files (of those paths owns says are in play)."""
    return _compare(listing(out, owns), str(out), files, manifest or {})


def stat_of(packed: int) -> tuple[int, int]:
    """(size, mtime_ns) of a Listing entry."""
    return packed >> 64, packed & 0xFFFF_FFFF_FFFF_FFFF


def _compare(found: Listing, root: str, files: dict[str, str], manifest: Manifest) -> Changes:
    """A file whose size and mtime are still those the manifest recorded is compared by digest, as Git's index
    does; any other is read back. Consumes found.files and manifest as it goes (at fleet scale each holds a
    million entries: they are let go while the new record grows); what found.files keeps is to be removed."""
    changes = Changes()
    existing = found.files
    for path, text in files.items():
        packed = existing.pop(path, None)
        known = manifest.pop(path, None)
        data = text.encode()
        if packed is None:
            changes.added.append(path)
            continue
        stat = stat_of(packed)
        if stat[0] == len(data):
            mine = digest(data)
            if known is not None and known[:2] == stat:
                same = known[2] == mine
            else:
                with open(os.path.join(root, path), "rb") as handle:
                    same = handle.read() == data
            if same:
                changes.unchanged += 1
                changes.stats[path] = (*stat, mine)
                continue
        changes.changed.append(path)
    changes.removed = sorted(existing)
    return changes


def _looks_like_output(out: Path) -> bool:
    if not out.exists():
        return True
    entries = [e for e in out.iterdir() if not e.name.startswith(STAGING_PREFIX)]
    return not entries or any(e.name in _EASEL_MARKERS for e in entries)


def write(out: Path, files: dict[str, str], diagnostics: Diagnostics, root: Path | None = None,
          also: dict[Path, str] | None = None, manifest: Manifest | None = None,
          owns: Callable[[str], bool] | None = None) -> Changes | None:
    """Make out hold exactly files, and write the `also` files (easel.lock) with them, as one transaction
    (transaction.py) journalled in the repository at root; None (and an error) when that could not be done."""
    root = root or out.parent
    also = also or {}
    for path in files:
        try:
            if normalize(path) != path:
                raise PathOutsideRepository(path)
        except PathOutsideRepository:  # names are validated long before; this is the last line of defence
            diagnostics.error("E802", f"refusing to write {path!r}: not a plain path inside the output folder")
            return None
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        diagnostics.error("E802", f"output {out} is not a folder")
        return None
    found = listing(out, owns)
    if found.links:
        diagnostics.error("E802", f"refusing to write into {out}: {found.links[0]} in it is a symbolic link",
                          hint="easel writes only through real folders: remove the link")
        return None
    if not _looks_like_output(out):
        diagnostics.error("E802", f"refusing to write into {out}: it holds files easel did not write",
                          hint="choose an empty folder, or one easel wrote before (it has clusters/ or bootstrap/)")
        return None
    for stale in out.glob(f"{STAGING_PREFIX}*") if out.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)  # left behind by an interrupted run
    changes = _compare(found, str(out), files, manifest or {})
    if not changes.any and not also:
        return changes
    staging = os.path.join(out, f"{STAGING_PREFIX}{os.getpid()}")
    try:
        os.makedirs(out, exist_ok=True)
        transaction.begin(root, staging)
        moves = _stage(out, staging, files, also, changes.stats, *_plan(changes, out))
        transaction.commit(root, staging, moves, [os.path.join(out, p) for p in changes.removed],
                           [os.path.dirname(os.path.join(out, p)) for p in changes.removed], str(out))
    except OSError as exc:
        transaction.finish(root, staging)
        diagnostics.error("E802", f"cannot write the output: {exc.strerror or exc} ({exc.filename or out}); "
                          "the previous output is unchanged")
        return None
    try:
        transaction.apply({"moves": moves, "deletes": [os.path.join(out, p) for p in changes.removed],
                           "prune": [os.path.dirname(os.path.join(out, p)) for p in changes.removed],
                           "out": str(out)})
    except OSError as exc:
        diagnostics.error("E802", f"cannot update the output: {exc.strerror or exc} ({exc.filename or out}); "
                          "the next easel command completes it")
        return None
    transaction.finish(root, staging)
    return changes


def _stage(out: Path, staging: str, files: dict[str, str], also: dict[Path, str], stats: Manifest,
           singles: list[str], subtrees: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Write what changes into the staging folder; the moves that put it in place. A folder that is new as a
    whole (a new cluster; everything, the first time) is built there and moved in with one rename; other files
    are staged one by one, numbered, in a flat folder. Each file's size and mtime go into stats (a rename keeps
    both)."""
    os.mkdir(staging)
    made: set[str] = set()
    moves: list[tuple[str, str]] = []
    progress.phase("writing", len(singles) + sum(len(paths) for paths in subtrees.values()))
    for number, path in enumerate(singles):
        if number % 1000 == 0:
            progress.advance(min(1000, len(singles) - number))
        stats[path] = _write(os.path.join(staging, str(number)), files[path], made)
        moves.append((os.path.join(staging, str(number)), os.path.join(out, path)))
    for folder, paths in subtrees.items():
        progress.advance(len(paths))
        for file in paths:
            stats[file] = _write(os.path.join(staging, "tree", file), files[file], made)
        moves.append((os.path.join(staging, "tree", folder), os.path.join(out, folder)))
    for number, (path, text) in enumerate(sorted(also.items())):
        _write(os.path.join(staging, f"also-{number}"), text, made)
        moves.append((os.path.join(staging, f"also-{number}"), str(path)))
    return moves


def _plan(changes: Changes, out: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Files to stage one by one, and new folders (the topmost missing one of each file) with their files."""
    known: dict[str, bool] = {}

    def exists(folder: str) -> bool:
        if folder not in known:
            known[folder] = os.path.isdir(os.path.join(out, folder))
        return known[folder]

    singles: list[str] = []
    subtrees: dict[str, list[str]] = {}
    for path in changes.added + changes.changed:
        parts = path.split("/")[:-1]
        new_root = next(("/".join(parts[:i]) for i in range(1, len(parts) + 1)
                         if not exists("/".join(parts[:i]))), None)
        if new_root is None:
            singles.append(path)
        else:
            subtrees.setdefault(new_root, []).append(path)
    return singles, subtrees


def _make_parent(path: str, made: set[str]) -> None:
    parent = os.path.dirname(path)
    if parent not in made:
        os.makedirs(parent, exist_ok=True)
        made.add(parent)


def _write(path: str, text: str, made: set[str]) -> tuple[int, int, bytes]:
    _make_parent(path, made)
    encoded = text.encode()
    data = memoryview(encoded)
    with open(path, "wb", buffering=0) as handle:  # unbuffered: the data is in the file before fstat
        while data:
            data = data[handle.write(data):]
        info = os.fstat(handle.fileno())
    return info.st_size, info.st_mtime_ns, digest(encoded)
