"""Flux output: a cluster's tree that its own Flux applies (one Kustomization over clusters/<name>).

  kustomization.yaml                         every file below
  namespaces/<namespace>.yaml                Namespace, ResourceQuota, NetworkPolicy
  sources/<name>.yaml                        HelmRepository / OCIRepository (in flux-system)
  workloads/<project>/<workload>/<component>.yaml
                                             HelmRelease, Kustomization (kustomize folders) or plain objects
"""

from __future__ import annotations

from typing import Any

from .. import names
from ..model import Repository, Settings
from ..plan import MANAGED_BY, ClusterPlan, Plans, Release
from ..resolve import ResolvedComponent
from .objects import (
    chart_labels, component_objects, kustomization, kustomize_images, kustomize_patches, namespace_objects, text_of,
    trait_labels, trait_objects,
)

FLUX_NAMESPACE = "flux-system"
GIT_SOURCE = "easel"  # the GitRepository the bootstrap creates: this config repository
HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def _source_name(repository: Repository, chart: str, version: str) -> str:
    if repository.type == "oci":  # an OCIRepository is one chart at one version
        return names.join(repository.meta.name, chart, version.replace(".", "-").replace("+", "-").lower())
    return repository.meta.name


def source_object(settings: Settings, repository: Repository, chart: str, version: str) -> dict[str, Any]:
    interval = settings.interval
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


def helm_release(plans: Plans, release: Release, component: ResolvedComponent,
                 helm_instances: dict[str, str]) -> dict[str, Any]:
    helm = component.output.helm
    assert helm is not None
    repository = plans.repositories[helm.repository]
    interval = plans.settings.interval
    spec: dict[str, Any] = {"interval": interval, "releaseName": helm.release_name or component.instance}
    if repository.type == "oci":
        spec["chartRef"] = {"kind": "OCIRepository", "name": _source_name(repository, helm.chart, helm.version),
                            "namespace": FLUX_NAMESPACE}
    else:
        spec["chart"] = {"spec": {"chart": helm.chart, "version": helm.version, "interval": interval,
                                  "sourceRef": {"kind": "HelmRepository", "name": repository.meta.name,
                                                "namespace": FLUX_NAMESPACE}}}
    if helm.namespace:
        spec["targetNamespace"] = helm.namespace
        spec["install"] = {"createNamespace": True}
    depends = [{"name": helm_instances[d]} for d in component.depends_on if d in helm_instances]
    depends += [{"name": name, "namespace": namespace} for name, namespace in release.waits_for]  # stacks it needs
    if depends:
        spec["dependsOn"] = depends
    spec["commonMetadata"] = {"labels": chart_labels(release, component)}
    if helm.values:
        spec["values"] = helm.values
    post = _post_renderer(component)
    if post:
        spec["postRenderers"] = [{"kustomize": post}]
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": component.instance, "namespace": release.namespace.name,
                         "labels": release.labels_for(component.name)},
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


def kustomize_folder(plans: Plans, release: Release, component: ResolvedComponent,
                     folder_instances: dict[str, str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": plans.settings.interval, "path": f"./{component.output.kustomize_path}", "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": GIT_SOURCE}, "targetNamespace": release.namespace.name,
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
                         "labels": release.labels_for(component.name)},
            "spec": spec}


def release_files(plans: Plans, release: Release) -> dict[str, str]:
    """The release's files on a Flux cluster (the same on every cluster with the same plan for it: built once)."""
    helm_instances = {c.name: c.instance for c in release.components if c.output.helm}
    folder_instances = {c.name: names.join(release.namespace.name, c.instance) for c in release.components
                        if c.output.kustomize_path}
    files = {}
    for component in release.components:
        if component.output.helm:
            documents = [helm_release(plans, release, component, helm_instances),
                         *trait_objects(release, component)]
        elif component.output.kustomize_path:
            documents = [kustomize_folder(plans, release, component, folder_instances),
                         *trait_objects(release, component)]
        else:
            documents = component_objects(release, component)
        if documents:
            files[f"{release.path}/{component.name}.yaml"] = text_of(documents)
    return files


def render_cluster(plans: Plans, cluster: ClusterPlan, cache: dict) -> dict[str, str]:
    files: dict[str, str] = {}
    sources: dict[str, str] = {}
    for release in cluster.releases:
        key = ("flux", release.key, release.waits_for)
        if key not in cache:
            cache[key] = release_files(plans, release)
        files.update(cache[key])
        ns_key = ("namespace", release.key)
        if ns_key not in cache:
            cache[ns_key] = text_of(namespace_objects(release.namespace))
        files.setdefault(f"namespaces/{release.namespace.name}.yaml", cache[ns_key])
        for component in release.components:
            helm = component.output.helm
            if helm is None:
                continue
            repository = plans.repositories[helm.repository]
            name = _source_name(repository, helm.chart, helm.version)
            source_key = ("source", name)
            if source_key not in cache:
                cache[source_key] = text_of([source_object(plans.settings, repository, helm.chart, helm.version)])
            sources[f"sources/{name}.yaml"] = cache[source_key]
    files.update(sources)
    listing = tuple(sorted(files))
    if ("kustomization", listing) not in cache:  # clusters that run the same workloads list the same files
        cache[("kustomization", listing)] = text_of([kustomization(list(listing))])
    files["kustomization.yaml"] = cache[("kustomization", listing)]
    return dict(sorted(files.items()))


def bootstrap(settings: Settings, clusters: list[str]) -> dict[str, str]:
    """Per cluster, what a person applies once: the Git source and a Kustomization over its tree."""
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
