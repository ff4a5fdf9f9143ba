"""easel's own folder at a repository's root (`.easel-cache`): the cache, the lock and the write journal live
there. Ignored by Git, whatever the repository's .gitignore says, and safe to delete while no easel runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CACHE = ".easel-cache"

_IGNORE_ALL = "*\n# Written by easel: this folder is its cache, never committed.\n"  # `*` first: any part of it hides


def cache_dir(root: Path) -> Path:
    return root / CACHE


def make_cache_dir(root: Path) -> Path:
    """The folder, ignoring itself for Git (as pytest's and ruff's caches do). Made aside with its .gitignore and
    renamed into place, so that no kill leaves Git a cache folder it would see; what a kill leaves aside is an
    empty folder, or one whose .gitignore ignores it all (itself too): invisible to Git either way."""
    folder = cache_dir(root)
    ignore = folder / ".gitignore"
    if ignore.exists():
        return folder
    if not folder.exists():
        aside = root / f"{CACHE}.{os.getpid()}.tmp"
        aside.mkdir(exist_ok=True)
        (aside / ".gitignore").write_text(_IGNORE_ALL, encoding="utf-8")
        try:
            aside.rename(folder)
        except OSError:  # another easel made it meanwhile
            shutil.rmtree(aside, ignore_errors=True)
    folder.mkdir(exist_ok=True)
    if not ignore.exists():  # a cache folder an older easel made
        ignore.write_text(_IGNORE_ALL, encoding="utf-8")
    return folder
