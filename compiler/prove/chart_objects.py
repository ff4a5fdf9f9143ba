"""A chart's objects as the cluster will apply them: what the tree gives the engine (a Flux HelmRelease's values,
release name, namespace, post-renderer patches and common labels; an Argo CD wrapper's `helmCharts` entry,
`patches`, `images` and `labels`), read back from the rendered tree, the chart rendered by Helm's own engine from
the archive easel.lock pins, then easel's patches applied as kustomize applies them (its strategic merge, "*" a
name like any other, a target's name a regular expression matched whole).

Before the patches go on, each must find its objects: a target that matches nothing is a patch kustomize drops
without a word (the GPUs booked are never requested), and a container a target lacks is one kustomize adds with
no image. Both are errors that list the chart's pod objects.

Helm's engine runs outside the proof (pipeline.py hands a ChartEngine in): here everything is values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from compiler.kube import podtemplates
from compiler.kube.api import crd_defines, is_custom, mapping
from compiler.load import yamlio
from compiler.model.charts import ChartArchive
from compiler.prove import patching
from compiler.prove.objects import ComponentObjects, Parsed, namespaced

HELM_HOOK = "helm.sh/hook"
# Hooks Helm runs only on `helm test`: never applied by an install or an upgrade
TEST_HOOKS = ("test", "test-success", "test-failure")


@dataclass(frozen=True)
class ChartRequest:
    """One render: the archive, and what the tree gives the engine with it."""
    archive: ChartArchive
    values: Mapping[str, Any]
    release: str
    namespace: str
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()

    def key(self) -> str:
        """The render's identity: the same key, the same objects."""
        text = json.dumps([self.archive.digest, self.values, self.release, self.namespace, self.kube_version,
                           list(self.api_versions)], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ChartRendering:
    """The engine's answer: the manifests by template path, or why there are none (a render error, "timeout",
    "crash", "unavailable")."""
    manifests: Mapping[str, str] | None = None
    failure: str | None = None
    message: str = ""
    stable: bool = True  # rendered twice, the same both times (no random values, no timestamps)


class ChartEngine(Protocol):
    def render(self, request: ChartRequest) -> ChartRendering: ...

    def close(self) -> None:
        """Stop what the engine runs (before a fork, and when a tree is done)."""


@dataclass
class ChartProof:
    """What proving charts takes (the archives easel.lock pins, the engine) and what it found on the way: the
    images each cluster's chart pods pull, for its images.txt."""
    archives: Mapping[tuple[str, str, str], ChartArchive]
    engine: ChartEngine
    images: dict[str, set[str]] = field(default_factory=dict)
    unstable: set[str] = field(default_factory=set)  # the archives (by digest) said to render differently twice


def api_versions(crds: Mapping[tuple[str, str], tuple[dict[str, Any], ...]],
                 archives: list[ChartArchive]) -> tuple[str, ...]:
    """What `.Capabilities.APIVersions` holds beyond the built-ins: every served version of the CRDs the tree
    installs and the cluster's charts ship, as group/version and group/version/Kind."""
    found: set[str] = set()
    shipped = [crd for archive in archives for crd in archive.crds]
    for crd in [*shipped, *(crd for same in crds.values() for crd in same)]:
        spec = mapping(crd.get("spec"))
        group, kind = crd_defines(crd)
        versions = spec.get("versions")
        for version in versions if isinstance(versions, list) else ():
            if isinstance(version, dict) and version.get("served", True) and group and kind:
                found |= {f"{group}/{version.get('name')}", f"{group}/{version.get('name')}/{kind}"}
    return tuple(sorted(found))


@dataclass(frozen=True)
class ChartUse:
    """What the tree gives the engine for one chart, and what kustomize then does to its objects."""
    file: str  # where the tree says it
    holder: dict[str, Any]  # the object that says it (the HelmRelease, or the wrapper's kustomization)
    values: dict[str, Any]
    release: str
    namespace: str
    patches: tuple[tuple[dict[str, Any], dict[str, Any]], ...] = ()  # (target, patch object)
    images: tuple[dict[str, Any], ...] = ()  # kustomize `images` entries
    labels: dict[str, str] = field(default_factory=dict)
    # kustomize applies what Helm renders, hooks as plain objects, and its `namespace` moves every namespaced
    # object (an Argo CD wrapper); Flux's helm-controller post-renders the release and installs each object where
    # it says, and its hooks only where its Helm post-renders hooks (Helm 4, or 3.21 on): not counted on here
    moves_namespace: bool = False
    patches_hooks: bool = False
    # what the engine renders the chart for, when the tree says it (a wrapper's helmCharts entry: kustomize renders
    # for Helm's defaults otherwise); None: the cluster's own (Flux and Argo CD ask the cluster)
    capabilities: tuple[str | None, tuple[str, ...]] | None = None


Problem = tuple[str, dict[str, Any], str, str, str]  # file, object, field, message, code


def chart_use(built: ComponentObjects, files: Mapping[str, str], parsed: Parsed) -> ChartUse | None:
    """The chart the component's folder hands its engine, as written (None: no chart there)."""
    release = next(((file, obj) for file, obj in built.objects if obj.get("kind") == "HelmRelease"), None)
    if release is not None:
        return _once(parsed, release[0], release[1], _from_helm_release)
    path = posixpath.join(built.folder, "kustomization.yaml")
    if path in files:
        kustomization = parsed.documents(files[path])[0]
        charts = kustomization.get("helmCharts") or ()
        if charts and isinstance(charts[0], dict):
            return _once(parsed, path, kustomization, _from_wrapper)
    return None


def _once(parsed: Parsed, file: str, holder: dict[str, Any], read: Callable[[str, dict[str, Any]], ChartUse]
          ) -> ChartUse:
    """What one object of the tree gives the engine, read (its patches parsed) once however many clusters hold it,
    named by this cluster's file."""
    key = ("use", id(holder))
    if key not in parsed.charts:
        parsed.charts[key] = (holder, read(file, holder))
    found: ChartUse = parsed.charts[key][1]
    return found if found.file == file else dataclasses.replace(found, file=file)


def application_use(files: Mapping[str, str], path: str, parsed: Parsed) -> ChartUse | None:
    """The chart an Argo CD Application renders straight from its source (no wrapper): its Helm release name,
    values and destination namespace (None: the file holds no such Application)."""
    if path not in files:
        return None
    for obj in parsed.documents(files[path]):
        spec = obj.get("spec") or {}
        source, helm = spec.get("source") or {}, (spec.get("source") or {}).get("helm") or {}
        if obj.get("kind") == "Application" and (source.get("chart") or source.get("path")):
            namespace = str((spec.get("destination") or {}).get("namespace") or "default")
            return ChartUse(path, obj, dict(helm.get("valuesObject") or {}),
                            str(helm.get("releaseName") or (obj.get("metadata") or {}).get("name")), namespace,
                            patches_hooks=True)
    return None


def _from_helm_release(file: str, obj: dict[str, Any]) -> ChartUse:
    spec = obj.get("spec") or {}
    metadata = obj.get("metadata") or {}
    namespace = str(spec.get("targetNamespace") or metadata.get("namespace") or "default")
    # helm-controller's default release name: <targetNamespace>-<name>, or the name
    release = spec.get("releaseName") or (f"{spec['targetNamespace']}-{metadata.get('name')}"
                                          if spec.get("targetNamespace") else metadata.get("name"))
    patches: list[tuple[dict[str, Any], dict[str, Any]]] = []
    rewrites: list[dict[str, Any]] = []
    for renderer in spec.get("postRenderers") or ():
        kustomize = (renderer or {}).get("kustomize") or {}
        patches += patching.patches_of(kustomize.get("patches"))
        rewrites += list(kustomize.get("images") or ())
    labels = ((spec.get("commonMetadata") or {}).get("labels")) or {}
    return ChartUse(file, obj, dict(spec.get("values") or {}), str(release), namespace, tuple(patches),
                    tuple(rewrites), {str(k): str(v) for k, v in labels.items()})


def _from_wrapper(file: str, kustomization: dict[str, Any]) -> ChartUse:
    chart = kustomization["helmCharts"][0]
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels") or ():
        labels.update({str(k): str(v) for k, v in (entry.get("pairs") or {}).items()})
    namespace = str(chart.get("namespace") or kustomization.get("namespace") or "default")
    return ChartUse(file, kustomization, dict(chart.get("valuesInline") or {}), str(chart.get("releaseName")),
                    namespace, tuple(patching.patches_of(kustomization.get("patches"))),
                    tuple(kustomization.get("images") or ()), labels,
                    moves_namespace=bool(kustomization.get("namespace")), patches_hooks=True,
                    capabilities=(str(chart["kubeVersion"]) if chart.get("kubeVersion") else None,
                                  tuple(str(v) for v in chart.get("apiVersions") or ())))


def rendered_objects(use: ChartUse, rendering: ChartRendering, where: str
                     ) -> tuple[list[tuple[str, dict[str, Any]]], list[Problem]]:
    """The chart's objects as the cluster applies them, and what is wrong on the way there. where: how the
    objects are named in messages (the chart, and its archive)."""
    if rendering.manifests is None:
        schema = "specifications of the schema" in rendering.message  # Helm checks values.schema.json first
        return [], [(use.file, use.holder, "the chart's values" if schema else "the chart",
                     f"Helm's engine cannot render {where}: {rendering.message.strip()}",
                     "E819" if schema else "E818")]
    objects, problems = _parsed(use, rendering.manifests, where)
    problems += _unmatched(use, objects)
    hidden = ("a custom resource whose pods easel cannot count asks for GPUs here: they cannot be booked or proven; "
              "run it as a component whose definition declares its `podTemplates`")
    problems += [(file, obj, path, hidden, "E810") for file, obj in objects
                 if not podtemplates.templates(obj) and is_custom(obj) and (path := _gpu_request(obj)) is not None]
    if not rendering.stable:  # said as a warning, once per chart (tree.py)
        problems.append((use.file, use.holder, "the chart", "renders differently each time", "W108"))
    patched = [(file, _patched(obj, use)) for file, obj in objects]
    return patched, problems


def _parsed(use: ChartUse, manifests: Mapping[str, str], where: str
            ) -> tuple[list[tuple[str, dict[str, Any]]], list[Problem]]:
    objects: list[tuple[str, dict[str, Any]]] = []
    problems: list[Problem] = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt") or not text.strip():
            continue
        documents, bad = yamlio.parse(text)
        if bad:
            problems.append((use.file, use.holder, f"the chart's {template}",
                             f"{where} renders what is not YAML (line {bad[0].line}): {bad[0].message}", "E818"))
            continue
        for obj in _items([document.data for document in documents if document.data is not None]):
            if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict) \
                    or not isinstance(obj.get("metadata", {}).get("annotations") or {}, dict):
                problems.append((use.file, use.holder, f"the chart's {template}",
                                 f"{where} renders a document that is not an object Kubernetes reads", "E818"))
                continue
            hook = str(((obj.get("metadata") or {}).get("annotations") or {}).get(HELM_HOOK, ""))
            if any(part.strip() in TEST_HOOKS for part in hook.split(",")):
                continue
            # Helm installs an object in the namespace it names; kustomize's namespace (a wrapper's) moves it
            objects.append((f"{where}: {template}", namespaced(obj, use.namespace, keep=not use.moves_namespace)))
    return objects, problems


def objects_in(manifests: Mapping[str, str]) -> list[dict[str, Any]]:
    """The objects of a chart's manifests as Helm installs them (Lists unpacked), those only `helm test` runs left
    out; what is not YAML, or not an object Kubernetes reads, is left out too (the proof says so: _parsed)."""
    found = []
    for template, text in sorted(manifests.items()):
        if template.endswith("NOTES.txt") or not text.strip():
            continue
        documents, bad = yamlio.parse(text)
        for obj in [] if bad else _items([document.data for document in documents if document.data is not None]):
            metadata = obj.get("metadata") or {} if isinstance(obj, dict) else None
            annotations = metadata.get("annotations") or {} if isinstance(metadata, dict) else None
            if isinstance(annotations, dict) and not any(
                    part.strip() in TEST_HOOKS for part in str(annotations.get(HELM_HOOK, "")).split(",")):
                found.append(obj)
    return found


def _items(documents: list[Any]) -> list[Any]:
    """Documents with every List (`v1 List`, `*List`) unpacked into its items, as Helm and kustomize apply them."""
    found: list[Any] = []
    for document in documents:
        if isinstance(document, dict) and str(document.get("kind", "")).endswith("List") \
                and isinstance(document.get("items"), list):
            found += _items(document["items"])
        else:
            found.append(document)
    return found


def _gpu_request(node: Any, path: str = "") -> str | None:
    """The first place below node that requests or limits a GPU resource (None: none does)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("limits", "requests") and isinstance(value, dict) and any(
                    str(name).startswith("nvidia.com/") and value[name] not in (0, "0") for name in value):
                return f"{path}.{key}".lstrip(".")
            found = _gpu_request(value, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found = _gpu_request(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def is_hook(obj: dict[str, Any]) -> bool:
    return bool(((obj.get("metadata") or {}).get("annotations") or {}).get(HELM_HOOK))


def _unmatched(use: ChartUse, objects: list[tuple[str, dict[str, Any]]]) -> list[Problem]:
    """Patches kustomize would drop (a target matching nothing: the component's `target`, or any patch that sets
    containers) or that would add a container with no image (a container the target's pods do not run). A
    pod-wide part for a kind the chart does not render is no loss."""
    problems: list[Problem] = []
    for target, patch in use.patches:
        every = [(file, obj) for file, obj in objects if patching.matches(target, obj)]
        matched = [(file, obj) for file, obj in every if use.patches_hooks or not is_hook(obj)]
        said = ", ".join(f"{k}={v}" for k, v in sorted(target.items()))
        if not matched and (target.get("name") or _patch_containers(patch)):  # a pod-wide part for a kind
            what = (f"matches only Helm hooks ({', '.join(_named(obj) for _, obj in every)}), which Flux's "
                    "post-renderer reaches only on a helm-controller built on Helm 4 or 3.21 and later, which easel "
                    "does not count on: set it through the chart's values (`traitValues`)" if every else
                    "matches none of the chart's objects")
            problems.append((use.file, use.holder, f"post-renderer patch target ({said})",
                             f"{what}; its pod objects are: {_pod_objects(objects)}", "E817"))
            continue
        wanted = _patch_containers(patch)
        for file, obj in matched:
            running = {str(c.get("name")) for t in podtemplates.templates(obj)
                       for c in podtemplates.containers(t.template)}
            for name in sorted(wanted - running):
                message = (f"the object runs no such container (its containers: {', '.join(sorted(running))}), so "
                           f"kustomize would add one with no image; the chart's pod objects are: "
                           f"{_pod_objects(objects)}")
                problems.append((file, obj, f"post-renderer patch ({said}) container {name!r}", message, "E817"))
    return problems


def _named(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r}"


def _patch_containers(patch: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for template in podtemplates.templates(patch):
        found |= {str(c.get("name")) for c in podtemplates.containers(template.template) if isinstance(c, dict)}
    return found


def _pod_objects(objects: list[tuple[str, dict[str, Any]]]) -> str:
    listed = [f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r} ("
              + ", ".join(str(c.get("name")) for t in podtemplates.templates(obj)
                          for c in podtemplates.containers(t.template)) + ")"
              for _, obj in objects if podtemplates.templates(obj)]
    return "; ".join(listed) or "none"


def _patched(obj: dict[str, Any], use: ChartUse) -> dict[str, Any]:
    if is_hook(obj) and not use.patches_hooks:  # a hook the engine may install without the post-renderer at all:
        return obj  # no patch, no image rewrite, no common label
    obj = patching.patched(obj, use.patches, use.images)
    if use.labels:
        metadata = obj.setdefault("metadata", {})
        metadata["labels"] = {**(metadata.get("labels") or {}), **use.labels}
    return obj


def pulled_images(objects: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The images the objects' pods pull."""
    return podtemplates.images(obj for _, obj in objects)
