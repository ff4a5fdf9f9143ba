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
from typing import NamedTuple

from . import policy, selectors, versions
from .diagnostics import Diagnostics, Note
from .inventory import EXCLUSIVE, ClusterFacts, GpuPool
from .model import Prioritizer
from .quantity import format_gi
from .rendered import GpuAsk
from .resolve import GpuDemand, ResolvedWorkload

DEFAULT_PRIORITIZERS = (Prioritizer("MostFreeGPU", 1), Prioritizer("LeastWorkloads", 1))


class Allocation(NamedTuple):  # a tuple: placement makes one per workload per cluster it could take
    component: str
    product: str
    count: int
    pool: str  # the GpuPool key: the product, or "<product> (time-slicing)", "<product> (mig-3g.40gb)"


@dataclass
class Placement:
    workload: ResolvedWorkload
    clusters: list[str]  # chosen, sorted by name
    scores: dict[str, float]  # the chosen clusters' and the best runners-up's prioritizer scores
    allocations: dict[str, list[Allocation]]  # chosen cluster -> GPUs taken there
    placed: bool = True  # False: the workload could not be placed (kept for `explain`)
    kept: list[str] = field(default_factory=list)  # chosen clusters it already ran on (easel.lock)
    left: dict[str, str] = field(default_factory=dict)  # clusters it ran on and leaves -> why
    # Why every other cluster was passed over, kept in parts so that a fleet of thousands costs little:
    static: dict[str, str] = field(default_factory=dict)  # shared by workloads of one environment and profile
    failures: dict[str, str] = field(default_factory=dict)  # eligible by labels, not by free GPUs
    passed: list[str] = field(default_factory=list)  # eligible, not chosen (fewer clusters were asked for)
    passed_reason: str = ""
    chosen_note: str = ""  # when it could not be placed: what stopped the eligible ones

    @property
    def reasons(self) -> dict[str, str]:
        """Every cluster not chosen (all of them when it could not be placed) -> the first reason."""
        found = {**self.static, **self.failures, **{name: self.passed_reason for name in self.passed},
                 **self.left}
        if not self.placed and self.chosen_note:
            found.update({name: self.chosen_note for name in self.eligible_when_failed})
        return found

    eligible_when_failed: list[str] = field(default_factory=list)


@dataclass
class FleetState:
    """What earlier placements took: free GPUs per cluster and pool, and who holds them."""
    free: dict[str, dict[str, int]]
    holders: dict[str, list[tuple[str, str, int]]] = field(default_factory=lambda: defaultdict(list))
    workloads: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def of(cls, fleet: dict[str, ClusterFacts]) -> "FleetState":
        return cls({name: {key: pool.total for key, pool in facts.gpus.items()} for name, facts in fleet.items()})

    def take(self, cluster: str, workload: str, allocations: list[Allocation]) -> None:
        self.workloads[cluster] += 1
        for allocation in allocations:
            self.free[cluster][allocation.pool] -= allocation.count
            self.holders[cluster].append((workload, allocation.pool, allocation.count))


def _pools_for(ask: GpuAsk, facts: ClusterFacts) -> list[GpuPool]:
    """The pools that could serve the ask: the asked products in the order asked, else all of its mode (by key;
    take_gpus puts the freest first)."""
    gpus = facts.gpus
    if ask.products:
        return [gpus[key] for key in ask.pool_keys if key in gpus]
    return [pool for pool in gpus.values() if pool.mode == ask.mode]


def viable_pools(demands: list[GpuDemand], facts: ClusterFacts,
                 arch: str | None = None) -> tuple[list[list[GpuPool]] | None, str | None]:
    """For each demand, the pools that could ever serve it on this cluster (product, sharing, architecture,
    memory, GPUs per device), in preference order; or the reason one has none. Free capacity aside."""
    viable: list[list[GpuPool]] = []
    for demand in demands:
        ask = demand.ask
        pools = _pools_for(ask, facts)
        if not pools:
            wanted = " or ".join(ask.products) + " GPUs" if ask.products else "GPUs"
            unit = "" if ask.mode == EXCLUSIVE else f" ({ask.mode})"
            return None, f"no {wanted}{unit} on ready devices"
        reason = None
        fitting = []
        for pool in pools:
            if arch is not None and arch not in pool.arches:
                reason = reason or f"no {pool.key} on ready {arch} devices"
            elif ask.min_memory is not None and (pool.memory is None or pool.memory < ask.min_memory):
                have = "unknown memory" if pool.memory is None else f"{format_gi(pool.memory)}Gi"
                reason = reason or f"{pool.key} has {have} per GPU; needs at least {format_gi(ask.min_memory)}Gi"
            elif pool.largest_device < ask.count:
                reason = reason or (f"a replica needs {ask.count} × {pool.key} on one device; the largest ready "
                                    f"device has {pool.largest_device}")
            else:
                fitting.append(pool)
        if not fitting:
            return None, reason
        viable.append(fitting)
    return viable, None


def take_gpus(demands: list[GpuDemand], viable: list[list[GpuPool]], cluster: str,
              state: FleetState) -> tuple[list[Allocation], str | None]:
    """The GPUs the demands take from their viable pools given what is free now, or why they cannot.
    (A hot path: it runs for every workload on every cluster that could serve it.)"""
    free = state.free[cluster]
    if len(demands) == 1 and len(viable[0]) == 1:  # the common case, without the bookkeeping below
        demand, pool = demands[0], viable[0][0]
        if free.get(pool.key, 0) >= demand.total:
            return [Allocation(demand.component, pool.product, demand.total, pool.key)], None
        return [], _capacity_reason(demand, pool, cluster, state, 0)
    used: dict[str, int] = {}  # by this workload's earlier demands on this cluster
    taken: list[Allocation] = []
    for demand, pools in zip(demands, viable):
        total = demand.total
        if len(pools) > 1 and not demand.ask.products:  # any product will do: the one with most free first
            pools = sorted(pools, key=lambda p: (-(free.get(p.key, 0) - used.get(p.key, 0)), p.key))
        for pool in pools:
            key = pool.key
            if free.get(key, 0) - used.get(key, 0) >= total:
                used[key] = used.get(key, 0) + total
                taken.append(Allocation(demand.component, pool.product, total, key))
                break
        else:
            return [], _capacity_reason(demand, pools[0], cluster, state, used.get(pools[0].key, 0))
    return taken, None


def _capacity_reason(demand: GpuDemand, pool: GpuPool, cluster: str, state: FleetState, pending: int) -> str:
    holders = sorted({w for w, key, _ in state.holders.get(cluster, ()) if key == pool.key})
    allocated = pool.total - state.free.get(cluster, {}).get(pool.key, 0)
    text = f"needs {demand.total} × {pool.key}; {pool.total} on ready devices, {allocated} allocated"
    if holders:
        text += " to " + ", ".join(holders)
    if pending:
        text += f", {pending} to this workload's other components"
    return text


def static_reason(workload: ResolvedWorkload, facts: ClusterFacts, keeping: bool = False) -> str | None:
    """The first reason, not about GPU capacity, the cluster is not for this workload; None when it is.
    `keeping`: the workload already runs there (easel.lock), so a NoSelectIfNew taint does not exclude it."""
    environment = workload.environment
    reason = selectors.mismatch(environment.selector, facts.labels)
    if reason:
        return f"not selected: {reason}"
    for taint in facts.cluster.taints:
        excluding = taint.effect == "NoSelect" or (taint.effect == "NoSelectIfNew" and not keeping)
        if excluding and not selectors.tolerates(environment.tolerations, taint):
            value = f"={taint.value}" if taint.value else ""
            return f"taint {taint.key}{value}:{taint.effect} is not tolerated by environment {environment.meta.name!r}"
    wanted = workload.profile.kubernetes
    if wanted:
        if facts.kubernetes_version is None:
            return f"Kubernetes version unknown; the profile requires {wanted}"
        if not versions.satisfies(facts.kubernetes_version, wanted):
            return f"Kubernetes {facts.kubernetes_version} does not satisfy {wanted}"
    arch = workload.profile.arch
    if arch and arch not in facts.arches:
        return f"no ready {arch} devices; the profile requires {arch}"
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
                viable, reason = viable_pools(workload.gpu_demands, facts, workload.profile.arch)
            if reason:
                reasons[name] = reason
            else:
                passing[name] = viable
        return dict(sorted(passing.items())), reasons


def first_reason(workload: ResolvedWorkload, facts: ClusterFacts, state: FleetState, static: "_StaticReasons",
                 keeping: bool = False) -> tuple[str | None, list[Allocation]]:
    """None and the GPUs it would take when the cluster is eligible; else the first reason it is not."""
    passing, reasons = static.index(workload, keeping)
    if facts.name not in passing:
        return reasons[facts.name], []
    allocations, reason = take_gpus(workload.gpu_demands, passing[facts.name], facts.name, state)
    return (reason, []) if reason else (None, allocations)


def _scores(workload: ResolvedWorkload, options: dict[str, list[Allocation]], state: FleetState,
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
    lost: dict[str, str] = field(default_factory=dict)  # locked cluster -> why the workload leaves it


def _keep(resolved: list[ResolvedWorkload], fleet: dict[str, ClusterFacts], previous: dict[str, tuple[str, ...]],
          state: FleetState, usage: policy.QuotaUsage, diagnostics: Diagnostics,
          static: "_StaticReasons") -> dict[str, _Kept]:
    """Phase one: every workload keeps the clusters easel.lock has for it while they stay eligible. This runs
    for all workloads before any new decision, so new clusters and new workloads move nothing."""
    kept: dict[str, _Kept] = {}
    for workload in resolved:
        entry = kept[workload.id] = _Kept()
        wanted = workload.environment.number_of_clusters
        for name in sorted(previous.get(workload.id, ())):
            if name not in fleet:
                entry.lost[name] = "the cluster is gone from the inventory"
                continue
            if wanted is not None and len(entry.allocations) >= wanted:
                entry.lost[name] = f"numberOfClusters is now {wanted}"
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
    state = FleetState.of(fleet)
    usage = policy.QuotaUsage()
    static = _StaticReasons(fleet)
    kept = _keep(resolved, fleet, previous, state, usage, diagnostics, static)
    placements: list[Placement] = []
    for workload in resolved:
        held = kept[workload.id]
        passing, static_reasons = static.index(workload)
        failures: dict[str, str] = {}
        candidates: dict[str, list[Allocation]] = {}
        demands = workload.gpu_demands
        for name, viable in passing.items():
            if name in held.allocations:
                continue
            if demands:
                allocations, reason = take_gpus(demands, viable, name, state)
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
        passed_reason = (f"eligible, but spreading over {environment.spread_by} chose others"
                         if environment.spread_by else
                         f"eligible, but {wanted} cluster(s) with a higher score were chosen")
        placement = Placement(workload, chosen, kept_scores, {}, kept=sorted(held.allocations),
                              left={k: v for k, v in held.lost.items()}, static=static_reasons,
                              failures={k: v for k, v in failures.items() if k not in held.lost},
                              passed=passed, passed_reason=passed_reason)
        at = workload.workload.meta.loc

        def fail(note: str) -> None:
            placement.placed, placement.clusters, placement.passed = False, [], []
            placement.chosen_note, placement.eligible_when_failed = note, [*chosen, *passed]
            placements.append(placement)

        def notes() -> list[Note]:
            reasons = placement.reasons
            return [Note(f"{name}: {reasons[name]}", fleet[name].cluster.meta.loc) for name in fleet if name in reasons]

        if not chosen:
            fail("")
            diagnostics.error("E601", f"workload {workload.id} cannot be placed: no cluster is eligible"
                              + ("" if fleet else " (the fleet has no clusters)"), at.at("spec", "environment"),
                              "see why each cluster was passed over below, or run `easel explain "
                              f"{workload.id}`", notes=notes())
            continue
        if wanted is not None and len(chosen) < wanted:
            fail(f"eligible, but only {len(chosen)} of the {wanted} clusters asked for are")
            diagnostics.error("E602", f"workload {workload.id} needs {wanted} clusters; only {len(chosen)} "
                              f"eligible ({', '.join(chosen)})", at.at("spec", "environment"),
                              f"lower numberOfClusters in environment {environment.meta.name!r}, or add "
                              "capacity", notes=notes())
            continue
        new = {name: candidates[name] for name in sorted(added)}
        problems = usage.add(workload, new) if new else []
        if problems:
            fail(f"eligible, but project {workload.workload.project!r} has no GPU quota left for it")
            diagnostics.extend(problems)
            continue
        for name, taken in new.items():
            state.take(name, workload.id, taken)
        placement.allocations = {name: held.allocations[name] if name in held.allocations else new[name]
                                 for name in chosen}
        placements.append(placement)
    return placements, diagnostics
