"""Flux output: a cluster's tree that its own Flux applies (one Kustomization over clusters/<name>).

  kustomization.yaml                         every file below
  namespaces/<namespace>.yaml                Namespace, ResourceQuota, NetworkPolicy
  sources/<name>.yaml                        HelmRepository / OCIRepository (in flux-system)
  workloads/<project>/<workload>/<component>.yaml
                                             HelmRelease, Kustomization (kustomize folders) or plain objects
"""

from __future__ import annotations

from typing import Any

from . import names
from .model import Model, Repository
from .render import (
    MANAGED_BY, ClusterWork, chart_labels, component_objects, kustomization, kustomize_images, kustomize_patches,
    namespace_objects, text_of, trait_labels, trait_objects, workload_labels,
)
from .resolve import ResolvedComponent, ResolvedWorkload

FLUX_NAMESPACE = "flux-system"
GIT_SOURCE = "easel"  # the GitRepository the bootstrap creates: this config repository
HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def _source_name(repository: Repository, chart: str, version: str) -> str:
    if repository.type == "oci":  # an OCIRepository is one chart at one version
        return names.join(repository.meta.name, chart, version.replace(".", "-").replace("+", "-").lower())
    return repository.meta.name


def source_object(model: Model, repository: Repository, chart: str, version: str) -> dict[str, Any]:
    interval = model.settings.interval
    name = _source_name(repository, chart, version)
    metadata = {"name": name, "namespace": FLUX_NAMESPACE, "labels": dict(MANAGED_BY)}
    if repository.type == "oci":
        spec: dict[str, Any] = {"interval": interval, "url": f"{repository.url.rstrip('/')}/{chart}",
                                "ref": {"tag": version},
                                "layerSelector": {"mediaType": HELM_CHART_MEDIA_TYPE, "operation": "copy"}}
        kind = "OCIRepository"
    else:
        spec = {"interval": interval, "url": repository.url}
        kind = "HelmRepository"
    if repository.secret_ref:
        spec["secretRef"] = {"name": repository.secret_ref}
    return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


def helm_release(model: Model, workload: ResolvedWorkload, component: ResolvedComponent,
                 helm_instances: dict[str, str], stacks: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    helm = component.output.helm
    assert helm is not None
    repository = model.repositories[helm.repository]
    spec: dict[str, Any] = {"interval": model.settings.interval, "releaseName": helm.release_name or component.instance}
    if repository.type == "oci":
        spec["chartRef"] = {"kind": "OCIRepository", "name": _source_name(repository, helm.chart, helm.version),
                            "namespace": FLUX_NAMESPACE}
    else:
        spec["chart"] = {"spec": {"chart": helm.chart, "version": helm.version, "interval": model.settings.interval,
                                  "sourceRef": {"kind": "HelmRepository", "name": repository.meta.name,
                                                "namespace": FLUX_NAMESPACE}}}
    if helm.namespace:
        spec["targetNamespace"] = helm.namespace
        spec["install"] = {"createNamespace": True}
    depends = [{"name": helm_instances[d]} for d in component.depends_on if d in helm_instances]
    depends += [{"name": name, "namespace": namespace} for name, namespace in stacks]  # the stacks it needs
    if depends:
        spec["dependsOn"] = depends
    spec["commonMetadata"] = {"labels": chart_labels(workload, component)}
    if helm.values:
        spec["values"] = helm.values
    post = _post_renderer(component)
    if post:
        spec["postRenderers"] = [{"kustomize": post}]
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": component.instance, "namespace": workload.namespace,
                         "labels": workload_labels(workload, component.name)},
            "spec": spec}


def _post_renderer(component: ResolvedComponent) -> dict[str, Any]:
    post: dict[str, Any] = {}
    patches = kustomize_patches(component)
    if patches:
        post["patches"] = patches
    image_rewrites = kustomize_images(component)
    if image_rewrites:
        post["images"] = image_rewrites
    return post


def kustomize_folder(model: Model, workload: ResolvedWorkload, component: ResolvedComponent,
                     folder_instances: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": model.settings.interval, "path": f"./{component.output.kustomize_path}", "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": GIT_SOURCE}, "targetNamespace": workload.namespace,
    }
    depends = [{"name": folder_instances[d]} for d in component.depends_on if d in folder_instances]
    if depends:
        spec["dependsOn"] = depends
    post = _post_renderer(component)
    if post.get("patches"):
        spec["patches"] = post["patches"]
    if post.get("images"):
        spec["images"] = post["images"]
    labels = trait_labels(component)
    if labels:
        spec["commonMetadata"] = {"labels": labels}
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": folder_instances[component.name], "namespace": FLUX_NAMESPACE,
                         "labels": workload_labels(workload, component.name)},
            "spec": spec}


def stack_releases(stack: ResolvedWorkload) -> tuple[tuple[str, str], ...]:
    """(name, namespace) of a stack's HelmReleases: what the workloads that need it wait for."""
    return tuple((c.instance, stack.namespace) for c in stack.components if c.output.helm)


def workload_files(model: Model, workload: ResolvedWorkload,
                   stacks: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """The workload's files on a Flux cluster (the same on every cluster with the same stacks: built once)."""
    helm_instances = {c.name: c.instance for c in workload.components if c.output.helm}
    folder_instances = {c.name: names.join(workload.namespace, c.instance) for c in workload.components
                        if c.output.kustomize_path}
    files = {}
    base = workload.path
    for component in workload.components:
        if component.output.helm:
            documents = [helm_release(model, workload, component, helm_instances, stacks),
                         *trait_objects(workload, component)]
        elif component.output.kustomize_path:
            documents = [kustomize_folder(model, workload, component, folder_instances),
                         *trait_objects(workload, component)]
        else:
            documents = component_objects(workload, component)
        if documents:
            files[f"{base}/{component.name}.yaml"] = text_of(documents)
    return files


def render_cluster(model: Model, work: ClusterWork, cache: dict) -> dict[str, str]:
    files: dict[str, str] = {}
    sources: dict[str, str] = {}
    releases = {stack.workload.meta.name: stack_releases(stack) for stack in work.stacks}
    for workload in [*work.stacks, *work.workloads]:
        waits = tuple(ref for name in work.needs.get(workload.id, ()) for ref in releases.get(name, ()))
        key = ("flux", workload.id, workload.profile.version, workload.cluster, waits)
        if key not in cache:
            cache[key] = workload_files(model, workload, waits)
        files.update(cache[key])
        ns_key = ("namespace", workload.id, workload.profile.version, workload.cluster)
        if ns_key not in cache:
            cache[ns_key] = text_of(namespace_objects(workload))
        files.setdefault(f"namespaces/{workload.namespace}.yaml", cache[ns_key])
        for component in workload.components:
            helm = component.output.helm
            if helm is None:
                continue
            repository = model.repositories[helm.repository]
            name = _source_name(repository, helm.chart, helm.version)
            source_key = ("source", name)
            if source_key not in cache:
                cache[source_key] = text_of([source_object(model, repository, helm.chart, helm.version)])
            sources[f"sources/{name}.yaml"] = cache[source_key]
    files.update(sources)
    listing = tuple(sorted(files))
    if ("kustomization", listing) not in cache:  # clusters that run the same workloads list the same files
        cache[("kustomization", listing)] = text_of([kustomization(list(listing))])
    files["kustomization.yaml"] = cache[("kustomization", listing)]
    return dict(sorted(files.items()))


def bootstrap(model: Model, clusters: list[str]) -> dict[str, str]:
    """Per cluster, what a person applies once: the Git source and a Kustomization over its tree."""
    settings = model.settings
    files = {}
    for cluster in clusters:
        git = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": GIT_SOURCE, "namespace": FLUX_NAMESPACE, "labels": dict(MANAGED_BY)},
               "spec": {"interval": settings.interval, "url": settings.repo_url, "ref": {"branch": settings.branch}}}
        sync = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                "metadata": {"name": GIT_SOURCE, "namespace": FLUX_NAMESPACE, "labels": dict(MANAGED_BY)},
                "spec": {"interval": settings.interval, "path": f"./{settings.output}/clusters/{cluster}",
                         "prune": True, "sourceRef": {"kind": "GitRepository", "name": GIT_SOURCE}}}
        files[f"bootstrap/flux/{cluster}.yaml"] = text_of([git, sync])
    return files
