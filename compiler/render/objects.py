"""What both engines write the same way: labels, the objects easel renders itself (patched by their traits),
trait patches for what kustomize renders (charts, folders), namespaces, kustomization files, images.txt."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from compiler.decide.resolve import ResolvedComponent
from compiler.kube import images, podtemplates
from compiler.kube.api import cluster_scoped
from compiler.kube.strings import with_string_fields
from compiler.load import yamlio
from compiler.model.charts import ChartArchive
from compiler.model.folders import KustomizeFolder, closure
from compiler.plan import MANAGED_BY, HydratedChart, NamespacePlan, Release

KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
PATCH_PLACEHOLDER_NAME = "easel-patch"  # kustomize wants a name in a patch; the target decides what it hits


def text_of(documents: list[dict[str, Any]]) -> str:
    return yamlio.dump(documents[0]) if len(documents) == 1 else yamlio.dump_all(documents)


def kustomization(resources: list[str], **extra: Any) -> dict[str, Any]:
    """A kustomization.yaml: the extra fields, then the resources, sorted (left out when there are none and
    the extra fields are what the kustomization is about, as with a chart's helmCharts)."""
    document = {**KUSTOMIZATION, **extra}
    if resources or not extra:
        document["resources"] = sorted(resources)
    return document


# --- objects easel renders itself -------------------------------------------------------------------------

def _with_labels(obj: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return {**obj, "metadata": metadata}


def component_objects(release: Release, component: ResolvedComponent) -> list[dict[str, Any]]:
    """The component's own objects and its traits' objects, patched, labelled, in the workload's namespace."""
    objects = list(component.output.objects or [])
    for trait in component.traits:
        objects.extend(trait.output.objects)
    patches = [patch for trait in component.traits for patch in trait.output.patches]
    declared = component.output.pod_templates
    # strings where Kubernetes takes only strings, whatever a placeholder or a trait's patch put there
    objects = [with_string_fields(podtemplates.patched(obj, patches, declared)) for obj in objects]
    extra_labels: dict[str, str] = {}
    for trait in component.traits:
        extra_labels.update(trait.output.labels)
        if trait.output.registry:
            objects = [_rewrite_images(o, trait.output.registry, declared) for o in objects]
    labels = {**extra_labels, **release.labels_for(component.name)}
    out = []
    for obj in objects:
        obj = _with_labels(obj, labels)
        if not cluster_scoped(obj):
            obj["metadata"]["namespace"] = release.namespace.name
        out.append(_ordered(obj))
    return out


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata first (as people write them), then the rest as they came."""
    head: dict[str, Any] = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    metadata = head.get("metadata")
    if isinstance(metadata, dict):
        first = {k: metadata[k] for k in ("name", "namespace", "labels", "annotations") if k in metadata}
        head["metadata"] = {**first, **metadata}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def _rewrite_images(obj: dict[str, Any], registry: str, declared) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for container in images.containers(obj, declared):
        if isinstance(container.get("image"), str):
            container["image"] = images.rewrite(container["image"], registry)
    return obj


# --- patches for objects kustomize renders (charts, kustomize folders) -----------------------------------------

def kustomize_patches(release: Release, component: ResolvedComponent) -> list[dict[str, Any]]:
    """The chart's or folder's patches the plan worked out, as kustomize `patches` entries."""
    return [{"target": {"kind": p.target.kind, **({"name": p.target.name} if p.target.name else {})},
             "patch": yamlio.dump(with_string_fields({
                 "apiVersion": p.api_version, "kind": p.target.kind,
                 # kustomize needs a name in a patch (the target selects); a Pod's patch has its own metadata
                 "metadata": {"name": PATCH_PLACEHOLDER_NAME, **(p.body.get("metadata") or {})},
                 **{k: v for k, v in p.body.items() if k != "metadata"}}))}
            for p in release.patches_for(component.name)]


def kustomize_images(component: ResolvedComponent) -> list[dict[str, str]]:
    entries = []
    for trait in component.traits:
        if trait.output.registry:
            for image in trait.output.helm_images:
                name = image.split("@")[0].rsplit(":", 1)[0] if "/" in image or ":" in image else image
                entries.append({"name": name, "newName": images.rewrite(name, trait.output.registry)})
    return entries


def trait_labels(component: ResolvedComponent) -> dict[str, str]:
    labels: dict[str, str] = {}
    for trait in component.traits:
        labels.update(trait.output.labels)
    return labels


def chart_labels(release: Release, component: ResolvedComponent) -> dict[str, str]:
    """Labels for every object a chart or folder makes: its traits' and the workload's, less managed-by (Helm or
    the folder's own tool owns that one)."""
    own = {k: v for k, v in release.labels_for(component.name).items() if k not in MANAGED_BY}
    return {**trait_labels(component), **own}


def folder_labels(release: Release, component: ResolvedComponent) -> dict[str, str]:
    """Labels for every object of a kustomize folder: its traits' and the workload's, managed-by included (SPEC
    §6: unlike a chart's, a folder's objects have no tool of their own to name)."""
    return {**trait_labels(component), **release.labels_for(component.name)}


def trait_objects(release: Release, component: ResolvedComponent) -> list[dict[str, Any]]:
    """Objects traits add beside a chart or folder (Ingress, PVC), labelled, in the workload's namespace."""
    objects = [o for t in component.traits for o in t.output.objects]
    if not objects:
        return []
    bare = ResolvedComponent(component.name, component.type, component.instance, component.properties,
                             type(component.output)(objects=objects),
                             tuple(t for t in component.traits if not t.output.objects), component.depends_on,
                             component.wave, component.loc)
    return component_objects(release, bare)


# --- namespaces -------------------------------------------------------------------------------------------

def namespace_objects(namespace: NamespacePlan) -> list[dict[str, Any]]:
    name, labels = namespace.name, namespace.labels
    admission = {f"pod-security.kubernetes.io/{mode}": level for mode, level in namespace.pod_security}
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": name, "labels": {**labels, **admission}}}]
    if namespace.quota:
        objects.append({"apiVersion": "v1", "kind": "ResourceQuota",
                        "metadata": {"name": "easel-quota", "namespace": name, "labels": labels},
                        "spec": {"hard": dict(namespace.quota)}})
    if namespace.isolation == "strict":
        objects.append(_isolation(namespace))
    if namespace.egress == "restricted":
        objects.append(_egress(namespace))
    return objects


def _from_namespaces(names_: tuple[str, ...]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": list(names_)}]}}


def _isolation(namespace: NamespacePlan) -> dict[str, Any]:
    """Ingress only from the namespace itself and from the namespaces the environment allows (an ingress
    controller, a Prometheus): what SPEC §2 calls strict. Egress is a setting of its own (_egress)."""
    sources: list[dict[str, Any]] = [{"podSelector": {}}]
    if namespace.allow_from:
        sources.append(_from_namespaces(namespace.allow_from))
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "easel-isolation", "namespace": namespace.name, "labels": namespace.labels},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": sources}]}}


def _egress(namespace: NamespacePlan) -> dict[str, Any]:
    """Restricted egress: the namespace itself, cluster DNS (k8s-app=kube-dns), and what the environment allows."""
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    rules: list[dict[str, Any]] = [{"to": [{"podSelector": {}}]}, dns]
    if namespace.egress_namespaces:
        rules.append({"to": [_from_namespaces(namespace.egress_namespaces)]})
    if namespace.egress_cidrs:
        rules.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in namespace.egress_cidrs]})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "easel-egress", "namespace": namespace.name, "labels": namespace.labels},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules}}


# Kinds whose pod template Kubernetes refuses to change in place: a new profile version that changes one is applied
# by recreating the object (Flux `force`, Argo CD `Force=true,Replace=true`)
IMMUTABLE_TEMPLATES = ("Job",)


def has_jobs(component: ResolvedComponent) -> bool:
    """Whether the component's own objects hold a kind whose pod template cannot be changed in place."""
    return any(obj.get("kind") in IMMUTABLE_TEMPLATES for obj in component.output.objects or ())


def in_house_folder(release: Release, component: ResolvedComponent) -> str:
    """Where an in-house chart's files are in the cluster's tree: in its component's folder, under charts/<name>
    (where kustomize's helmCharts finds a chart without a repo, and what a Flux HelmRelease's chart path names)."""
    helm = component.output.helm
    assert helm is not None
    return f"{release.path}/{component.name}/charts/{helm.chart}"


def in_house_files(in_house: Mapping[str, ChartArchive], releases: tuple[Release, ...]) -> dict[str, str]:
    """The files of every in-house chart the releases run, by their path in the cluster's tree (not resources of
    any kustomization: the engine renders them)."""
    files = {}
    for release in releases:
        for component in release.components:
            helm = component.output.helm
            if helm is not None and helm.path is not None and helm.path in in_house \
                    and not release.hydrates(component):  # (hydrated: its rendered objects are written instead)
                folder = in_house_folder(release, component)
                files.update({f"{folder}/{path}": text for path, text in in_house[helm.path].sources})
    return files


# where a cluster's tree carries the repository's kustomize folders its components use, each at its path in the
# repository (so that one folder's `../base` still finds the other)
REPOSITORY_COPY = "repository"


def carried_folder(path: str) -> str:
    """Where a kustomize folder of the repository is in the cluster's tree."""
    return f"{REPOSITORY_COPY}/{path}"


def folder_files(folders: Mapping[str, KustomizeFolder], releases: tuple[Release, ...]) -> dict[str, str]:
    """The files of every kustomize folder the releases' components build, and of the folders those build on, by
    their path in the cluster's tree (not resources of the cluster's kustomization: the engine builds them)."""
    wanted = {path for release in releases for component in release.components
              if (path := component.output.kustomize_path)}
    files = {}
    for path in sorted({used for start in wanted for used in closure(folders, start)}):
        files.update({f"{carried_folder(path)}/{name}": text for name, text in folders[path].files})
    return files


def source_files(paths: Iterable[str]) -> set[str]:
    """Those of a cluster tree's paths (inside the cluster's folder) that are sources its engine renders, not
    objects: the files of an in-house chart (a folder `.../charts/<name>` holding Chart.yaml) and of the
    repository's kustomize folders it carries."""
    paths = list(paths)
    charts = {path[: -len("/Chart.yaml")] for path in paths if path.endswith("/Chart.yaml") and "/charts/" in path}
    return {path for path in paths if path.startswith(f"{REPOSITORY_COPY}/")
            or any(path.startswith(folder + "/") for folder in charts)}


def images_list(releases: tuple[Release, ...]) -> str:
    """images.txt: every image the cluster pulls, for mirroring to air-gapped registries. One per line; an
    image the image-registry trait rewrote is followed by its mirror (`SOURCE MIRROR`)."""
    lines = {written if written == pulled else f"{written} {pulled}"
             for release in releases for component in release.components for written, pulled in component.images}
    said = {line.split()[-1] for line in lines}
    # a hydrated chart's objects are written as pulled, mirror rewrites done (those easel could pair are above)
    lines |= {image for release in releases for chart in release.hydrated.values()
              for image in hydrated_images(chart) if image not in said}
    return "".join(f"{line}\n" for line in sorted(lines))


def hydrated_images(chart: HydratedChart) -> list[str]:
    """The images a hydrated chart's pods pull (its hooks' too)."""
    return podtemplates.images(obj for _, obj in chart.written)
