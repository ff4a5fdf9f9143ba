"""Infrastructure stacks: the profiles (`requires.profiles`) each cluster needs for the workloads placed on it,
one version per stack and cluster, found with resolvelib (backtracking, not first-fit).

A stack the cluster's ClusterProfile installs (a layer of that name) is provided: it gets no release, and its
version must satisfy every requester. Versions recorded in easel.lock are preferred while they still fit.
The solver sees the model only through the provider; this module reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from resolvelib import AbstractProvider, BaseReporter, Resolver
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

from compiler.decide.inventory import ClusterFacts
from compiler.diagnostics import Diagnostics, Location, Note
from compiler.model import Model, WorkloadProfile, versions
from compiler.model.reasons import StackUnavailable


@dataclass(frozen=True)
class Need:
    """One requester's range for a stack: a workload (through its profile) or another stack."""
    name: str
    range: str
    requester: str  # "nlp/support-bot (llm-serving 1.3.0)" or "gpu-operator 24.9.0"
    loc: Location


@dataclass(frozen=True)
class Candidate:
    name: str
    version: str
    profile: WorkloadProfile | None  # None: provided by the cluster profile

    @property
    def provided(self) -> bool:
        return self.profile is None


@dataclass
class ClusterStacks:
    """What one cluster needs: the releases easel deploys, those its cluster profile provides, and who asks."""
    releases: dict[str, WorkloadProfile] = field(default_factory=dict)  # stack name -> the version deployed
    provided: dict[str, str] = field(default_factory=dict)  # stack name -> the version the cluster profile has
    users: dict[str, list[str]] = field(default_factory=dict)  # workload id -> the stacks it needs (transitively)


class _Provider(AbstractProvider):
    def __init__(self, profiles: Mapping[str, Mapping[str, WorkloadProfile]], provided: Mapping[str, str],
                 locked: Mapping[str, str]):
        self.profiles = profiles
        self.provided = provided
        self.locked = locked

    def identify(self, requirement_or_candidate) -> str:
        return requirement_or_candidate.name

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        return sum(1 for _ in candidates[identifier])  # the most constrained first

    def find_matches(self, identifier, requirements, incompatibilities) -> Iterable[Candidate]:
        ranges = [r.range for r in requirements[identifier]]
        excluded = {c.version for c in incompatibilities[identifier]}
        if identifier in self.provided:
            version = self.provided[identifier]
            fits = version not in excluded and all(_satisfies(version, r) for r in ranges)
            return [Candidate(identifier, version, None)] if fits else []
        available = self.profiles.get(identifier, {})
        fitting = [v for v in available if v not in excluded and all(versions.satisfies(v, r) for r in ranges)]
        fitting.sort(key=versions.sort_key, reverse=True)  # the newest first,
        if self.locked.get(identifier) in fitting:  # but what the cluster runs now before any other
            fitting.remove(self.locked[identifier])
            fitting.insert(0, self.locked[identifier])
        return [Candidate(identifier, v, available[v]) for v in fitting]

    def is_satisfied_by(self, requirement: Need, candidate: Candidate) -> bool:
        return _satisfies(candidate.version, requirement.range)

    def get_dependencies(self, candidate: Candidate) -> Iterator[Need]:
        if candidate.profile is None:
            return iter(())
        return iter(_needs(candidate.profile, f"{candidate.name} {candidate.version}"))


def _satisfies(version: str, range_text: str) -> bool:
    """Cluster-profile layers write versions loosely (v24.9.0, 24.9): read them as Kubernetes-style versions."""
    return versions.satisfies(version, range_text) or versions.satisfies(
        versions.kubernetes_version(version) or version, range_text)


def _needs(profile: WorkloadProfile, label: str) -> list[Need]:
    """The stacks the profile requires, each need labelled with who has it."""
    return [Need(d.name, d.range, label, d.loc) for d in profile.requires_profiles]


def choose_stacks(model: Model, fleet: Mapping[str, ClusterFacts],
                  placed: Sequence[tuple[str, WorkloadProfile, Sequence[str]]],
                  locked: Mapping[str, Mapping[str, str]], update: str | None = None
                  ) -> tuple[dict[str, ClusterStacks], Diagnostics]:
    """Per cluster, the stacks its workloads need. placed: (workload id, its profile, its clusters);
    locked: cluster -> stack -> version (easel.lock)."""
    diagnostics = Diagnostics()
    by_cluster: dict[str, list[tuple[str, WorkloadProfile]]] = {}
    for workload_id, profile, clusters in placed:
        if not profile.requires_profiles:
            continue
        for cluster in clusters:
            by_cluster.setdefault(cluster, []).append((workload_id, profile))
    result: dict[str, ClusterStacks] = {}
    for cluster, workloads in sorted(by_cluster.items()):
        facts = fleet[cluster]
        keep = {name: version for name, version in locked.get(cluster, {}).items()
                if update not in ("*", name)}
        provider = _Provider(model.profiles, facts.addons, keep)
        needs = [need for workload_id, profile in workloads
                 for need in _needs(profile, f"{workload_id} ({profile.meta.name} {profile.version})")]
        try:
            resolution = Resolver(provider, BaseReporter()).resolve(needs, max_rounds=1000)
        except ResolutionImpossible as exc:
            _conflict(diagnostics, model, cluster, facts, exc.causes)
            continue
        except ResolutionTooDeep:
            diagnostics.error("E505", f"cluster {cluster}: the profile dependencies could not be resolved in "
                              "1000 rounds", facts.cluster.meta.loc)
            continue
        stacks = ClusterStacks()
        for name, candidate in sorted(resolution.mapping.items()):
            if candidate.provided:
                stacks.provided[name] = candidate.version
            else:
                stacks.releases[name] = candidate.profile
        for workload_id, profile in workloads:
            stacks.users[workload_id] = sorted(_closure(profile, resolution.mapping))
        result[cluster] = stacks
    return result, diagnostics


def unavailable(profiles: Mapping[str, Mapping[str, WorkloadProfile]], profile: WorkloadProfile,
                provided: Mapping[str, str]) -> StackUnavailable | None:
    """Why the stacks the profile requires could not be had on a cluster whose cluster profile provides these
    (stack -> version), by themselves (with other workloads' needs they may still conflict: E505); None when they
    can."""
    if not profile.requires_profiles:
        return None
    try:
        Resolver(_Provider(profiles, provided, {}), BaseReporter()).resolve(_needs(profile, ""), max_rounds=200)
    except ResolutionImpossible as exc:
        need = next(iter(exc.causes)).requirement
        return StackUnavailable(need.name, need.range, provided.get(need.name))
    except ResolutionTooDeep:
        return None  # undecided here; choose_stacks reports it
    return None


def _closure(profile: WorkloadProfile, mapping: Mapping[str, Candidate]) -> set[str]:
    """The stacks a profile needs, with theirs."""
    found: set[str] = set()
    pending = [d.name for d in profile.requires_profiles]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        candidate = mapping.get(name)
        if candidate is not None and candidate.profile is not None:
            pending.extend(d.name for d in candidate.profile.requires_profiles)
    return found


def _conflict(diagnostics: Diagnostics, model: Model, cluster: str, facts: ClusterFacts, causes) -> None:
    by_stack: dict[str, list] = {}
    for cause in causes:
        by_stack.setdefault(cause.requirement.name, []).append(cause.requirement)
    for name, needs in sorted(by_stack.items()):
        provided = facts.addons.get(name)
        published = sorted(model.profiles.get(name, {}), key=versions.sort_key)
        offered = (f"its cluster profile provides {name} {provided}" if provided else
                   "published: " + (", ".join(published) or "none"))
        asks = "; ".join(f"{n.requester} wants {n.range!r}" for n in needs)
        diagnostics.error(
            "E505", f"cluster {cluster}: no version of {name} satisfies every requester ({asks}); {offered}",
            needs[0].loc.at("version"),
            "align the ranges, or publish a version of the stack that satisfies all of them",
            notes=[Note(f"{n.requester} wants {name} {n.range!r}", n.loc.at("version")) for n in needs[1:]]
            + [Note(f"cluster {cluster}", facts.cluster.meta.loc)])

