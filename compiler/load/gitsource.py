"""A Source for the config repository as it is at a git revision, read through libgit2 (pygit2) from the
object database: no checkout, no temporary clone. Paths stay repository-relative, so diagnostics still name
`file:line`. TreeSource reads one folder of a commit of another repository the same way (a Git chart's)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pygit2

from compiler.load.source import MemorySource, normalize

_BLOB_MODES = (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE)


class RevisionError(ValueError):
    pass


def open_repository(folder: Path) -> pygit2.Repository:
    found = pygit2.discover_repository(str(folder))
    if found is None:
        raise RevisionError(f"{folder} is not inside a git repository")
    return pygit2.Repository(found)


def resolve_commit(repo: pygit2.Repository, rev: str) -> pygit2.Commit:
    try:
        return repo.revparse_single(rev).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        raise RevisionError(f"no commit {rev!r} in {repo.workdir or repo.path}: {exc}") from None


def folder_in_work_tree(repo: pygit2.Repository, folder: Path) -> str:
    """The folder's path inside the repository's work tree ("" at its top, or for a bare repository)."""
    workdir = Path(repo.workdir or folder).resolve()
    prefix = Path(folder).resolve().relative_to(workdir).as_posix()
    return "" if prefix == "." else prefix


class _ObjectSource(MemorySource):
    """Files read from a repository's object database, by their paths (files: path -> blob id)."""

    repo: pygit2.Repository
    name: str
    links: set[str] | None = None  # the symbolic links listed (None: links are not listed at all)

    def _collect(self, tree: pygit2.Tree, path: str) -> None:
        for entry in tree:
            full = f"{path}{entry.name}"
            if entry.filemode == pygit2.GIT_FILEMODE_TREE:
                subtree = self.repo[entry.id]
                if isinstance(subtree, pygit2.Tree):
                    self._collect(subtree, full + "/")
            elif entry.filemode in _BLOB_MODES or (self.links is not None
                                                   and entry.filemode == pygit2.GIT_FILEMODE_LINK):
                self.files[full] = entry.id  # type: ignore[assignment]
                if entry.filemode == pygit2.GIT_FILEMODE_LINK and self.links is not None:
                    self.links.add(full)  # (submodules are never listed)

    def read(self, path: str) -> bytes:
        clean = normalize(path)
        blob = self.repo[self.files[clean]] if clean in self.files else None  # type: ignore[index]
        if not isinstance(blob, pygit2.Blob):
            raise FileNotFoundError(2, f"not a file in {self.name}", path)
        return blob.data


class GitSource(_ObjectSource):
    """The files under `folder` (the config repository, inside a git work tree) at a commit: a MemorySource
    whose contents stay in git's object database until they are read. Links and submodules are not followed."""

    def __init__(self, folder: Path, rev: str):
        self.repo = open_repository(folder)
        self.commit = resolve_commit(self.repo, rev)
        self.name = f"{rev} ({str(self.commit.id)[:12]})"
        prefix = folder_in_work_tree(self.repo, folder)
        self.files: dict[str, pygit2.Oid] = {}  # type: ignore[assignment]
        top: pygit2.Object | None = self.commit.tree
        if prefix:  # only the config repository's folder is read
            top = self.commit.tree[prefix] if prefix in self.commit.tree else None  # noqa: SIM401  (a Tree has no get)
        if isinstance(top, pygit2.Tree):
            self._collect(top, "")


class TreeSource(_ObjectSource):
    """One folder of a commit of any repository (a Git Repository's chart folder, fetched into easel's cache by
    `easel charts pull`), read from the object database: its files by their paths in the repository. A symbolic
    link is listed and is_link says so (packing refuses it, as it refuses one on disk); a submodule is not listed
    (the engines clone without them)."""

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit, folder: str):
        self.repo = repo
        self.name = f"commit {str(commit.id)[:12]}"
        self.files: dict[str, pygit2.Oid] = {}  # type: ignore[assignment]
        self.links = set()
        clean = normalize(folder)
        top = commit.tree[clean] if clean and clean in commit.tree else None
        if isinstance(top, pygit2.Tree):
            self._collect(top, f"{clean}/")

    def is_link(self, path: str) -> bool:
        return normalize(path) in (self.links or ())


def default_base(repo: pygit2.Repository) -> str:
    """The merge base of HEAD with the default branch (origin's HEAD, else main or master)."""
    candidates = []
    with contextlib.suppress(KeyError, pygit2.GitError):
        candidates.append(repo.references["refs/remotes/origin/HEAD"].resolve().name)
    candidates += ["refs/remotes/origin/main", "refs/heads/main", "refs/remotes/origin/master", "refs/heads/master"]
    head = repo.head.peel(pygit2.Commit).id
    for name in candidates:
        if name in repo.references:
            other = repo.references[name].peel(pygit2.Commit).id
            base = repo.merge_base(head, other)
            if base is not None:
                return str(base)
    return "HEAD"

