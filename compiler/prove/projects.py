"""What an Argo CD cluster's AppProjects let a team's Applications sync (render/argocd.py `_app_project`): objects
in the namespaces easel placed the project's workloads in on that cluster, and no cluster-scoped object but
CustomResourceDefinitions. Argo CD refuses to sync anything else, at every sync, so an object of a workload outside
that is an error (E827), whoever renders it: the component's own objects, a chart's (through Argo CD or
hydrated) or a kustomize folder's. Stacks' and the namespaces' AppProjects allow every destination and kind."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from compiler.kube.api import cluster_scoped
from compiler.plan import ClusterPlan, Release

Problem = tuple[str, dict[str, Any], str, str, str]  # file, object, field, message, code
CRD = "CustomResourceDefinition"


def project_namespaces(plan: ClusterPlan) -> dict[str, set[str]]:
    """Per project (a release's group) on the cluster, the namespaces its AppProject lets it sync into."""
    found: dict[str, set[str]] = {}
    for release in plan.releases:
        found.setdefault(release.group, set()).update(
            (c.output.helm.namespace if c.output.helm and c.output.helm.namespace else release.namespace.name)
            for c in release.components)
    return found


def refused(plan: ClusterPlan, release: Release, objects: list[tuple[str, dict[str, Any]]],
            namespaces: Mapping[str, set[str]], custom_cluster_scoped: Collection[tuple[str | None, str | None]]
            ) -> list[Problem]:
    """The objects of a workload's component that its AppProject would not let Argo CD sync."""
    if plan.engine != "argocd" or release.kind != "workload":
        return []
    allowed = namespaces.get(release.group, set())
    project = f"AppProject of project {release.group!r}"
    found: list[Problem] = []
    for file, obj in objects:
        if obj.get("kind") == CRD:
            continue
        if cluster_scoped(obj, custom_cluster_scoped):
            found.append((file, obj, "kind", (f"a cluster-scoped {obj.get('kind')}: the {project} lets its "
                          "Applications create no cluster-scoped object but CustomResourceDefinitions, so Argo CD "
                          "would refuse it at every sync"), "E827"))
            continue
        namespace = (obj.get("metadata") or {}).get("namespace")
        if isinstance(namespace, str) and namespace and namespace not in allowed:
            found.append((file, obj, "metadata.namespace", (f"namespace {namespace!r}: the {project} lets its "
                          f"Applications sync into {', '.join(sorted(allowed))} only, so Argo CD would refuse it "
                          "at every sync"), "E827"))
    return found
