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

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from compiler.diagnostics import Diagnostic, Diagnostics
from compiler.load.source import PathOutsideRepository, normalize
from compiler.runtime import parallel, progress
from compiler.write import transaction
from compiler.write.compare import (
    STAGING_PREFIX,
    Changes,
    Digests,
    EarlyListing,
    Listing,
    Manifest,
    Stats,
    _compare,
    digest,
    listing,
)

_EASEL_MARKERS = ("clusters", "bootstrap")


def _looks_like_output(out: Path) -> bool:
    if not out.exists():
        return True
    entries = [e for e in out.iterdir() if not e.name.startswith(STAGING_PREFIX)]
    return not entries or any(e.name in _EASEL_MARKERS for e in entries)


@runtime_checkable
class Tree(Protocol):
    """A tree still to be rendered, in parts and in lanes (render.Tree, prove.ProvenTree), and what was found
    wrong with the parts it gave so far: a tree with an error in it is never written."""
    @property
    def clusters(self) -> int: ...

    def parts(self, lane: int = 0, lanes: int = 1) -> Iterator[dict[str, str]]: ...

    def problems(self) -> list[Diagnostic]: ...


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
    if _refusal(out, diagnostics):
        return None
    found = (early and early.listing(out, manifest)) or listing(out, owns)
    if not _writable(out, found, diagnostics):
        return None
    for stale in out.glob(f"{STAGING_PREFIX}*") if out.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)  # left behind by an interrupted run
    staging = _Staging(out, root)
    progress.phase("writing the output")
    try:
        changes = _stage(files, found, out, manifest, staging)
        if isinstance(changes, str):  # names are validated long before; this is the last line of defence
            staging.abandon()
            diagnostics.error("E802", f"refusing to write {changes!r}: not a plain path inside the output folder")
            return None
        if isinstance(files, Tree):  # what the tree's proof found, in either lane: nothing is written
            diagnostics.extend(files.problems())
            diagnostics.extend(staging.lane_problems)
            if diagnostics.has_errors:
                staging.abandon()
                return None
        changes.removed = sorted(found.files)
        if not changes.any and not also:
            staging.abandon()
            return changes
        moves = staging.finish_staging(also)
        removed = [os.path.join(out, p) for p in changes.removed]
        entry = transaction.commit(root, staging.folder, moves, removed, str(out), lock_first=bool(also))
    except OSError as exc:
        staging.abandon()
        diagnostics.error("E802", f"cannot write the output: {exc.strerror or exc} ({exc.filename or out}); "
                          "the previous output is unchanged")
        return None
    try:
        transaction.apply(entry)
    except transaction.Unmoved as exc:  # the lock moves first: nothing else was touched
        transaction.finish(root, staging.folder)
        diagnostics.error("E802", f"cannot replace {exc.filename}: {exc.strerror or exc}; nothing was written "
                          "(the output and the lock are as they were)",
                          hint="easel replaces the lock by a rename: it must be a file in a writable folder, not "
                          "immutable")
        return None
    except OSError as exc:
        diagnostics.error("E802", f"cannot update the output: {exc.strerror or exc} ({exc.filename or out}); "
                          "the next easel command completes it")
        return None
    transaction.finish(root, staging.folder)
    return changes


def _refusal(out: Path, diagnostics: Diagnostics) -> bool:
    """True (and an error) when out is not a folder to write into at all."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        diagnostics.error("E802", f"output {out} is not a folder")
        return True
    return False


def _writable(out: Path, found: Listing, diagnostics: Diagnostics) -> bool:
    """Whether easel may write into out as listed (an error says why not)."""
    if found.links:
        diagnostics.error("E802", f"refusing to write into {out}: {found.links[0]} in it is a symbolic link",
                          hint="easel writes only through real folders: remove the link")
        return False
    if not _looks_like_output(out):
        diagnostics.error("E802", f"refusing to write into {out}: it holds files easel did not write",
                          hint="choose an empty folder, or one easel wrote before (it has clusters/ or bootstrap/)")
        return False
    return True


def _stage(files: dict[str, str] | Iterable[dict[str, str]] | Tree, found: Listing, out: Path, manifest: Manifest,
           staging: _Staging) -> Changes | str:
    """Compare the tree with what is there and stage its changes; the first path that is not plain, if any."""
    # into an empty folder: nothing to compare or remove, so the lanes share only the staging folder
    if isinstance(files, Tree) and files.clusters >= LANE_MIN and not found.files and parallel.AVAILABLE:
        staging.begin()  # before the fork: one journal for both
        tree = files
        share = parallel.Share(lambda: _second_lane(tree, found, str(out), manifest, staging.lane("b")))
        try:
            changes = _lane(files.parts(0, 2), found, str(out), manifest, staging)
        except BaseException:
            share.cancel()  # before the staging folder goes
            raise
        theirs = share.result()
        if not isinstance(theirs, _LaneDone):
            raise OSError(f"the second process writing the output failed ({theirs or 'no answer'})")
        if isinstance(changes, _LaneDone):  # pragma: no cover  (only the second process's lane answers so)
            raise TypeError("the first lane answered as a second process")
        return changes if isinstance(changes, str) else staging.join(changes, theirs)
    parts = files.parts() if isinstance(files, Tree) else [files] if isinstance(files, dict) else files
    done = _lane(parts, found, str(out), manifest, staging)
    if isinstance(done, _LaneDone):  # pragma: no cover  (only the second process's lane answers so)
        raise TypeError("the first lane answered as a second process")
    return done


@dataclass
class _LaneDone:
    """What the second process's lane did: its changes and what it staged (the files are on disk), and what
    its tree's proof found in the parts it rendered."""
    changes: Changes
    singles: list[tuple[str, str]]
    subtrees: dict[str, str]
    problems: list[Diagnostic] = field(default_factory=list)


def _second_lane(tree: Tree, found: Listing, out: str, manifest: Manifest, staging: _Staging
                 ) -> Changes | str | _LaneDone:
    done = _lane(parallel.while_parent_lives(tree.parts(1, 2)), found, out, manifest, staging)
    if isinstance(done, _LaneDone):
        done.problems = tree.problems()
    return done


def _lane(parts: Iterable[dict[str, str]], found: Listing, out: str, manifest: Manifest,
          staging: _Staging) -> Changes | str | _LaneDone:
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
            staging.stage(part, [*found_here.added, *found_here.changed], changes.stats, digests)
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
        self.lane_problems: list[Diagnostic] = []  # what the second lane's tree found wrong

    def lane(self, name: str) -> _Staging:
        """This staging as the second process's lane (the parent's copy is not touched: it runs after a fork)."""
        self.name = name
        self.singles, self.subtrees = [], {}
        return self

    def join(self, mine: Changes, theirs: _LaneDone) -> Changes:
        """Both lanes' changes as one, and the second lane's staged files among the moves."""
        self.singles += theirs.singles
        self.lane_problems += theirs.problems
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
            self.begun = True  # from here, abandon removes what was made
            transaction.begin(self.root, self.folder)

    def _exists(self, folder: str) -> bool:
        if folder not in self.known:
            self.known[folder] = os.path.isdir(os.path.join(self.out, folder))
        return self.known[folder]

    def stage(self, files: dict[str, str], paths: list[str], stats: Stats, digests: Digests) -> None:
        if not paths:
            return
        self.begin()
        self.made.clear()  # a part's folders are its own: kept for all, a fleet's first compile holds half a million
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
            stats.add(path, *_write(staged, files[path], self.made, digests))

    def finish_staging(self, also: dict[Path, str]) -> list[tuple[str, str]]:
        """Stage the `also` files; every move that puts the staged files in place, theirs (the lock's) first:
        a lock that cannot be replaced fails before anything in the output moved."""
        self.begin()
        moves = []
        for number, (path, text) in enumerate(sorted(also.items())):
            staged = os.path.join(self.folder, f"also-{number}")
            _write(staged, text, self.made, Digests())
            moves.append((staged, str(path)))
        return [*moves, *self.singles,
                *((staged, os.path.join(self.out, folder)) for folder, staged in self.subtrees.items())]

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
