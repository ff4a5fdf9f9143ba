"""Policy: the guardrails an Environment, a Project and a Cluster set (SPEC §3 step 6).

Who may deploy where, before a version is chosen; which profiles and versions, while choosing one
(version_choice.py); GPUs per workload, registries and required traits on each resolved workload; project
GPU quotas while placing, since they add up across the fleet; the registries a cluster allows, on what each
cluster runs (once its releases are planned).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from compiler.decide import causes as causes_of
from compiler.diagnostics import Diagnostic, Location, Note, Subject, error
from compiler.kube import images
from compiler.model import AllowedProfile, Cluster, Environment

if TYPE_CHECKING:
    from compiler.decide.resolve import ResolvedComponent, ResolvedWorkload
    from compiler.model import Workload
    from compiler.model.gpu import Allocation, GpuDemand


def allowed_range(environment: Environment, profile: str) -> AllowedProfile | Literal[False] | None:
    """None: every profile is allowed; False: this one is not; else its entry (which may limit versions)."""
    if environment.allowed_profiles is None:
        return None
    return next((a for a in environment.allowed_profiles if a.name == profile), False)


def check_admitted(workload: Workload, environment: Environment) -> list[Diagnostic]:
    """The project may deploy to the environment."""
    if environment.admits(workload.project):
        return []
    return [error("E701", f"project {workload.project!r} may not deploy to environment {environment.meta.name!r}",
                  workload.meta.loc.at("spec", "environment"),
                  notes=[Note("projects allowed there", environment.meta.loc.at("spec", "projects")
                              if environment.projects else environment.meta.loc.at("spec"))])]


def check_on_clusters(workload: ResolvedWorkload, clusters: tuple[str, ...]) -> list[Diagnostic]:
    """maxGPUsPerWorkload on each cluster a workload whose templates read `cluster` runs on, where its pods
    there ask for more than the limit (what check_workload has not already said of every cluster)."""
    limit = workload.environment.max_gpus_per_workload
    problems = []
    for cluster in clusters if limit is not None else ():
        demands = workload.demands_on(cluster)
        total = sum(d.total for d in demands)
        if limit is not None and total > limit and workload.total_gpus <= limit:
            asks = ", ".join(f"{d.component}: {d.ask.count} × {d.replicas} pod(s)" for d in demands)
            cause, notes = _gpu_asks(workload, demands)
            limit_at = workload.environment.meta.loc.at("spec", "policy", "maxGPUsPerWorkload")
            problems.append(error(
                "E703", f"workload {workload.id} asks for {total} GPUs on cluster {cluster!r} ({asks}: its templates "
                f"render them so there); environment {workload.environment.meta.name!r} allows {limit}",
                cause, notes=[*notes, Note("limit set here", limit_at)], subject=Subject("workload", (workload.id,),
                                                                                          cluster)))
    return problems


def _gpu_asks(workload: ResolvedWorkload, demands: Sequence[GpuDemand]) -> tuple[Location, list[Note]]:
    """Where the largest GPU ask was set (the parameter value, or the trait's count, behind it), and a note at
    each gpu trait that asks, naming the parameter that set it."""
    causes = [causes_of.gpu_ask_cause(workload, d) for d in demands]
    largest = max(range(len(demands)), key=lambda i: demands[i].total)
    notes = [Note("GPUs asked here" + (f" ({how})" if how else ""), d.loc)
             for d, (_, how) in zip(demands, causes, strict=True)]
    return causes[largest][0], notes


def check_workload(workload: ResolvedWorkload) -> list[Diagnostic]:
    problems = []
    environment = workload.environment
    policy_loc = environment.meta.loc.at("spec", "policy")
    limit = environment.max_gpus_per_workload
    if limit is not None and workload.total_gpus > limit:
        asks = ", ".join(f"{d.component}: {d.ask.count} × {d.replicas} replica(s)" for d in workload.gpu_demands)
        cause, notes = _gpu_asks(workload, workload.gpu_demands)
        problems.append(error("E703", f"workload {workload.id} asks for {workload.total_gpus} GPUs per cluster "
                              f"({asks}); environment {environment.meta.name!r} allows {limit}", cause,
                              notes=[*notes, Note("limit set here", policy_loc.at("maxGPUsPerWorkload"))]))
    registries = environment.allowed_registries
    for component in workload.components:
        for written, pulled in component.images if registries is not None else ():
            if registries is not None and not images.allowed(pulled, registries):
                rewritten = f" (rewritten from {written!r})" if written != pulled else ""
                problems.append(error(
                    "E706", f"image {pulled!r}{rewritten} of component {component.name!r} (workload {workload.id}) "
                    f"is not from an allowed registry: {', '.join(registries) or 'none is allowed'}",
                    component.loc, notes=[Note("allowed registries set here", policy_loc.at("allowedRegistries"))],
                    hint="pull from an allowed registry, or add the image-registry trait to rewrite the image to "
                         "a mirror"))
        present = {t.type for t in component.traits}
        for required in environment.required_traits:
            if required not in present:
                problems.append(error(
                    "E705", f"component {component.name!r} of workload {workload.id} lacks required trait "
                    f"{required!r}", component.loc,
                    notes=[Note("required here", policy_loc.at("requiredTraits")),
                           Note("workload", workload.workload.meta.loc.at("metadata", "name"))]))
    return problems


def check_cluster_images(placed: Iterable[tuple[Cluster, str, str, Any, Sequence[ResolvedComponent]]]
                         ) -> list[Diagnostic]:
    """Every image easel knows a release pulls on a cluster (as its components pull it there: after the cluster's
    mirror) comes from a registry the cluster allows. placed: (cluster, release kind, release id, the release's
    key, its components as that cluster runs them); said once per release and image for the clusters alike."""
    groups: dict[tuple, tuple[str, str, Sequence[ResolvedComponent], list[Cluster]]] = {}
    for cluster, kind, release_id, key, components in placed:
        if cluster.registry.allowed is not None:
            groups.setdefault((key, cluster.registry.allowed), (kind, release_id, components, []))[3].append(cluster)
    problems = []
    for (_, allowed), (kind, release_id, components, clusters) in groups.items():
        where = ", ".join(repr(c.meta.name) for c in clusters[:3]) + (
            f" and {len(clusters) - 3} more" if len(clusters) > 3 else "")
        for component in components:
            for written, pulled in component.images:
                if not images.allowed(pulled, allowed):
                    rewritten = f" (rewritten from {written!r})" if written != pulled else ""
                    problems.append(error(
                        "E822", f"image {pulled!r}{rewritten} of component {component.name!r} ({kind} {release_id}) "
                        f"is not from a registry cluster{'s' if len(clusters) > 1 else ''} {where} "
                        f"allow{'' if len(clusters) > 1 else 's'}: {', '.join(allowed) or 'none is allowed'}",
                        component.loc, notes=[Note(f"cluster {c.meta.name!r} pulls from these",
                                                   c.meta.loc.at("spec", "registry")) for c in clusters[:3]]))
    return problems


class QuotaUsage:
    """GPUs each project holds across the fleet, checked against its quota as workloads are placed."""

    def __init__(self) -> None:
        self.total: dict[str, int] = defaultdict(int)
        self.by_product: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.holders: dict[str, list[str]] = defaultdict(list)

    def add(self, workload: ResolvedWorkload, allocations: dict[str, list[Allocation]]) -> list[Diagnostic]:
        project = workload.project
        name = project.meta.name
        added = sum(a.count for taken in allocations.values() for a in taken)
        added_by_product: dict[str, int] = defaultdict(int)
        for taken in allocations.values():
            for a in taken:
                added_by_product[a.product] += a.count
        problems = []
        quota_loc = project.meta.loc.at("spec", "quota")
        others = ", ".join(self.holders[name]) or "no other workload"
        # where the GPUs asked were set (the parameter value, or the trait's count), with a note at each gpu trait
        where, asked = _gpu_asks(workload, workload.gpu_demands) if workload.gpu_demands else \
            (workload.workload.meta.loc.at("spec", "environment"), [])
        if project.quota_gpus is not None and self.total[name] + added > project.quota_gpus:
            problems.append(error(
                "E704", f"workload {workload.id} would take {added} GPUs on {len(allocations)} cluster(s); project "
                f"{name!r} already uses {self.total[name]} of its quota of {project.quota_gpus}", where,
                notes=[*asked, Note(f"quota set here; used by {others}", quota_loc.at("gpus"))]))
        for product, count in sorted(added_by_product.items()):
            limit = project.quota_by_product.get(product)
            if limit is not None and self.by_product[name][product] + count > limit:
                problems.append(error(
                    "E704", f"workload {workload.id} would take {count} × {product}; project {name!r} already uses "
                    f"{self.by_product[name][product]} of its quota of {limit} for that product", where,
                    notes=[*asked, Note(f"quota set here; used by {others}", quota_loc.at("gpusByProduct", product))]))
        if problems:
            return problems
        self.total[name] += added
        for product, count in added_by_product.items():
            self.by_product[name][product] += count
        if added:
            self.holders[name].append(workload.id)
        return []

    def remove(self, workload: ResolvedWorkload, allocations: Mapping[str, Sequence[Allocation]]) -> None:
        """Undo `add` for these allocations (a rollout books its new version in place of the old)."""
        name = workload.project.meta.name
        for taken in allocations.values():
            for a in taken:
                self.total[name] -= a.count
                self.by_product[name][a.product] -= a.count
        if workload.id in self.holders[name]:
            self.holders[name].remove(workload.id)

    def holds(self, workload: ResolvedWorkload) -> bool:
        """Whether the workload's GPUs are counted (its add was within the quota)."""
        return workload.id in self.holders[workload.project.meta.name]
