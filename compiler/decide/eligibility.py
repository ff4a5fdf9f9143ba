"""Which clusters could take a workload, whatever the free capacity, and the first reason each other cannot:
label selector, taints, the profile's `requires` (Kubernetes version, architecture) and the GPU pools that could
ever serve it. Worked out once per environment, profile requirements and demand (StaticIndex), so that a fleet of
thousands of workloads shares a handful of answers and only free capacity is checked per workload.
"""

from __future__ import annotations

from collections.abc import Mapping

from compiler.decide import stacks
from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import ResolvedWorkload
from compiler.model import WorkloadProfile, gpu, selectors, versions
from compiler.model.gpu import Allocation, FreeGpus, GpuPool
from compiler.model.reasons import (
    KubernetesMismatch,
    KubernetesUnknown,
    NoArchDevices,
    NotSelected,
    Reason,
    TaintNotTolerated,
)


def static_reason(workload: ResolvedWorkload, facts: ClusterFacts, keeping: bool = False) -> Reason | None:
    """The first reason, not about GPU capacity, the cluster is not for this workload; None when it is.
    `keeping`: the workload already runs there (easel.lock), so a NoSelectIfNew taint does not exclude it."""
    environment = workload.environment
    mismatch = selectors.mismatch(environment.selector, facts.labels)
    if mismatch:
        return NotSelected(mismatch)
    for taint in facts.cluster.taints:
        excluding = taint.effect == "NoSelect" or (taint.effect == "NoSelectIfNew" and not keeping)
        if excluding and not selectors.tolerates(environment.tolerations, taint):
            return TaintNotTolerated(taint.key, taint.value, taint.effect, environment.meta.name)
    wanted = workload.profile.kubernetes
    if wanted:
        if facts.kubernetes_version is None:
            return KubernetesUnknown(wanted)
        if not versions.satisfies(facts.kubernetes_version, wanted):
            return KubernetesMismatch(facts.kubernetes_version, wanted)
    arch = workload.profile.arch
    if arch and arch not in facts.arches:
        return NoArchDevices(arch)
    return None


class StaticIndex:
    """What about a cluster does not change while placing: static_reason and the GPU pools that could serve the
    workload's demands. Remembered per environment, profile requirements and demands, so thousands of workloads
    share a handful of answers and only free capacity is checked per workload."""

    def __init__(self, fleet: Mapping[str, ClusterFacts],
                 profiles: Mapping[str, Mapping[str, WorkloadProfile]] | None = None) -> None:
        self.fleet = fleet
        self.profiles = profiles or {}
        self.known: dict[tuple, tuple[dict[str, list[list[GpuPool]]], dict[str, Reason]]] = {}
        self.stacks: dict[tuple, Reason | None] = {}  # (requirements, what the cluster profile provides) -> why not

    def index(self, workload: ResolvedWorkload,
              keeping: bool = False) -> tuple[dict[str, list[list[GpuPool]]], dict[str, Reason]]:
        """(the clusters that could take the workload, in name order, with their viable pools per demand;
        the others -> why)."""
        demands = tuple((d.ask, d.replicas, d.node_selector) for d in workload.gpu_demands)
        requires = tuple((d.name, d.range) for d in workload.profile.requires_profiles)
        key = (workload.environment.meta.name, workload.profile.kubernetes, workload.profile.arch, keeping, demands,
               requires)
        if key not in self.known and keeping:
            # the same as for new placements, but for clusters a NoSelectIfNew taint may have kept out
            passing, reasons = self.index(workload)
            again = [name for name in reasons
                     if any(t.effect == "NoSelectIfNew" for t in self.fleet[name].cluster.taints)]
            self.known[key] = self._scan(workload, keeping, again, dict(passing), dict(reasons))
        if key not in self.known:
            self.known[key] = self._scan(workload, keeping, self.fleet, {}, {})
        return self.known[key]

    def _scan(self, workload: ResolvedWorkload, keeping: bool, names, passing: dict, reasons: dict) -> tuple:
        for name in names:
            facts = self.fleet[name]
            reasons.pop(name, None)
            reason = static_reason(workload, facts, keeping) or self._stacks(workload.profile, facts)
            viable: list[list[GpuPool]] | None = []
            if not reason and workload.gpu_demands:
                viable, reason = gpu.viable_pools(workload.gpu_demands, facts.gpus, workload.profile.arch,
                                                  facts.gpu_allocation)
            if reason:
                reasons[name] = reason
            else:
                passing[name] = viable
        return dict(sorted(passing.items())), reasons

    def _stacks(self, profile: WorkloadProfile, facts: ClusterFacts) -> Reason | None:
        """Whether the stacks the profile requires can be had there (SPEC §3.5: part of eligibility)."""
        key = (tuple((d.name, d.range) for d in profile.requires_profiles), tuple(sorted(facts.addons.items())))
        if key not in self.stacks:
            self.stacks[key] = stacks.unavailable(self.profiles, profile, facts.addons)
        return self.stacks[key]


def first_reason(workload: ResolvedWorkload, facts: ClusterFacts, state: FreeGpus, static: StaticIndex,
                 keeping: bool = False, index: tuple | None = None,
                 booked: Mapping[str, Mapping[str, int]] | None = None) -> tuple[Reason | None, list[Allocation]]:
    """None and the GPUs it would take when the cluster is eligible; else the first reason it is not. index:
    static.index(workload, keeping), when the caller asks about many clusters for one workload; booked: the
    devices easel.lock records its GPUs on there (component -> device -> GPUs), taken again first."""
    passing, reasons = index or static.index(workload, keeping)
    if facts.name not in passing:
        return reasons[facts.name], []
    allocations, reason = gpu.take(workload.demands_on(facts.name), passing[facts.name], facts.name, state, booked)
    return (reason, []) if reason else (None, allocations)
