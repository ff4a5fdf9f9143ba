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
from typing import Callable, Iterable, Iterator, Protocol, runtime_checkable

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
    matched: int = 0  # with `unless`: the files left out as the manifest has them


def listing(out: Path, owns: Callable[[str], bool] | None = None, unless: Manifest | None = None) -> Listing:
    """owns: which files count (a shard's, sharding.py); the others are as good as absent. unless: leave out
    the files whose size and mtime are those it records (counted in `matched`)."""
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
                    path = prefix + entry.name
                    if unless is not None:
                        known = unless.get(path)
                        if known is not None and known[0] == info.st_size and known[1] == info.st_mtime_ns:
                            found.matched += 1
                            continue
                    found.files[intern(path)] = info.st_size << 64 | info.st_mtime_ns
    found.links.sort()
    return found


# path -> (size, mtime_ns, digest) of files as easel last wrote or found them (cache.py keeps it)
Manifest = dict[str, tuple[int, int, bytes]]


class EarlyListing:
    """The output folder's listing, taken by a second process while this one compiles (where the system can
    fork): after an edit, walking a fleet's million output files is otherwise a fifth of a compile. The child
    reads the cache's manifest itself and sends back only how the folder differs from it; `listing` rebuilds
    the whole from the manifest the parent reads when it writes."""

    def __init__(self, out: Path, manifest: Callable[[], Manifest], owns: Callable[[str], bool] | None = None):
        self.out, self.owns = out, owns
        self.share = forked.Share(lambda: _drift(out, manifest(), owns)) if forked.AVAILABLE else None

    def close(self) -> None:
        """Stop the child if its answer was not taken (the compile ended before writing)."""
        if self.share is not None:
            self.share.cancel()
            self.share = None

    def listing(self, out: Path, manifest: Manifest) -> Listing | None:
        """The listing of out, read as it was when the child walked it; None when out is another folder than
        the one walked or the child gave no answer (the caller walks it then)."""
        answer = self.share.result() if self.share else None
        self.share = None
        if out != self.out or not isinstance(answer, tuple):
            return None
        links, drift, missing = answer
        owns = self.owns
        found = Listing({path: size << 64 | mtime for path, (size, mtime, _) in manifest.items()
                         if owns is None or owns(path)}, links)
        for path in missing:
            found.files.pop(path, None)
        found.files.update(drift)
        return found


def _drift(out: Path, manifest: Manifest, owns: Callable[[str], bool] | None
           ) -> tuple[list[str], dict[str, int], list[str]]:
    """(the links in out, the files whose size or mtime is not what manifest says, the manifest's files that
    are not there)."""
    found = listing(out, owns, manifest)
    expected = sum(1 for path in manifest if owns is None or owns(path))
    if found.matched == expected:
        return found.links, found.files, []
    present = set(listing(out, owns).files)
    return found.links, found.files, [path for path in manifest if path not in present
                                      and (owns is None or owns(path))]


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


def _compare(found: Listing, root: str, files: dict[str, str], manifest: Manifest,
             digests: "Digests | None" = None) -> Changes:
    """A file whose size and mtime are still those the manifest recorded is compared by digest, as Git's index
    does; any other is read back. Consumes found.files and manifest as it goes (at fleet scale each holds a
    million entries: they are let go while the new record grows); what found.files keeps after the last part
    is to be removed (the caller says so: a part of the tree cannot). digests: kept across parts, as clusters share most
    of their texts."""
    changes = Changes()
    existing = found.files
    digests = Digests() if digests is None else digests
    for path, text in files.items():
        packed = existing.pop(path, None)
        known = manifest.pop(path, None)
        if packed is None:
            changes.added.append(path)
            continue
        size, mine = digests.of(text)
        stat = stat_of(packed)
        if stat[0] == size:
            if known is not None and known[:2] == stat:
                same = known[2] == mine
            else:
                with open(os.path.join(root, path), "rb") as handle:
                    same = handle.read() == text.encode()
            if same:
                changes.unchanged += 1
                changes.stats[path] = (*stat, mine)
                continue
        changes.changed.append(path)
    return changes


class Digests:
    """Each text's size in bytes and digest, remembered for the texts many clusters share (the same string);
    forgotten every so often, so that the texts of a single cluster are not all kept to the end."""
    KEPT = 20_000

    def __init__(self) -> None:
        self.known: dict[str, tuple[int, bytes]] = {}

    def of(self, text: str) -> tuple[int, bytes]:
        found = self.known.get(text)
        if found is None:
            if len(self.known) >= self.KEPT:
                self.known.clear()
            data = text.encode()
            found = self.known[text] = (len(data), digest(data))
        return found


def _looks_like_output(out: Path) -> bool:
    if not out.exists():
        return True
    entries = [e for e in out.iterdir() if not e.name.startswith(STAGING_PREFIX)]
    return not entries or any(e.name in _EASEL_MARKERS for e in entries)


@runtime_checkable
class Tree(Protocol):
    """A tree still to be rendered, in parts and in lanes (render.Tree)."""
    @property
    def clusters(self) -> int: ...

    def parts(self, lane: int = 0, lanes: int = 1) -> Iterator[dict[str, str]]: ...


LANE_MIN = 200  # clusters from which a first compile renders and writes half of them in a second process


def write(out: Path, files: dict[str, str] | Iterable[dict[str, str]] | Tree, diagnostics: Diagnostics,
          root: Path | None = None, also: dict[Path, str] | None = None, manifest: Manifest | None = None,
          owns: Callable[[str], bool] | None = None, early: EarlyListing | None = None) -> Changes | None:
    """Make out hold exactly files, and write the `also` files (easel.lock) with them, as one transaction
    (transaction.py) journalled in the repository at root; None (and an error) when that could not be done.
    files: the tree, or the tree in parts (a cluster each, as render.Tree gives it): each part is compared and
    its changes staged as it comes, so a fleet's tree is never whole in memory. A fleet's first compile (an
    empty output folder) renders and stages every other cluster in a second process, where the system can fork:
    writing the files is most of its time, and the two halves go to different folders."""
    root = root or out.parent
    also = also or {}
    manifest = manifest or {}
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        diagnostics.error("E802", f"output {out} is not a folder")
        return None
    found = (early and early.listing(out, manifest)) or listing(out, owns)
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
    progress.phase("writing the output")
    try:
        # (into an empty folder: nothing to compare or remove, so the lanes share only the staging folder)
        if isinstance(files, Tree) and files.clusters >= LANE_MIN and not found.files and forked.AVAILABLE:
            staging.begin()  # before the fork: one journal for both
            share = forked.Share(lambda: _lane(forked.while_parent_lives(files.parts(1, 2)), found, str(out),
                                               manifest, staging.lane("b")))
            try:
                changes = _lane(files.parts(0, 2), found, str(out), manifest, staging)
            except BaseException:
                share.cancel()  # before the staging folder goes
                raise
            theirs = share.result()
            if not isinstance(theirs, _LaneDone):
                raise OSError(f"the second process writing the output failed ({theirs or 'no answer'})")
            changes = staging.join(changes, theirs)
        else:
            parts = files.parts() if isinstance(files, Tree) else [files] if isinstance(files, dict) else files
            changes = _lane(parts, found, str(out), manifest, staging)
        if isinstance(changes, str):  # names are validated long before; this is the last line of defence
            staging.abandon()
            diagnostics.error("E802", f"refusing to write {changes!r}: not a plain path inside the output folder")
            return None
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


@dataclass
class _LaneDone:
    """What the second process's lane did: its changes and what it staged (the files are on disk)."""
    changes: Changes
    singles: list[tuple[str, str]]
    subtrees: dict[str, str]


def _lane(parts: Iterable[dict[str, str]], found: Listing, out: str, manifest: Manifest,
          staging: "_Staging") -> Changes | str | _LaneDone:
    """Compare and stage these parts; the first path that is not plain, if any. In the second process (a lane
    of staging) the answer is a _LaneDone, or the error's text (OSError is not sent whole)."""
    changes = Changes()
    digests = Digests()  # a text many clusters share is encoded and digested once
    try:
        for part in parts:
            bad = next((p for p in part if not _plain(p)), None)
            if bad is not None:
                return bad if staging.name is None else f"not a plain path: {bad!r}"
            found_here = _compare(found, out, part, manifest, digests)
            changes.added += found_here.added
            changes.changed += found_here.changed
            changes.unchanged += found_here.unchanged
            changes.stats.update(found_here.stats)
            staging.stage(part, found_here.added + found_here.changed, changes.stats, digests)
    except OSError as exc:
        if staging.name is None:
            raise
        return f"{exc.strerror or exc} ({exc.filename})"
    return changes if staging.name is None else _LaneDone(changes, staging.singles, staging.subtrees)


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
        self.name: str | None = None  # a second process's lane: its staged files are named apart
        self.begun = False
        self.made: set[str] = set()
        self.singles: list[tuple[str, str]] = []  # (staged, final)
        self.subtrees: dict[str, str] = {}  # new folder -> its staged copy
        self.known: dict[str, bool] = {}  # folder -> whether the output has it

    def lane(self, name: str) -> "_Staging":
        """This staging as the second process's lane (the parent's copy is not touched: it runs after a fork)."""
        self.name = name
        self.singles, self.subtrees = [], {}
        return self

    def join(self, mine: Changes, theirs: _LaneDone) -> Changes:
        """Both lanes' changes as one, and the second lane's staged files among the moves."""
        self.singles += theirs.singles
        for folder, staged in theirs.subtrees.items():
            self.subtrees.setdefault(folder, staged)
        mine.added += theirs.changes.added
        mine.changed += theirs.changes.changed
        mine.unchanged += theirs.changes.unchanged
        mine.stats.update(theirs.changes.stats)
        return mine

    def begin(self) -> None:
        if not self.begun:
            os.makedirs(self.out, exist_ok=True)
            transaction.begin(self.root, self.folder)
            os.mkdir(self.folder)
            self.begun = True

    def _exists(self, folder: str) -> bool:
        if folder not in self.known:
            self.known[folder] = os.path.isdir(os.path.join(self.out, folder))
        return self.known[folder]

    def stage(self, files: dict[str, str], paths: list[str], stats: Manifest,
              digests: Digests) -> None:
        if not paths:
            return
        self.begin()
        for path in paths:
            parts = path.split("/")[:-1]
            new_root = next(("/".join(parts[:i]) for i in range(1, len(parts) + 1)
                             if not self._exists("/".join(parts[:i]))), None)
            if new_root is None:
                staged = os.path.join(self.folder, f"{self.name or ''}{len(self.singles)}")
                self.singles.append((staged, os.path.join(self.out, path)))
            else:
                staged = os.path.join(self.folder, "tree", path)
                self.subtrees.setdefault(new_root, os.path.join(self.folder, "tree", new_root))
            stats[path] = _write(staged, files[path], self.made, digests)

    def finish_staging(self, also: dict[Path, str]) -> list[tuple[str, str]]:
        """Stage the `also` files; every move that puts the staged files in place."""
        self.begin()
        moves = [*self.singles, *((staged, os.path.join(self.out, folder)) for folder, staged in self.subtrees.items())]
        for number, (path, text) in enumerate(sorted(also.items())):
            staged = os.path.join(self.folder, f"also-{number}")
            _write(staged, text, self.made, Digests())
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


def _write(path: str, text: str, made: set[str], digests: Digests) -> tuple[int, int, bytes]:
    """(size, mtime_ns, digest) of the file written, as the manifest keeps them."""
    _make_parent(path, made)
    encoded = text.encode()
    remembered = digests.known.get(text)
    known = remembered[1] if remembered else digest(encoded)
    data = memoryview(encoded)
    with open(path, "wb", buffering=0) as handle:  # unbuffered: the data is in the file before fstat
        while data:
            data = data[handle.write(data):]
        info = os.fstat(handle.fileno())
    return info.st_size, info.st_mtime_ns, known
