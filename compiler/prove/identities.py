"""Two objects of one cluster under one name: the engine would apply both to one object, and the last applied wins
(Flux Kustomizations, and Argo CD Applications, fight over it on every sync). Names that differ in the input can
meet in the output (names run together: a project `apps`, a workload `shop-web` beside `shop`'s component `web`),
so the proof compares what each component's folder applies, and the engine's own objects (a Flux layer per
component, an Argo CD Application per component and per workload), by group, kind, namespace and name (E801)."""

from __future__ import annotations

from typing import Any

from compiler.kube.api import cluster_scoped
from compiler.plan import HYDRATED_FOLDERS, ClusterPlan, Release
from compiler.render import argocd, flux, layers

Identity = tuple[str, str, str, str]  # group, kind, namespace ("" for a cluster-scoped object), name
Owner = tuple[str, str, str]  # release id, component, file


def identity(obj: dict[str, Any]) -> Identity:
    metadata = obj.get("metadata") or {}
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    namespace = "" if cluster_scoped(obj) else str(metadata.get("namespace") or "")  # (the API server drops one)
    return group, str(obj.get("kind")), namespace, str(metadata.get("name"))


def engine_objects(plan: ClusterPlan) -> list[tuple[Identity, Release, Any]]:
    """The objects the engine applies for each component (and, on Argo CD, each workload), with what made them."""
    found = []
    for release in plan.releases:
        for component in release.components:
            if plan.engine == "argocd":
                name = argocd.application_name(plan.cluster, release, component)
                found.append((("argoproj.io", "Application", argocd.ARGOCD_NAMESPACE, name), release, component))
            else:
                chart = release.hydrated.get(component.name)
                parts = [part for part in HYDRATED_FOLDERS if chart is not None and getattr(chart, part)]
                for name in (layers.layer_name(release, component),
                             *(layers.hydrated_layer(release, component, part) for part in parts)):
                    found.append((("kustomize.toolkit.fluxcd.io", "Kustomization", flux.FLUX_NAMESPACE, name),
                                  release, component))
        if plan.engine == "argocd" and release.kind == "workload" and release.components:
            name = argocd.workload_application_name(plan.cluster, release)
            found.append((("argoproj.io", "Application", argocd.ARGOCD_NAMESPACE, name), release,
                          release.components[0]))
    return found


def described(owner: Owner) -> str:
    release, component, file = owner
    return f"component {component!r} of {release} ({file})"


class Applied:
    """What one cluster's tree applies so far, by identity, and who applies it."""

    def __init__(self, plan: ClusterPlan):
        self.owners: dict[Identity, Owner] = {}
        self.engine_clashes: list[tuple[Release, Any, str]] = []  # (release, component, message)
        for found, release, component in engine_objects(plan):
            message = self._take(found, (release.id, component.name, "its engine's object"))
            if message:
                self.engine_clashes.append((release, component, message))

    def _take(self, found: Identity, owner: Owner) -> str | None:
        other = self.owners.setdefault(found, owner)
        if other[:2] == owner[:2]:
            return None
        group, kind, namespace, name = found
        where = f"namespace {namespace!r}" if namespace else "the cluster"
        return (f"{kind} {name!r} ({group or 'core'}) in {where} is also applied by {described(other)}: the engine "
                "would apply both to one object, the last one winning on every sync")

    def clashes(self, release: Release, component: str, objects: list[tuple[str, dict[str, Any]]]
                ) -> list[tuple[str, dict[str, Any], str, str, str]]:
        """The component's objects that another component applies too, as (file, object, field, message, code)."""
        found = []
        for file, obj in objects:
            message = self._take(identity(obj), (release.id, component, file))
            if message:
                found.append((file, obj, "metadata.name", message, "E801"))
        return found
