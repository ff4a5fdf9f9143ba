"""Stage 3, decide: what runs, in which version, where, and with which infrastructure, as one Decisions value.

    versions   resolve/version_choice.py   each workload's profile version, and the rollout moving it on
    resolve    resolve/                    each workload at each of those versions (parameters, components)
    policy     policy.py                   guardrails on each resolved workload
    place      place.py, eligibility.py    the clusters each workload runs on, and the GPUs it takes there
    stacks     stacks.py                   the infrastructure stacks each cluster needs, resolved once per version
    waves      rollout.py                  which clusters each wave of a rollout reaches

`previous` (easel.lock as read) is an input like the model: what it recorded is kept while it still holds.
"""

from __future__ import annotations

from typing import Mapping

from .. import policy, resolve
from ..decisions import ClusterDecision, Decisions, WorkloadDecision
from ..diagnostics import Diagnostics, merge_subjects
from ..inventory import ClusterFacts
from ..model import Environment, Model, Project, Workload, WorkloadProfile
from ..resolve import ResolvedStack, ResolvedWorkload, Resolutions
from ..resolve.version_choice import ModelVersions, choose
from .place import place
from .rollout import wave_clusters
from .stacks import choose_stacks


def decide(model: Model, fleet: Mapping[str, ClusterFacts], previous: Decisions, update: str | None = None,
           earlier_errors: bool = False) -> tuple[Decisions, Resolutions, Diagnostics]:
    """update: "*" or a profile name whose workloads move to the newest allowed version (`easel lock --update`).
    earlier_errors: the repository already has errors, so nothing is placed (placing a partly understood
    repository would only add misleading errors)."""
    diagnostics = Diagnostics()
    chosen, resolved = _versions(model, previous, update, diagnostics)
    if earlier_errors or diagnostics.has_errors:
        return Decisions(workloads=chosen), Resolutions(resolved, {}), diagnostics
    current = [resolved[(w, d.version)] for w, d in chosen.items()]
    recorded = {w: d.clusters for w, d in previous.workloads.items() if d.clusters is not None}
    placements, problems = place(current, fleet, recorded, model.profiles)
    diagnostics.extend(problems)
    stacks, problems = choose_stacks(model, fleet, [(w.id, w.profile, placements[w.id].clusters) for w in current],
                                     {cluster: d.stacks for cluster, d in previous.clusters.items()}, update)
    diagnostics.extend(problems)
    stack_resolutions: dict[tuple[str, str], ResolvedStack] = {}
    for cluster_stacks in stacks.values():
        for profile in cluster_stacks.releases.values():
            if profile.key not in stack_resolutions:
                found, problems = resolve.resolve_stack(model, profile)
                diagnostics.extend(problems)
                if found is not None:
                    stack_resolutions[profile.key] = found
    labels = {name: facts.labels for name, facts in fleet.items()}
    workloads = {}
    for workload in current:
        decision, placement = chosen[workload.id], placements[workload.id]
        waves = (wave_clusters(workload.id, placement.clusters, workload.environment.waves, labels)
                 if decision.rollout else ())
        workloads[workload.id] = WorkloadDecision(
            workload.id, decision.profile, decision.version, placement.clusters, decision.rollout, waves,
            placement.allocations, placement.record)
    clusters = {cluster: ClusterDecision(
        stacks={name: profile.version for name, profile in s.releases.items()}, provided=dict(s.provided),
        needs={w: tuple(n for n in needs if n in s.releases) for w, needs in s.users.items()})
        for cluster, s in stacks.items()}
    in_use = [*(r.profile for r in resolved.values()), *(s.profile for s in stack_resolutions.values())]
    digests = {profile.key: profile.digest for profile in in_use}
    return Decisions(workloads, clusters, digests), Resolutions(resolved, stack_resolutions), diagnostics


def _versions(model: Model, previous: Decisions, update: str | None, diagnostics: Diagnostics
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
            run = _resolved(model, workload, environment, project, profile, found)
            if run is None:
                break
            runs.append(run)
        if len(runs) < len(versions):
            continue
        resolved.update({(workload.id, r.version): r for r in runs})
        chosen[workload.id] = WorkloadDecision(workload.id, workload.profile, choice.profile.version,
                                               rollout=choice.rollout)
    diagnostics.extend(merge_subjects(found))
    return chosen, resolved


def _resolved(model: Model, workload: Workload, environment: Environment, project: Project, profile: WorkloadProfile,
              diagnostics: Diagnostics) -> ResolvedWorkload | None:
    """The workload resolved at this version, checked against its environment's policy."""
    found, problems = resolve.resolve_workload(model, workload, environment, project, profile)
    diagnostics.extend(problems)
    if found is not None:
        diagnostics.extend(policy.check_workload(found))
    return found
