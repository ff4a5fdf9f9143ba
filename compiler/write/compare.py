"""What the output folder holds now and how the rendered tree differs from it: a listing of its files (from the
cache's manifest of sizes and times where it can be trusted, read early in a second process for a large fleet),
and the comparison, part by part, that tells what to add, change and remove."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern  # the same path strings as the rendered tree's (render/__init__.py)

from compiler.runtime import parallel
from compiler.runtime.cache import RECORD

STAGING_PREFIX = ".easel-staging-"  # the staging folders inside the output folder (write/__init__.py)


class Paths:
    """Paths in the order added, kept compactly: a fleet's first compile adds a million, and a path string each
    would be most of what its memory grows by while it writes. Stored by their first two folders
    (`clusters/<cluster>/`, once per run of paths that share them) and the rest of the path, one string that
    every cluster with that file shares (interned): a path costs a pointer."""

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self.prefixes: list[str] = []  # one per run of paths with the same first two folders
        self.starts: list[int] = []  # where each run begins in names
        self.names: list[str] = []
        for path in paths:
            self.append(path)

    def append(self, path: str) -> None:
        cut = path.find("/", path.find("/") + 1) + 1  # after the second "/" (0: the path has fewer)
        prefix = path[:cut]
        if not self.prefixes or self.prefixes[-1] != prefix:
            self.prefixes.append(prefix)
            self.starts.append(len(self.names))
        self.names.append(intern(path[cut:]))

    def extend(self, paths: Iterable[str]) -> None:
        if not isinstance(paths, Paths):
            for path in paths:
                self.append(path)
            return
        offset = len(self.names)
        self.prefixes += paths.prefixes
        self.starts += [start + offset for start in paths.starts]
        self.names += paths.names

    def __iadd__(self, paths: Iterable[str]) -> Paths:
        self.extend(paths)
        return self

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        ends = [*self.starts[1:], len(self.names)] if self.starts else []
        for prefix, start, end in zip(self.prefixes, self.starts, ends, strict=True):
            for index in range(start, end):
                yield prefix + self.names[index]

    def __repr__(self) -> str:
        return f"Paths({list(self)!r})"


class Stats(Paths):
    """Each file's size, mtime_ns and digest, with its path, in the order added: what the output holds after a
    write, for the cache's manifest (cache.py). The paths as Paths keeps them, the numbers packed (cache.RECORD):
    a million files take tens of MiB, not the hundreds a dict of tuples would, and a second process sends its
    share as a few large objects."""

    def __init__(self) -> None:
        super().__init__()
        self.packed = bytearray()

    def add(self, path: str, size: int, mtime_ns: int, known: bytes) -> None:
        self.append(path)
        self.packed += RECORD.pack(size, mtime_ns, known)

    def update(self, other: Stats) -> None:
        self.extend(other)
        self.packed += other.packed


@dataclass
class Changes:
    added: Paths = field(default_factory=Paths)
    changed: Paths = field(default_factory=Paths)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # every file the output holds afterwards, the cache's manifest (cache.py)
    stats: Stats = field(default_factory=Stats)

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
    """owns: which files count (a shard's, plan/shards.py); the others are as good as absent. unless: leave out
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
        self.share = parallel.Share(lambda: _drift(out, manifest(), owns)) if parallel.AVAILABLE else None

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
    if len(units) < 64 or not parallel.AVAILABLE:
        found = _match_level(units, expected, None)
        return found >= 0 and matched + found == len(expected)
    share = parallel.Share(lambda: _match_level(units[1::2], expected, None))
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
             digests: Digests | None = None) -> Changes:
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
                changes.stats.add(path, *stat, mine)
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
