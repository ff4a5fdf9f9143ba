"""Resolve (a step of deciding): a workload (or an infrastructure stack) at one profile version, with its
effective parameters (params.py), its components rendered with their traits (components.py; traits on charts
through chart_values.py) and its GPU demand. Nothing here depends on the clusters; which version to resolve is chosen
by version_choice.py, and policy checks the result in a step of its own (policy.py).
"""

from __future__ import annotations

from compiler.decide.resolve import params
from compiler.decide.resolve.chart_pods import ChartPods
from compiler.decide.resolve.components import Owner, resolve_components
from compiler.decide.resolve.specialize import demands_of
from compiler.decide.resolve.types import (
    STACKS,
    Resolutions,
    ResolvedComponent,
    ResolvedStack,
    ResolvedTrait,
    ResolvedWorkload,
)
from compiler.diagnostics import Diagnostic, Subject, error
from compiler.kube import names
from compiler.model import DEFAULT_RELEASE, Cluster, Environment, Model, Project, TraitUse, Workload, WorkloadProfile
from compiler.model.gpu import DEVICE_PLUGIN
from compiler.schemas import check as schemacheck

__all__ = [
    "STACKS",
    "ChartPods",
    "Resolutions",
    "ResolvedComponent",
    "ResolvedStack",
    "ResolvedTrait",
    "ResolvedWorkload",
    "cluster_traits",
    "namespace_for",
    "resolve_stack",
    "resolve_workload",
]

IMAGE_REGISTRY = "image-registry"  # the built-in trait a cluster's mirror is applied as


def cluster_traits(cluster: Cluster) -> tuple[TraitUse, ...]:
    """What a cluster adds, over every other trait, to what is resolved for it: its mirror, as the image-registry
    trait (so that what a mirror rewrites, and how, is the trait's one way)."""
    mirror = cluster.registry.mirror
    if mirror is None:
        return ()
    return (TraitUse(IMAGE_REGISTRY, {"registry": mirror}, cluster.meta.loc.at("spec", "registry", "mirror"),
                     "cluster"),)


def namespace_for(workload: Workload, environment: Environment) -> str:
    if environment.namespace_strategy == "project":
        return workload.project
    return names.join(workload.project, workload.meta.name)


def resolve_workload(model: Model, workload: Workload, environment: Environment, project: Project,
                     profile: WorkloadProfile, gpu_allocation: str = DEVICE_PLUGIN,
                     dra_products: tuple[tuple[str, str], ...] = (), on_cluster: tuple[TraitUse, ...] = (),
                     charts: ChartPods | None = None) -> tuple[ResolvedWorkload | None, list[Diagnostic]]:
    """gpu_allocation: how the clusters it is resolved for hand out GPUs (a workload with GPUs placed on clusters
    of both kinds is resolved once for each); dra_products: under DRA, the names the driver gives the products;
    on_cluster: the traits the clusters it is resolved for add (cluster_traits); charts: the charts easel can
    render, where it finds a chart's target and container the profile leaves out (chart_pods.py)."""
    effective, problems = params.effective(profile, model.settings, project, environment, workload.parameters,
                                           workload.asks_at)
    if problems:
        return None, problems
    namespace = namespace_for(workload, environment)
    owner = Owner(workload.meta.name, workload.project, workload.environment, namespace,
                  Subject("workload", (workload.id,)), environment.traits, workload.traits,
                  environment.required_traits, environment.release.over(DEFAULT_RELEASE), gpu_allocation,
                  dra_products, on_cluster, charts)
    component_names = [c.name for c in profile.components]
    for name in workload.traits:
        if name not in component_names:
            problems.append(error("E302", f"profile {profile.meta.name} {profile.version} has no component {name!r}",
                                  workload.meta.loc.at("spec", "traits", name, key=True),
                                  schemacheck.did_you_mean(name, component_names)))
    components, found = resolve_components(model, owner, profile, {n: p.value for n, p in effective.items()})
    problems.extend(found)
    if components is None:
        return None, problems
    return ResolvedWorkload(workload, environment, project, profile, effective, namespace, components,
                            demands_of(components)), problems


def resolve_stack(model: Model, profile: WorkloadProfile, on_cluster: tuple[TraitUse, ...] = (),
                  charts: ChartPods | None = None) -> tuple[ResolvedStack | None, list[Diagnostic]]:
    """A stack in a namespace of its own name, with its defaults and the easel.yaml parameters; on_cluster: the
    traits the clusters it is resolved for add (cluster_traits); charts: as for a workload."""
    name = profile.meta.name
    effective, problems = params.effective(profile, model.settings, None, None, {},
                                           profile.meta.loc.at("spec", "profile").as_key())
    if problems:
        return None, problems
    owner = Owner(name, STACKS, STACKS, name, Subject("stack", (f"{name} {profile.version}",)),
                  cluster_traits=on_cluster, charts=charts)
    components, problems = resolve_components(model, owner, profile, {n: p.value for n, p in effective.items()})
    if components is None:
        return None, problems
    return ResolvedStack(profile, effective, components), problems
