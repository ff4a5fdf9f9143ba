"""Stage 4, place: choose the clusters each resolved workload runs on.

Eligible = selector matches ∧ taints tolerated ∧ `requires.kubernetes` met ∧ enough free GPUs of the asked
product and memory. Workloads are placed one after another in a stable order (project, name), and each takes
its GPUs from what the earlier ones left, so capacity is shared. Prioritizers rank the eligible clusters; ties
go to the cluster name. Every cluster not chosen keeps the first reason it was passed over, for `explain` and
for the error when a workload cannot be placed.
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
_EXCLUDING_TAINTS = ("NoSelect", "NoSelectIfNew")


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


def first_reason(workload: ResolvedWorkload, facts: ClusterFacts, state: FleetState) -> tuple[str | None, list[Allocation]]:
    """None and the GPUs it would take when the cluster is eligible; else the first reason it is not."""
    environment = workload.environment
    reason = selectors.mismatch(environment.selector, facts.labels)
    if reason:
        return f"not selected: {reason}", []
    for taint in facts.cluster.taints:
        if taint.effect in _EXCLUDING_TAINTS and not selectors.tolerates(environment.tolerations, taint):
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
            state: FleetState) -> dict[str, float]:
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
            else:  # LeastWorkloads
                raw[name] = -state.workloads.get(name, 0)
        low, high = min(raw.values()), max(raw.values())
        for name in eligible:
            scaled = 0.0 if high == low else 100.0 * (raw[name] - low) / (high - low)
            totals[name] += prioritizer.weight * scaled
    return {name: round(score, 3) for name, score in totals.items()}


def place(resolved: list[ResolvedWorkload], fleet: dict[str, ClusterFacts]) -> tuple[list[Placement], Diagnostics]:
    diagnostics = Diagnostics()
    state = FleetState.of(fleet)
    usage = policy.QuotaUsage()
    placements: list[Placement] = []
    for workload in resolved:
        reasons: dict[str, str] = {}
        candidates: dict[str, list[Allocation]] = {}
        for name, facts in fleet.items():
            reason, allocations = first_reason(workload, facts, state)
            if reason:
                reasons[name] = reason
            else:
                candidates[name] = allocations
        scores = _scores(workload, list(candidates), fleet, state) if candidates else {}
        ranked = sorted(candidates, key=lambda n: (-scores[n], n))
        wanted = workload.environment.number_of_clusters
        chosen = ranked if wanted is None else ranked[:wanted]
        for name in ranked[len(chosen):]:
            reasons[name] = f"eligible, but {wanted} cluster(s) with a higher score were chosen (score {scores[name]})"
        at = workload.workload.meta.loc
        notes = [Note(f"{name}: {reasons[name]}", fleet[name].cluster.meta.loc) for name in fleet if name in reasons]
        failed = Placement(workload, [], reasons, scores, {}, placed=False)
        if not chosen:
            placements.append(failed)
            diagnostics.error("E601", f"workload {workload.id} cannot be placed: no cluster is eligible"
                              + ("" if fleet else " (the fleet has no clusters)"), at.at("spec", "environment"),
                              "see why each cluster was passed over below, or run `easel explain "
                              f"{workload.id}`", notes=notes)
            continue
        if wanted is not None and len(chosen) < wanted:
            placements.append(failed)
            diagnostics.error("E602", f"workload {workload.id} needs {wanted} clusters; only {len(chosen)} "
                              f"eligible ({', '.join(sorted(chosen))})", at.at("spec", "environment"),
                              f"lower numberOfClusters in environment {workload.environment.meta.name!r}, or add "
                              "capacity", notes=notes)
            continue
        allocations = {name: candidates[name] for name in sorted(chosen)}
        problems = usage.add(workload, allocations)
        if problems:
            placements.append(failed)
            diagnostics.extend(problems)
            continue
        for name, taken in allocations.items():
            state.take(name, workload.id, taken)
        placements.append(Placement(workload, sorted(chosen), reasons, scores, allocations))
    return placements, diagnostics
