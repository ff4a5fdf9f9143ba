"""Published versions no workload runs yet, checked when they are published (SPEC §3: whatever a workload would
trip over later fails the pull request that adds the version, not the `easel lock --update` after it).

For each profile version and each environment that allows it where no workload runs it, a stand-in workload:
the version as a workload of the environment's first project (by name), with the parameters its layers give
(profile defaults < easel.yaml < project < environment), and, for a parameter none of them sets, the first of
its schema's `examples`. A parameter with neither gets a stand-in value of its type (`stand_in_value`), and what
is found at the templates that read it, or names that value, is not reported: only the checks that need no value
count (said once, W114). The stand-in is resolved and checked against the environment's policy here; the
pipeline then decides, plans, renders and proves it on one cluster per distinct set of facts among those its
environment could place it on (`groups`, `facts_key`), and writes nothing of it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from compiler.decide import policy, resolve
from compiler.decide.eligibility import StaticIndex
from compiler.decide.inventory import ClusterFacts
from compiler.decide.resolve import Resolutions, ResolvedWorkload
from compiler.diagnostics import Diagnostic, Location, Note, Subject, warning
from compiler.model import Environment, Meta, Model, ParamSetting, Project, Workload, WorkloadProfile, versions

SUBJECT = "published version"  # a stand-in's problems are the version's, not a workload's: never counted as one
# what a stand-in's placement says is about capacity and quotas, not the version: nothing is placed for real
NOT_THE_VERSIONS = frozenset({"E601", "E602", "E607", "E704", "W107"})
NOTES = 3  # versions named by W114 (the others counted)
_PARAMS = re.compile(r"\bparams\b(?:\s*\.\s*([A-Za-z_]\w*)|\s*\[\s*['\"]([^'\"]*)['\"]\s*\])?")


@dataclass(frozen=True)
class StandIn:
    """A published version checked as a workload of one environment that allows it, where no workload runs it."""
    profile: WorkloadProfile  # as published
    checked: WorkloadProfile  # what is checked: a parameter nothing sets given a stand-in value as its default
    environment: Environment
    project: Project
    workload: Workload  # the stand-in, named after the profile, at the profile's own place
    examples: tuple[str, ...] = ()  # parameters given their schema's first example
    unset: tuple[tuple[str, Any], ...] = ()  # parameters with no value from any layer and no example: their stand-in
    reading: tuple[Location, ...] = ()  # the templates that read them: what is found there is not the version's

    @property
    def label(self) -> str:
        return f"{self.profile.meta.name} {self.profile.version}"

    def needs_a_value(self, problem: Diagnostic) -> bool:
        """Whether a problem may come of a stand-in value: found at a template that reads one, or naming one."""
        at = problem.location
        if at is not None and any(at.file == r.file and at.doc == r.doc and at.path[:len(r.path)] == r.path
                                  for r in self.reading):
            return True
        return any(isinstance(v, str) and v in problem.message for _, v in self.unset)


@dataclass(frozen=True)
class Group:
    """Clusters the stand-in could be placed on, alike in every fact its checks read; proven on one of them."""
    representative: str
    clusters: tuple[str, ...]


def stand_ins(model: Model, resolutions: Resolutions) -> Iterator[StandIn]:
    """Every profile version, in each environment that allows it and admits a project, where no workload runs it
    (a workload that does was checked with its own parameters). An Infrastructure profile is a stand-in only
    where an environment names it: it is deployed as a stack (checked as one, `stacks_unrun`)."""
    run = {(r.profile.meta.name, r.version, r.environment.meta.name) for r in resolutions.workloads.values()}
    for name, published in model.profiles.items():
        for version in sorted(published, key=versions.sort_key):
            profile = published[version]
            for environment in model.environments.values():
                project = _first_project(model, environment)
                if project is not None and (name, version, environment.meta.name) not in run \
                        and _allows(environment, profile):
                    yield _stand_in(model, profile, environment, project)


def stacks_unrun(model: Model, resolutions: Resolutions) -> Iterator[WorkloadProfile]:
    """The versions of every profile some profile requires (a stack) that no cluster runs: resolved as stacks."""
    required = {d.name for versions_ in model.profiles.values() for p in versions_.values()
                for d in p.requires_profiles}
    for name in sorted(required & set(model.profiles)):
        for version in sorted(model.profiles[name], key=versions.sort_key):
            if (name, version) not in resolutions.stacks:
                yield model.profiles[name][version]


def _allows(environment: Environment, profile: WorkloadProfile) -> bool:
    allowed = policy.allowed_range(environment, profile.meta.name)
    if allowed is None:
        return profile.type != "Infrastructure"
    return allowed is not False and (not allowed.versions or versions.satisfies(profile.version, allowed.versions))


def _first_project(model: Model, environment: Environment) -> Project | None:
    names = sorted(n for n in model.projects if environment.admits(n))
    return model.projects[names[0]] if names else None


def _stand_in(model: Model, profile: WorkloadProfile, environment: Environment, project: Project) -> StandIn:
    given = {*model.settings.parameters, *project.parameters, *environment.parameters}
    asked: dict[str, ParamSetting] = {}
    unset = {}
    for name, schema in profile.parameters.items():
        if "default" in schema or name in given:
            continue
        examples = schema.get("examples")
        if isinstance(examples, list) and examples:
            asked[name] = ParamSetting(examples[0], False,
                                       profile.meta.loc.at("spec", "parameters", name, "examples", 0))
        else:
            unset[name] = stand_in_value(name, schema)
    declared = set(profile.parameters)
    reading = [*_reading(((t.loc.at("properties"), t.properties) for t in environment.traits), set(unset), declared),
               *_reading(((c.loc.at("properties"), c.properties) for c in profile.components), set(unset), declared),
               *_reading(((t.loc.at("properties"), t.properties) for c in profile.components for t in c.traits),
                         set(unset), declared)]
    checked = dataclasses.replace(profile, parameters={
        n: ({"default": unset[n]} if n in unset else s) for n, s in profile.parameters.items()})
    workload = Workload(Meta(profile.meta.name, profile.meta.loc), project.meta.name, environment.meta.name,
                        profile.meta.name, profile.version, asked, {})
    return StandIn(profile, checked, environment, project, workload, tuple(asked), tuple(unset.items()),
                   tuple(reading))


def stand_in_value(name: str, schema: Mapping[str, Any]) -> Any:
    """A value of the parameter's type, for checking what does not depend on it: its first `enum` or its
    `const`, the least integer or number allowed (1 when nothing bounds it), false, [], {}, else a string that
    says what it is. Never checked against the schema: problems it causes are not reported (needs_a_value)."""
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        value = max(low, 1) if isinstance(low, (int, float)) else 1
        return min(value, high) if isinstance(high, (int, float)) else value
    return {"boolean": False, "array": [], "object": {}}.get(str(kind), f"unset-{name.lower()}")


def _strings(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _reading(places: Iterable[tuple[Location, Any]], names: set[str], declared: set[str]) -> Iterator[Location]:
    """The templates in these properties that read one of the parameters (reading `params` whole, or by a name
    that is no parameter, as `params.get(...)` does, counts as reading them all)."""
    for loc, value in places if names else ():
        for path, text in _strings(value):
            if ("{{" in text or "{%" in text) and any(
                    (m.group(1) or m.group(2)) in names or (m.group(1) or m.group(2)) not in declared
                    for m in _PARAMS.finditer(text)):
                yield loc.at(*path)


def resolved(model: Model, stand_in: StandIn, charts: resolve.ChartPods | None = None
             ) -> tuple[ResolvedWorkload | None, list[Diagnostic]]:
    """The stand-in resolved at its version (charts: as for a workload), and checked against its environment's
    policy."""
    found, problems = resolve.resolve_workload(model, stand_in.workload, stand_in.environment, stand_in.project,
                                               stand_in.checked, charts=charts)
    if found is not None:
        problems += policy.check_workload(found)
    return found, problems


def groups(workload: ResolvedWorkload, fleet: Mapping[str, ClusterFacts], static: StaticIndex,
           keys: dict[tuple[str, bool], tuple] | None = None) -> list[Group]:
    """The clusters its environment could place it on (capacity aside), grouped by the facts its checks read:
    engine, Kubernetes version, how GPUs are allocated, the GPU products and modes, the registry rules, the CRDs
    and cluster-profile add-ons it has, its architectures and source. A template that reads `cluster` is
    rendered for the first of a group. keys: each cluster's facts_key, kept between calls."""
    passing, _ = static.index(workload)
    keys = {} if keys is None else keys
    gpus = bool(workload.gpu_demands)
    found: dict[tuple, list[str]] = {}
    for name in passing:
        key = keys.get((name, gpus))
        if key is None:
            key = keys[(name, gpus)] = facts_key(fleet[name], gpus)
        found.setdefault(key, []).append(name)
    # proven on the one with the most GPUs (then the first by name): where the stand-in fits if anywhere
    return [Group(min(names, key=lambda n: (-sum(p.total for p in fleet[n].gpus.values()), n)), tuple(names))
            for names in found.values()]


def facts_key(facts: ClusterFacts, gpus: bool = True) -> tuple:
    """What of a cluster its checks read (its GPU products and modes only for a workload with GPUs)."""
    return (facts.engine, facts.kubernetes_version, facts.gpu_allocation, facts.cluster.registry,
            facts.crds, tuple(sorted(facts.addons.items())), facts.arches, facts.cluster.source,
            tuple(sorted((p.key, p.memory) for p in facts.gpus.values())) if gpus else ())


def sub_model(model: Model, stand_in: StandIn) -> Model:
    """The repository with the stand-in as its only workload, at the version it checks, its environment placing
    on every eligible cluster (the clusters it is given are one per group) and its project's quotas lifted (what
    the project holds elsewhere is not the version's affair)."""
    name = stand_in.profile.meta.name
    environment = dataclasses.replace(stand_in.environment, number_of_clusters=None, spread_by=None)
    project = dataclasses.replace(stand_in.project, quota_gpus=None, quota_by_product={})
    return dataclasses.replace(
        model, workloads={stand_in.workload.key: stand_in.workload},
        environments={**model.environments, environment.meta.name: environment},
        projects={**model.projects, project.meta.name: project},
        profiles={**model.profiles, name: {**model.profiles[name], stand_in.profile.version: stand_in.checked}})


@dataclass(frozen=True)
class Seen:
    """How a published version was checked, for the note of each problem found: as a stand-in workload of an
    environment (on these clusters, standing for so many), or as a stack."""
    label: str
    environment: str | None  # None: as a stack
    project: str = ""
    clusters: tuple[str, ...] = ()
    standing_for: int = 0
    loc: Location | None = None

    @property
    def text(self) -> str:
        if self.environment is None:
            return "as a stack, with its defaults"
        text = f"in environment {self.environment} as a workload of project {self.project}"
        if self.clusters:
            named = ", ".join(self.clusters[:3]) + (f" and {len(self.clusters) - 3} more" if len(self.clusters) > 3
                                                    else "")
            text += (f", on {named} (one cluster per set of cluster facts, for {self.standing_for} "
                     f"cluster{'s' if self.standing_for > 1 else ''})")
        return text


def seen(stand_in: StandIn, checked: Iterable[Group] = ()) -> Seen:
    groups = list(checked)
    return Seen(stand_in.label, stand_in.environment.meta.name, stand_in.project.meta.name,
                tuple(g.representative for g in groups), sum(len(g.clusters) for g in groups),
                stand_in.environment.meta.loc.at("spec", "policy"))


@dataclass
class Findings:
    """What checking the published versions found, each problem once, with a note of how it was checked."""
    said: set[tuple] = dataclasses.field(default_factory=set)  # (code, location, message) reported already
    found: dict[tuple, tuple[Diagnostic, list[Seen]]] = dataclasses.field(default_factory=dict)

    def add(self, problems: Iterable[Diagnostic], stand_in: StandIn | None, how: Seen) -> None:
        for problem in problems:
            if problem.code in NOT_THE_VERSIONS or (problem.code, problem.location, problem.message) in self.said \
                    or (stand_in is not None and stand_in.needs_a_value(problem)):
                continue
            subject = problem.subject
            if stand_in is not None and (subject is None or subject.kind == "workload"):
                subject = Subject(SUBJECT, (stand_in.label,), subject.cluster if subject else None)
            location = problem.location or (stand_in.profile.meta.loc.at("spec", "version") if stand_in else None)
            problem = dataclasses.replace(problem, location=location, subject=subject)
            message = problem.message  # found alike on several of the clusters proven: said once, of the first
            for cluster in how.clusters:
                message = re.sub(rf"(?<![\w.-]){re.escape(cluster)}(?![\w.-])", "…", message)
            key = (problem.code, problem.location, message, subject and dataclasses.replace(subject, cluster=None))
            ways = self.found.setdefault(key, (problem, []))[1]
            if how not in ways and not any(w.environment == how.environment and w.clusters for w in ways):
                ways[:] = [w for w in ways if w.environment != how.environment] + [how]

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        for problem, ways in self.found.values():
            first = ways[0]
            runs = "cluster" if first.environment is None else "workload"
            text = (f"no {runs} runs {first.label} yet: checked " + "; ".join(w.text for w in ways[:3])
                    + (f"; and in {len(ways) - 3} more environments" if len(ways) > 3 else ""))
            out.append(dataclasses.replace(problem, notes=(*problem.notes, Note(text, first.loc))))
        return out


def unchecked(stand_ins_: Iterable[StandIn]) -> list[Diagnostic]:
    """W114, said once for the whole repository (as W107 is): the versions checked with a stand-in value for a
    parameter nothing sets, each at its parameter; `easel explain` says it per environment."""
    found: dict[str, tuple[StandIn, list[str]]] = {}
    for stand_in in stand_ins_:
        for name, _ in stand_in.unset:
            names = found.setdefault(stand_in.label, (stand_in, []))[1]
            if name not in names:
                names.append(name)
    if not found:
        return []
    places = [(s, name) for s, names in found.values() for name in names]
    listed = "; ".join(f"{label}: {', '.join(names)}" for label, (_, names) in list(found.items())[:NOTES])
    more = f" and {len(found) - NOTES} more" if len(found) > NOTES else ""
    return [warning(
        "W114", f"{len(found)} published version{'s' if len(found) > 1 else ''} checked with stand-in values for "
        f"parameters nothing sets ({listed}{more}): the templates that read them are checked only when a "
        "workload sets them", _declared(*places[0]),
        notes=[Note(f"{name!r} of {s.label}", _declared(s, name)) for s, name in places[1:NOTES]])]


def _declared(stand_in: StandIn, name: str) -> Location:
    return stand_in.profile.meta.loc.at("spec", "parameters", name, key=True)
