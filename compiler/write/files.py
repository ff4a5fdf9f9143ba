"""The few files easel writes outside output/'s transaction: a report page and exported schemas, each written
whole into a folder named on the command line; and the chart archives `easel charts pull` fetched with easel.lock,
written together in a transaction of their own."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from compiler.diagnostics.errors import BadArgument, CommandError
from compiler.load.source import LOCK_FILE


def out_folder(root: Path, value: str, option: str = "--out") -> Path:
    """The folder an `--out` names (relative to the repository), refused when it cannot be one."""
    if value in ("", "-"):
        raise BadArgument("give a folder (standard output is not one)", option)
    folder = Path(value) if Path(value).is_absolute() else root / value
    if folder.is_symlink() and not folder.exists():
        raise CommandError("E802", f"{folder} is a symbolic link to nothing: give a folder")
    if folder.exists() and not folder.is_dir():
        raise CommandError("E802", f"{folder} is not a folder")
    return folder


def replace_text(path: Path, text: str) -> None:
    """Write path whole through a temporary file beside it: a reader never sees half of it, and a symbolic
    link in its place is replaced, not followed. Failing, an E802 that names path."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep the file from everyone else
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CommandError("E802", f"cannot write {path}: {exc.strerror or exc}") from None


def replace_together(root: Path, files: dict[Path, bytes], deletes: list[Path], out: Path) -> None:
    """Write files whole and remove deletes as one journalled transaction (transaction.py), as compile writes
    output/ and easel.lock: each file is staged in easel's own folder first, and nothing is moved into place
    until every one is; an easel killed at any point leaves the old files or a journal that the next easel
    command completes. out: the folder they are in (the one named when an interrupted write is completed), below
    which folders left empty are removed. Failing before the commit, nothing was changed, and an E802 says so."""
    from compiler.runtime.state import make_cache_dir
    from compiler.write import transaction

    staging = str(make_cache_dir(root) / f"staging-{os.getpid()}")
    lock = root / LOCK_FILE
    try:
        transaction.begin(root, staging)
        moves = []
        for number, (path, data) in enumerate(sorted(files.items(), key=lambda item: (item[0] != lock, item[0]))):
            staged = os.path.join(staging, str(number))
            with open(staged, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(staged, 0o644)
            moves.append((staged, str(path)))
        removed = [str(path) for path in deletes]
        entry = transaction.commit(root, staging, moves, removed, str(out), lock_first=lock in files)
    except OSError as exc:
        transaction.finish(root, staging)
        raise CommandError("E802", f"cannot write {exc.filename or out}: {exc.strerror or exc}; nothing was "
                           "changed") from None
    try:
        transaction.apply(entry)
    except transaction.Unmoved as exc:  # the lock moves first: nothing else was touched
        transaction.finish(root, staging)
        raise CommandError("E802", f"cannot replace {exc.filename}: {exc.strerror or exc}; nothing was "
                           "changed") from None
    except OSError as exc:
        raise CommandError("E802", f"cannot write {exc.filename or out}: {exc.strerror or exc}; the next easel "
                           "command completes the write") from None
    transaction.finish(root, staging)
