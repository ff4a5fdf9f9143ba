"""output/ and easel.lock change as a unit, and one easel at a time works on a repository.

- A lock (`.easel-cache/lock`, flock) serialises easel processes on one repository: the second waits, saying
  so, or fails at once with `--no-wait`.
- A write goes through a journal (`.easel-cache/journal.json`): first `staging` (the staging folder's path)
  while the new files are put aside, then `commit` (every move and deletion, easel.lock's among them) once they
  all are; only then is anything moved into place. A process killed at any point leaves a journal that the next
  easel command finds before anything else: a `staging` one is undone (the staging folder removed: output/ and
  easel.lock were never touched), a `commit` one is completed (each step can be done again). So output/ and
  easel.lock always belong to the same compile.
- easel.lock moves first: a lock that cannot be replaced (immutable, a folder in its place, another filesystem)
  fails the write before anything in output/ moved, and the write is undone, now or by the next easel command.
- A staging folder is invisible to Git from its start: its `.gitignore` (`*`) is its first file, written in
  easel's own folder and renamed in whole, so `git add -A` after a kill never takes a staged file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from compiler.runtime.state import cache_dir, make_cache_dir

JOURNAL = "journal.json"
LOCK = "lock"
IGNORE_ALL = "# Written by easel: a write in progress, never committed.\n*\n"


class Busy(Exception):
    """Another easel process holds the repository (and we were told not to wait)."""


class Unmoved(OSError):
    """A committed write's first move (easel.lock's) failed before anything else moved: nothing was changed."""


@contextlib.contextmanager
def exclusive(root: Path, wait: bool = True, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the repository's lock for the block (waiting: called once when another run holds it). Without a
    writable repository (a read-only checkout) there is nothing to serialise: the block runs without it."""
    try:
        handle = open(make_cache_dir(root) / LOCK, "a+")  # noqa: SIM115  (held across the yield, closed below)
    except OSError:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise Busy("another easel run holds this repository (drop --no-wait to wait for it)") from None
            if waiting is not None:
                waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _journal(root: Path) -> Path:
    return cache_dir(root) / JOURNAL


def _record(root: Path, entry: dict) -> None:
    """The journal, replaced atomically and on disk before the caller goes on."""
    path = _journal(root)
    make_cache_dir(root)
    temporary = path.with_name(f".{JOURNAL}.{os.getpid()}")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(entry, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def begin(root: Path, staging: str) -> None:
    """Journal the staging folder, then make it, its `.gitignore` in it first (an empty folder Git does not show;
    the file is written in easel's own folder, ignored, and renamed in whole)."""
    _record(root, {"state": "staging", "staging": staging})
    os.mkdir(staging)
    temporary = os.path.join(make_cache_dir(root), f".gitignore-{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(descriptor, IGNORE_ALL.encode())
    finally:
        os.close(descriptor)
    try:
        os.rename(temporary, os.path.join(staging, ".gitignore"))
    except OSError:  # another filesystem (an output folder given outside the repository): written in place
        os.unlink(temporary)
        with open(os.path.join(staging, ".gitignore"), "w", encoding="utf-8") as handle:
            handle.write(IGNORE_ALL)


def commit(root: Path, staging: str, moves: list[tuple[str, str]], deletes: list[str], out: str,
           lock_first: bool = False) -> dict:
    """The point of no return: from here on the write is completed, now or by the next easel command.
    lock_first: moves[0] is easel.lock's, which, if it cannot be replaced, fails before anything else moved
    (apply). The entry recorded, for apply."""
    entry = {"state": "commit", "staging": staging, "moves": moves, "deletes": deletes,
             "prune": [os.path.dirname(p) for p in deletes], "out": out, "lock_first": lock_first}
    _record(root, entry)
    return entry


def apply(entry: dict) -> None:
    """Do (or finish doing) a committed write: each step may already have been done. Unmoved when the first move
    (easel.lock's, when the entry says so) fails: the lock is still staged, so no step was ever done."""
    made: set[str] = set()
    for index, (source, target) in enumerate(entry["moves"]):
        if index == 0 and entry.get("lock_first") and os.path.lexists(source):
            try:
                os.replace(source, target)
            except OSError as exc:
                raise Unmoved(exc.errno, exc.strerror, target) from exc
        elif os.path.lexists(source):
            parent = os.path.dirname(target)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            if os.path.isdir(source) and not os.path.islink(source):
                if os.path.isdir(target):  # an interrupted run moved part of it in: the staged one is whole
                    shutil.rmtree(target)
                os.rename(source, target)
            else:
                os.replace(source, target)
    for path in entry["deletes"]:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    out = entry["out"]
    for folder in sorted(set(entry["prune"]), key=len, reverse=True):
        while folder != out and folder.startswith(out + os.sep) and os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
            folder = os.path.dirname(folder)


def finish(root: Path, staging: str) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        _journal(root).unlink()


def recover(root: Path) -> str | None:
    """Complete or undo a write an interrupted easel left; what was done, in words (None: nothing to do)."""
    path = _journal(root)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        entry = {}
    staging = entry.get("staging") if isinstance(entry.get("staging"), str) else None
    if entry.get("state") == "commit":
        try:
            apply(entry)
        except Unmoved as exc:
            finish(root, staging or "")
            return (f"undid a write of {entry['out']} that an interrupted easel run had committed: {exc.filename} "
                    f"cannot be replaced ({exc.strerror}), and nothing else had moved")
        finish(root, staging or "")
        return f"completed a write of {entry['out']} that an interrupted easel run had committed"
    if staging:
        finish(root, staging)
    else:
        path.unlink(missing_ok=True)
    return "undid a write that an interrupted easel run had not committed (the output was not touched)"
