"""A workload whose definition templates read `cluster`, rendered for one cluster: its templates run with that
cluster's facts, and what depends on the objects they render is worked out again from them, the images it pulls
(images.txt, allowedRegistries) and the pods that request its GPUs (what placement books there). Decide does this
for each cluster before placing, so that a template whose replicas follow the cluster is booked as it runs; plan
does it for each cluster the workload is placed on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from compiler import definitions
from compiler.decide.resolve.chart_values import object_images
from compiler.decide.resolve.components import gpu_pods
from compiler.decide.resolve.types import ResolvedComponent, ResolvedWorkload
from compiler.diagnostics import Diagnostic
from compiler.model.gpu import GpuDemand


def demands_of(components: tuple[ResolvedComponent, ...]) -> tuple[GpuDemand, ...]:
    """What the components' `gpu` traits ask for, times the pods each component runs."""
    return tuple(GpuDemand(component.name, trait.output.gpu, component.replicas, trait.loc, _selected(component))
                 for component in components for trait in component.traits if trait.output.gpu is not None)


def _selected(component: ResolvedComponent) -> tuple[tuple[str, str], ...]:
    """The node labels the component's node-placement traits select, the last one's value for a key."""
    found: dict[str, str] = {}
    for trait in component.traits:
        if trait.placement is not None:
            found.update(trait.placement.node_selector)
    return tuple(sorted(found.items()))


def for_cluster(workload: ResolvedWorkload, context: Mapping[str, Any]
                ) -> tuple[ResolvedWorkload | None, list[Diagnostic]]:
    """The workload with its cluster templates rendered for the cluster whose template context this is
    (inventory.template_context); None, with the errors, when one fails there."""
    problems: list[Diagnostic] = []

    def here(output: Any, run: Callable) -> Any:
        template = output.cluster_template
        if template is None:
            return output
        rendered, found = run(template.definition, template.properties, template.context, template.subject,
                              template.loc, cluster=dict(context))
        problems.extend(found)
        return rendered

    components = []
    for component in workload.components:
        if not component.cluster_specific:
            components.append(component)
            continue
        output = here(component.output, definitions.run_component)
        traits = tuple(dataclasses.replace(t, output=here(t.output, definitions.run_trait)) for t in component.traits)
        if output is None or any(t.output is None for t in traits):
            continue
        specialized = dataclasses.replace(component, output=output, traits=traits)
        if output.objects is not None and output.helm is None and output.kustomize_path is None:
            specialized = dataclasses.replace(specialized, images=tuple(object_images(output, traits)),
                                              gpu_pods=gpu_pods(output, traits))
        components.append(specialized)
    if any(p.is_error for p in problems):
        return None, problems
    specialized_components = tuple(components)
    return dataclasses.replace(workload, components=specialized_components,
                               gpu_demands=demands_of(specialized_components)), problems
