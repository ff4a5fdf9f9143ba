"""Stage 5, render: the output tree, as file path -> text, for every cluster and its engine, plus bootstrap.

What does not depend on the cluster (a component's objects, a chart's patches, a HelmRelease) is built once per
workload and reused on every cluster it runs on; that is most of the work at fleet scale.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from . import images, inventory, rollout, smp, yamlio
from .diagnostics import Diagnostics, Note
from .inventory import ClusterFacts
from .model import Model
from .place import Placement
from .rendered import ALL_CONTAINERS, API_VERSIONS, DEFAULT_EXTERNAL_KINDS, Patch
from .resolve import ResolvedComponent, ResolvedWorkload

MANAGED_BY = {"app.kubernetes.io/managed-by": "easel"}
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
PATCH_PLACEHOLDER_NAME = "easel-patch"  # kustomize wants a name in a patch; the target decides what it hits
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass", "PriorityClass",
    "IngressClass", "RuntimeClass", "PersistentVolume", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "CSIDriver", "VolumeSnapshotClass", "ClusterIssuer",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
})


def workload_labels(workload: ResolvedWorkload, component: str | None = None) -> dict[str, str]:
    if workload.stack:  # an infrastructure stack belongs to no team (SPEC §6)
        return {**MANAGED_BY, "easel.dev/profile": workload.profile.meta.name,
                "easel.dev/profile-version": workload.profile.version}
    labels = {
        **MANAGED_BY,
        "easel.dev/project": workload.workload.project,
        "easel.dev/workload": workload.workload.meta.name,
        "easel.dev/environment": workload.environment.meta.name,
        "easel.dev/profile": workload.profile.meta.name,
        "easel.dev/profile-version": workload.profile.version,
    }
    if component is not None:
        labels["easel.dev/component"] = component
    return labels


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


def _targets(patch: Patch, obj: dict[str, Any]) -> bool:
    if patch.kind is None:
        return obj.get("kind") in patch.kinds
    return obj.get("kind") == patch.kind and (patch.name is None or obj["metadata"].get("name") == patch.name)


def component_objects(workload: ResolvedWorkload, component: ResolvedComponent) -> list[dict[str, Any]]:
    """The component's own objects and its traits' objects, patched, labelled, in the workload's namespace."""
    objects = list(component.output.objects or [])
    for trait in component.traits:
        objects.extend(trait.output.objects)
    extra_labels: dict[str, str] = {}
    for trait in component.traits:
        for patch in trait.output.patches:
            objects = [smp.merge(o, patch.body) if _targets(patch, o) else o for o in objects]
        extra_labels.update(trait.output.labels)
        if trait.output.registry:
            objects = [_rewrite_images(o, trait.output.registry) for o in objects]
    labels = {**extra_labels, **workload_labels(workload, component.name)}
    out = []
    for obj in objects:
        obj = _with_labels(obj, labels)
        if obj.get("kind") not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = workload.namespace
        out.append(_ordered(obj))
    return out


def _ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata first (as people write them), then the rest as they came."""
    head = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    metadata = head.get("metadata")
    if isinstance(metadata, dict):
        first = {k: metadata[k] for k in ("name", "namespace", "labels", "annotations") if k in metadata}
        head["metadata"] = {**first, **metadata}
    return {**head, **{k: v for k, v in obj.items() if k not in head}}


def _rewrite_images(obj: dict[str, Any], registry: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    for container in images.containers(obj):
        if isinstance(container.get("image"), str):
            container["image"] = images.rewrite(container["image"], registry)
    return obj


# --- patches for objects kustomize renders (charts, kustomize folders) -----------------------------------------

def _external_targets(patch: Patch, component: ResolvedComponent) -> list[tuple[str, str | None]]:
    """(kind, name regex) pairs a patch hits in a chart or folder."""
    if patch.kind is not None:
        return [(patch.kind, patch.name)]
    target = component.properties.get("target")
    if target:
        return [(target["kind"], target.get("name"))] if target["kind"] in patch.kinds else []
    return [(kind, None) for kind in DEFAULT_EXTERNAL_KINDS if kind in patch.kinds]


def kustomize_patches(component: ResolvedComponent) -> list[dict[str, Any]]:
    """The component's trait patches, combined per target, as kustomize `patches` entries. Patches name
    every container "*"; here they name the component's `container` (resolve.py makes sure there is one)."""
    container = component.properties.get("container")
    combined: dict[tuple[str, str | None], tuple[str, dict[str, Any]]] = {}
    for trait in component.traits:
        for patch in trait.output.patches:
            for kind, name in _external_targets(patch, component):
                api_version, body = combined.get((kind, name), (None, {}))
                api_version = patch.api_version or api_version or API_VERSIONS.get(kind, "v1")
                combined[(kind, name)] = (api_version, smp.merge(body, patch.body, wildcard=False))
    entries = []
    for (kind, name), (api_version, body) in combined.items():
        if container is not None:
            body = _name_containers(body, container)
        document = {"apiVersion": api_version, "kind": kind, "metadata": {"name": PATCH_PLACEHOLDER_NAME}, **body}
        target = {"kind": kind, **({"name": name} if name else {})}
        entries.append({"target": target, "patch": yamlio.dump(document)})
    return entries


def _name_containers(value: Any, container: str) -> Any:
    if isinstance(value, dict):
        return {k: ([{**c, "name": container} if isinstance(c, dict) and c.get("name") == ALL_CONTAINERS else c
                     for c in v] if k in ("containers", "initContainers") and isinstance(v, list)
                    else _name_containers(v, container)) for k, v in value.items()}
    return value


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


def chart_labels(workload: ResolvedWorkload, component: ResolvedComponent) -> dict[str, str]:
    """Labels for every object a chart or folder makes: its traits' and the workload's, less managed-by (Helm or
    the folder's own tool owns that one)."""
    own = {k: v for k, v in workload_labels(workload, component.name).items() if k not in MANAGED_BY}
    return {**trait_labels(component), **own}


def trait_objects(workload: ResolvedWorkload, component: ResolvedComponent) -> list[dict[str, Any]]:
    """Objects traits add beside a chart or folder (Ingress, PVC), labelled, in the workload's namespace."""
    objects = [o for t in component.traits for o in t.output.objects]
    if not objects:
        return []
    bare = ResolvedComponent(component.name, component.type, component.instance, component.properties,
                             type(component.output)(objects=objects), [t for t in component.traits
                                                                      if not t.output.objects], component.depends_on,
                             component.wave, component.loc)
    return component_objects(workload, bare)


# --- namespaces -------------------------------------------------------------------------------------------

def namespace_objects(workload: ResolvedWorkload) -> list[dict[str, Any]]:
    environment = workload.environment
    if environment.namespace_strategy == "project":
        labels = {**MANAGED_BY, "easel.dev/project": workload.workload.project,
                  "easel.dev/environment": environment.meta.name}
    else:
        labels = workload_labels(workload)
    name = workload.namespace
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": name, "labels": labels}}]
    if environment.namespace_quota:
        objects.append({"apiVersion": "v1", "kind": "ResourceQuota",
                        "metadata": {"name": "easel-quota", "namespace": name, "labels": labels},
                        "spec": {"hard": dict(sorted(environment.namespace_quota.items()))}})
    if environment.isolation == "strict":
        objects.append(_isolation(name, labels))
    return objects


def _isolation(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """Default deny, but the namespace's own traffic and DNS (cluster DNS runs as k8s-app=kube-dns)."""
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "easel-isolation", "namespace": namespace, "labels": labels},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": [{"from": [{"podSelector": {}}]}],
                     "egress": [{"to": [{"podSelector": {}}]}, dns]}}


# --- the whole tree ----------------------------------------------------------------------------------------

@dataclass
class ClusterWork:
    """What one cluster runs: its facts, its infrastructure stacks, and the placements on it in order."""
    facts: ClusterFacts
    workloads: list[ResolvedWorkload] = field(default_factory=list)
    stacks: list[ResolvedWorkload] = field(default_factory=list)
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # workload id -> the stacks it waits for


def render(model: Model, fleet: dict[str, ClusterFacts], placements: list[Placement],
           stacks: dict[str, tuple[list[ResolvedWorkload], dict[str, tuple[str, ...]]]] | None = None
           ) -> tuple[dict[str, str], Diagnostics]:
    """stacks: cluster -> (the infrastructure stacks it runs, workload id -> the stacks it waits for)."""
    from . import argocd, flux  # the engines import the helpers above

    diagnostics = Diagnostics()
    work = {name: ClusterWork(facts) for name, facts in fleet.items()}
    for placement in placements:
        workload = placement.workload
        moved = on_new_version(workload, placement.clusters, fleet)
        for cluster in placement.clusters:
            work[cluster].workloads.append(workload.target if cluster in moved else workload)
    for cluster, (releases, needs) in (stacks or {}).items():
        work[cluster].stacks, work[cluster].needs = releases, needs
    files: dict[str, str] = {}
    cache: dict[tuple, Any] = {}
    engines = {"flux": flux, "argocd": argocd}
    for name, cluster_work in work.items():
        _specialize(cluster_work, diagnostics)
        _check_namespaces(cluster_work, diagnostics)
        engine = engines[cluster_work.facts.engine]
        for path, text in engine.render_cluster(model, cluster_work, cache).items():
            files[f"clusters/{name}/{path}"] = text
        listing = images_list([*cluster_work.stacks, *cluster_work.workloads])
        if listing:
            files[f"clusters/{name}/images.txt"] = listing
    by_engine: dict[str, list[str]] = defaultdict(list)
    for name, cluster_work in work.items():
        by_engine[cluster_work.facts.engine].append(name)
    for engine_name, clusters in sorted(by_engine.items()):
        files.update(engines[engine_name].bootstrap(model, clusters))
    return dict(sorted(files.items())), diagnostics


def on_new_version(workload: ResolvedWorkload, clusters: list[str], fleet: dict[str, ClusterFacts]) -> set[str]:
    """Of the workload's clusters, those its rollout's waves have reached (empty when nothing is rolling out)."""
    if workload.rollout is None or workload.target is None:
        return set()
    labels = {name: fleet[name].labels for name in clusters}
    return rollout.on_new_version(workload.id, clusters, workload.environment.waves, labels, workload.rollout.wave)


def images_list(workloads: list[ResolvedWorkload]) -> str:
    """images.txt: every image the cluster pulls, for mirroring to air-gapped registries. One per line; an
    image the image-registry trait rewrote is followed by its mirror (`SOURCE MIRROR`)."""
    lines = sorted({written if written == pulled else f"{written} {pulled}"
                    for workload in workloads for component in workload.components
                    for written, pulled in component.images})
    return "".join(f"{line}\n" for line in lines)


def _specialize(work: ClusterWork, diagnostics: Diagnostics) -> None:
    """Render, for this cluster, the templates that read `cluster`."""
    context = None
    workloads = []
    for workload in work.workloads:
        if workload.cluster_specific:
            context = context or inventory.template_context(work.facts)
            workload, problems = workload.for_cluster(work.facts.name, context)
            diagnostics.extend(problems)
            if workload is None:
                continue
        workloads.append(workload)
    work.workloads = workloads


def _check_namespaces(work: ClusterWork, diagnostics: Diagnostics) -> None:
    """Two workloads sharing a namespace on one cluster must agree on its quota and isolation."""
    first: dict[str, ResolvedWorkload] = {}
    for workload in work.workloads:
        other = first.setdefault(workload.namespace, workload)
        if other is workload:
            continue
        a, b = other.environment, workload.environment
        if (a.namespace_quota, a.isolation) != (b.namespace_quota, b.isolation):
            diagnostics.error("E801", f"namespace {workload.namespace!r} on cluster {work.facts.name!r} is shared by "
                              f"{other.id} (environment {a.meta.name!r}) and {workload.id} (environment "
                              f"{b.meta.name!r}), whose namespace settings differ",
                              b.meta.loc.at("spec", "namespace"),
                              "give the environments the same namespace quota and isolation, or use "
                              "`strategy: workload`", notes=[Note("the other environment", a.meta.loc.at("spec"))])

