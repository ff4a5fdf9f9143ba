"""Placement: the clusters each resolved workload runs on, and the GPUs it takes on each.

Eligible = selector matches ∧ taints tolerated ∧ `requires` met ∧ enough free GPUs of the asked product,
sharing and memory (eligibility.py). Placement is sticky: first every workload keeps the clusters easel.lock
records for it while they stay eligible, its GPUs first on the devices the lock records (so the order they are
kept in does not matter: compiling again with the lock a compile wrote books the same, and unplaces nothing);
then, one workload after another in a stable order (project, name), each takes new clusters from what is left,
so capacity is shared and adding a cluster or a workload moves nothing already placed. Prioritizers rank the
eligible clusters (ties go to the name), and `spread` keeps the choice balanced over a label. Every cluster not
chosen keeps the first reason it was passed over, for `explain`, for the compile's report of moves, and for the
error when a workload cannot be placed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from compiler.decide import policy
from compiler.decide.eligibility import StaticIndex, first_reason
from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import ResolvedWorkload
from compiler.decide.rollout import wave_clusters
from compiler.diagnostics import Diagnostics, Note, error
from compiler.model import Environment, Prioritizer, WorkloadProfile, gpu
from compiler.model.gpu import Allocation, FreeGpus
from compiler.model.reasons import ClusterGone, FewerClustersWanted, PassedOver, QuotaExhausted, Reason, TooFewEligible
from compiler.record.decisions import Booking, PlacementPolicy, PlacementRecord

DEFAULT_PRIORITIZERS = (Prioritizer("MostFreeGPU", 1), Prioritizer("LeastWorkloads", 1))
RUNNERS_UP = 10  # eligible clusters not chosen whose scores explain keeps


def placement_policy(environment: Environment) -> PlacementPolicy:
    """The rules its workloads are placed by: the environment's, the default prioritizers where it names none.
    Placing uses this, and decide records it, so what a report shows is what was applied."""
    return PlacementPolicy(environment.number_of_clusters, environment.prioritizers or DEFAULT_PRIORITIZERS,
                           environment.spread_by, environment.max_skew)


@dataclass(frozen=True)
class Placement:
    clusters: tuple[str, ...]  # chosen, sorted by name; () when it could not be placed
    allocations: dict[str, tuple[Allocation, ...]]  # chosen cluster -> GPUs taken there
    record: PlacementRecord  # why


def _scores(prioritizers: tuple[Prioritizer, ...], options: dict[str, list[Allocation]], state: FreeGpus,
            previous: tuple[str, ...]) -> dict[str, float]:
    """Weighted sum of the prioritizers, each scaled to 0..100 over the eligible clusters (options: each
    eligible cluster and the GPUs the workload would take there)."""
    totals = dict.fromkeys(options, 0.0)
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
                 fleet: Mapping[str, ClusterFacts]) -> list[str]:
    """Pick count more clusters in rank order, each keeping the clusters per value of label `by` within
    max_skew of each other (over the values the ranked clusters have); when none can, the least skewed."""
    domain = {name: fleet[name].labels.get(by, "") for name in [*ranked, *chosen]}
    counts = dict.fromkeys(domain.values(), 0)
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


@dataclass
class _Run:
    """What placing has used up so far: free GPUs, project quotas, and the static answers."""
    fleet: Mapping[str, ClusterFacts]
    previous: Mapping[str, tuple[str, ...]]
    state: FreeGpus
    usage: policy.QuotaUsage
    static: StaticIndex
    diagnostics: Diagnostics
    booked: Mapping[str, Mapping[str, Booking]] = field(default_factory=dict)  # workload -> cluster -> devices

    def devices(self, workload: str, cluster: str) -> Booking | None:
        """The devices easel.lock records the workload's GPUs on there, to book again first."""
        return self.booked.get(workload, {}).get(cluster)


def _keep(workloads: Sequence[ResolvedWorkload], run: _Run) -> dict[str, _Kept]:
    """Phase one: every workload keeps the clusters easel.lock has for it while they stay eligible. This runs
    for all workloads before any new decision, so new clusters and new workloads move nothing."""
    kept: dict[str, _Kept] = {}
    for workload in workloads:
        entry = kept[workload.id] = _Kept()
        wanted = placement_policy(workload.environment).number_of_clusters
        index = run.static.index(workload, keeping=True) if workload.id in run.previous else None
        for name in sorted(run.previous.get(workload.id, ())):
            if name not in run.fleet:
                entry.lost[name] = ClusterGone()
                continue
            if wanted is not None and len(entry.allocations) >= wanted:
                entry.lost[name] = FewerClustersWanted(wanted)
                continue
            reason, allocations = first_reason(workload, run.fleet[name], run.state, run.static, keeping=True,
                                               index=index, booked=run.devices(workload.id, name))
            if reason:
                entry.lost[name] = reason
                continue
            entry.allocations[name] = allocations
            run.state.take(name, workload.id, allocations)
        if entry.allocations:
            problems = run.usage.add(workload, entry.allocations)
            if problems:  # the quota shrank below what the workload already holds
                run.diagnostics.extend(problems)
    return kept


@dataclass(frozen=True)
class RolloutTarget:
    """Where a workload's rollout stands: its new version, resolved, and the waves that run it so far."""
    workload: ResolvedWorkload
    wave: int


def place(workloads: Sequence[ResolvedWorkload], fleet: Mapping[str, ClusterFacts],
          previous: Mapping[str, tuple[str, ...]], profiles: Mapping[str, Mapping[str, WorkloadProfile]] | None = None,
          rollouts: Mapping[str, RolloutTarget] | None = None,
          booked: Mapping[str, Mapping[str, Booking]] | None = None) -> tuple[dict[str, Placement], Diagnostics]:
    """previous: workload -> the clusters easel.lock records for it; profiles: every published profile version
    (for the stacks a workload requires); rollouts: the workloads in a rollout, whose reached clusters book
    the GPUs of the version they run; booked: workload -> cluster -> the devices easel.lock records its GPUs
    on, which keeping (and a rollout's booking) takes again first."""
    diagnostics = Diagnostics()
    free = FreeGpus.of({name: facts.gpus for name, facts in fleet.items()},
                       {name: facts.devices for name, facts in fleet.items()},
                       {name: {d.name: d.node_labels for d in facts.cluster.devices} for name, facts in fleet.items()},
                       frozenset(name for name, facts in fleet.items() if facts.gpu_allocation == gpu.DRA))
    run = _Run(fleet, previous, free, policy.QuotaUsage(), StaticIndex(fleet, profiles), diagnostics, booked or {})
    kept = _keep(workloads, run)
    placements = {workload.id: _place_one(workload, kept[workload.id], run) for workload in workloads}
    for workload in workloads:  # last: a rollout's new version takes its capacity from what the fleet has left
        target = (rollouts or {}).get(workload.id)
        if target is not None and (target.workload.gpu_demands != workload.gpu_demands
                                   or target.workload.cluster_demands != workload.cluster_demands):
            placements[workload.id] = _rebook(workload, target, placements[workload.id], run)
    return placements, diagnostics


def _rebook(workload: ResolvedWorkload, target: RolloutTarget, placement: Placement, run: _Run) -> Placement:
    """The placement with each cluster a wave reached booking the new version's GPUs instead of the old's; a
    cluster where they do not fit (capacity, quota) is an error that names it and why."""
    if not run.usage.holds(workload):  # its GPUs broke the quota already (E704): nothing counted to move
        return placement
    labels = {name: facts.labels for name, facts in run.fleet.items()}
    waves = wave_clusters(workload.id, placement.clusters, workload.environment.waves, labels)
    reached = sorted({c for wave in waves[:target.wave] for c in wave.clusters})
    allocations = dict(placement.allocations)
    for name in reached:
        old = allocations.get(name, ())
        run.state.give_back(name, workload.id, old)
        run.usage.remove(workload, {name: old})
        reason, new = first_reason(target.workload, run.fleet[name], run.state, run.static, keeping=True,
                                   booked=run.devices(workload.id, name))
        problems = [] if reason else run.usage.add(target.workload, {name: new})
        if reason or problems:
            run.state.take(name, workload.id, list(old))
            run.usage.add(workload, {name: list(old)})
            run.diagnostics.add(error(
                "E607", f"the rollout of {workload.id} to {target.workload.version} cannot go on "
                f"on cluster {name!r}: " + (str(reason) if reason else problems[0].message),
                workload.workload.meta.loc.at("spec", "profile"),
                f"make room on {name}, lower the GPUs version {target.workload.version} asks for, or roll back "
                f"(`easel rollout rollback {workload.id}`)"))
            continue
        run.state.take(name, workload.id, new)
        allocations[name] = tuple(new)
    return replace(placement, allocations=allocations)


def _place_one(workload: ResolvedWorkload, held: _Kept, run: _Run) -> Placement:
    passing, static_reasons = run.static.index(workload)
    failures: dict[str, Reason] = {}
    candidates: dict[str, list[Allocation]] = {}
    for name, viable in passing.items():
        if name in held.allocations:
            continue
        taking: list[Allocation] = []
        if workload.gpu_demands:
            taking, reason = gpu.take(list(workload.demands_on(name)), viable, name, run.state)
            if reason:
                failures[name] = reason
                continue
        candidates[name] = taking
    rules = placement_policy(workload.environment)
    options = {**held.allocations, **candidates}
    scores = _scores(rules.prioritizers, options, run.state, run.previous.get(workload.id, ())) if options else {}
    ranked = sorted(candidates, key=lambda n: (-scores[n], n))
    wanted = rules.number_of_clusters
    room = len(ranked) if wanted is None else max(wanted - len(held.allocations), 0)
    if rules.spread_by:
        added = _spread_pick(ranked, list(held.allocations), room, rules.spread_by, rules.max_skew, run.fleet)
    else:
        added = ranked[:room]
    chosen = sorted([*held.allocations, *added])
    picked = set(added)
    passed = [name for name in ranked if name not in picked]
    record = PlacementRecord(
        placed=True, scores={name: scores[name] for name in [*chosen, *passed[:RUNNERS_UP]]},
        kept=tuple(sorted(held.allocations)), left=dict(held.lost), static=static_reasons,
        failures={k: v for k, v in failures.items() if k not in held.lost}, passed=tuple(passed),
        passed_reason=PassedOver(wanted, rules.spread_by))
    failed = _failure(workload, chosen, wanted, record, run)
    if failed is not None:
        return failed
    new = {name: candidates[name] for name in sorted(added)}
    problems = run.usage.add(workload, new) if new else []
    if problems:
        run.diagnostics.extend(problems)
        return _unplaced(record, QuotaExhausted(workload.workload.project), chosen)
    for name, taken in new.items():
        run.state.take(name, workload.id, taken)
    allocations = {name: tuple(held.allocations[name] if name in held.allocations else new[name]) for name in chosen}
    return Placement(tuple(chosen), allocations, record)


def _unplaced(record: PlacementRecord, why: Reason | None, eligible: list[str]) -> Placement:
    return Placement((), {}, replace(record, placed=False, passed=(), failed_reason=why,
                                     eligible_when_failed=(*eligible, *record.passed)))


def _failure(workload: ResolvedWorkload, chosen: list[str], wanted: int | None, record: PlacementRecord,
             run: _Run) -> Placement | None:
    """The workload unplaced, and its error, when no cluster or too few are eligible."""
    if chosen and (wanted is None or len(chosen) >= wanted):
        return None
    at = workload.workload.meta.loc.at("spec", "environment")
    if not chosen:
        unplaced = _unplaced(record, None, chosen)
        notes = _notes(unplaced.record, run.fleet)
        run.diagnostics.add(error(
            "E601", f"workload {workload.id} cannot be placed: no cluster is eligible"
            + ("" if run.fleet else " (the fleet has no clusters)"), at,
            f"the notes above say why each cluster was passed over; `easel explain {workload.id}` shows more"
            if notes else f"add a Cluster that environment {workload.environment.meta.name!r} selects",
            notes=notes))
        return unplaced
    unplaced = _unplaced(record, TooFewEligible(len(chosen), wanted or len(chosen)), chosen)
    run.diagnostics.add(error(
        "E602", f"workload {workload.id} needs {wanted} clusters; only {len(chosen)} eligible ({', '.join(chosen)})",
        at, f"lower numberOfClusters in environment {workload.environment.meta.name!r}, or add capacity",
        notes=_notes(unplaced.record, run.fleet)))
    return unplaced


def _notes(record: PlacementRecord, fleet: Mapping[str, ClusterFacts]) -> list[Note]:
    reasons = record.reasons
    return [Note(f"{name}: {reasons[name]}", fleet[name].cluster.meta.loc) for name in fleet if name in reasons]

