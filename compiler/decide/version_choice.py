"""Which profile version each workload runs, and whether a rollout moves it on (SPEC §5).

The choice is pure: what it needs to know (the published versions, the environment's allowed range, what
easel.lock recorded) comes through a small provider, as resolvelib's resolver learns everything through its
provider. `ModelVersions` is the provider over a repository's model and its previous decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from compiler.decide import policy
from compiler.diagnostics import Diagnostic, Note, error
from compiler.model import AllowedProfile, Environment, Model, Workload, WorkloadProfile, versions
from compiler.record.decisions import Decisions, Rollout


class VersionProvider(Protocol):
    def published(self, profile: str) -> Mapping[str, WorkloadProfile]:
        """Every published version of a profile."""

    def recorded(self, workload: str) -> tuple[str | None, str | None, Rollout | None]:
        """(profile, version, rollout) easel.lock recorded for the workload."""


@dataclass(frozen=True)
class ModelVersions:
    model: Model
    previous: Decisions

    def published(self, profile: str) -> Mapping[str, WorkloadProfile]:
        return self.model.profiles.get(profile, {})

    def recorded(self, workload: str) -> tuple[str | None, str | None, Rollout | None]:
        decision = self.previous.workloads.get(workload)
        if decision is None:
            return None, None, None
        return decision.profile, decision.version, decision.rollout


@dataclass(frozen=True)
class VersionChoice:
    profile: WorkloadProfile  # the version it runs (where a rollout has not reached)
    rollout: Rollout | None = None  # a newer version on its way, wave by wave


def _ranges(workload: Workload, allowed: AllowedProfile | None) -> list[str]:
    """The ranges a version must satisfy: the workload's, and its profile's allowedProfiles entry's, if any."""
    return [workload.version_range] + ([allowed.versions] if allowed and allowed.versions else [])


def newest(workload: Workload, environment: Environment, available: Mapping[str, WorkloadProfile]
           ) -> tuple[WorkloadProfile | None, list[Diagnostic]]:
    """The highest version within the workload's range and the environment's allowedProfiles."""
    at = workload.meta.loc.at("spec", "profile")
    allowed = policy.allowed_range(environment, workload.profile)
    if allowed is False:
        listed = ", ".join(a.name for a in environment.allowed_profiles or ()) or "none"
        return None, [error("E702", f"environment {environment.meta.name!r} does not allow profile "
                            f"{workload.profile!r}", at.at("name"), f"profiles allowed there: {listed}",
                            notes=[Note("allowedProfiles set here",
                                        environment.meta.loc.at("spec", "policy", "allowedProfiles"))])]
    chosen = versions.highest(available, *_ranges(workload, allowed))
    if chosen is not None:
        return available[chosen], []
    listed = ", ".join(sorted(available, key=versions.sort_key))
    in_range = versions.highest(available, workload.version_range)
    if in_range is not None and allowed and allowed.versions:
        return None, [error("E702", f"profile {workload.profile!r} {workload.version_range!r} resolves to "
                            f"{in_range}, which environment {environment.meta.name!r} does not allow "
                            f"(allowed: {allowed.versions!r})", at.at("version"),
                            f"versions of {workload.profile!r}: {listed}",
                            notes=[Note("allowed versions set here", allowed.loc.at("versions"))])]
    return None, [error("E503", f"no version of profile {workload.profile!r} matches {workload.version_range!r}",
                        at.at("version"), f"versions of {workload.profile!r}: {listed}")]


def choose(workload: Workload, environment: Environment, provider: VersionProvider, update: str | None
           ) -> tuple[VersionChoice | None, list[Diagnostic]]:
    """The version the workload runs, and the rollout that moves it on, if one is under way.

    A recorded version is kept while allowed. `update` ("*" or a profile name) moves to the newest allowed
    version: at once, or, in an environment with rollout waves, as a rollout that starts at wave 1. A rollout
    whose versions are no longer both allowed ends: at its destination when that is still allowed, else where
    it came from."""
    available = provider.published(workload.profile)
    best, problems = newest(workload, environment, available)
    if best is None:
        return None, problems
    ranges = _ranges(workload, policy.allowed_range(environment, workload.profile) or None)

    def allowed(version: str | None) -> bool:
        return version is not None and version in available and all(versions.satisfies(version, r) for r in ranges)

    def at(version: str, rollout: Rollout | None = None) -> tuple[VersionChoice, list[Diagnostic]]:
        return VersionChoice(available[version], rollout), []

    profile, locked, rollout = provider.recorded(workload.id)
    if profile != workload.profile:
        return at(best.version)
    updating = update in ("*", workload.profile)
    if rollout is not None:
        if allowed(rollout.from_version) and allowed(rollout.to_version):
            if not updating or best.version == rollout.to_version:
                return at(rollout.from_version, rollout)
            locked = rollout.from_version  # an update during a rollout starts a new one from where it came
        elif allowed(rollout.to_version):
            return at(rollout.to_version)
        elif allowed(rollout.from_version):
            return at(rollout.from_version)
    if locked is None or not allowed(locked):
        return at(best.version)
    if updating and best.version != locked:
        if environment.rollout_strategy == "progressive" and environment.waves:
            return at(locked, Rollout(locked, best.version, 1))
        return at(best.version)
    return at(locked)
