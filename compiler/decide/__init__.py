"""Stage 3, decide: what runs, in which version, where, and with which infrastructure, as one Decisions value.

    versions   version_choice.py           each workload's profile version, and the rollout moving it on
    resolve    resolve/                    each workload at each of those versions (parameters, components)
    policy     policy.py                   guardrails on each resolved workload
    place      place.py, eligibility.py    the clusters each workload runs on, and the GPUs it takes there
    stacks     stacks.py                   the infrastructure stacks each cluster needs, resolved once per version
    mirrors    here                        what runs on clusters with a mirror, resolved again with it (once each)
    waves      rollout.py                  which clusters each wave of a rollout reaches

`previous` (easel.lock as read) is an input like the model: what it recorded is kept while it still holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from compiler.decide import inventory, policy, resolve
from compiler.decide.inventory import ClusterFacts
from compiler.decide.place import RolloutTarget, place, placement_policy
from compiler.decide.resolve import ChartPods, Resolutions, ResolvedStack, ResolvedWorkload, specialize
from compiler.decide.rollout import finished, wave_clusters
from compiler.decide.stacks import choose_stacks
from compiler.decide.version_choice import ModelVersions, choose
from compiler.diagnostics import Diagnostics, merge_subjects
from compiler.model import Environment, Model, Project, Workload, WorkloadProfile, gpu
from compiler.record.decisions import ClusterDecision, Decisions, Rollout, WorkloadDecision, devices_of


def _per_cluster(workload: ResolvedWorkload, fleet: Mapping[str, ClusterFacts]) -> ResolvedWorkload:
    """A workload with GPUs whose templates read `cluster`, with what it asks of each cluster's GPUs where that
    differs (its pods counted on the objects rendered there), so placement books what each cluster will run. A
    template that fails on a cluster keeps the general demands there: plan reports the failure."""
    if not workload.gpu_demands or not any(c.cluster_specific for c in workload.components):
        return workload
    found = {}
    for name, facts in fleet.items():
        specialized, _ = specialize.for_cluster(workload, inventory.template_context(facts))
        if specialized is not None and specialized.gpu_demands != workload.gpu_demands:
            found[name] = specialized.gpu_demands
    return dataclasses.replace(workload, cluster_demands=found) if found else workload


def decide(model: Model, fleet: Mapping[str, ClusterFacts], previous: Decisions, update: str | None = None,
           earlier_errors: bool = False, charts: ChartPods | None = None) -> tuple[Decisions, Resolutions, Diagnostics]:
    """update: "*" or a profile name whose workloads move to the newest allowed version (`easel lock --update`).
    earlier_errors: the repository already has errors, so nothing is placed (placing a partly understood
    repository would only add misleading errors). charts: the charts easel can render, where resolve finds a
    chart's target and container the profile leaves out (resolve/chart_pods.py)."""
    diagnostics = Diagnostics()
    chosen, resolved = _versions(model, previous, update, diagnostics, charts)
    if earlier_errors or diagnostics.has_errors:
        return Decisions(workloads=chosen), Resolutions(resolved, {}), diagnostics
    current = [_per_cluster(resolved[(w, d.version)], fleet) for w, d in chosen.items() if d.version is not None]
    recorded = {w: d.clusters for w, d in previous.workloads.items() if d.clusters is not None}
    rollouts = {w: RolloutTarget(_per_cluster(resolved[(w, d.rollout.to_version)], fleet), d.rollout.wave)
                for w, d in chosen.items() if d.rollout is not None and (w, d.rollout.to_version) in resolved}
    booked = {w: d.devices for w, d in previous.workloads.items() if d.devices}
    placements, problems = place(current, fleet, recorded, model.profiles, rollouts, booked)
    diagnostics.extend(problems)
    for workload in current:  # where a template makes a cluster's share differ, the limit holds there too
        if workload.cluster_demands:
            diagnostics.extend(policy.check_on_clusters(workload, placements[workload.id].clusters))
    labels = {name: facts.labels for name, facts in fleet.items()}
    stacks, stack_rollouts, problems = _stacks(model, fleet, current, placements, previous, update, labels)
    diagnostics.extend(problems)
    stack_resolutions: dict[tuple[str, str], ResolvedStack] = {}
    for cluster_stacks in stacks.values():
        for profile in cluster_stacks.releases.values():
            if profile.key not in stack_resolutions:
                found, unresolved = resolve.resolve_stack(model, profile, charts=charts)
                diagnostics.extend(unresolved)
                if found is not None:
                    stack_resolutions[profile.key] = found
    workloads = {}
    for workload in current:
        decision, placement = chosen[workload.id], placements[workload.id]
        rollout = (dataclasses.replace(decision.rollout, waves=wave_clusters(
            workload.id, placement.clusters, workload.environment.waves, labels)) if decision.rollout else None)
        if rollout is not None and finished(rollout, placement.clusters):  # every cluster reached: it is over
            decision, rollout = dataclasses.replace(decision, version=rollout.to_version), None
        workloads[workload.id] = dataclasses.replace(
            decision, clusters=placement.clusters, rollout=rollout, allocations=placement.allocations,
            placement=placement.record, devices=devices_of(placement.allocations))
    clusters = {cluster: ClusterDecision(
        stacks={name: profile.version for name, profile in s.releases.items()}, provided=dict(s.provided),
        needs={w: tuple(n for n in needs if n in s.releases) for w, needs in s.users.items()})
        for cluster, s in stacks.items()}
    in_use = [*(r.profile for (w, version), r in resolved.items() if _runs(workloads.get(w), version)),
              *(s.profile for s in stack_resolutions.values())]
    digests = {profile.key: profile.digest for profile in in_use}
    products = inventory.dra_product_names(fleet)
    under_dra = _under_dra(model, fleet, resolved, workloads, products, diagnostics, charts)
    resolutions = _mirrored(model, fleet, Resolutions(resolved, stack_resolutions, under_dra, products), workloads,
                            clusters, diagnostics, charts)
    return (Decisions(workloads, clusters, digests, stack_rollouts, previous.charts, previous.chart_manifests),
            resolutions, diagnostics)


def _runs(decision: WorkloadDecision | None, version: str) -> bool:
    """Whether a workload runs this version somewhere (one not placed: whatever it was resolved at)."""
    if decision is None:
        return True
    return version == decision.version or (decision.rollout is not None and version == decision.rollout.to_version)


def _under_dra(model: Model, fleet: Mapping[str, ClusterFacts], resolved: dict[tuple[str, str], ResolvedWorkload],
               decisions: Mapping[str, WorkloadDecision], products: tuple[tuple[str, str], ...],
               diagnostics: Diagnostics, charts: ChartPods | None = None) -> dict[tuple[str, str], ResolvedWorkload]:
    """The workloads with GPUs placed on a cluster that allocates them through DRA, resolved again for such
    clusters (their `gpu` traits render claims). Problems the first resolution reported are not said twice."""
    dra = {name for name, facts in fleet.items() if facts.gpu_allocation == gpu.DRA}
    if not dra:
        return {}
    said = {(d.code, d.location, d.message) for d in diagnostics}
    found: dict[tuple[str, str], ResolvedWorkload] = {}
    problems = []
    for key, workload in resolved.items():
        decision = decisions.get(workload.id)
        if not workload.gpu_demands or decision is None or not dra.intersection(decision.clusters or ()):
            continue
        run, more = resolve.resolve_workload(model, workload.workload, workload.environment, workload.project,
                                             workload.profile, gpu.DRA, products, charts=charts)
        problems += more
        if run is not None:
            problems += policy.check_workload(run)
            found[key] = run
    diagnostics.extend(merge_subjects(p for p in problems if (p.code, p.location, p.message) not in said))
    return found


def _mirrored(model: Model, fleet: Mapping[str, ClusterFacts], resolutions: Resolutions,
              decisions: Mapping[str, WorkloadDecision], clusters: Mapping[str, ClusterDecision],
              diagnostics: Diagnostics, charts: ChartPods | None = None) -> Resolutions:
    """The workloads and stacks placed on clusters with a mirror, resolved again with the mirror over their traits
    (resolve.cluster_traits), once per mirror. Not checked against their environment's policy again: that judges
    images as the environment leaves them; the cluster's own rules are checked where its releases are planned."""
    said = {(d.code, d.location, d.message) for d in diagnostics}
    workloads: dict[tuple[str, str, str, str], ResolvedWorkload] = {}
    stacks: dict[tuple[str, str, str], ResolvedStack] = {}
    tried: set[tuple] = set()  # a resolution that fails says so once, not once per cluster
    problems = []
    for workload_id, decision in decisions.items():
        for cluster in decision.clusters or ():
            facts, version = fleet[cluster], decision.version_on(cluster) or ""
            base = resolutions.workload(workload_id, version, facts.gpu_allocation)
            allocation = resolutions.allocation(workload_id, version, facts.gpu_allocation)
            key = (workload_id, version, allocation, facts.cluster.registry.mirror or "")
            if not key[3] or base is None or key in tried:
                continue
            tried.add(key)
            run, more = resolve.resolve_workload(model, base.workload, base.environment, base.project, base.profile,
                                                 allocation, resolutions.dra_products,
                                                 resolve.cluster_traits(facts.cluster), charts)
            problems += more
            if run is not None:
                workloads[key] = run
    for cluster, needed in clusters.items():
        mirror = fleet[cluster].cluster.registry.mirror
        for name, version in needed.stacks.items():
            stack = resolutions.stacks.get((name, version))
            if mirror is None or stack is None or (name, version, mirror) in tried:
                continue
            tried.add((name, version, mirror))
            found, more = resolve.resolve_stack(model, stack.profile, resolve.cluster_traits(fleet[cluster].cluster),
                                                charts)
            problems += more
            if found is not None:
                stacks[(name, version, mirror)] = found
    diagnostics.extend(merge_subjects(p for p in problems if (p.code, p.location, p.message) not in said))
    return dataclasses.replace(resolutions, mirrored=workloads, mirrored_stacks=stacks)


def _stacks(model: Model, fleet: Mapping[str, ClusterFacts], current: list[ResolvedWorkload],
            placements: Mapping, previous: Decisions, update: str | None, labels: Mapping[str, Mapping[str, str]]
            ) -> tuple[dict, dict[str, Rollout], Diagnostics]:
    """Each cluster's stacks, with a stack's new version rolled out wave by wave where the workloads that need
    it there are in a progressive environment (its waves over the clusters that change)."""
    placed = [(w.id, w.profile, placements[w.id].clusters) for w in current]
    locked = {cluster: dict(d.stacks) for cluster, d in previous.clusters.items()}
    stacks, problems = choose_stacks(model, fleet, placed, locked, update)
    chosen = {cluster: {name: p.version for name, p in s.releases.items()} for cluster, s in stacks.items()}
    pinned = {cluster: dict(versions) for cluster, versions in chosen.items()}
    rollouts: dict[str, Rollout] = {}
    names_ = sorted({n for s in stacks.values() for n in s.releases} | set(previous.stack_rollouts))
    for name in names_:
        before = {c: v[name] for c, v in locked.items() if name in v}
        after = {c: v[name] for c, v in pinned.items() if name in v}
        rollout = previous.stack_rollouts.get(name)
        if rollout is None:
            changed = sorted(c for c in after if c in before and before[c] != after[c])
            if not changed:
                continue
            rollout = Rollout(before[changed[0]], after[changed[0]], 1)
        rolling = sorted(c for c in after if before.get(c, rollout.from_version) in (rollout.from_version,
                                                                                     rollout.to_version)
                         and after[c] in (rollout.from_version, rollout.to_version))
        environment = _governing(name, rolling, current, placements, stacks)
        waves = wave_clusters(name, rolling, environment.waves, labels) if environment else ()
        if not waves or finished(dataclasses.replace(rollout, waves=waves), rolling):  # nothing left to roll out
            for cluster in rolling:
                pinned[cluster][name] = rollout.to_version
            continue
        rollout = dataclasses.replace(rollout, waves=waves)
        rollouts[name] = rollout
        for cluster in rolling:
            pinned[cluster][name] = rollout.version_on(cluster)
    if pinned != chosen:
        stacks, problems = choose_stacks(model, fleet, placed, pinned, None)  # the versions each cluster runs
    return stacks, rollouts, problems


def _governing(stack: str, clusters: list[str], current: list[ResolvedWorkload], placements: Mapping,
               stacks: Mapping) -> Environment | None:
    """The progressive environment (the first by name) of the workloads that need the stack on these clusters."""
    found = sorted({w.environment.meta.name: w.environment for w in current
                    if w.environment.rollout_strategy == "progressive" and w.environment.waves
                    and any(stack in stacks[c].users.get(w.id, ()) for c in placements[w.id].clusters
                            if c in clusters and c in stacks)}.items())
    return found[0][1] if found else None


def _versions(model: Model, previous: Decisions, update: str | None, diagnostics: Diagnostics,
              charts: ChartPods | None = None
              ) -> tuple[dict[str, WorkloadDecision], dict[tuple[str, str], ResolvedWorkload]]:
    """Each workload's version (and rollout), and the workload resolved at every version it runs."""
    provider = ModelVersions(model, previous)
    chosen: dict[str, WorkloadDecision] = {}
    resolved: dict[tuple[str, str], ResolvedWorkload] = {}
    found = Diagnostics()
    for workload in model.workloads.values():
        environment = model.environments.get(workload.environment)
        project = model.projects.get(workload.project)
        if environment is None or project is None or not model.profiles.get(workload.profile):
            continue  # reported by validate
        problems = policy.check_admitted(workload, environment)
        found.extend(problems)
        if problems:
            continue
        choice, problems = choose(workload, environment, provider, update)
        found.extend(problems)
        if choice is None:
            continue
        versions = [choice.profile] + ([model.profiles[workload.profile][choice.rollout.to_version]]
                                       if choice.rollout else [])
        runs = []
        for profile in versions:  # the target only when the version it runs now resolves
            run = _resolved(model, workload, environment, project, profile, found, charts)
            if run is None:
                break
            runs.append(run)
        if len(runs) < len(versions):
            continue
        resolved.update({(workload.id, r.version): r for r in runs})
        chosen[workload.id] = WorkloadDecision(workload.id, workload.profile, choice.profile.version,
                                               rollout=choice.rollout, policy=placement_policy(environment))
    diagnostics.extend(merge_subjects(found))
    return chosen, resolved


def _resolved(model: Model, workload: Workload, environment: Environment, project: Project, profile: WorkloadProfile,
              diagnostics: Diagnostics, charts: ChartPods | None = None) -> ResolvedWorkload | None:
    """The workload resolved at this version, checked against its environment's policy."""
    found, problems = resolve.resolve_workload(model, workload, environment, project, profile, charts=charts)
    diagnostics.extend(problems)
    if found is not None:
        diagnostics.extend(policy.check_workload(found))
    return found
