"""easel's own folder at a repository's root (`.easel-cache`): the cache, the lock and the write journal live
there. Ignored by Git, whatever the repository's .gitignore says, and safe to delete while no easel runs."""

from __future__ import annotations

from pathlib import Path

CACHE = ".easel-cache"

_IGNORE_ALL = "# Written by easel: this folder is its cache, never committed.\n*\n"


def cache_dir(root: Path) -> Path:
    return root / CACHE


def make_cache_dir(root: Path) -> Path:
    """The folder, ignoring itself for Git (as pytest's and ruff's caches do)."""
    folder = cache_dir(root)
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(_IGNORE_ALL, encoding="utf-8")
    return folder
