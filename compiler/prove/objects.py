"""A cluster's objects as its engine will apply them, read back from the rendered tree, not from what the renderer
meant to write: each component's folder built as kustomize builds it (its in-tree `resources`, then `namespace`,
`labels` and `commonLabels`), then what the engine adds (a Flux Kustomization's `targetNamespace` and
`commonMetadata`). What cannot be seen yet is said, not guessed: a chart (Helm renders it on the cluster) and a
folder outside the tree are unproven.
"""

from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass, field
from typing import Any

from compiler.kube.api import is_custom
from compiler.load import yamlio
from compiler.prove.schemas import SchemaMemo

FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io/"


@dataclass
class ComponentObjects:
    """What one component's folder applies on the cluster."""
    folder: str  # its folder in the rendered tree (clusters/<cluster>/<release>/<component>)
    objects: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (file, object) as applied
    unproven: list[str] = field(default_factory=list)  # what the engine renders that cannot be seen here


class Parsed:
    """The documents of each distinct text, parsed once: a release planned alike on many clusters is rendered
    once, so its files are the same texts on all of them. What is handed out is never changed (callers copy).
    `shared()` is the one a process keeps, so that a tree proven again (validate, then compile) is not parsed,
    built or checked again; it forgets everything past LIMIT entries, so it never grows with a fleet."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self.known: dict[str, list[dict[str, Any]]] = {}
        # a component folder built, by what it is built from: its texts and what its engine adds
        self.built: dict[tuple, tuple[list[tuple[str, dict[str, Any]]], list[str]]] = {}
        # a chart's objects as the cluster applies them, by what the tree gives the engine (the object that says
        # it, held here too) and the render: the same on every cluster that runs the release alike
        self.charts: dict[tuple, Any] = {}
        self.schemas = SchemaMemo()  # each distinct object's verdict against Kubernetes' schemas

    @classmethod
    def shared(cls) -> Parsed:
        global _SHARED
        if _SHARED is None or len(_SHARED.known) + len(_SHARED.built) + len(_SHARED.schemas.verdicts) \
                + len(_SHARED.charts) > cls.LIMIT:
            _SHARED = cls()  # the objects the verdicts were keyed by go with them: no id is reused
        return _SHARED

    def documents(self, text: str) -> list[dict[str, Any]]:
        found = self.known.get(text)
        if found is None:
            found = self.known[text] = [doc for doc in yamlio.load_all(text) if isinstance(doc, dict)]
        return found


_SHARED: Parsed | None = None


def _documents(files: dict[str, str], path: str, parsed: Parsed | None = None) -> list[dict[str, Any]]:
    return (parsed or Parsed()).documents(files[path])


# A layer's text names its cluster in its path; read with this in its place, the same layer of every cluster is
# one text, parsed once. No cluster can have this name (a cluster's name is a lowercase DNS label).
_ANY_CLUSTER = "ANY_CLUSTER"


def flux_layers(files: dict[str, str], cluster: str, parsed: Parsed | None = None) -> dict[str, dict[str, Any]]:
    """The cluster's Flux Kustomizations by the tree folder they apply (`spec.path`, inside the output). What is
    handed out is shared: read it, never change it."""
    parsed = parsed or Parsed()
    found: dict[str, dict[str, Any]] = {}
    prefix = f"clusters/{cluster}/flux/layers/"
    named = f"/clusters/{cluster}/"
    for path, text in files.items():
        if not path.startswith(prefix):
            continue
        for doc in parsed.documents(text.replace(named, f"/clusters/{_ANY_CLUSTER}/")):
            where = str((doc.get("spec") or {}).get("path") or "")
            marker = f"/clusters/{_ANY_CLUSTER}/"
            if not str(doc.get("apiVersion", "")).startswith(FLUX_KUSTOMIZATION):
                continue
            if marker in where:  # in the repository: ./<output>/clusters/<cluster>/<folder>
                found[f"clusters/{cluster}/" + where[where.index(marker) + len(marker):].rstrip("/")] = doc
            elif where.startswith("./") and "/clusters/" not in where:  # in the cluster's OCI artifact: ./<folder>
                found[f"clusters/{cluster}/" + where[2:].rstrip("/")] = doc
    return found


def component_objects(files: dict[str, str], folder: str, layer: dict[str, Any] | None,
                      parsed: Parsed | None = None) -> ComponentObjects:
    """The objects the component's folder applies, as kustomize and then the engine make them. A folder built
    from the same texts on another cluster is built once (the objects are shared: read them, never change
    them)."""
    parsed = parsed or Parsed()
    kustomization_path = posixpath.join(folder, "kustomization.yaml")
    if kustomization_path not in files:
        return ComponentObjects(folder)
    kustomization = _documents(files, kustomization_path, parsed)[0]
    entries = [str(entry) for entry in kustomization.get("resources") or ()]
    spec = (layer or {}).get("spec") or {}
    key = (files[kustomization_path],
           tuple(files.get(posixpath.normpath(posixpath.join(folder, entry))) for entry in entries),
           repr((spec.get("targetNamespace"), spec.get("commonMetadata"))) if layer is not None else None)
    if key not in parsed.built:
        relative = _built(files, folder, kustomization, entries, layer, parsed)
        parsed.built[key] = ([(posixpath.relpath(path, folder), obj) for path, obj in relative.objects],
                             relative.unproven)
    objects, unproven = parsed.built[key]
    return ComponentObjects(folder, [(posixpath.join(folder, path), obj) for path, obj in objects], list(unproven))


def _built(files: dict[str, str], folder: str, kustomization: dict[str, Any], entries: list[str],
           layer: dict[str, Any] | None, parsed: Parsed) -> ComponentObjects:
    built = ComponentObjects(folder)
    if kustomization.get("helmCharts"):
        built.unproven.append("a Helm chart (rendered by the engine on the cluster)")
    for entry in entries:
        target = posixpath.normpath(posixpath.join(folder, entry))
        if target in files:
            built.objects += [(target, doc) for doc in _documents(files, target, parsed)]
        else:
            built.unproven.append(f"{entry} (outside the cluster's tree)")
    if kustomization.get("patches") and not kustomization.get("helmCharts"):
        built.unproven.append("patches on a folder outside the tree")
    built.objects = [(path, _kustomized(obj, kustomization)) for path, obj in built.objects]
    if layer is not None:
        built.objects = [(path, _by_flux(obj, layer.get("spec") or {})) for path, obj in built.objects]
    built.unproven += [f"the chart of HelmRelease {obj.get('metadata', {}).get('name')!r}"
                       for _, obj in built.objects if obj.get("kind") == "HelmRelease"]
    return built


def _labelled(obj: dict[str, Any], labels: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return obj


def namespaced(obj: dict[str, Any], namespace: str, keep: bool = False) -> dict[str, Any]:
    """The object in the namespace, if its kind is namespaced (kustomize and Flux set it on those only; easel's
    custom resources are namespaced). keep: a namespace the object names stays (as Helm installs it)."""
    if obj.get("kind") not in _CLUSTER_SCOPED or is_custom(obj):
        metadata = obj.setdefault("metadata", {})
        if not (keep and metadata.get("namespace")):
            metadata["namespace"] = namespace
    return obj


_CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                             "PriorityClass", "StorageClass", "PersistentVolume", "IngressClass", "RuntimeClass",
                             "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "DeviceClass"})


def _kustomized(obj: dict[str, Any], kustomization: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    if kustomization.get("namespace"):
        obj = namespaced(obj, str(kustomization["namespace"]))
    for entry in kustomization.get("labels") or ():
        obj = _labelled(obj, dict(entry.get("pairs") or {}))
    if kustomization.get("commonLabels"):
        obj = _labelled(obj, dict(kustomization["commonLabels"]))
    return obj


def _by_flux(obj: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """What a Flux Kustomization changes on each object it applies."""
    if spec.get("targetNamespace"):
        obj = namespaced(obj, str(spec["targetNamespace"]))
    common = spec.get("commonMetadata") or {}
    if common.get("labels"):
        obj = _labelled(obj, dict(common["labels"]))
    if common.get("annotations"):
        metadata = obj.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **common["annotations"]}
    return obj
