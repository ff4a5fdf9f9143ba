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

from compiler.kube.api import cluster_scoped
from compiler.load import yamlio
from compiler.plan import HYDRATED_FOLDERS, Release
from compiler.prove import patching
from compiler.prove.schemas import SchemaMemo
from compiler.render.objects import REPOSITORY_COPY

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
            if not str(doc.get("apiVersion", "")).startswith(FLUX_KUSTOMIZATION):
                continue
            inside = _tree_folder(str((doc.get("spec") or {}).get("path") or ""), _ANY_CLUSTER)
            if inside is not None:
                found[f"clusters/{cluster}/{inside}"] = doc
    return found


def _tree_folder(path: str, cluster: str) -> str | None:
    """The folder of the cluster's tree a Flux Kustomization's path names: ./<output>/clusters/<cluster>/<folder>
    in the repository, ./<folder> in the cluster's OCI artifact (None: neither)."""
    marker = f"/clusters/{cluster}/"
    if marker in path:
        return path[path.index(marker) + len(marker):].rstrip("/")
    if path.startswith("./") and "/clusters/" not in path:
        return path[2:].rstrip("/")
    return None


def release_component_objects(files: dict[str, str], cluster: str, release: Release, component: Any,
                              layers: dict[str, dict[str, Any]], parsed: Parsed) -> ComponentObjects:
    """What a component of a release applies on the cluster: its folder's objects, and a hydrated chart's CRDs and
    hooks in the folders beside them (Flux applies each in a layer of its own)."""
    folder = f"clusters/{cluster}/{release.path}/{component.name}"
    own = component_objects(files, folder, layers.get(folder), parsed)
    if not release.hydrates(component):
        return own
    beside = [found for part in HYDRATED_FOLDERS
              for found in component_objects(files, f"{folder}/{part}", layers.get(f"{folder}/{part}"), parsed).objects]
    return ComponentObjects(own.folder, [*beside, *own.objects], own.unproven) if beside else own


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
    texts = (files[kustomization_path], *(_entry_text(files, folder, entry) for entry in entries))
    carried = any(text is not None and CARRIED in text for text in texts)  # (a search, never a copy of them)
    key = (texts, repr((spec.get("targetNamespace"), spec.get("commonMetadata"))) if layer is not None else None,
           _carried_texts(files, folder) if carried else None)
    if key not in parsed.built:
        relative = _built(files, folder, kustomization, layer, parsed)
        parsed.built[key] = ([(posixpath.relpath(path, folder), obj) for path, obj in relative.objects],
                             relative.unproven)
    objects, unproven = parsed.built[key]
    return ComponentObjects(folder, [(posixpath.normpath(posixpath.join(folder, path)), obj) for path, obj in objects],
                            list(unproven))


CARRIED = f"{REPOSITORY_COPY}/"  # where a cluster's tree carries the repository's kustomize folders


def _carried_texts(files: dict[str, str], folder: str) -> tuple[tuple[str, str], ...]:
    """Every file of the kustomize folders the cluster's tree carries: a folder built from them is built again
    when any of them changes."""
    prefix = "/".join(folder.split("/")[:2]) + "/" + CARRIED
    return tuple((path, text) for path, text in files.items() if path.startswith(prefix))


def _entry_text(files: dict[str, str], folder: str, entry: str) -> str | None:
    """What a resource entry stands for: a file's text, or a folder's kustomization (a folder the tree carries
    is the same on every cluster that carries it)."""
    target = posixpath.normpath(posixpath.join(folder, entry))
    return files.get(target, files.get(posixpath.join(target, "kustomization.yaml")))


# what the proof builds of a kustomization as kustomize does, and what it makes that holds no pod (a generator's
# ConfigMaps and Secrets); a folder using more is proven without that part (folders.py says so)
BUILT_FIELDS = frozenset({"apiVersion", "kind", "resources", "namespace", "labels", "commonLabels", "patches",
                          "patchesStrategicMerge", "images", "replicas", "commonAnnotations", "helmCharts"})
PODLESS_FIELDS = frozenset({"configMapGenerator", "secretGenerator", "generatorOptions"})
_REPLICATED = ("Deployment", "StatefulSet", "ReplicaSet", "ReplicationController")  # what kustomize's replicas sets
_DEPTH = 20  # folders building on folders: kustomize refuses a cycle, the proof stops at this depth


def _built(files: dict[str, str], folder: str, kustomization: dict[str, Any], layer: dict[str, Any] | None,
           parsed: Parsed, depth: int = 0) -> ComponentObjects:
    """The folder's objects as kustomize builds them: its resources (files, and folders built the same way), its
    patches and images, namespace and labels; then what the Flux Kustomization applying it adds (layer), and the
    objects of the tree's folders that Flux Kustomizations among its objects apply."""
    built = ComponentObjects(folder)
    if kustomization.get("helmCharts"):
        built.unproven.append("a Helm chart (rendered by the engine on the cluster)")
    unbuilt = sorted(set(kustomization) - BUILT_FIELDS - PODLESS_FIELDS)
    if unbuilt:
        built.unproven.append(f"{folder}: {', '.join(unbuilt)} (kustomize builds them on the cluster)")
    for entry in (str(entry) for entry in kustomization.get("resources") or ()):
        target = posixpath.normpath(posixpath.join(folder, entry))
        below = posixpath.join(target, "kustomization.yaml")
        if target in files:
            built.objects += [(target, copy.deepcopy(doc)) for doc in _documents(files, target, parsed)]
        elif below in files and depth < _DEPTH:
            inner = _built(files, target, _documents(files, below, parsed)[0], None, parsed, depth + 1)
            built.objects += inner.objects
            built.unproven += inner.unproven
        else:
            built.unproven.append(f"{entry} (outside the cluster's tree)")
    if not kustomization.get("helmCharts"):  # a wrapper's patches are the chart's (chart_objects.py)
        def read(path: str) -> str | None:
            return files.get(posixpath.normpath(posixpath.join(folder, path)))
        patches = [*patching.patches_of(kustomization.get("patches"), read),
                   *patching.patches_of([{"patch": read(entry) if read(entry) is not None else entry}
                                         for entry in kustomization.get("patchesStrategicMerge") or ()
                                         if isinstance(entry, str)])]
        built.objects = [(path, _replicated(patching.patched(obj, patches, kustomization.get("images")),
                                            kustomization.get("replicas")))
                         for path, obj in built.objects]
    built.objects = [(path, _kustomized(obj, kustomization)) for path, obj in built.objects]
    if layer is not None:
        built.objects = [(path, _by_flux(obj, layer.get("spec") or {})) for path, obj in built.objects]
    for _, obj in list(built.objects):
        applied = _applied_by_flux(files, folder, obj, parsed, depth) if depth < _DEPTH else None
        if applied is not None:
            built.objects += applied.objects
            built.unproven += applied.unproven
    built.unproven += [f"the chart of HelmRelease {obj.get('metadata', {}).get('name')!r}"
                       for _, obj in built.objects if obj.get("kind") == "HelmRelease"]
    return built


def _replicated(obj: dict[str, Any], replicas: Any) -> dict[str, Any]:
    """kustomize's `replicas`: the count of each workload object it names."""
    for entry in replicas if isinstance(replicas, list) else ():
        if isinstance(entry, dict) and obj.get("kind") in _REPLICATED \
                and (obj.get("metadata") or {}).get("name") == entry.get("name") and "count" in entry:
            obj = {**obj, "spec": {**(obj.get("spec") or {}), "replicas": entry["count"]}}
    return obj


def _applied_by_flux(files: dict[str, str], folder: str, obj: dict[str, Any], parsed: Parsed, depth: int
                     ) -> ComponentObjects | None:
    """The objects a Flux Kustomization among a folder's objects applies from a folder of the same tree (a
    kustomize folder the tree carries), with its patches, images, namespace and common metadata; None for any
    other object."""
    if obj.get("kind") != "Kustomization" or not str(obj.get("apiVersion", "")).startswith(FLUX_KUSTOMIZATION):
        return None
    spec = obj.get("spec") or {}
    cluster = folder.split("/")[1]
    inside = _tree_folder(str(spec.get("path") or ""), cluster)
    target = f"clusters/{cluster}/{inside}"
    below = posixpath.join(target, "kustomization.yaml")
    if inside is None or below not in files:
        name = (obj.get("metadata") or {}).get("name")
        why = f"the folder {spec.get('path')!r} of Flux Kustomization {name!r} (outside the tree)"
        return ComponentObjects(folder, [], [why])
    inner = _built(files, target, _documents(files, below, parsed)[0], None, parsed, depth + 1)
    patches = patching.patches_of(spec.get("patches"))
    inner.objects = [(path, _by_flux(patching.patched(found, patches, spec.get("images")), spec))
                     for path, found in inner.objects]
    return inner


def _labelled(obj: dict[str, Any], labels: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return obj


def namespaced(obj: dict[str, Any], namespace: str, keep: bool = False) -> dict[str, Any]:
    """The object in the namespace, if its kind is namespaced (kustomize and Flux set it on those only; a custom
    kind is taken to be namespaced unless known otherwise: kube/api.py). keep: a namespace the object names stays
    (as Helm installs it)."""
    if not cluster_scoped(obj):
        metadata = obj.setdefault("metadata", {})
        if not (keep and metadata.get("namespace")):
            metadata["namespace"] = namespace
    return obj


def _kustomized(obj: dict[str, Any], kustomization: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    if kustomization.get("namespace"):
        obj = namespaced(obj, str(kustomization["namespace"]))
    for entry in kustomization.get("labels") or ():
        obj = _labelled(obj, dict(entry.get("pairs") or {}))
    if kustomization.get("commonLabels"):
        obj = _labelled(obj, dict(kustomization["commonLabels"]))
    if isinstance(kustomization.get("commonAnnotations"), dict):
        metadata = obj.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **kustomization["commonAnnotations"]}
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
