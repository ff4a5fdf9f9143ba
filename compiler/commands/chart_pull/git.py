"""A Git Repository's charts for `easel charts pull`, through libgit2 (pygit2): the repository fetched once a run
into easel's cache (`.easel-cache/git/<repository>-<hash of its url>.git`, a bare repository the next pull fetches
into again), only the ref the Repository names (every branch and tag when it names a commit easel does not have
yet); the ref resolved to a commit; a chart folder at a commit packed as `helm package` lays it out
(load/charts.py, over the commit's tree: no checkout).

Anonymously, always: a Repository's `secretRef` names a secret on the cluster, never a credential for easel, so a
repository that asks for one (private over HTTPS, or any SSH address) cannot be fetched (E909). The address is the
Repository's url, as git's own configuration rewrites it (`url.<base>.insteadOf`: a mirror, or a local copy);
each connection and each wait for the server gives up after transport.TIMEOUT.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pygit2
from pygit2.enums import Option

from compiler.commands.chart_pull.transport import TIMEOUT, FetchError, is_loopback, once
from compiler.load import charts
from compiler.load.gitsource import TreeSource
from compiler.load.source import PathOutsideRepository
from compiler.model import Repository
from compiler.runtime.state import make_cache_dir

EVERYTHING = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
NO_CREDENTIALS = ("easel fetches Git repositories anonymously: the Repository's secretRef names a secret on the "
                  "cluster, never one easel uses. Give the chart a public repository (or a mirror easel can "
                  "read), or leave it unpulled: the engines fetch it at the ref, unproven (W107)")
MOVED_TAG = ("a published tag should not move: if its new commit is meant, pin it with `easel charts pull "
             "--update` and review the change; else ask the repository's owners why it moved")
REWRITTEN = ("the engines look for the pinned commit on the branch and would not find it: pin the branch's newest "
             "commit with `easel charts pull --update`, and review the change")


class _NeedsCredentials(Exception):
    pass


class _Anonymous(pygit2.RemoteCallbacks):
    """No credentials, ever (see the module's doc)."""

    def credentials(self, url, username_from_url, allowed_types):
        raise _NeedsCredentials(url)


@dataclass
class GitCharts:
    """One pull's Git repositories: each fetched once, and its ref resolved once (a failure too)."""
    root: Path  # the config repository: its cache holds the clones
    opened: dict[str, pygit2.Repository] = field(default_factory=dict)  # url -> the cache's clone
    tips: dict[str, str | FetchError] = field(default_factory=dict)  # repository -> the commit its ref names now

    def __post_init__(self) -> None:
        pygit2.option(Option.SET_SERVER_CONNECT_TIMEOUT, int(TIMEOUT * 1000))
        pygit2.option(Option.SET_SERVER_TIMEOUT, int(TIMEOUT * 1000))

    def tip(self, repository: Repository) -> str:
        """The commit the Repository's ref names now, fetched; FetchError when it cannot be."""
        return once(self.tips, repository.meta.name, lambda: self._resolve(repository))

    def commit(self, repository: Repository, pinned: str | None, update: bool) -> str:
        """The commit to read the Repository's charts at: the one its ref names now when none is pinned, or when
        updating; else the pinned one, which a tag must still name (E110) and a branch still hold (E909)."""
        tip = self.tip(repository)
        assert repository.ref is not None  # a Git Repository names its ref (its schema)
        kind, value = repository.ref
        if pinned is None or update or pinned == tip or kind == "commit":
            return tip
        if kind == "tag":
            raise FetchError(f"tag {value} now names commit {tip}, and easel.lock pins {pinned}: the tag was moved",
                             "E110", MOVED_TAG)
        clone = self._clone(repository)
        if pinned not in clone or not clone.descendant_of(tip, pinned):
            raise FetchError(f"the commit easel.lock pins, {pinned}, is not on branch {value} any more (its "
                             f"history was rewritten; the branch is at {tip})", "E909", REWRITTEN)
        return pinned

    def archive(self, repository: Repository, commit: str, folder: str) -> bytes:
        """The chart folder at the commit, packed; FetchError (E910) when it is not a chart folder there."""
        clone = self._clone(repository)
        try:
            _, data = charts.pack(TreeSource(clone, clone[commit].peel(pygit2.Commit), folder), folder)
        except (charts.ChartFolderError, PathOutsideRepository) as problem:
            raise FetchError(f"at commit {commit[:12]}, {folder!r} is not a chart folder ({problem})", "E910",
                             "name the folder that holds the chart's Chart.yaml, as a path from the top of the "
                             "Git repository") from None
        return data

    def _resolve(self, repository: Repository) -> str:
        assert repository.ref is not None
        kind, value = repository.ref
        clone = self._clone(repository)
        if kind == "commit":
            if not _has_commit(clone, value):
                self._fetch(repository, clone, EVERYTHING)
            if not _has_commit(clone, value):
                raise FetchError(f"no branch or tag of {repository.url} holds commit {value}")
            return value
        remote = f"refs/heads/{value}" if kind == "branch" else f"refs/tags/{value}"
        local = f"refs/remotes/origin/{value}" if kind == "branch" else remote
        if not pygit2.reference_is_valid_name(remote):
            raise FetchError(f"{value!r} is not a Git {kind} name")
        if local in clone.references:  # what the repository no longer has must not be found in the cache
            clone.references.delete(local)
        self._fetch(repository, clone, [f"+{remote}:{local}"])
        if local not in clone.references:
            raise FetchError(f"{repository.url} has no {kind} {value!r}")
        return str(clone.references[local].peel(pygit2.Commit).id)

    def _clone(self, repository: Repository) -> pygit2.Repository:
        """The cache's clone of the repository (made, or made again when it is damaged: it is only a cache)."""
        url = repository.url
        if url not in self.opened:
            digest = hashlib.sha256(url.encode()).hexdigest()[:16]
            path = make_cache_dir(self.root) / "git" / f"{repository.meta.name}-{digest}.git"
            try:
                self.opened[url] = pygit2.Repository(str(path))
            except pygit2.GitError:
                shutil.rmtree(path, ignore_errors=True)
                self.opened[url] = pygit2.init_repository(str(path), bare=True)
        return self.opened[url]

    def _fetch(self, repository: Repository, clone: pygit2.Repository, refspecs: list[str]) -> None:
        try:
            clone.remotes.create_anonymous(repository.url).fetch(refspecs, callbacks=_Anonymous(),
                                                                 proxy=_proxy(repository.url))
        except _NeedsCredentials:
            raise FetchError(f"{repository.url} asks for credentials", hint=NO_CREDENTIALS) from None
        except (pygit2.GitError, ValueError, OSError) as problem:
            auth = isinstance(problem, pygit2.GitError) and "auth" in str(problem).lower()
            raise FetchError(f"fetching {repository.url} failed: {problem}",
                             hint=NO_CREDENTIALS if auth else None) from None


def _has_commit(clone: pygit2.Repository, commit: str) -> bool:
    found = clone.get(commit)
    return found is not None and found.type == pygit2.enums.ObjectType.COMMIT


def _proxy(url: str) -> Literal[True] | None:
    """libgit2's proxy for the address: the one git's config or the environment names (True), but none for this
    machine (a file:// address or loopback, as transport.py does)."""
    parts = urllib.parse.urlsplit(url)
    return None if parts.scheme == "file" or is_loopback(parts.netloc.rpartition("@")[2]) else True
