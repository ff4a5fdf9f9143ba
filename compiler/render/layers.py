"""The names of a Flux cluster's layers (its Kustomizations in flux/layers/): one per component, and a hydrated
chart's beside its own; the proof and the hydrate stage name them too."""

from __future__ import annotations

from compiler.decide.resolve import ResolvedComponent
from compiler.kube import names
from compiler.plan import Release


def layer_name(release: Release, component: ResolvedComponent) -> str:
    """easel-<project>-<workload>-<component>, easel-infrastructure-<stack>-<component>: unique on a cluster."""
    return names.join("easel", release.group, component.instance)


def hydrated_layer(release: Release, component: ResolvedComponent, part: str) -> str:
    """The layer of one of a hydrated chart's folders beside its own (plan.HYDRATED_FOLDERS): its layer's name and
    the part after a dot, which no component's layer name has (a component called `crds` is `...-crds`)."""
    return names.shorten(f"{layer_name(release, component)}.{part}")


def ready_layer(release: Release, component: ResolvedComponent) -> str:
    """The layer that is Ready once the component is: a hydrated chart's after its hooks that run after it (as a
    HelmRelease is Ready only once its post-install hooks ran), else its own."""
    chart = release.hydrated.get(component.name) if release.hydrates(component) else None
    return hydrated_layer(release, component, "after") if chart is not None and chart.after else \
        layer_name(release, component)
