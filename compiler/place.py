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

from . import policy, selectors, versions
from .diagnostics import Diagnostics, Note
from .inventory import EXCLUSIVE, TIME_SLICING, ClusterFacts, GpuPool, mig_mode
from .model import Prioritizer
from .quantity import format_gi
from .rendered import GpuAsk
from .resolve import GpuDemand, ResolvedWorkload

DEFAULT_PRIORITIZERS = (Prioritizer("MostFreeGPU", 1), Prioritizer("LeastWorkloads", 1))


@dataclass(frozen=True)
class Allocation:
    component: str
    product: str
    count: int
    pool: str  # the GpuPool key: the product, or "<product> (time-slicing)", "<product> (mig-3g.40gb)"


@dataclass
class Placement:
    workload: ResolvedWorkload
    clusters: list[str]  # chosen, sorted by name
    reasons: dict[str, str]  # every cluster not chosen -> the first reason it was passed over
    scores: dict[str, float]  # every eligible cluster -> its prioritizer score
    allocations: dict[str, list[Allocation]]  # chosen cluster -> GPUs taken there
    placed: bool = True  # False: the workload could not be placed (kept for `explain`)
    kept: list[str] = field(default_factory=list)  # chosen clusters it already ran on (easel.lock)
    left: dict[str, str] = field(default_factory=dict)  # clusters it ran on and leaves -> why


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


def _mode(ask: GpuAsk) -> str:
    if ask.sharing == "mig" and ask.mig_profile:
        return mig_mode(ask.mig_profile)
    return TIME_SLICING if ask.sharing == "time-slicing" else EXCLUSIVE


def _pools_for(ask: GpuAsk, facts: ClusterFacts, free: dict[str, int]) -> list[GpuPool]:
    """The pools that could serve the ask: the asked products in the order asked, else most free first."""
    mode = _mode(ask)
    pools = [pool for pool in facts.gpus.values() if pool.mode == mode]
    if ask.products:
        rank = {product: index for index, product in enumerate(ask.products)}
        return sorted((p for p in pools if p.product in rank), key=lambda p: rank[p.product])
    return sorted(pools, key=lambda p: (-free.get(p.key, 0), p.key))


def _unit(ask: GpuAsk) -> str:
    mode = _mode(ask)
    return "" if mode == EXCLUSIVE else f" ({mode})"


def fit_gpus(demands: list[GpuDemand], facts: ClusterFacts, state: FleetState,
             arch: str | None = None) -> tuple[list[Allocation], str | None]:
    """The GPUs the demands would take on this cluster, or the reason they do not fit."""
    free = dict(state.free.get(facts.name, {}))
    taken: list[Allocation] = []
    for demand in demands:
        ask = demand.ask
        pools = _pools_for(ask, facts, free)
        if not pools:
            wanted = " or ".join(ask.products) + " GPUs" if ask.products else "GPUs"
            return [], f"no {wanted}{_unit(ask)} on ready devices"
        reason = None
        for pool in pools:
            if arch is not None and arch not in pool.arches:
                reason = reason or f"no {pool.key} on ready {arch} devices"
                continue
            if ask.min_memory is not None and (pool.memory is None or pool.memory < ask.min_memory):
                have = "unknown memory" if pool.memory is None else f"{format_gi(pool.memory)}Gi"
                reason = reason or f"{pool.key} has {have} per GPU; needs at least {format_gi(ask.min_memory)}Gi"
                continue
            if pool.largest_device < ask.count:
                reason = reason or (f"a replica needs {ask.count} × {pool.key} on one device; the largest ready "
                                    f"device has {pool.largest_device}")
                continue
            if free.get(pool.key, 0) < demand.total:
                reason = reason or _capacity_reason(demand, pool, facts.name, state, free)
                continue
            free[pool.key] -= demand.total
            taken.append(Allocation(demand.component, pool.product, demand.total, pool.key))
            break
        else:
            return [], reason
    return taken, None


def _capacity_reason(demand: GpuDemand, pool: GpuPool, cluster: str, state: FleetState,
                     free: dict[str, int]) -> str:
    holders = sorted({w for w, key, _ in state.holders.get(cluster, ()) if key == pool.key})
    allocated = pool.total - state.free.get(cluster, {}).get(pool.key, 0)
    text = f"needs {demand.total} × {pool.key}; {pool.total} on ready devices, {allocated} allocated"
    if holders:
        text += " to " + ", ".join(holders)
    pending = state.free.get(cluster, {}).get(pool.key, 0) - free.get(pool.key, 0)
    if pending:
        text += f", {pending} to this workload's other components"
    return text


def first_reason(workload: ResolvedWorkload, facts: ClusterFacts, state: FleetState,
                 keeping: bool = False) -> tuple[str | None, list[Allocation]]:
    """None and the GPUs it would take when the cluster is eligible; else the first reason it is not.
    `keeping`: the workload already runs there (easel.lock), so a NoSelectIfNew taint does not exclude it."""
    environment = workload.environment
    reason = selectors.mismatch(environment.selector, facts.labels)
    if reason:
        return f"not selected: {reason}", []
    for taint in facts.cluster.taints:
        excluding = taint.effect == "NoSelect" or (taint.effect == "NoSelectIfNew" and not keeping)
        if excluding and not selectors.tolerates(environment.tolerations, taint):
            value = f"={taint.value}" if taint.value else ""
            return f"taint {taint.key}{value}:{taint.effect} is not tolerated by environment " \
                   f"{environment.meta.name!r}", []
    wanted = workload.profile.kubernetes
    if wanted:
        if facts.kubernetes_version is None:
            return f"Kubernetes version unknown; the profile requires {wanted}", []
        if not versions.satisfies(facts.kubernetes_version, wanted):
            return f"Kubernetes {facts.kubernetes_version} does not satisfy {wanted}", []
    arch = workload.profile.arch
    if arch and arch not in facts.arches:
        return f"no ready {arch} devices; the profile requires {arch}", []
    if workload.gpu_demands:
        allocations, reason = fit_gpus(workload.gpu_demands, facts, state, arch)
        if reason:
            return reason, []
        return None, allocations
    return None, []


def _scores(workload: ResolvedWorkload, eligible: list[str], fleet: dict[str, ClusterFacts],
            state: FleetState, previous: tuple[str, ...]) -> dict[str, float]:
    """Weighted sum of the prioritizers, each scaled to 0..100 over the eligible clusters."""
    prioritizers = workload.environment.prioritizers or DEFAULT_PRIORITIZERS
    totals = {name: 0.0 for name in eligible}
    for prioritizer in prioritizers:
        raw = {}
        for name in eligible:
            if prioritizer.name == "MostFreeGPU":
                free = state.free.get(name, {})
                wanted = {pool.key for d in workload.gpu_demands for pool in _pools_for(d.ask, fleet[name], free)}
                raw[name] = sum(free.get(key, 0) for key in wanted) if workload.gpu_demands else 0
            elif prioritizer.name == "Steady":  # Open Cluster Management's name: prefer where it already ran
                raw[name] = 1 if name in previous else 0
            else:  # LeastWorkloads
                raw[name] = -state.workloads.get(name, 0)
        low, high = min(raw.values()), max(raw.values())
        for name in eligible:
            scaled = 0.0 if high == low else 100.0 * (raw[name] - low) / (high - low)
            totals[name] += prioritizer.weight * scaled
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
        fitting = [name for name in left if skew(name) <= max_skew]
        name = fitting[0] if fitting else min(left, key=lambda n: (skew(n), left.index(n)))
        picked.append(name)
        counts[domain[name]] += 1
        left.remove(name)
    return picked


@dataclass
class _Kept:
    allocations: dict[str, list[Allocation]] = field(default_factory=dict)  # cluster -> GPUs, kept from the lock
    lost: dict[str, str] = field(default_factory=dict)  # locked cluster -> why the workload leaves it


def _keep(resolved: list[ResolvedWorkload], fleet: dict[str, ClusterFacts], previous: dict[str, tuple[str, ...]],
          state: FleetState, usage: policy.QuotaUsage, diagnostics: Diagnostics) -> dict[str, _Kept]:
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
            reason, allocations = first_reason(workload, fleet[name], state, keeping=True)
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


def place(resolved: list[ResolvedWorkload], fleet: dict[str, ClusterFacts],
          previous: dict[str, tuple[str, ...]] | None = None) -> tuple[list[Placement], Diagnostics]:
    diagnostics = Diagnostics()
    previous = previous or {}
    state = FleetState.of(fleet)
    usage = policy.QuotaUsage()
    kept = _keep(resolved, fleet, previous, state, usage, diagnostics)
    placements: list[Placement] = []
    for workload in resolved:
        held = kept[workload.id]
        reasons: dict[str, str] = dict(held.lost)
        candidates: dict[str, list[Allocation]] = {}
        for name, facts in fleet.items():
            if name in held.allocations:
                continue
            reason, allocations = first_reason(workload, facts, state)
            if reason:
                reasons[name] = reasons.get(name) or reason
            else:
                candidates[name] = allocations
                reasons.pop(name, None)
        environment = workload.environment
        eligible = [*held.allocations, *candidates]
        scores = _scores(workload, eligible, fleet, state, previous.get(workload.id, ())) if eligible else {}
        ranked = sorted(candidates, key=lambda n: (-scores[n], n))
        wanted = environment.number_of_clusters
        room = len(ranked) if wanted is None else max(wanted - len(held.allocations), 0)
        if environment.spread_by:
            added = _spread_pick(ranked, list(held.allocations), room, environment.spread_by, environment.max_skew,
                                 fleet)
        else:
            added = ranked[:room]
        for name in ranked:
            if name not in added:
                reasons[name] = (f"eligible, but {wanted} cluster(s) with a higher score were chosen "
                                 f"(score {scores[name]})") if not environment.spread_by else (
                    f"eligible, but spreading over {environment.spread_by} chose others (score {scores[name]})")
        chosen = sorted([*held.allocations, *added])
        at = workload.workload.meta.loc

        def notes() -> list[Note]:
            return [Note(f"{name}: {reasons[name]}", fleet[name].cluster.meta.loc) for name in fleet if name in reasons]

        failed = Placement(workload, [], reasons, scores, {}, placed=False)
        if not chosen:
            placements.append(failed)
            diagnostics.error("E601", f"workload {workload.id} cannot be placed: no cluster is eligible"
                              + ("" if fleet else " (the fleet has no clusters)"), at.at("spec", "environment"),
                              "see why each cluster was passed over below, or run `easel explain "
                              f"{workload.id}`", notes=notes())
            continue
        if wanted is not None and len(chosen) < wanted:
            for name in chosen:
                reasons[name] = f"eligible, but only {len(chosen)} of the {wanted} clusters asked for are"
            placements.append(failed)
            diagnostics.error("E602", f"workload {workload.id} needs {wanted} clusters; only {len(chosen)} "
                              f"eligible ({', '.join(chosen)})", at.at("spec", "environment"),
                              f"lower numberOfClusters in environment {environment.meta.name!r}, or add "
                              "capacity", notes=notes())
            continue
        new = {name: candidates[name] for name in sorted(added)}
        problems = usage.add(workload, new) if new else []
        if problems:
            for name in chosen:
                reasons[name] = f"eligible, but project {workload.workload.project!r} has no GPU quota left for it"
            placements.append(failed)
            diagnostics.extend(problems)
            continue
        for name, taken in new.items():
            state.take(name, workload.id, taken)
        allocations = {name: held.allocations[name] if name in held.allocations else new[name] for name in chosen}
        placements.append(Placement(workload, chosen, reasons, scores, allocations, kept=sorted(held.allocations),
                                    left=dict(held.lost)))
    return placements, diagnostics
