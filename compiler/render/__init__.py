"""Stage 5, render: the output tree, as file path -> text, from the plans alone: every cluster's tree for its
engine (flux.py, argocd.py; what both write alike is in objects.py), its images.txt, and the bootstrap.

What is the same on many clusters (a release planned alike, a Helm source, a listing) is rendered once and
reused; that is most of the work at fleet scale.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from sys import intern  # a path is held by the tree, the output's listing and the manifest: one string for all
from typing import Any, Protocol

from compiler.plan import Plans
from compiler.plan.shards import Shard
from compiler.render import argocd, flux
from compiler.render.objects import folder_files, images_list, in_house_files

ENGINES = {"flux": flux, "argocd": argocd}


class Progress(Protocol):
    """Told how far rendering has come (the command line's progress bar is one); rendering never prints."""
    def phase(self, name: str, total: int | None = None) -> None: ...
    def advance(self, count: int = 1) -> None: ...


class Quiet:
    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


QUIET = Quiet()


def render(plans: Plans, shard: Shard | None = None, progress: Progress = QUIET) -> dict[str, str]:
    """The whole tree; with a shard, only the files that shard owns (plan/shards.py)."""
    files: dict[str, str] = {}
    for part in render_parts(plans, shard, progress=progress):
        files.update(part)
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class Tree:
    """The output tree still to be rendered, for `compile` to write as it renders it: in parts (a cluster
    each, then the bootstrap), so that a fleet's tree is never whole in memory, and in lanes, which can be
    rendered and written in separate processes (write/__init__.py)."""
    plans: Plans
    shard: Shard | None = None
    progress: Progress = QUIET

    @property
    def clusters(self) -> int:
        return len(self.plans.clusters)

    def parts(self, lane: int = 0, lanes: int = 1) -> Iterator[dict[str, str]]:
        """Lane `lane` of `lanes`: every lanes-th cluster from the lane-th on; the bootstrap goes with lane 0."""
        return render_parts(self.plans, self.shard, lane, lanes, self.progress)

    def problems(self) -> list[Any]:
        return []  # rendering finds none: the proof does (prove.ProvenTree)


def cluster_files(plans: Plans, name: str, cache: dict[tuple, Any] | None = None) -> dict[str, str]:
    """One cluster's tree (`clusters/<name>/...`), as `compile` writes it."""
    cluster = plans.clusters[name]
    files = {intern(f"clusters/{name}/{path}"): text
             for path, text in ENGINES[cluster.engine].render_cluster(plans, cluster, {} if cache is None else cache
                                                                     ).items()}
    listing = images_list(cluster.releases)
    if listing:
        files[intern(f"clusters/{name}/images.txt")] = listing
    carried = {**in_house_files(plans.in_house, cluster.releases), **folder_files(plans.folders, cluster.releases)}
    files.update({f"clusters/{name}/{path}": text for path, text in carried.items()})
    return dict(sorted(files.items()))


def render_parts(plans: Plans, shard: Shard | None = None, lane: int = 0, lanes: int = 1,
                 progress: Progress = QUIET) -> Iterator[dict[str, str]]:
    """The same tree a cluster at a time, then the bootstrap (see Tree)."""
    cache: dict[tuple, Any] = {}
    by_engine: dict[str, list[str]] = defaultdict(list)
    progress.phase("rendering", len(plans.clusters))
    for position, (name, cluster) in enumerate(plans.clusters.items()):
        by_engine[cluster.engine].append(name)
        if position % lanes != lane:
            continue
        progress.advance(lanes)  # the other lanes go about as fast
        if shard is not None and not shard.owns_cluster(name):
            continue
        yield cluster_files(plans, name, cache)
    if lane != 0:
        return
    bootstrap: dict[str, str] = {}
    for engine, clusters in sorted(by_engine.items()):
        bootstrap.update((path, text) for path, text in ENGINES[engine].bootstrap(plans.settings, clusters).items()
                         if shard is None or shard.owns_path(path))
    yield dict(sorted(bootstrap.items()))
