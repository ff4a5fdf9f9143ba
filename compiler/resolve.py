"""Stage 3, resolve: for each Workload, its profile version, effective parameters, namespace, and every
component rendered with its traits. Nothing here depends on the clusters; place.py decides where each
resolved workload runs.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import Any

from . import builtins, definitions, images, names, params, policy, schemacheck, templating, valuespath, versions
from .diagnostics import Diagnostic, Diagnostics, Location, Note, error, warning
from .lock import Lock, Rollout
from .model import (
    AllowedProfile, Component, Definition, Environment, Meta, Model, Project, Selector, TraitUse, Workload,
    WorkloadProfile,
)
from .source import PathOutsideRepository, normalize
from .gpu import GpuDemand
from .rendered import ALL_CONTAINERS, ComponentOutput, RenderContext, TraitOutput


@dataclass
class ResolvedTrait:
    type: str
    properties: dict[str, Any]
    output: TraitOutput
    loc: Location


@dataclass
class ResolvedComponent:
    name: str
    type: str
    instance: str  # "<workload>-<component>", at most 53 characters (a Helm release name)
    properties: dict[str, Any]
    output: ComponentOutput
    traits: list[ResolvedTrait]
    depends_on: tuple[str, ...]
    wave: int  # 0 for components without dependencies, else one more than the deepest dependency
    loc: Location
    images: list[tuple[str, str]] = field(default_factory=list)  # (image as written, image as pulled)

    @property
    def replicas(self) -> int:
        counts = [t.output.replicas for t in self.traits if t.output.replicas is not None]
        if counts:
            return counts[-1]
        return self.output.replicas if self.output.replicas is not None else 1


@dataclass
class ResolvedWorkload:
    workload: Workload
    environment: Environment
    project: Project
    profile: WorkloadProfile
    parameters: dict[str, params.EffectiveParameter]
    namespace: str
    components: list[ResolvedComponent]
    gpu_demands: list[GpuDemand] = field(default_factory=list)
    cluster: str | None = None  # set on a copy rendered for one cluster (user templates that read `cluster`)
    stack: bool = False  # an infrastructure stack a cluster needs (requires.profiles), not a team's workload
    rollout: Rollout | None = None  # a newer version on its way, wave by wave
    target: "ResolvedWorkload | None" = None  # the workload at the rollout's destination version

    @property
    def path(self) -> str:
        """Where its files go in a cluster's tree."""
        if self.stack:
            return f"infrastructure/{self.workload.meta.name}"
        return f"workloads/{self.workload.project}/{self.workload.meta.name}"

    @property
    def cluster_specific(self) -> bool:
        return any(c.output.per_cluster or any(t.output.per_cluster for t in c.traits) for c in self.components)

    def for_cluster(self, name: str, context: dict[str, Any]) -> tuple["ResolvedWorkload | None", list[Diagnostic]]:
        """A copy with the templates that read `cluster` rendered for this cluster."""
        problems: list[Diagnostic] = []

        def here(output):
            if output.per_cluster is None:
                return output
            rendered, found = output.per_cluster(cluster=context)
            problems.extend(found)
            return rendered

        components = [dataclasses.replace(component, output=here(component.output),
                                          traits=[dataclasses.replace(t, output=here(t.output))
                                                  for t in component.traits])
                      for component in self.components]
        if any(p.is_error for p in problems):
            return None, problems
        return dataclasses.replace(self, components=components, cluster=name), problems

    @property
    def id(self) -> str:
        return self.workload.id

    @property
    def total_gpus(self) -> int:
        return sum(d.total for d in self.gpu_demands)


def namespace_for(workload: Workload, environment: Environment) -> str:
    if environment.namespace_strategy == "project":
        return workload.project
    return names.join(workload.project, workload.meta.name)


def _version_ranges(workload: Workload, allowed: AllowedProfile | None) -> list[str]:
    """The ranges a version must satisfy: the workload's, and its profile's allowedProfiles entry's, if any."""
    return [workload.version_range] + ([allowed.versions] if allowed and allowed.versions else [])


def choose_version(workload: Workload, environment: Environment, available: dict[str, WorkloadProfile],
                   diagnostics: Diagnostics) -> WorkloadProfile | None:
    """The highest version within the workload's range and the environment's allowedProfiles."""
    at = workload.meta.loc.at("spec", "profile")
    allowed = policy.allowed_range(environment, workload.profile)
    if allowed is False:
        listed = ", ".join(a.name for a in environment.allowed_profiles or ()) or "none"
        diagnostics.error("E702", f"environment {environment.meta.name!r} does not allow profile "
                          f"{workload.profile!r}", at.at("name"), f"profiles allowed there: {listed}",
                          notes=[Note("allowedProfiles set here",
                                      environment.meta.loc.at("spec", "policy", "allowedProfiles"))])
        return None
    ranges = _version_ranges(workload, allowed)
    chosen = versions.highest(available, *ranges)
    if chosen is None:
        listed = ", ".join(sorted(available, key=versions.sort_key))
        in_range = versions.highest(available, workload.version_range)
        if in_range is not None and allowed and allowed.versions:
            diagnostics.error("E702", f"profile {workload.profile!r} {workload.version_range!r} resolves to "
                              f"{in_range}, which environment {environment.meta.name!r} does not allow "
                              f"(allowed: {allowed.versions!r})", at.at("version"),
                              f"versions of {workload.profile!r}: {listed}",
                              notes=[Note("allowed versions set here", allowed.loc.at("versions"))])
        else:
            diagnostics.error("E503", f"no version of profile {workload.profile!r} matches "
                              f"{workload.version_range!r}", at.at("version"), f"versions of {workload.profile!r}: {listed}")
        return None
    return available[chosen]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _waves(components: tuple[Component, ...]) -> dict[str, int]:
    depends = {c.name: c.depends_on for c in components}
    memo: dict[str, int] = {}

    def wave(name: str, trail: frozenset[str]) -> int:
        if name in memo:
            return memo[name]
        deps = [d for d in depends.get(name, ()) if d in depends and d not in trail]  # cycles are reported earlier
        memo[name] = 0 if not deps else 1 + max(wave(d, trail | {name}) for d in deps)
        return memo[name]

    return {c.name: wave(c.name, frozenset()) for c in components}


class _WorkloadResolver:
    def __init__(self, model: Model, workload: Workload, environment: Environment, project: Project,
                 profile: WorkloadProfile, parameters: dict[str, params.EffectiveParameter],
                 namespace: str | None = None):
        self.model = model
        self.workload = workload
        self.environment = environment
        self.profile = profile
        self.namespace = namespace or namespace_for(workload, environment)
        self.problems: list[Diagnostic] = []
        self.variables = {
            "params": {name: p.value for name, p in parameters.items()},
            "workload": {"name": workload.meta.name, "project": workload.project,
                         "environment": workload.environment},
            "namespace": self.namespace,
            "profile": {"name": profile.meta.name, "version": profile.version},
        }
        self.label = f"workload {workload.id}"

    def _render(self, value: Any, loc: Location) -> Any:
        try:
            return templating.render_value(value, self.variables)
        except templating.TemplateProblem as problem:
            self.problems.append(error(problem.code, f"{problem.message} ({self.label})",
                                       loc.at(*problem.path)))
            return None

    def _check(self, definition: Definition, props: dict[str, Any], loc: Location, what: str) -> bool:
        found = schemacheck.check(_definition_validator(definition), props, loc, what=what)
        for problem in found:
            self.problems.append(error("E407", problem.message + f" ({self.label})", problem.location,
                                       problem.hint))
        return not found

    def traits_for(self, component: Component) -> list[tuple[TraitUse, dict[str, Any]]]:
        """Environment defaults < profile < workload; the same trait type merges its properties."""
        merged: dict[str, tuple[TraitUse, dict[str, Any]]] = {}
        uses = [*self.environment.traits, *component.traits, *self.workload.traits.get(component.name, ())]
        for use in uses:
            props = self._render(use.properties, use.loc.at("properties"))
            if props is None:
                continue
            if use.type in merged:
                props = _deep_merge(merged[use.type][1], props)
            merged[use.type] = (use, props)
        return list(merged.values())

    def component(self, component: Component, wave: int) -> ResolvedComponent | None:
        definition = self.model.component_definition(component.type)
        if definition is None:
            return None
        props = self._render(component.properties, component.loc.at("properties"))
        if props is None:
            return None
        what = f"component {component.name!r}"
        if not self._check(definition, props, component.loc.at("properties"), what):
            return None
        props = _with_defaults(definition.parameters, props)
        instance = names.join(self.workload.meta.name, component.name, limit=names.HELM_RELEASE_MAX)
        ctx = RenderContext(workload=self.workload.meta.name, project=self.workload.project,
                            environment=self.workload.environment, namespace=self.namespace,
                            component=component.name, instance=instance, files=self.model.manifest_files)
        if component.type == "manifests" and not self._manifest_files_found(component, props):
            return None
        if component.type == "helm-chart" and props["repository"] not in self.model.repositories:
            self.problems.append(error("E302", f"unknown repository {props['repository']!r}",
                                       component.loc.at("properties", "repository"),
                                       schemacheck.did_you_mean(props["repository"], self.model.repositories)))
            return None
        output = self._run_component(definition, props, ctx, component.loc)
        if output is None:
            return None
        traits = []
        for use, trait_props in self.traits_for(component):
            trait_definition = self.model.trait_definition(use.type)
            if trait_definition is None:
                continue
            if not self._check(trait_definition, trait_props, use.loc.at("properties"), f"trait {use.type!r}"):
                continue
            trait_props = _with_defaults(trait_definition.parameters, trait_props)
            trait_output = self._run_trait(trait_definition, trait_props, ctx, use.loc)
            if trait_output is not None:
                traits.append(ResolvedTrait(use.type, trait_props, trait_output, use.loc))
        if output.helm is not None or output.kustomize_path is not None:
            output = self._external_traits(component, props, output, traits)
            if output is None:
                return None
        output, found = self._images(component, props, output, traits)
        if output is None:
            return None
        return ResolvedComponent(component.name, component.type, instance, props, output, traits,
                                 component.depends_on, wave, component.loc, found)

    def _images(self, component: Component, props: dict[str, Any], output: ComponentOutput,
                traits: list[ResolvedTrait]) -> tuple[ComponentOutput | None, list[tuple[str, str]]]:
        """The component's images, as written and as pulled (after the image-registry trait): from the
        containers of the objects easel renders, and from the chart values the profile names in `imageValues`.
        A chart's values are rewritten here; easel's own objects in render.py."""
        mirror = next((t.output.registry for t in reversed(traits) if t.output.registry), None)
        found: list[tuple[str, str]] = []
        if output.helm is not None and props.get("imageValues"):
            values = copy.deepcopy(output.helm.values)
            for index, path in enumerate(props["imageValues"]):
                value = valuespath.get(values, path)
                image = images.from_values(value)
                if image is None:
                    self.problems.append(error("E407", f"imageValues {path!r}: no image there in the chart values "
                                               f"({self.label})", component.loc.at("properties", "imageValues", index),
                                               "the path names an image string, or a mapping with repository and tag"))
                    return None, []
                if mirror:
                    value = images.rewrite_values(value, mirror)
                    valuespath.put(values, path, value)
                found.append((image, images.from_values(value)))
            output = dataclasses.replace(output, helm=dataclasses.replace(output.helm, values=values))
        elif output.objects is not None:
            for obj in [*output.objects, *(o for t in traits for o in t.output.objects)]:
                for container in images.containers(obj):
                    image = container.get("image")
                    if isinstance(image, str):
                        found.append((image, images.rewrite(image, mirror) if mirror else image))
        return output, found

    def _manifest_files_found(self, component: Component, props: dict[str, Any]) -> bool:
        """Every `files` entry names a manifest file validate loaded. Literal paths were checked (and reported)
        there; a path built from parameters is checked here."""
        found = True
        raw = component.properties.get("files") or []
        for index, path in enumerate(props.get("files") or []):
            try:
                known = normalize(path) in self.model.manifest_files
            except PathOutsideRepository:
                known = False
            if known:
                continue
            found = False
            if index < len(raw) and isinstance(raw[index], str) and templating.has_template(raw[index]):
                self.problems.append(error(
                    "E306", f"manifest file {path!r} (from {raw[index]!r}) is not a loaded manifest file "
                    f"({self.label})", component.loc.at("properties", "files", index),
                    "manifest file paths are written out in the profile, not built from parameters"))
        return found

    def _external_traits(self, component: Component, props: dict[str, Any], output: ComponentOutput,
                         traits: list[ResolvedTrait]) -> ComponentOutput | None:
        """Traits on a chart or folder: through chart values where the profile maps them (`traitValues`), else
        as patches, which need the component's `container` when they change containers."""
        mapping = props.get("traitValues") or {}
        at = component.loc.at("properties", "traitValues")
        ok = True
        if mapping and output.helm is not None:
            values = copy.deepcopy(output.helm.values)
            for key, path in mapping.items():
                trait_type, _, prop = key.partition(".")
                if self.model.trait_definition(trait_type) is None:
                    self.problems.append(error("E302", f"traitValues names unknown trait {trait_type!r}",
                                               at.at(key).as_key()))
                    ok = False
                    continue
                trait = next((t for t in traits if t.type == trait_type), None)
                if trait is None or prop not in trait.properties:
                    continue  # the trait is not used here: the chart keeps its own value
                problem = valuespath.put(values, path, trait.properties[prop])
                if problem:
                    self.problems.append(error("E407", f"traitValues {key}: {problem} ({self.label})", at.at(key)))
                    ok = False
            mapped = {key.partition(".")[0] for key in mapping}
            for trait in traits:
                if trait.type in mapped:
                    trait.output = dataclasses.replace(trait.output, patches=[])
            output = dataclasses.replace(output, helm=dataclasses.replace(output.helm, values=values))
        if not props.get("container"):
            kind = "chart" if output.helm is not None else "kustomize folder"
            for trait in traits:
                if any(_names_every_container(p.body) for p in trait.output.patches):
                    # A patch naming a container the chart lacks would add a broken one: leave containers alone.
                    patches = [dataclasses.replace(p, body=_without_every_container(p.body))
                               for p in trait.output.patches]
                    trait.output = dataclasses.replace(trait.output, patches=[p for p in patches if _has_content(p.body)])
                    self.problems.append(warning(
                        "W103", f"trait {trait.type!r}: its container settings are not applied to {kind} component "
                        f"{component.name!r}, whose containers easel cannot see ({self.label})", trait.loc))
        return output if ok else None

    def _run_component(self, definition: Definition, props: dict[str, Any], ctx: RenderContext,
                       loc: Location) -> ComponentOutput | None:
        if definition.builtin:
            return builtins.COMPONENT_RENDERERS[definition.meta.name](props, ctx)
        if definitions.needs_cluster(definition):  # rendered per cluster, by render.py
            return ComponentOutput(objects=[], per_cluster=functools.partial(
                definitions.run_component, definition, props, ctx, self.label, loc))
        output, problems = definitions.run_component(definition, props, ctx, self.label, loc)
        self.problems.extend(problems)
        return output

    def _run_trait(self, definition: Definition, props: dict[str, Any], ctx: RenderContext,
                   loc: Location) -> TraitOutput | None:
        if definition.builtin:
            return builtins.TRAIT_RENDERERS[definition.meta.name](props, ctx)
        if definitions.needs_cluster(definition):
            return TraitOutput(per_cluster=functools.partial(
                definitions.run_trait, definition, props, ctx, self.label, loc))
        output, problems = definitions.run_trait(definition, props, ctx, self.label, loc)
        self.problems.extend(problems)
        return output


def _with_defaults(schema: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """props with the definition's top-level defaults filled in."""
    defaults = {name: copy.deepcopy(sub["default"]) for name, sub in (schema.get("properties") or {}).items()
                if isinstance(sub, dict) and "default" in sub and name not in props}
    return {**props, **defaults} if defaults else props


def _without_every_container(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    out = {}
    for key, value in body.items():
        if key in ("containers", "initContainers") and isinstance(value, list):
            value = [c for c in value if not (isinstance(c, dict) and c.get("name") == ALL_CONTAINERS)]
            if value:
                out[key] = value
        else:
            out[key] = _without_every_container(value)
    return out


def _has_content(body: Any) -> bool:
    if isinstance(body, dict):
        return any(_has_content(v) for v in body.values())
    return body not in ({}, [], None)


def _names_every_container(body: Any) -> bool:
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                if any(isinstance(c, dict) and c.get("name") == ALL_CONTAINERS for c in value):
                    return True
            elif _names_every_container(value):
                return True
    return False


_DEFINITION_VALIDATORS: dict[tuple[str, str], tuple[Definition, Any]] = {}


def _definition_validator(definition: Definition):
    key = (definition.kind, definition.meta.name)
    cached = _DEFINITION_VALIDATORS.get(key)
    if cached is None or cached[0] is not definition:
        cached = (definition, schemacheck.validator(definition.parameters))
        _DEFINITION_VALIDATORS[key] = cached
    return cached[1]


STACKS = "infrastructure"  # the project name infrastructure stacks are resolved under


def resolve_stack(model: Model, profile: WorkloadProfile) -> tuple[ResolvedWorkload | None, list[Diagnostic]]:
    """An infrastructure stack (a profile named in `requires.profiles`) as a cluster runs it: in a namespace of
    its own name, with its defaults and the easel.yaml parameters, and no team's traits or policy."""
    meta = Meta(name=profile.meta.name, loc=profile.meta.loc)
    workload = Workload(meta=meta, project=STACKS, environment=STACKS, profile=profile.meta.name,
                        version_range=profile.version, parameters={}, traits={})
    environment = Environment(
        meta=Meta(name=STACKS, loc=profile.meta.loc), projects=(STACKS,), selector=Selector(),
        number_of_clusters=None, prioritizers=(), tolerations=(), spread_by=None, max_skew=1,
        namespace_strategy="workload", namespace_quota={}, isolation="none", parameters={}, traits=(),
        allowed_profiles=None, max_gpus_per_workload=None, required_traits=(), allowed_registries=None,
        rollout_strategy="all", waves=())
    project = Project(meta=Meta(name=STACKS, loc=profile.meta.loc), quota_gpus=None, quota_by_product={},
                      parameters={})
    effective, problems = params.effective(profile, model.settings, None, None, workload)
    if problems:
        return None, problems
    resolver = _WorkloadResolver(model, workload, environment, project, profile, effective,
                                 namespace=profile.meta.name)
    resolver.label = f"stack {profile.meta.name} {profile.version}"
    components = _components(resolver, profile)
    if components is None:
        return None, resolver.problems
    return ResolvedWorkload(workload, environment, project, profile, effective, profile.meta.name, components,
                            stack=True), resolver.problems


def _components(resolver: "_WorkloadResolver", profile: WorkloadProfile) -> list[ResolvedComponent] | None:
    """The profile's components resolved (problems go to resolver.problems); None when any has an error."""
    waves = _waves(profile.components)
    components = [resolver.component(c, waves[c.name]) for c in profile.components]
    if any(p.is_error for p in resolver.problems) or any(c is None for c in components):
        return None
    return [c for c in components if c is not None]


_PER_WORKLOAD = re.compile(r"^(?P<message>.*) \(workload (?P<workload>[^)]+)\)$", re.S)


def _merged(problems: list[Diagnostic]) -> list[Diagnostic]:
    """A mistake in a profile shows once per workload using it: say it once, naming the workloads."""
    groups: dict[tuple, list[str]] = {}
    firsts: dict[tuple, Diagnostic] = {}
    out: list[Diagnostic | tuple] = []
    for problem in problems:
        match = _PER_WORKLOAD.match(problem.message)
        if not match:
            out.append(problem)
            continue
        key = (problem.code, problem.location, match["message"], problem.hint, problem.notes)
        if key not in groups:
            groups[key], firsts[key] = [], problem
            out.append(key)
        groups[key].append(match["workload"])
    merged = []
    for item in out:
        if isinstance(item, Diagnostic):
            merged.append(item)
            continue
        names = groups[item]
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        noun = "workload" if len(names) == 1 else "workloads"
        merged.append(dataclasses.replace(firsts[item], message=f"{item[2]} ({noun} {listed})"))
    return merged


def _version_plan(workload: Workload, environment: Environment, available: dict[str, WorkloadProfile],
                  lock: Lock, update: str | None, diagnostics: Diagnostics
                  ) -> tuple[WorkloadProfile, Rollout | None] | None:
    """The version the workload runs, and the rollout that moves it on, if one is under way.

    A recorded version is kept while allowed. `update` moves to the newest allowed version: at once, or, in an
    environment with rollout waves, as a rollout that starts at wave 1. A rollout whose versions are no longer
    both allowed ends: at its destination when that is still allowed, else where it came from."""
    newest = choose_version(workload, environment, available, diagnostics)
    if newest is None:
        return None
    ranges = _version_ranges(workload, policy.allowed_range(environment, workload.profile) or None)

    def allowed(version: str | None) -> bool:
        return version in available and all(versions.satisfies(version, r) for r in ranges)

    locked_profile, locked = lock.versions.get(workload.id, (None, None))
    if locked_profile != workload.profile:
        return newest, None
    updating = update in ("*", workload.profile)
    progressive = environment.rollout_strategy == "progressive" and bool(environment.waves)
    rollout = lock.rollouts.get(workload.id)
    if rollout is not None:
        if allowed(rollout.from_version) and allowed(rollout.to_version):
            if not updating or newest.version == rollout.to_version:
                return available[rollout.from_version], rollout
            locked = rollout.from_version  # an update during a rollout starts a new one from where it came
        elif allowed(rollout.to_version):
            return available[rollout.to_version], None
        elif allowed(rollout.from_version):
            return available[rollout.from_version], None
    if not allowed(locked):
        return newest, None
    if updating and newest.version != locked:
        if progressive:
            return available[locked], Rollout(locked, newest.version, 1)
        return newest, None
    return available[locked], None


def _resolve_one(model: Model, workload: Workload, environment: Environment, project: Project,
                 profile: WorkloadProfile, diagnostics: Diagnostics) -> ResolvedWorkload | None:
    effective, problems = params.effective(profile, model.settings, project, environment, workload)
    diagnostics.extend(problems)
    if problems:
        return None
    resolver = _WorkloadResolver(model, workload, environment, project, profile, effective)
    component_names = [c.name for c in profile.components]
    for name in workload.traits:
        if name not in component_names:
            diagnostics.error("E302", f"profile {profile.meta.name} {profile.version} has no component {name!r}",
                              workload.meta.loc.at("spec", "traits", name, key=True),
                              schemacheck.did_you_mean(name, component_names))
    components = _components(resolver, profile)
    diagnostics.extend(resolver.problems)
    if components is None:
        return None
    result = ResolvedWorkload(workload, environment, project, profile, effective, resolver.namespace, components)
    for component in result.components:
        for trait in component.traits:
            if trait.output.gpu is not None:
                result.gpu_demands.append(GpuDemand(component.name, trait.output.gpu, component.replicas,
                                                    trait.loc))
    diagnostics.extend(policy.check_workload(result))
    return result


def resolve(model: Model, update: str | None = None) -> tuple[list[ResolvedWorkload], Diagnostics]:
    """Every workload resolved. Versions in easel.lock are kept, but for `update`: "*" (every profile) or the
    name of a profile whose workloads move to the newest allowed version (see _version_plan)."""
    diagnostics = Diagnostics()
    resolved: list[ResolvedWorkload] = []
    for workload in model.workloads.values():
        environment = model.environments.get(workload.environment)
        project = model.projects.get(workload.project)
        available = model.profiles.get(workload.profile)
        if environment is None or project is None or not available:
            continue  # reported by validate
        if not environment.admits(workload.project):
            diagnostics.error("E701", f"project {workload.project!r} may not deploy to environment "
                              f"{environment.meta.name!r}", workload.meta.loc.at("spec", "environment"),
                              notes=[Note("projects allowed there", environment.meta.loc.at("spec", "projects")
                                          if environment.projects else environment.meta.loc.at("spec"))])
            continue
        plan = _version_plan(workload, environment, available, model.lock, update, diagnostics)
        if plan is None:
            continue
        profile, rollout = plan
        result = _resolve_one(model, workload, environment, project, profile, diagnostics)
        if result is None:
            continue
        if rollout is not None:
            target = _resolve_one(model, workload, environment, project, available[rollout.to_version], diagnostics)
            if target is None:
                continue
            result.rollout, result.target = rollout, target
        resolved.append(result)
    diagnostics.items = _merged(diagnostics.items)
    return resolved, diagnostics
