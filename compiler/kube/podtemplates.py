"""Where an object keeps its pods, and trait patches applied there.

Built-in pod-bearing kinds keep one pod template at a known place (`rendered.POD_TEMPLATES`); a custom kind
keeps its templates where its ComponentDefinition (or manifests component) declares (`podTemplates`: a
RayCluster's head and each worker group, a PyTorchJob's replica specs; custom kinds without pods: podless.py).
A pod-level trait patch is written as for a Deployment (`spec.template`) and goes to every template of every
object it is meant for, merged as kustomize merges a PodTemplateSpec. A patch that names a container goes only
to the templates that run it: it never adds a container.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from compiler.kube import merge as smp
from compiler.model import PodTemplatePath, valuespath
from compiler.model.parts import ALL_CONTAINERS, POD_KINDS, POD_TEMPLATES, Patch

POD_TEMPLATE_TYPE = "io.k8s.api.core.v1.PodTemplateSpec"
# How many pods one template of a built-in kind runs, read from the object: (path, default). A DaemonSet runs
# one per node it selects, which easel does not know: it counts as one.
_REPLICAS = {"Deployment": (("spec", "replicas"), 1), "StatefulSet": (("spec", "replicas"), 1),
             "ReplicaSet": (("spec", "replicas"), 1), "Job": (("spec", "parallelism"), 1),
             "CronJob": (("spec", "jobTemplate", "spec", "parallelism"), 1)}


@dataclass(frozen=True)
class PodTemplate:
    template: dict[str, Any]  # metadata and spec of the pods (a Pod: the Pod itself)
    pods: int  # how many pods it runs


def declared_problem(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    """What is wrong with one `podTemplates` entry (checked against its schema): (its field, the message, a
    hint), or None."""
    if entry["kind"] in POD_TEMPLATES:
        return ("kind", f"{entry['kind']} is a built-in kind: easel knows where it keeps its pods",
                "list only custom kinds in `podTemplates`")
    steps = valuespath.parse(entry["path"]) if valuespath.is_path(entry["path"]) else []
    if not steps or not isinstance(steps[-1], str) or steps[-1] == valuespath.EVERY:
        return ("path", f"podTemplates path {entry['path']!r} is not a path to a field",
                ("write it as `spec.workerGroupSpecs[*].template`: names, `[N]` or `[*]` for list items, ending "
                 "at the pod template's field"))
    return None


def declared_paths(entries: Iterable[dict[str, Any]]) -> tuple[PodTemplatePath, ...]:
    """`podTemplates` entries (each without a problem) as the paths they declare."""
    return tuple(PodTemplatePath(e["kind"], e["path"], e.get("replicas"), e.get("apiVersion")) for e in entries)


def declared_for(obj: dict[str, Any], declared: Iterable[PodTemplatePath]) -> list[PodTemplatePath]:
    return [d for d in declared if d.kind == obj.get("kind")
            and (d.api_version is None or d.api_version == obj.get("apiVersion"))]


def is_pod_bearing(obj: dict[str, Any], declared: Iterable[PodTemplatePath] = ()) -> bool:
    return obj.get("kind") in POD_TEMPLATES or bool(declared_for(obj, declared))


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def templates(obj: dict[str, Any], declared: Iterable[PodTemplatePath] = ()) -> list[PodTemplate]:
    """The pod templates of an object, with the pods each runs; [] for an object without pods."""
    kind = obj.get("kind")
    if kind in POD_TEMPLATES:
        template = _get(obj, POD_TEMPLATES[kind])
        path, default = _REPLICAS.get(kind, ((), 1))
        pods = _count(_get(obj, path), default) if path else 1
        return [PodTemplate(template, pods)] if isinstance(template, dict) else []
    found = []
    for where in declared_for(obj, declared):
        for holder, key in valuespath.holders(obj, where.path):
            if isinstance(holder[key], dict):
                pods = _count(holder.get(where.replicas), 1) if where.replicas else 1
                found.append(PodTemplate(holder[key], pods))
    return found


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template.get("spec") if isinstance(template, dict) else None
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in ((spec or {}).get(key) or ()) if isinstance(c, dict)] if isinstance(spec, dict) else []


def named_containers(patch: Patch) -> set[str]:
    """The containers a pod-level patch names ("*", every container, is not a name)."""
    spec = _get(patch.body, ("spec", "template", "spec"))
    return {c["name"] for key in ("containers", "initContainers") for c in ((spec or {}).get(key) or ())
            if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"] != ALL_CONTAINERS} \
        if isinstance(spec, dict) else set()


def _meant_for(patch: Patch, obj: dict[str, Any], declared: Iterable[PodTemplatePath]) -> bool:
    """Whether the patch is for this object, by kind (and name), before looking at its containers."""
    if patch.kind is not None:
        return obj.get("kind") == patch.kind and (patch.name is None
                                                   or (obj.get("metadata") or {}).get("name") == patch.name)
    if obj.get("kind") in POD_TEMPLATES:
        return obj.get("kind") in patch.kinds
    return patch.kinds == POD_KINDS and bool(declared_for(obj, declared))  # every pod-bearing kind


def _runs(template: dict[str, Any], names: set[str]) -> bool:
    return not names or bool(names & {c.get("name") for c in containers(template)})


def reaches(patch: Patch, obj: dict[str, Any], declared: Iterable[PodTemplatePath] = ()) -> bool:
    """Whether the patch changes this object: it is meant for it, and one of its pod templates runs the
    containers the patch names (if it names any)."""
    if not _meant_for(patch, obj, declared):
        return False
    names = named_containers(patch) if patch.kind is None else set()
    return not names or any(_runs(t.template, names) for t in templates(obj, declared))


def for_kind(body: dict[str, Any], kind: str | None) -> dict[str, Any]:
    """A patch written for a Deployment (pod template at spec.template) as the kind needs it: the template moved
    to where the kind keeps it (a CronJob's spec.jobTemplate.spec.template; a Pod's own metadata and spec)."""
    path = POD_TEMPLATES.get(kind or "")
    spec = body.get("spec")
    if path is None or path == ("spec", "template") or not isinstance(spec, dict) or "template" not in spec:
        return body
    template = spec["template"]
    rest = {k: v for k, v in spec.items() if k != "template"}
    moved: dict[str, Any] = dict(template) if not path else {}
    if path:
        node = moved
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = template
    if rest:
        moved["spec"] = {**rest, **(moved.get("spec") or {})}
    return {**{k: v for k, v in body.items() if k != "spec"}, **moved}


def patched(obj: dict[str, Any], patches: list[Patch], declared: Iterable[PodTemplatePath] = ()) -> dict[str, Any]:
    """The object with every patch meant for it applied: the patches combined into one first, as on a chart
    (tolerations add up), then merged in. On a built-in kind as kustomize would; on a custom kind, each
    template gets the pod-level patches that reach it, merged as a PodTemplateSpec."""
    declared = tuple(declared)
    mine = [p for p in patches if reaches(p, obj, declared)]
    if not mine:
        return obj
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if kind in POD_TEMPLATES:
        template = _get(obj, POD_TEMPLATES[kind])
        body: dict[str, Any] = {}
        for patch in mine:
            if patch.kind is None and not (isinstance(template, dict) and _runs(template, named_containers(patch))):
                continue
            patch_body = patch.body if patch.kind else for_kind(patch.body, kind)
            body = smp.combine(body, patch_body, api_version, kind)
        return smp.apply(obj, body)
    whole: dict[str, Any] = {}
    for patch in mine:
        if patch.kind is not None:
            whole = smp.combine(whole, patch.body, api_version, kind)
    obj = smp.apply(obj, whole) if whole else copy.deepcopy(obj)
    for where in declared_for(obj, declared):
        for holder, key in valuespath.holders(obj, where.path):
            body = {}
            for patch in mine:
                template_patch = _get(patch.body, ("spec", "template"))
                if patch.kind is None and isinstance(template_patch, dict) and _runs(holder[key],
                                                                                     named_containers(patch)):
                    body = smp.combine_as(body, template_patch, POD_TEMPLATE_TYPE)
            if body:
                holder[key] = smp.apply_as(holder[key], body, POD_TEMPLATE_TYPE)
    return obj


def pods_reached(objects: list[dict[str, Any]], patches: list[Patch], patch: Patch,
                 declared: Iterable[PodTemplatePath] = ()) -> int:
    """How many pods one patch reaches once every patch is applied (so replicas a trait sets count)."""
    declared = tuple(declared)
    names = named_containers(patch) if patch.kind is None else set()
    return sum(t.pods for obj in objects if reaches(patch, obj, declared)
               for t in templates(patched(obj, patches, declared), declared) if _runs(t.template, names))
