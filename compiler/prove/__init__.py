"""Stage prove: what was planned and rendered, checked against what a cluster has and will apply, before anything
is written.

- `prove(plans, ...)`: what the plans show already: every node selector a pod gets matches the labels of every
  device its booking spans (node_selection.py, E603), every custom resource comes after the CRD that defines it
  (crds.py, E412), and which charts it could not prove (charts.py, W107, or E816 when easel.yaml requires proof).
- `ProvenTree`: each rendered cluster tree, read back as the cluster will apply it (objects.py), holds what
  easel decided: the labels of each kind of object (labels.py), GPU requests against the bookings, images listed
  and allowed, required traits on every pod template, pods and DRA claims that can get only the GPU products
  booked (claims.py), and objects the API server accepts at the cluster's version, custom resources against
  their CRDs (tree.py, schemas.py, custom_schemas.py; E810-E815); a cluster at a time as it is rendered and
  written (for `validate`: proven and dropped), so a fleet's tree is never whole in memory, and write refuses a
  tree with an error in it.
- `prove_clusters`: the same proof of trees that are never written (a published version's stand-in, on one
  cluster per set of facts: decide/candidates.py), each tree dropped once proven.
- `kustomize.py` builds a cluster's tree as `kubectl kustomize` does (`easel build`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.diagnostics import Diagnostic, Diagnostics
from compiler.kube import images
from compiler.model import Model
from compiler.plan import Plans
from compiler.prove import charts, crds, folders, node_selection
from compiler.prove.chart_objects import ChartProof
from compiler.prove.objects import Parsed
from compiler.prove.tree import WorkloadPolicy, prove_cluster
from compiler.record.decisions import Decisions
from compiler.render import Tree, cluster_files


def prove(plans: Plans, fleet: Mapping[str, ClusterFacts], decisions: Decisions,
          dra_products: Iterable[tuple[str, str]], archives: Mapping[tuple[str, str, str], Any] | None = None,
          engine: bool = False) -> Diagnostics:
    """The problems a cluster would show with what is planned for it."""
    diagnostics = Diagnostics()
    lacking: dict[Any, Any] = {}  # crds.check's answers for releases planned alike
    dra_names = dict(dra_products)
    for name, cluster_plan in plans.clusters.items():
        facts = fleet[name]
        booked = [release for release in cluster_plan.workloads if release.bookings]
        devices = node_selection.ready_devices(facts.cluster, facts.gpus)
        for release in booked:
            allocations = decisions.workload(release.id).allocations.get(name, ())
            diagnostics.extend(node_selection.check(facts.cluster, release, allocations, devices, dra_names))
        diagnostics.extend(crds.check(cluster_plan, facts.crds, lacking, archives))
    diagnostics.extend(charts.unproven(plans, archives or {}, engine))
    diagnostics.extend(charts.cluster_problems(plans, fleet, archives or {}))
    diagnostics.extend(folders.unbuilt(plans))
    return diagnostics


def workload_policies(model: Model) -> dict[str, WorkloadPolicy]:
    """Per workload id, what its environment demands of its objects."""
    found: dict[str, WorkloadPolicy] = {}
    for (project, name), workload in model.workloads.items():
        environment = model.environments.get(workload.environment)
        if environment is not None:
            found[f"{project}/{name}"] = WorkloadPolicy(environment.allowed_registries, environment.required_traits)
    return found


def _cluster_of(part: dict[str, str]) -> str | None:
    first = next(iter(part), "")
    return first.split("/", 2)[1] if first.startswith("clusters/") else None


def gpus_taken(decisions: Decisions, cluster: str) -> dict[str, dict[str, int]]:
    """Per workload id and component, the GPUs placement took on the cluster."""
    found: dict[str, dict[str, int]] = {}
    for workload_id, decision in decisions.workloads.items():
        for allocation in decision.allocations.get(cluster, ()):
            per_component = found.setdefault(workload_id, {})
            per_component[allocation.component] = per_component.get(allocation.component, 0) + allocation.count
    return found


def prove_clusters(plans: Plans, model: Model, decisions: Decisions, fleet: Mapping[str, ClusterFacts],
                   charts: ChartProof | None = None) -> list[Diagnostic]:
    """Each cluster's tree rendered, proven and dropped, for what is proven but never written (a published
    version's stand-in, pipeline.py); the chart engine is left to the caller to close."""
    policies = workload_policies(model)
    found: list[Diagnostic] = []
    for name, cluster_plan in plans.clusters.items():
        found += prove_cluster(cluster_plan, cluster_files(plans, name), policies, gpus_taken(decisions, name),
                               Parsed.shared(), fleet.get(name), charts, set())
    return found


class ProvenTree:
    """A render.Tree whose parts are proven as they are rendered (the write stage's Tree): what the proof finds
    is kept, per process, for write to refuse the tree by."""

    def __init__(self, tree: Tree, model: Model, decisions: Decisions, fleet: Mapping[str, ClusterFacts],
                 charts: ChartProof | None = None):
        self.tree, self.decisions, self.fleet, self.charts = tree, decisions, fleet, charts
        self.policies = workload_policies(model)
        self.parsed = Parsed.shared()
        self.found: list[Diagnostic] = []

    @property
    def clusters(self) -> int:
        return self.tree.clusters

    def parts(self, lane: int = 0, lanes: int = 1) -> Iterator[dict[str, str]]:
        try:
            yield from self._proven_parts(lane, lanes)
        finally:
            if self.charts is not None:
                self.charts.engine.close()

    def _proven_parts(self, lane: int, lanes: int) -> Iterator[dict[str, str]]:
        for part in self.tree.parts(lane, lanes):
            self.parsed = Parsed.shared()  # per cluster: what the process keeps stays bounded within a tree too
            name = _cluster_of(part)
            if name is not None and name in self.tree.plans.clusters:
                pulled: set[str] = set()
                self.found += prove_cluster(self.tree.plans.clusters[name], part, self.policies,
                                            gpus_taken(self.decisions, name), self.parsed, self.fleet.get(name),
                                            self.charts, pulled)
                part = self._with_images_seen(part, name, pulled)
            yield part

    def _with_images_seen(self, part: dict[str, str], cluster: str, pulled: set[str]) -> dict[str, str]:
        """images.txt with the images the cluster's charts and kustomize folders pull, as the proof built their
        pods (easel sees them only there). One pulled from a mirror a trait names (a `SOURCE MIRROR` line of
        repositories) is listed with its source, as the trait's own images are."""
        shipped = pulled | (self.charts.images.pop(cluster, set()) if self.charts is not None else set())
        path = f"clusters/{cluster}/images.txt"
        lines = set(part.get(path, "").splitlines())
        listed = {line.split()[-1] for line in lines if line.strip()}
        if not shipped - listed:
            return part
        sources = {line.split()[1]: line.split()[0] for line in lines if len(line.split()) == 2}
        for image in shipped - listed:
            name = images.split_written(image)[0]
            lines.add(f"{sources[name]}{image[len(name):]} {image}" if name in sources else image)
        return {**part, path: "".join(f"{line}\n" for line in sorted(lines))}

    def problems(self) -> list[Diagnostic]:
        return list(self.found)
