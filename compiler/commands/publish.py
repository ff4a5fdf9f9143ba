"""`easel publish`: commit the compiled output to a branch that Argo CD or Flux follow, with libgit2."""

from __future__ import annotations

import os
from typing import Any

import pygit2

from compiler.load.gitsource import RevisionError

_ENV = (("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"), ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"))


def _signature(repo: pygit2.Repository, names: tuple[str, str]) -> pygit2.Signature:
    name, email = os.environ.get(names[0]), os.environ.get(names[1])
    if name and email:
        return pygit2.Signature(name, email)
    try:
        return repo.default_signature
    except (KeyError, pygit2.GitError):
        raise RevisionError("no author: set user.name and user.email in git's configuration, or "
                            "GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL") from None


def _tree(repo: pygit2.Repository, files: dict[str, bytes]) -> pygit2.Oid:
    """A tree of nested folders from path -> content."""
    folders: dict[str, Any] = {}
    for path, data in files.items():
        node = folders
        *parents, name = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = data

    def build(node: dict) -> pygit2.Oid:
        builder = repo.TreeBuilder()
        for name, value in sorted(node.items()):
            if isinstance(value, dict):
                builder.insert(name, build(value), pygit2.GIT_FILEMODE_TREE)
            else:
                builder.insert(name, repo.create_blob(value), pygit2.GIT_FILEMODE_BLOB)
        return builder.write()

    return build(folders)


def publish(repo: pygit2.Repository, branch: str, files: dict[str, bytes], message: str) -> str | None:
    """Commit files (paths from the repository root) as the whole tree of branch, on top of its tip. The id of
    the new commit; None when the branch already holds exactly these files."""
    reference = f"refs/heads/{branch}"
    if not repo.head_is_unborn and repo.head.name == reference:
        raise RevisionError(f"{branch} is the branch checked out here: publish to a branch of its own")
    tree = _tree(repo, files)
    parents = []
    if reference in repo.references:
        tip = repo.references[reference].peel(pygit2.Commit)
        if tip.tree.id == tree:
            return None
        parents = [tip.id]
    commit = repo.create_commit(reference, _signature(repo, _ENV[0]), _signature(repo, _ENV[1]), message, tree,
                                parents)
    return str(commit)


def publish_output(root, result, branch: str, message: str | None) -> tuple[int, str | None]:
    """Commit the compiled output (which must be what output/ holds) to branch: (files, the new commit or None
    when the branch holds it already). Raises CommandError when it cannot."""
    from compiler.diagnostics.errors import CommandError
    from compiler.load.gitsource import folder_in_work_tree, open_repository
    from compiler.write.compare import diff

    out = root / result.model.settings.output
    if diff(out, result.files).any:
        raise CommandError("E904", f"{out} is not what the repository compiles to: run `easel compile` first")
    try:
        repo = open_repository(root)
        prefix = folder_in_work_tree(repo, root)
        folder = "/".join(p for p in (prefix, result.model.settings.output) if p)
        files = {f"{folder}/{path}": text.encode() for path, text in result.files.items()}
        head = "an unborn branch" if repo.head_is_unborn else str(repo.head.target)[:12]
        return len(files), publish(repo, branch, files, message or f"easel: output of {head}")
    except RevisionError as exc:
        raise CommandError("E904", str(exc)) from None


def _revision(root) -> tuple[str, dict[str, str]]:
    """The revision tag (the commit, shortened) and the annotations `flux push artifact` writes: the source (the
    origin remote), the revision (`<branch>@sha1:<commit>`) and when it was created (the commit's time, so that
    the same commit gives the same artifact)."""
    import datetime

    from compiler.diagnostics.errors import CommandError
    from compiler.load.gitsource import open_repository

    try:
        repo = open_repository(root)
        if repo.head_is_unborn:
            raise RevisionError("the repository has no commit yet")
        commit = repo.head.peel(pygit2.Commit)
    except (RevisionError, pygit2.GitError) as exc:
        raise CommandError("E904", f"publish --oci tags each artifact with the commit it comes from: {exc}") from None
    branch = repo.head.shorthand if not repo.head_is_detached else "HEAD"
    try:
        source = repo.remotes["origin"].url
    except (KeyError, ValueError):
        source = ""
    created = datetime.datetime.fromtimestamp(commit.commit_time, datetime.UTC)
    annotations = {"org.opencontainers.image.created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "org.opencontainers.image.revision": f"{branch}@sha1:{commit.id}"}
    if source:
        annotations["org.opencontainers.image.source"] = source
    return str(commit.id)[:12], annotations


def publish_oci(root, result, repository: str, moving_tag: str, plain_http: bool) -> list:
    """Push each cluster's tree (which must be what output/ holds) as an OCI artifact; the clusters, pushed or
    found unchanged, with their digests. Raises CommandError when it cannot."""
    from compiler.commands import oci
    from compiler.diagnostics.errors import CommandError
    from compiler.runtime.state import cache_dir
    from compiler.write.compare import diff

    out = root / result.model.settings.output
    if diff(out, result.files).any:
        raise CommandError("E904", f"{out} is not what the repository compiles to: run `easel compile` first")
    revision, annotations = _revision(root)
    try:
        oci.check_reference(repository, (revision, moving_tag))
        engines = {name: plan.engine for name, plan in result.plans.clusters.items()}
        found = oci.artifacts(result.files, engines)
        return oci.push(repository, found, (revision, moving_tag), annotations, plain_http,
                        cache_dir(root) / "oci")
    except oci.PublishError as exc:
        raise CommandError("E907", str(exc), hint=True) from None
