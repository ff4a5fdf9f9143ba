"""Components and traits: each component of a profile rendered by its definition, with its traits (environment
defaults < profile < workload < the cluster's mirror; the same trait type merges its properties), properties
checked against each definition's schema and `{{ params.x }}` placeholders filled in."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler import definitions
from compiler.decide.resolve import chart_sources, chart_values
from compiler.decide.resolve.chart_pods import ChartPods
from compiler.decide.resolve.types import ResolvedComponent, ResolvedTrait
from compiler.definitions import builtins, templating
from compiler.definitions.builtins import typed
from compiler.diagnostics import Diagnostic, Location, Subject, error
from compiler.kube import claims, names, podless, podtemplates
from compiler.kube import merge as smp
from compiler.load.source import PathOutsideRepository, normalize
from compiler.model import (
    DEFAULT_RELEASE,
    Component,
    Definition,
    Model,
    ReleaseOptions,
    TraitUse,
    WorkloadProfile,
    graph,
)
from compiler.model.gpu import DEVICE_PLUGIN
from compiler.model.parts import (
    DEFAULT_EXTERNAL_KINDS,
    ClusterTemplate,
    ComponentOutput,
    ExternalSource,
    Patch,
    RenderContext,
    TraitOutput,
)
from compiler.schemas import check as schemacheck
from compiler.schemas.defaults import with_defaults


@dataclass(frozen=True)
class Owner:
    """Whose components are resolved: a workload, or an infrastructure stack (whose templates see the project and
    environment "infrastructure")."""
    name: str
    project: str
    environment: str
    namespace: str
    subject: Subject  # named after the message of each problem found
    default_traits: tuple[TraitUse, ...] = ()  # the environment's, on every component
    added_traits: Mapping[str, tuple[TraitUse, ...]] = field(default_factory=dict)  # the workload's, by component
    required_traits: tuple[str, ...] = ()  # the environment's policy: these must reach every pod
    release: ReleaseOptions = DEFAULT_RELEASE  # release options below the components' own (the environment's)
    gpu_allocation: str = DEVICE_PLUGIN  # how the clusters it is resolved for hand out GPUs (device-plugin | dra)
    dra_products: tuple[tuple[str, str], ...] = ()  # under DRA: GPU product -> the name the DRA driver publishes
    cluster_traits: tuple[TraitUse, ...] = ()  # the cluster's (its mirror): over every other trait of its type
    charts: ChartPods | None = None  # the pods of charts easel can render, to find a missing target (chart_pods.py)


def resolve_components(model: Model, owner: Owner, profile: WorkloadProfile, parameters: Mapping[str, Any]
                       ) -> tuple[tuple[ResolvedComponent, ...] | None, list[Diagnostic]]:
    """The profile's components resolved; None (and the problems) when any has an error."""
    resolver = _Resolver(model, owner, profile, parameters)
    waves = graph.depths({c.name: c.depends_on for c in profile.components})
    components = [resolver.component(c, waves[c.name]) for c in profile.components]
    if any(p.is_error for p in resolver.problems) or any(c is None for c in components):
        return None, resolver.problems
    return tuple(c for c in components if c is not None), resolver.problems


class _Resolver:
    def __init__(self, model: Model, owner: Owner, profile: WorkloadProfile, parameters: Mapping[str, Any]):
        self.model = model
        self.owner = owner
        self.problems: list[Diagnostic] = []
        self.variables = {
            "params": dict(parameters),
            "workload": {"name": owner.name, "project": owner.project, "environment": owner.environment},
            "namespace": owner.namespace,
            "profile": {"name": profile.meta.name, "version": profile.version},
        }

    def _error(self, code: str, message: str, location: Location | None, hint: str | None = None) -> None:
        self.problems.append(error(code, message, location, hint, subject=self.owner.subject))

    def _render(self, value: Any, loc: Location) -> Any:
        try:
            return templating.render_value(value, self.variables)
        except templating.TemplateProblem as problem:
            self._error(problem.code, problem.message, loc.at(*problem.path))
            return None

    def _check(self, definition: Definition, props: dict[str, Any], loc: Location, what: str) -> bool:
        found = schemacheck.check(_definition_validator(definition), props, loc, what=what)
        for problem in found:
            self._error("E407", problem.message, problem.location, problem.hint)
        return not found

    def _trait_properties(self, component: Component
                          ) -> list[tuple[TraitUse, dict[str, Any], tuple[TraitUse, ...]]]:
        """Environment defaults < profile < workload < the cluster's; the same trait type merges its properties.
        Each: the last use of the type, the merged properties, and every use merged, in order."""
        merged: dict[str, tuple[TraitUse, dict[str, Any], tuple[TraitUse, ...]]] = {}
        uses = [*self.owner.default_traits, *component.traits, *self.owner.added_traits.get(component.name, ()),
                *self.owner.cluster_traits]
        for use in uses:
            props = self._render(use.properties, use.loc.at("properties"))
            if props is None:
                continue
            before: tuple[TraitUse, ...] = ()
            if use.type in merged:
                props = _deep_merge(merged[use.type][1], props)
                before = merged[use.type][2]
            merged[use.type] = (use, props, (*before, use))
        return list(merged.values())

    def component(self, component: Component, wave: int) -> ResolvedComponent | None:
        definition = self.model.component_definition(component.type)
        if definition is None:
            return None
        props = self._render(component.properties, component.loc.at("properties"))
        if props is None:
            return None
        if not self._check(definition, props, component.loc.at("properties"), f"component {component.name!r}"):
            return None
        props = with_defaults(definition.parameters, props)
        instance = names.join(self.owner.name, component.name, limit=names.HELM_RELEASE_MAX)
        ctx = RenderContext(workload=self.owner.name, project=self.owner.project, environment=self.owner.environment,
                            namespace=self.owner.namespace, component=component.name, instance=instance,
                            files=self.model.manifest_files, gpu_allocation=self.owner.gpu_allocation,
                            dra_products=self.owner.dra_products,
                            charts={folder: (a.name, a.version) for folder, a in self.model.in_house.items()})
        if component.type == "manifests" and not (self._manifest_files_found(component, props)
                                                  and self._pod_templates_valid(component, props)):
            return None
        output = self._run_component(definition, props, ctx, component.loc)
        output = chart_sources.sourced(self.model, component, output, self.problems) if output is not None else None
        if output is None:
            return None
        traits = self._traits(component, ctx)
        external = typed.external_source(component.type, props) if definition.builtin else None
        if output.objects is not None and output.cluster_template is None:
            pods_declared = definition.pods_declared or (component.type == "manifests" and "podTemplates" in props)
            self._check_reach(component, output, traits, pods_declared)
            self._check_claim_templates(component, output, traits)
            self._check_gpu_pods(component, output, traits)
        looked = chart_values.looked_at(self.model, component, external, output, traits, self.owner.subject,
                                        self.owner.gpu_allocation, self.owner.charts, instance, self.owner.namespace)
        external = looked.external  # with the target and container found in the rendered chart
        traits = _claims_where_mounted(output, external, traits)
        found = chart_values.apply(self.model, component, external, output, traits, self.owner.subject,
                                   self.owner.required_traits, self.owner.gpu_allocation, looked)
        self.problems.extend(found.problems)
        if found.output is None:
            return None
        return ResolvedComponent(component.name, component.type, instance, props, found.output, found.traits,
                                 component.depends_on, wave, component.loc, found.images,
                                 gpu_pods(found.output, found.traits), component.release.over(self.owner.release),
                                 external, looked.found)

    def _traits(self, component: Component, ctx: RenderContext) -> list[ResolvedTrait]:
        traits = []
        for use, props, merged in self._trait_properties(component):
            definition = self.model.trait_definition(use.type)
            if definition is None:
                continue
            if not self._check(definition, props, use.loc.at("properties"), f"trait {use.type!r}"):
                continue
            props = with_defaults(definition.parameters, props)
            output = self._run_trait(definition, props, ctx, use.loc)
            if output is not None:
                placement = typed.node_placement(use.type, props) if definition.builtin else None
                traits.append(ResolvedTrait(use.type, props, output, use.loc, use.origin, placement, merged))
        return traits

    def _check_reach(self, component: Component, output: ComponentOutput, traits: list[ResolvedTrait],
                     pods_declared: bool) -> None:
        """Every patch of every trait reaches an object of the component (but the pod labels of the labels
        trait, whose object labels apply anyway): a trait is never skipped silently. pods_declared: the component
        says where all its custom kinds' pods are (`podTemplates`, `[]` too)."""
        declared = output.pod_templates
        objects = [*(output.objects or ()), *(o for t in traits for o in t.output.objects)]
        unknown = _unknown_custom_kinds(objects, declared, pods_declared)
        podless = not unknown and not any(podtemplates.is_pod_bearing(o, declared) for o in objects)
        for trait in traits:
            if trait.type == "labels" or trait.output.cluster_template is not None:
                continue
            if podless and (trait.origin == "environment" or trait.type in self.owner.required_traits):
                continue  # an environment's defaults and requirements go to every component: one without pods
            patches = trait.output.patches
            reached = [any(podtemplates.reaches(p, obj, declared) for obj in objects) for p in patches]
            hits = list(zip(patches, reached, strict=True))
            for patch, hit in hits:
                if hit or any(h and _for_other_kinds(patch, other) for other, h in hits):
                    continue  # one of a trait's pod-level patches for other kinds (storage's) reaches
                self._error("E409", _not_reached(trait, patch, component, objects, declared), trait.loc,
                            _reach_hint(patch, unknown, component.type == "manifests"))
                break

    def _check_claim_templates(self, component: Component, output: ComponentOutput,
                               traits: list[ResolvedTrait]) -> None:
        """A trait's claim template goes only to StatefulSets without claim templates of their own: the patch
        would replace them (Kubernetes merges the list whole)."""
        for obj in output.objects or ():
            own = claims.own_claim_templates(obj)
            for trait in traits if own else ():
                if any(claims.sets_claim_templates(p) and podtemplates.reaches(p, obj, output.pod_templates)
                       for p in trait.output.patches):
                    self._error("E413", f"trait {trait.type!r} of component {component.name!r} gives StatefulSet "
                                f"{(obj.get('metadata') or {}).get('name')!r} a claim template, which would replace "
                                f"its own volumeClaimTemplates ({', '.join(own)})", trait.loc)

    def _check_gpu_pods(self, component: Component, output: ComponentOutput, traits: list[ResolvedTrait]) -> None:
        """GPUs are asked only for pods whose number at once the objects state (podtemplates.unbookable)."""
        objects = [*(output.objects or ()), *(o for t in traits for o in t.output.objects)]
        patches = [p for t in traits for p in t.output.patches]
        for trait in traits:
            if trait.output.gpu is None or not trait.output.patches:
                continue
            reached = podtemplates.unbookable_reached(objects, patches, trait.output.patches[0], output.pod_templates)
            for obj, (code, why) in reached:
                self._error(code, f"trait {trait.type!r} of component {component.name!r} asks for GPUs for the pods "
                            f"of {obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r}, which easel cannot "
                            f"book: {why}", trait.loc)

    def _pod_templates_valid(self, component: Component, props: dict[str, Any]) -> bool:
        """Every `podTemplates` entry of a manifests component names a custom kind and a path to a field."""
        for index, entry in enumerate(props.get("podTemplates", ())):
            problem = podtemplates.declared_problem(entry)
            if problem is not None:
                field_, message, hint = problem
                self._error("E407", message, component.loc.at("properties", "podTemplates", index, field_), hint)
                return False
        return True

    def _manifest_files_found(self, component: Component, props: dict[str, Any]) -> bool:
        """Every `files` entry names a manifest file validate loaded. Literal paths were checked (and reported)
        there; a path built from parameters is checked here."""
        found = True
        raw = typed.manifest_files(component.properties)  # as written: a path built from parameters is reported
        for index, path in enumerate(typed.manifest_files(props)):
            try:
                known = normalize(path) in self.model.manifest_files
            except PathOutsideRepository:
                known = False
            if known:
                continue
            found = False
            if index < len(raw) and isinstance(raw[index], str) and templating.has_template(raw[index]):
                self._error("E306", f"manifest file {path!r} (from {raw[index]!r}) is not a loaded manifest file",
                            component.loc.at("properties", "files", index),
                            "manifest file paths are written out in the profile, not built from parameters")
        return found

    def _run_component(self, definition: Definition, props: dict[str, Any], ctx: RenderContext,
                       loc: Location) -> ComponentOutput | None:
        if definition.builtin:
            return builtins.COMPONENT_RENDERERS[definition.meta.name](props, ctx)
        if definitions.needs_cluster(definition):  # rendered per cluster, by the plan stage
            return ComponentOutput(objects=[], cluster_template=ClusterTemplate(
                definition, props, ctx, self.owner.subject, loc))
        output, problems = definitions.run_component(definition, props, ctx, self.owner.subject, loc)
        self.problems.extend(problems)
        return output

    def _run_trait(self, definition: Definition, props: dict[str, Any], ctx: RenderContext,
                   loc: Location) -> TraitOutput | None:
        if definition.builtin:
            return builtins.TRAIT_RENDERERS[definition.meta.name](props, ctx)
        if definitions.needs_cluster(definition):
            return TraitOutput(cluster_template=ClusterTemplate(definition, props, ctx, self.owner.subject, loc))
        output, problems = definitions.run_trait(definition, props, ctx, self.owner.subject, loc)
        self.problems.extend(problems)
        return output


def _for_other_kinds(patch: Patch, other: Patch) -> bool:
    """Whether two pod-level patches of one trait are for different kinds: alternatives, one per kind."""
    return patch.kind is None and other.kind is None and not set(patch.kinds) & set(other.kinds)


def _claims_where_mounted(output: ComponentOutput, external: ExternalSource | None,
                          traits: list[ResolvedTrait]) -> list[ResolvedTrait]:
    """The traits, with the claims they bring only where a pod mounts them: a storage trait's shared claim
    only with a Deployment to mount it (a StatefulSet gets claim templates instead). On a chart or folder,
    whose StatefulSets easel cannot see, a claim template goes only to a StatefulSet `target`."""
    if output.cluster_template is not None:
        return traits  # its objects are rendered per cluster: every claim stays
    if output.objects is not None:
        mounted = claims.claims_mounted(output.objects, [p for t in traits for p in t.output.patches],
                                        output.pod_templates)
    else:
        target = external.target if external is not None else None
        to_statefulset = target is not None and target.kind == "StatefulSet"
        traits = [_with_patches(t, [p for p in t.output.patches
                                    if to_statefulset or not claims.sets_claim_templates(p)]) for t in traits]
        mounted = claims.claims_named(p for t in traits for p in t.output.patches
                                      if (target.kind in p.kinds if target is not None
                                          else set(p.kinds) & set(DEFAULT_EXTERNAL_KINDS)))
    return [_without_claims(t, claims.claims_named(t.output.patches) - mounted) for t in traits]


def _with_patches(trait: ResolvedTrait, patches: list[Patch]) -> ResolvedTrait:
    if len(patches) == len(trait.output.patches):
        return trait
    return dataclasses.replace(trait, output=dataclasses.replace(trait.output, patches=patches))


def _without_claims(trait: ResolvedTrait, unmounted: set[str]) -> ResolvedTrait:
    objects = [o for o in trait.output.objects if not (o.get("kind") == "PersistentVolumeClaim"
                                                       and (o.get("metadata") or {}).get("name") in unmounted)]
    if len(objects) == len(trait.output.objects):
        return trait
    return dataclasses.replace(trait, output=dataclasses.replace(trait.output, objects=objects))


def gpu_pods(output: ComponentOutput, traits: tuple[ResolvedTrait, ...]) -> int | None:
    """How many pods of the component's own objects request its GPUs, counted on the objects as rendered (with
    the replicas its traits set): what placement books. None for a chart or folder, and for objects not rendered
    yet because their template reads `cluster` (specialize.py counts them on each cluster)."""
    gpu_patches = [p for t in traits if t.output.gpu is not None for p in t.output.patches]
    if output.objects is None or output.cluster_template is not None or not gpu_patches:
        return None
    objects = [*output.objects, *(o for t in traits for o in t.output.objects)]
    patches = [p for t in traits for p in t.output.patches]
    return podtemplates.pods_reached(objects, patches, gpu_patches[0], output.pod_templates)


def _not_reached(trait: ResolvedTrait, patch, component: Component, objects: list[dict[str, Any]],
                 declared) -> str:
    kinds = sorted({str(o.get("kind")) for o in objects}) or ["none"]
    names_ = sorted(podtemplates.named_containers(patch)) if patch.kind is None else []
    if names_ and any(podtemplates.is_pod_bearing(o, declared) for o in objects):
        ran = sorted({str(c.get("name")) for o in objects for t in podtemplates.templates(o, declared)
                      for c in podtemplates.containers(t.template)})
        return (f"trait {trait.type!r} of component {component.name!r} changes container "
                f"{', '.join(map(repr, names_))}, which none of its pods runs (they run {', '.join(ran) or 'none'})")
    wanted = patch.kind or " or ".join(dict.fromkeys(k for p in trait.output.patches if p.kind is None
                                                     for k in p.kinds))  # storage: a Deployment or a StatefulSet
    return (f"trait {trait.type!r} of component {component.name!r} applies to {wanted}"
            + (f" {patch.name!r}" if patch.name else "") + f"; the component renders {', '.join(kinds)}")


def _unknown_custom_kinds(objects: list[dict[str, Any]], declared, pods_declared: bool) -> list[str]:
    """The custom kinds among the objects that easel cannot tell run pods or not: not declared in
    `podTemplates`, not known to run none (kube/podless.py), and the component did not say where all its pods
    are."""
    if pods_declared:
        return []
    known = podless.kinds_without_pods(objects)
    return sorted({str(o.get("kind")) for o in objects if not smp.type_of(o.get("apiVersion"), o.get("kind"))
                   and not podtemplates.is_pod_bearing(o, declared) and not podless.runs_no_pods(o, known)})


def _reach_hint(patch, unknown: list[str], manifests: bool) -> str | None:
    if unknown and patch.kind is None:
        where = "the component's properties" if manifests else "the ComponentDefinition"
        return (f"easel cannot tell whether {', '.join(unknown)} runs pods: if not, write `podTemplates: []` in "
                f"{where} (pod-level traits of the environment then pass over it); if it does, say where it "
                f"keeps their templates there: "
                f"`podTemplates: [{{kind: {unknown[0]}, path: spec.<...>.template, replicas: replicas}}]`")
    if patch.kind is None and podtemplates.named_containers(patch):
        return "name a container the component's pods run in the trait's `container`, or leave `container` out"
    return None


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


_DEFINITION_VALIDATORS: dict[tuple[str, str], tuple[Definition, Any]] = {}


def _definition_validator(definition: Definition):
    key = (definition.kind, definition.meta.name)
    cached = _DEFINITION_VALIDATORS.get(key)
    if cached is None or cached[0] is not definition:
        cached = (definition, schemacheck.validator(definition.parameters))
        _DEFINITION_VALIDATORS[key] = cached
    return cached[1]
