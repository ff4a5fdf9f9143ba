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
from typing import Callable, Iterable

from . import forked, progress, transaction
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
    if len(units) < 64 or not forked.AVAILABLE:
        found = _match_level(units, expected, None)
        return found >= 0 and matched + found == len(expected)
    share = forked.Share(lambda: _match_level(units[1::2], expected, None))
    mine = _match_level(units[0::2], expected, None)
    theirs = share.result()
    return isinstance(theirs, int) and mine >= 0 and theirs >= 0 and matched + mine + theirs == len(expected)


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
    found = listing(out, owns)
    changes = _compare(found, str(out), files, manifest or {})
    changes.removed = sorted(found.files)
    return changes


def stat_of(packed: int) -> tuple[int, int]:
    """(size, mtime_ns) of a Listing entry."""
    return packed >> 64, packed & 0xFFFF_FFFF_FFFF_FFFF


def _compare(found: Listing, root: str, files: dict[str, str], manifest: Manifest) -> Changes:
    """A file whose size and mtime are still those the manifest recorded is compared by digest, as Git's index
    does; any other is read back. Consumes found.files and manifest as it goes (at fleet scale each holds a
    million entries: they are let go while the new record grows); what found.files keeps after the last part
    is to be removed (the caller says so: a part of the tree cannot)."""
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
    return changes


def _looks_like_output(out: Path) -> bool:
    if not out.exists():
        return True
    entries = [e for e in out.iterdir() if not e.name.startswith(STAGING_PREFIX)]
    return not entries or any(e.name in _EASEL_MARKERS for e in entries)


def write(out: Path, files: dict[str, str] | Iterable[dict[str, str]], diagnostics: Diagnostics,
          root: Path | None = None, also: dict[Path, str] | None = None, manifest: Manifest | None = None,
          owns: Callable[[str], bool] | None = None) -> Changes | None:
    """Make out hold exactly files, and write the `also` files (easel.lock) with them, as one transaction
    (transaction.py) journalled in the repository at root; None (and an error) when that could not be done.
    files: the tree, or the tree in parts (a cluster each, as render_parts gives it): each part is compared and
    its changes staged as it comes, so a fleet's tree is never whole in memory."""
    root = root or out.parent
    also = also or {}
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
    staging = _Staging(out, root)
    changes = Changes()
    progress.phase("writing the output")
    try:
        for part in ([files] if isinstance(files, dict) else files):
            bad = next((p for p in part if not _plain(p)), None)
            if bad is not None:  # names are validated long before; this is the last line of defence
                staging.abandon()
                diagnostics.error("E802", f"refusing to write {bad!r}: not a plain path inside the output folder")
                return None
            found_here = _compare(found, str(out), part, manifest or {})
            changes.added += found_here.added
            changes.changed += found_here.changed
            changes.unchanged += found_here.unchanged
            changes.stats.update(found_here.stats)
            staging.stage(part, found_here.added + found_here.changed, changes.stats)
        changes.removed = sorted(found.files)
        if not changes.any and not also:
            staging.abandon()
            return changes
        moves = staging.finish_staging(also)
        transaction.commit(root, staging.folder, moves, [os.path.join(out, p) for p in changes.removed],
                           [os.path.dirname(os.path.join(out, p)) for p in changes.removed], str(out))
    except OSError as exc:
        staging.abandon()
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
    transaction.finish(root, staging.folder)
    return changes


def _plain(path: str) -> bool:
    try:
        return normalize(path) == path
    except PathOutsideRepository:
        return False


class _Staging:
    """The staging folder inside the output, begun (journalled) at the first change. A folder that is new as a
    whole (a new cluster; everything, the first time) is built there and moved in with one rename; other files
    are staged one by one, numbered, in a flat folder. Each file's size, mtime and digest go into stats (a
    rename keeps them)."""

    def __init__(self, out: Path, root: Path):
        self.out, self.root = out, root
        self.folder = os.path.join(out, f"{STAGING_PREFIX}{os.getpid()}")
        self.begun = False
        self.made: set[str] = set()
        self.singles: list[tuple[str, str]] = []  # (staged, final)
        self.subtrees: dict[str, str] = {}  # new folder -> its staged copy
        self.known: dict[str, bool] = {}  # folder -> whether the output has it

    def _begin(self) -> None:
        if not self.begun:
            os.makedirs(self.out, exist_ok=True)
            transaction.begin(self.root, self.folder)
            os.mkdir(self.folder)
            self.begun = True

    def _exists(self, folder: str) -> bool:
        if folder not in self.known:
            self.known[folder] = os.path.isdir(os.path.join(self.out, folder))
        return self.known[folder]

    def stage(self, files: dict[str, str], paths: list[str], stats: Manifest) -> None:
        if not paths:
            return
        self._begin()
        progress.advance(len(paths))
        for path in paths:
            parts = path.split("/")[:-1]
            new_root = next(("/".join(parts[:i]) for i in range(1, len(parts) + 1)
                             if not self._exists("/".join(parts[:i]))), None)
            if new_root is None:
                staged = os.path.join(self.folder, str(len(self.singles)))
                self.singles.append((staged, os.path.join(self.out, path)))
            else:
                staged = os.path.join(self.folder, "tree", path)
                self.subtrees.setdefault(new_root, os.path.join(self.folder, "tree", new_root))
            stats[path] = _write(staged, files[path], self.made)

    def finish_staging(self, also: dict[Path, str]) -> list[tuple[str, str]]:
        """Stage the `also` files; every move that puts the staged files in place."""
        self._begin()
        moves = [*self.singles, *((staged, os.path.join(self.out, folder)) for folder, staged in self.subtrees.items())]
        for number, (path, text) in enumerate(sorted(also.items())):
            staged = os.path.join(self.folder, f"also-{number}")
            _write(staged, text, self.made)
            moves.append((staged, str(path)))
        return moves

    def abandon(self) -> None:
        if self.begun:
            transaction.finish(self.root, self.folder)


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
