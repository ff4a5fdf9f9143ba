"""All reading of the config repository goes through a Source rooted at the repository.

Paths are repository-relative POSIX strings. Every path is checked to stay inside the root (symbolic links
included), so a name or path taken from input can never reach a file outside the repository. A Source for a git
revision (`--ref`) implements the same small protocol.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Protocol

YAML_SUFFIXES = (".yaml", ".yml")
LOCK_FILE = "easel.lock"  # the decision record, read with the inputs (record/lockfile.py: what it holds)


class PathOutsideRepository(ValueError):
    pass


class NotRegularFile(OSError):
    """A FIFO, device or socket where a file was expected: never opened for reading (a FIFO would hang)."""


def normalize(path: str) -> str:
    """A repository-relative path, normalised; raises PathOutsideRepository when it leaves the root."""
    if not isinstance(path, str) or path == "" or "\x00" in path or "\\" in path:
        raise PathOutsideRepository(path)
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise PathOutsideRepository(path)
    clean = posixpath.normpath(path)
    if clean == ".." or clean.startswith("../"):
        raise PathOutsideRepository(path)
    return "" if clean == "." else clean


class Source(Protocol):
    def walk(self, folder: str) -> list[str]:
        """Every file under folder (recursively), sorted; [] when folder does not exist."""

    def read(self, path: str) -> bytes: ...

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def is_link(self, path: str) -> bool:
        """Whether the file is a symbolic link (read() follows one that stays inside the repository)."""

    def describe(self) -> str: ...


class DirectorySource:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def describe(self) -> str:
        return str(self.root)

    def _real(self, path: str) -> Path:
        rel = normalize(path) if path not in ("", ".") else ""
        if not rel:
            return self.root
        folder, _, name = rel.rpartition("/")
        full = self._real_folder(folder) / name
        try:
            if full.is_symlink():
                full = full.resolve(strict=True)
        except (OSError, RuntimeError):  # a dangling link, or a loop of links
            raise PathOutsideRepository(path) from None
        if full != self.root and self.root not in full.parents:
            raise PathOutsideRepository(path)
        return full

    def _real_folder(self, folder: str) -> Path:
        """A folder's real path, remembered: a repository reads many files from few folders."""
        cache = self.__dict__.setdefault("_folders", {})
        if folder not in cache:
            try:
                real = (self.root / folder).resolve() if folder else self.root
            except (OSError, RuntimeError):  # a loop of links
                raise PathOutsideRepository(folder) from None
            if real != self.root and self.root not in real.parents:
                raise PathOutsideRepository(folder)
            cache[folder] = real
        return cache[folder]

    def walk(self, folder: str) -> list[str]:
        """Raises PathOutsideRepository when the folder itself leads outside (a link, or a loop of links)."""
        base = self._real(folder)
        if not base.is_dir():
            return []
        found: list[str] = []
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            # Every file is listed, a symbolic link too: read() refuses one that leads outside, or a loop.
            folder = os.path.relpath(dirpath, root).replace(os.sep, "/")
            found.extend(f"{folder}/{name}" for name in filenames if not name.startswith("."))
        return sorted(found)

    def read(self, path: str) -> bytes:
        """The file's bytes; a FIFO, device or socket is refused before it is opened for reading."""
        real = self._real(path)
        mode = real.stat().st_mode
        if not stat.S_ISREG(mode):
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(21, "Is a directory", path)
            raise NotRegularFile(0, "not a regular file (a FIFO, device or socket)", path)
        return real.read_bytes()

    def is_file(self, path: str) -> bool:
        try:
            return self._real(path).is_file()
        except PathOutsideRepository:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            return self._real(path).is_dir()
        except PathOutsideRepository:
            return False

    def is_link(self, path: str) -> bool:
        folder, _, name = normalize(path).rpartition("/")
        return (self._real_folder(folder) / name).is_symlink()


class MemorySource:
    """A repository held in memory (path -> bytes): for tests, and for revisions read from git."""

    def __init__(self, files: dict[str, bytes | str], name: str = "<memory>"):
        self.files = {normalize(p): (v.encode() if isinstance(v, str) else v) for p, v in files.items()}
        self.name = name

    def describe(self) -> str:
        return self.name

    def walk(self, folder: str) -> list[str]:
        prefix = "" if folder in ("", ".") else normalize(folder) + "/"
        return sorted(p for p in self.files if p.startswith(prefix)
                      and not any(part.startswith(".") for part in p[len(prefix):].split("/")))

    def read(self, path: str) -> bytes:
        try:
            return self.files[normalize(path)]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory", path) from None

    def is_file(self, path: str) -> bool:
        try:
            return normalize(path) in self.files
        except PathOutsideRepository:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            prefix = normalize(path) + "/"
        except PathOutsideRepository:
            return False
        return any(p.startswith(prefix) for p in self.files)

    def is_link(self, path: str) -> bool:
        return False  # memory holds no links; git's are not listed (gitsource.py)
