"""The decision record: what a compile decided, as one value. easel.lock is its serialisation (lockfile.py), so
the lock as read (`previous`) and what a compile decides now are the same type, and "what changed" is a function
of two of them (changes.py).

Per workload: the profile version it runs, the rollout moving it on (each wave and its clusters), the placement
policy it was placed by (its environment's, decide's defaults filled in), the clusters it is placed on with the
GPUs it takes on each, and why (placement's structured reasons). Per cluster: the
infrastructure stacks easel deploys there, and which workloads wait for which. A record read from easel.lock
holds only what the lock keeps; the reasons are there when a compile made the decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compiler.model import Prioritizer
from compiler.model.gpu import Allocation
from compiler.model.reasons import Reason


@dataclass(frozen=True)
class WaveClusters:
    name: str
    clusters: tuple[str, ...]  # the clusters this wave adds (waves are cumulative), sorted


@dataclass(frozen=True)
class Rollout:
    """A new version on its way, wave by wave: waves 1..wave run `to_version`, the others `from_version`. Of a
    workload (its profile version, over the clusters it is placed on) or of an infrastructure stack (over the
    clusters that run it, in the waves of the progressive environment whose workloads need it there)."""
    from_version: str
    to_version: str
    wave: int
    # every wave, worked out by a compile from the placement and the environment; () when read from easel.lock,
    # so not part of what makes two rollouts the same (the lock's rollout is the compiled one)
    waves: tuple[WaveClusters, ...] = field(default=(), compare=False)

    @property
    def reached(self) -> frozenset[str]:
        """The clusters waves 1..wave have reached."""
        return frozenset(c for wave in self.waves[:self.wave] for c in wave.clusters)

    def version_on(self, cluster: str) -> str:
        return self.to_version if cluster in self.reached else self.from_version


@dataclass(frozen=True)
class PlacementPolicy:
    """The rules decide places a workload by: its environment's, with decide's defaults where it sets none, so
    that reports say what was applied rather than work the defaults out again."""
    number_of_clusters: int | None  # None: every eligible cluster
    prioritizers: tuple[Prioritizer, ...]  # with their weights
    spread_by: str | None = None  # a cluster label the chosen clusters spread over
    max_skew: int = 1


@dataclass(frozen=True)
class PlacementRecord:
    """Why a workload is where it is: who was chosen, kept or left, and why every other cluster was passed over.
    The reasons are kept in parts so that a fleet of thousands costs little: `static` is shared by the
    workloads of one environment and profile requirements."""
    placed: bool  # False: it could not be placed (kept for `explain`)
    scores: Mapping[str, float]  # the chosen clusters' and the best runners-up's prioritizer scores
    kept: tuple[str, ...] = ()  # chosen clusters it already ran on (easel.lock)
    left: Mapping[str, Reason] = field(default_factory=dict)  # clusters it ran on and leaves -> why
    static: Mapping[str, Reason] = field(default_factory=dict)  # not for it, whatever the capacity
    failures: Mapping[str, Reason] = field(default_factory=dict)  # eligible by labels, not by free GPUs
    passed: tuple[str, ...] = ()  # eligible, not chosen
    passed_reason: Reason | None = None
    failed_reason: Reason | None = None  # when it could not be placed: what stopped the eligible ones
    eligible_when_failed: tuple[str, ...] = ()

    @property
    def reasons(self) -> dict[str, Reason]:
        """Every cluster not chosen (all of them when it could not be placed) -> the first reason."""
        found = {**self.static, **self.failures, **{name: self.passed_reason for name in self.passed
                                                     if self.passed_reason is not None}, **self.left}
        if not self.placed and self.failed_reason is not None:
            found.update(dict.fromkeys(self.eligible_when_failed, self.failed_reason))
        return found


Booking = Mapping[str, Mapping[str, int]]  # on one cluster: component -> device -> GPUs (slots, instances) taken


def devices_of(allocations: Mapping[str, tuple[Allocation, ...]]) -> dict[str, Booking]:
    """cluster -> component -> device -> GPUs, of the clusters where the workload takes GPUs, all sorted."""
    found: dict[str, dict[str, dict[str, int]]] = {}
    for cluster, taken in sorted(allocations.items()):
        for allocation in taken:
            on = found.setdefault(cluster, {}).setdefault(allocation.component, {})
            for device, count in allocation.devices:
                on[device] = on.get(device, 0) + count
    return {cluster: {component: dict(sorted(on.items())) for component, on in sorted(booked.items()) if on}
            for cluster, booked in found.items() if any(booked.values())}


@dataclass(frozen=True)
class WorkloadDecision:
    workload: str  # "project/name"
    profile: str | None = None  # None: easel.lock records no version for it
    version: str | None = None  # the version it runs where no rollout wave has reached
    clusters: tuple[str, ...] | None = None  # sorted; None: no placement recorded
    rollout: Rollout | None = None
    policy: PlacementPolicy | None = None  # what it is placed by; None when read from easel.lock
    allocations: Mapping[str, tuple[Allocation, ...]] = field(default_factory=dict)  # cluster -> GPUs taken
    placement: PlacementRecord | None = None  # why; None when read from easel.lock
    # cluster -> the devices its GPUs are booked on (devices_of(allocations)): what easel.lock keeps of them, so
    # that the next compile books each kept workload on the same devices (empty: none recorded, an older lock)
    devices: Mapping[str, Booking] = field(default_factory=dict)

    def version_on(self, cluster: str) -> str | None:
        """The profile version the workload runs on this cluster."""
        if self.rollout is not None and cluster in self.rollout.reached:
            return self.rollout.to_version
        return self.version


@dataclass(frozen=True)
class ClusterDecision:
    stacks: Mapping[str, str] = field(default_factory=dict)  # stack -> the version easel deploys there
    provided: Mapping[str, str] = field(default_factory=dict)  # stack -> the version its cluster profile has
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # workload id -> the stacks it waits for


@dataclass(frozen=True)
class Decisions:
    workloads: Mapping[str, WorkloadDecision] = field(default_factory=dict)
    clusters: Mapping[str, ClusterDecision] = field(default_factory=dict)
    digests: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (profile, version) -> "sha256:…"
    stack_rollouts: Mapping[str, Rollout] = field(default_factory=dict)  # stack -> its rollout
    # (repository, chart, version) -> "sha256:…" of the archive `easel charts pull` stored: written by pull only,
    # carried over by every compile
    charts: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    # the same key -> what the engines fetch, pinned by `easel charts pull`: for a chart from an OCI registry the
    # digest of the manifest pulled ("sha256:…", which Flux's OCIRepository pins), for a Git Repository's chart
    # (its folder's name, the ref) the commit it was read at (hex: Flux's GitRepository and Argo CD check it out).
    # One record, so every compile carries both over; easel.lock keeps them apart (chartManifests, chartCommits)
    chart_manifests: Mapping[tuple[str, str, str], str] = field(default_factory=dict)

    def workload(self, workload_id: str) -> WorkloadDecision:
        return self.workloads.get(workload_id) or WorkloadDecision(workload_id)
