"""The few files easel writes outside output/'s transaction (a report page, exported schemas): each written
whole, into a folder named on the command line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from compiler.diagnostics.errors import BadArgument, CommandError


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
