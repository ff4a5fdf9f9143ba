"""Progressive rollouts: which clusters of a workload each wave reaches, and the steps `easel rollout advance`
and `rollback` take, as pure functions over the decision record.

Waves are cumulative: wave k covers the clusters of waves 1..k. A wave is a label selector over the
workload's clusters, or a share of them (`percent`): after it, that share of the placed clusters (rounded up)
runs the new version, the earlier waves' clusters counted toward it; the clusters it adds are picked by a hash
of workload and cluster name, so the same clusters are picked every time and a cluster added later does not
reshuffle the others.

A rollout is over once every one of its clusters runs the new version: the compile that gets it there (the
`rollout advance` to its last wave, or a first wave that already reaches every cluster) records it finished,
so no later step only edits easel.lock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from compiler.diagnostics.errors import CommandError
from compiler.model import Model, Wave, selectors
from compiler.record.decisions import Decisions, Rollout, WaveClusters
from compiler.schemas import check as schemacheck


def _rank(workload: str, cluster: str) -> str:
    return hashlib.sha256(f"{workload}/{cluster}".encode()).hexdigest()


def wave_clusters(workload: str, clusters: Sequence[str], waves: tuple[Wave, ...],
                  labels: Mapping[str, Mapping[str, str]]) -> tuple[WaveClusters, ...]:
    """Every wave and the clusters it adds (sorted), out of the workload's clusters."""
    reached: set[str] = set()
    added: list[WaveClusters] = []
    ranked = sorted(clusters, key=lambda c: _rank(workload, c))
    for wave in waves:
        if wave.selector is not None:
            members = {c for c in clusters if selectors.matches(wave.selector, labels[c])}
        else:  # a share of all the placed clusters, counting the earlier waves' toward it
            wanted = math.ceil(len(clusters) * (wave.percent or 100) / 100) - len(reached)
            members = set([c for c in ranked if c not in reached][:max(wanted, 0)])
        added.append(WaveClusters(wave.name, tuple(sorted(members - reached))))
        reached |= members
    return tuple(added)


def finished(rollout: Rollout, clusters: Iterable[str]) -> bool:
    """Whether a rollout, its waves worked out over these clusters, is over: advanced past its last wave, or
    with every cluster reached, so that the waves left would change none of them."""
    return rollout.wave > len(rollout.waves) or set(clusters) <= rollout.reached


def step(previous: Decisions, model: Model, names: Sequence[str], everything: bool, kind: str) -> Decisions:
    """The record with the named rollouts (or all, `everything`) moved one wave on (kind "advance"; past the
    last wave the new version runs everywhere) or back to where they came from (kind "rollback")."""
    in_progress = {w for w, d in previous.workloads.items() if d.rollout is not None}
    wanted = set(in_progress) if everything else set()
    stacks = set(previous.stack_rollouts) if everything else set()
    for name in names:
        if name in previous.stack_rollouts:  # an infrastructure stack rolling out
            stacks.add(name)
            continue
        found, problem = model.find_workload(name)
        if found is None:  # the command cannot do what was asked (1), as `explain` of an unknown workload
            names = [w.id for w in model.workloads.values()] if "/" in name \
                else [w.meta.name for w in model.workloads.values()]
            meant = schemacheck.did_you_mean(name, names) if problem and problem.startswith("no ") else None
            raise CommandError("E901", problem or f"no workload {name!r}", hint=meant or True)
        if found.id not in in_progress:
            raise CommandError("E908", f"{found.id} has no rollout in progress", hint=True)
        wanted.add(found.id)
    previous = _step_stacks(previous, sorted(stacks), kind)
    workloads = dict(previous.workloads)
    for workload_id in sorted(wanted):
        decision = workloads[workload_id]
        rollout = decision.rollout
        if rollout is None:  # pragma: no cover  (wanted holds only workloads with a rollout)
            continue
        project, _, name = workload_id.partition("/")
        workload = model.workloads[(project, name)]
        total = len(model.environments[workload.environment].waves)
        if kind == "advance" and rollout.wave < total:
            workloads[workload_id] = replace(decision, rollout=replace(rollout, wave=rollout.wave + 1))
        else:  # advanced past the last wave: the new version everywhere; rolled back: the old one
            version = rollout.to_version if kind == "advance" else rollout.from_version
            workloads[workload_id] = replace(decision, profile=workload.profile, version=version, rollout=None)
    return replace(previous, workloads=workloads)


def _step_stacks(previous: Decisions, stacks: Sequence[str], kind: str) -> Decisions:
    """Stack rollouts one wave on (decide completes one advanced past its last wave), or rolled back: every
    cluster that runs the stack back to the version it came from."""
    if not stacks:
        return previous
    rollouts = dict(previous.stack_rollouts)
    clusters = dict(previous.clusters)
    for name in stacks:
        rollout = rollouts[name]
        if kind == "advance":
            rollouts[name] = replace(rollout, wave=rollout.wave + 1)
            continue
        del rollouts[name]
        for cluster, decision in clusters.items():
            if decision.stacks.get(name) == rollout.to_version:
                clusters[cluster] = replace(decision, stacks={**decision.stacks, name: rollout.from_version})
    return replace(previous, stack_rollouts=rollouts, clusters=clusters)
