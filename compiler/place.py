"""Stage 4, place: choose the clusters each resolved workload runs on.

Eligible = selector matches ∧ taints tolerated ∧ `requires` met ∧ enough free GPUs of the asked product,
sharing and memory. Placement is sticky: first every workload keeps the clusters easel.lock records for it while
they stay eligible; then, one workload after another in a stable order (project, name), each takes new
clusters from what is left, so capacity is shared and adding a cluster or a workload moves nothing already
placed. Prioritizers rank the eligible clusters (ties go to the name), and `spread` keeps the choice balanced
over a label. Every cluster not chosen keeps the first reason it was passed over, for `explain`, for the
compile's report of moves, and for the error when a workload cannot be placed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from . import gpu, policy, selectors, versions
from .diagnostics import Diagnostics, Note
from .gpu import Allocation, FreeGpus, GpuPool
from .inventory import ClusterFacts
from .model import Prioritizer
from .reasons import (
    ClusterGone, FewerClustersWanted, KubernetesMismatch, KubernetesUnknown, NoArchDevices, NotSelected, PassedOver,
    QuotaExhausted, Reason, TaintNotTolerated, TooFewEligible,
)
from .resolve import ResolvedWorkload

DEFAULT_PRIORITIZERS = (Prioritizer("MostFreeGPU", 1), Prioritizer("LeastWorkloads", 1))


@dataclass
class Placement:
    workload: ResolvedWorkload
    clusters: list[str]  # chosen, sorted by name
    scores: dict[str, float]  # the chosen clusters' and the best runners-up's prioritizer scores
    allocations: dict[str, list[Allocation]]  # chosen cluster -> GPUs taken there
    placed: bool = True  # False: the workload could not be placed (kept for `explain`)
    kept: list[str] = field(default_factory=list)  # chosen clusters it already ran on (easel.lock)
    left: dict[str, Reason] = field(default_factory=dict)  # clusters it ran on and leaves -> why
    # Why every other cluster was passed over, kept in parts so that a fleet of thousands costs little:
    static: dict[str, Reason] = field(default_factory=dict)  # shared by workloads of one environment and profile
    failures: dict[str, Reason] = field(default_factory=dict)  # eligible by labels, not by free GPUs
    passed: list[str] = field(default_factory=list)  # eligible, not chosen (fewer clusters were asked for)
    passed_reason: Reason | None = None
    chosen_note: Reason | None = None  # when it could not be placed: what stopped the eligible ones

    @property
    def reasons(self) -> dict[str, Reason]:
        """Every cluster not chosen (all of them when it could not be placed) -> the first reason."""
        found = {**self.static, **self.failures, **{name: self.passed_reason for name in self.passed},
                 **self.left}
        if not self.placed and self.chosen_note:
            found.update({name: self.chosen_note for name in self.eligible_when_failed})
        return found

    eligible_when_failed: list[str] = field(default_factory=list)


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


class _StaticReasons:
    """What about a cluster does not change while placing: static_reason and the GPU pools that could serve the
    workload's demands. Remembered per environment, profile requirements and demands, so thousands of workloads
    share a handful of answers and only free capacity is checked per workload."""

    def __init__(self, fleet: dict[str, ClusterFacts]) -> None:
        self.fleet = fleet
        self.known: dict[tuple, tuple[dict[str, list[list[GpuPool]]], dict[str, str]]] = {}

    def index(self, workload: ResolvedWorkload,
              keeping: bool = False) -> tuple[dict[str, list[list[GpuPool]]], dict[str, str]]:
        """(the clusters that could take the workload, in name order, with their viable pools per demand;
        the others -> why)."""
        demands = tuple((d.ask, d.replicas) for d in workload.gpu_demands)
        key = (workload.environment.meta.name, workload.profile.kubernetes, workload.profile.arch, keeping, demands)
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
            reason = static_reason(workload, facts, keeping)
            viable: list[list[GpuPool]] | None = []
            if not reason and workload.gpu_demands:
                viable, reason = gpu.viable_pools(workload.gpu_demands, facts.gpus, workload.profile.arch)
            if reason:
                reasons[name] = reason
            else:
                passing[name] = viable
        return dict(sorted(passing.items())), reasons


def first_reason(workload: ResolvedWorkload, facts: ClusterFacts, state: FreeGpus, static: "_StaticReasons",
                 keeping: bool = False) -> tuple[Reason | None, list[Allocation]]:
    """None and the GPUs it would take when the cluster is eligible; else the first reason it is not."""
    passing, reasons = static.index(workload, keeping)
    if facts.name not in passing:
        return reasons[facts.name], []
    allocations, reason = gpu.take(workload.gpu_demands, passing[facts.name], facts.name, state)
    return (reason, []) if reason else (None, allocations)


def _scores(workload: ResolvedWorkload, options: dict[str, list[Allocation]], state: FreeGpus,
            previous: tuple[str, ...]) -> dict[str, float]:
    """Weighted sum of the prioritizers, each scaled to 0..100 over the eligible clusters (options: each
    eligible cluster and the GPUs the workload would take there)."""
    prioritizers = workload.environment.prioritizers or DEFAULT_PRIORITIZERS
    totals = {name: 0.0 for name in options}
    for prioritizer in prioritizers:
        if prioritizer.name == "MostFreeGPU":  # free GPUs of the pools the workload would draw on
            raw = {name: (state.free[name].get(taken[0].pool, 0) if len(taken) == 1 else
                          sum(state.free[name].get(key, 0) for key in {a.pool for a in taken}))
                   for name, taken in options.items()}
        elif prioritizer.name == "Steady":  # Open Cluster Management's name: prefer where it already ran
            raw = {name: 1 if name in previous else 0 for name in options}
        else:  # LeastWorkloads
            raw = {name: -state.workloads.get(name, 0) for name in options}
        low, high = min(raw.values()), max(raw.values())
        if high == low:
            continue
        for name in options:
            totals[name] += prioritizer.weight * 100.0 * (raw[name] - low) / (high - low)
    return {name: round(score, 3) for name, score in totals.items()}


def _spread_pick(ranked: list[str], chosen: list[str], count: int, by: str, max_skew: int,
                 fleet: dict[str, ClusterFacts]) -> list[str]:
    """Pick count more clusters in rank order, each keeping the clusters per value of label `by` within
    max_skew of each other (over the values the ranked clusters have); when none can, the least skewed."""
    domain = {name: fleet[name].labels.get(by, "") for name in [*ranked, *chosen]}
    counts = {value: 0 for value in domain.values()}
    for name in chosen:
        counts[domain[name]] += 1
    picked: list[str] = []
    left = list(ranked)
    while left and len(picked) < count:
        def skew(name: str) -> int:
            trial = dict(counts)
            trial[domain[name]] += 1
            return max(trial.values()) - min(trial.values())
        name = next((n for n in left if skew(n) <= max_skew), None) or min(left, key=skew)  # min: first of the least
        picked.append(name)
        counts[domain[name]] += 1
        left.remove(name)
    return picked


@dataclass
class _Kept:
    allocations: dict[str, list[Allocation]] = field(default_factory=dict)  # cluster -> GPUs, kept from the lock
    lost: dict[str, Reason] = field(default_factory=dict)  # locked cluster -> why the workload leaves it


def _keep(resolved: list[ResolvedWorkload], fleet: dict[str, ClusterFacts], previous: dict[str, tuple[str, ...]],
          state: FreeGpus, usage: policy.QuotaUsage, diagnostics: Diagnostics,
          static: "_StaticReasons") -> dict[str, _Kept]:
    """Phase one: every workload keeps the clusters easel.lock has for it while they stay eligible. This runs
    for all workloads before any new decision, so new clusters and new workloads move nothing."""
    kept: dict[str, _Kept] = {}
    for workload in resolved:
        entry = kept[workload.id] = _Kept()
        wanted = workload.environment.number_of_clusters
        for name in sorted(previous.get(workload.id, ())):
            if name not in fleet:
                entry.lost[name] = ClusterGone()
                continue
            if wanted is not None and len(entry.allocations) >= wanted:
                entry.lost[name] = FewerClustersWanted(wanted)
                continue
            reason, allocations = first_reason(workload, fleet[name], state, static, keeping=True)
            if reason:
                entry.lost[name] = reason
                continue
            entry.allocations[name] = allocations
            state.take(name, workload.id, allocations)
        if entry.allocations:
            problems = usage.add(workload, entry.allocations)
            if problems:  # the quota shrank below what the workload already holds
                diagnostics.extend(problems)
    return kept


RUNNERS_UP = 10  # eligible clusters not chosen whose scores explain keeps


def place(resolved: list[ResolvedWorkload], fleet: dict[str, ClusterFacts],
          previous: dict[str, tuple[str, ...]] | None = None) -> tuple[list[Placement], Diagnostics]:
    diagnostics = Diagnostics()
    previous = previous or {}
    state = FreeGpus.of({name: facts.gpus for name, facts in fleet.items()})
    usage = policy.QuotaUsage()
    static = _StaticReasons(fleet)
    kept = _keep(resolved, fleet, previous, state, usage, diagnostics, static)
    placements: list[Placement] = []
    for workload in resolved:
        held = kept[workload.id]
        passing, static_reasons = static.index(workload)
        failures: dict[str, Reason] = {}
        candidates: dict[str, list[Allocation]] = {}
        demands = workload.gpu_demands
        for name, viable in passing.items():
            if name in held.allocations:
                continue
            if demands:
                allocations, reason = gpu.take(demands, viable, name, state)
                if reason:
                    failures[name] = reason
                    continue
            else:
                allocations = []
            candidates[name] = allocations
        environment = workload.environment
        options = {**held.allocations, **candidates}
        scores = _scores(workload, options, state, previous.get(workload.id, ())) if options else {}
        ranked = sorted(candidates, key=lambda n: (-scores[n], n))
        wanted = environment.number_of_clusters
        room = len(ranked) if wanted is None else max(wanted - len(held.allocations), 0)
        if environment.spread_by:
            added = _spread_pick(ranked, list(held.allocations), room, environment.spread_by, environment.max_skew,
                                 fleet)
        else:
            added = ranked[:room]
        chosen = sorted([*held.allocations, *added])
        picked = set(added)
        passed = [name for name in ranked if name not in picked]
        kept_scores = {name: scores[name] for name in [*chosen, *passed[:RUNNERS_UP]]}
        passed_reason = PassedOver(wanted, environment.spread_by)
        placement = Placement(workload, chosen, kept_scores, {}, kept=sorted(held.allocations),
                              left={k: v for k, v in held.lost.items()}, static=static_reasons,
                              failures={k: v for k, v in failures.items() if k not in held.lost},
                              passed=passed, passed_reason=passed_reason)
        at = workload.workload.meta.loc

        def fail(note: Reason | None) -> None:
            placement.placed, placement.clusters, placement.passed = False, [], []
            placement.chosen_note, placement.eligible_when_failed = note, [*chosen, *passed]
            placements.append(placement)

        def notes() -> list[Note]:
            reasons = placement.reasons
            return [Note(f"{name}: {reasons[name]}", fleet[name].cluster.meta.loc) for name in fleet if name in reasons]

        if not chosen:
            fail(None)
            diagnostics.error("E601", f"workload {workload.id} cannot be placed: no cluster is eligible"
                              + ("" if fleet else " (the fleet has no clusters)"), at.at("spec", "environment"),
                              "see why each cluster was passed over below, or run `easel explain "
                              f"{workload.id}`", notes=notes())
            continue
        if wanted is not None and len(chosen) < wanted:
            fail(TooFewEligible(len(chosen), wanted))
            diagnostics.error("E602", f"workload {workload.id} needs {wanted} clusters; only {len(chosen)} "
                              f"eligible ({', '.join(chosen)})", at.at("spec", "environment"),
                              f"lower numberOfClusters in environment {environment.meta.name!r}, or add "
                              "capacity", notes=notes())
            continue
        new = {name: candidates[name] for name in sorted(added)}
        problems = usage.add(workload, new) if new else []
        if problems:
            fail(QuotaExhausted(workload.workload.project))
            diagnostics.extend(problems)
            continue
        for name, taken in new.items():
            state.take(name, workload.id, taken)
        placement.allocations = {name: held.allocations[name] if name in held.allocations else new[name]
                                 for name in chosen}
        placements.append(placement)
    return placements, diagnostics
