"""Where an object keeps its pods, and trait patches applied there.

Built-in pod-bearing kinds keep one pod template at a known place (`rendered.POD_TEMPLATES`); a custom kind
keeps its templates where its ComponentDefinition (or manifests component) declares (`podTemplates`: a
RayCluster's head and each worker group, a PyTorchJob's replica specs; custom kinds without pods: podless.py).
A pod-level trait patch is written as for a Deployment (`spec.template`) and goes to every template of every
object it is meant for, merged as kustomize merges a PodTemplateSpec. A patch that names a container goes only
to the templates that run it: it never adds a container.

How many pods a template runs at once is what GPUs are booked for (README, "GPUs are booked for every pod"): a
Deployment's, StatefulSet's or ReplicaSet's replicas, a Job's parallelism capped by its completions, a CronJob's
job template alike while its runs cannot overlap; a DaemonSet's and an overlapping CronJob's cannot be counted
ahead, and asking GPUs for them is an error (unbookable).
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
# How many pods one template of a replicated built-in kind runs: (path to the count, default)
_REPLICAS = {"Deployment": (("spec", "replicas"), 1), "StatefulSet": (("spec", "replicas"), 1),
             "ReplicaSet": (("spec", "replicas"), 1)}
# A CronJob's runs may not overlap under these: a run due while the last one runs is skipped (Forbid), or the
# last one is stopped first (Replace; its pods free their GPUs before the new ones can start on them)
_ONE_RUN_AT_A_TIME = ("Forbid", "Replace")


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


def _job_pods(spec: Any) -> int:
    """The pods a Job's spec runs at once: `parallelism` (default 1), never more than `completions` when set, as
    the Job controller starts no more pods than completions remain (indexed Jobs alike)."""
    parallelism = _count(_get(spec, ("parallelism",)), 1)
    completions = _get(spec, ("completions",))
    return min(parallelism, _count(completions, parallelism))


def _pods(obj: dict[str, Any]) -> int:
    """How many pods the template of a built-in kind runs at once. A CronJob: one run's (see unbookable); a
    DaemonSet: one per node it selects, which the object does not say: one here (see unbookable); a Pod: one."""
    kind = obj.get("kind")
    if kind == "Job":
        return _job_pods(_get(obj, ("spec",)))
    if kind == "CronJob":
        return _job_pods(_get(obj, ("spec", "jobTemplate", "spec")))
    path, default = _REPLICAS.get(str(kind), ((), 1))
    return _count(_get(obj, path), default) if path else 1


def unbookable(obj: dict[str, Any]) -> tuple[str, str] | None:
    """Why GPUs cannot be booked ahead for the pods of a built-in object, whose number at once the object does
    not state, as (code, why; codes.py has the hint), or None. A CronJob whose runs may overlap
    (concurrencyPolicy Allow, the default) runs as many runs' pods at once as runs outlast its schedule; a
    DaemonSet runs a pod on every node it selects, nodes that join later too, whatever easel booked there."""
    kind = obj.get("kind")
    if kind == "CronJob" and _get(obj, ("spec", "concurrencyPolicy")) not in _ONE_RUN_AT_A_TIME:
        policy = _get(obj, ("spec", "concurrencyPolicy"))
        return ("E414", (f"its runs may overlap (concurrencyPolicy {policy or 'Allow, the default'}), each "
                         "running its pods, so how many ask for GPUs at once depends on how long a run lasts"))
    if kind == "DaemonSet":
        return ("E415", ("it runs a pod on every node it selects, nodes that join the cluster later too, and "
                         "its pods land there whatever GPUs easel booked on those nodes for others"))
    return None


def templates(obj: dict[str, Any], declared: Iterable[PodTemplatePath] = ()) -> list[PodTemplate]:
    """The pod templates of an object, with the pods each runs; [] for an object without pods."""
    kind = obj.get("kind")
    if kind in POD_TEMPLATES:
        template = _get(obj, POD_TEMPLATES[kind])
        return [PodTemplate(template, _pods(obj))] if isinstance(template, dict) else []
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


def images(objects: Iterable[dict[str, Any]]) -> list[str]:
    """The images the objects' pods pull (built-in kinds' pod templates), sorted, each once."""
    return sorted({str(c["image"]) for obj in objects for t in templates(obj) for c in containers(t.template)
                   if isinstance(c.get("image"), str)})


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
    # a copy all the way down: the templates below are changed in place, and the object handed in is shared
    obj = copy.deepcopy(smp.apply(obj, whole) if whole else obj)
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


def unbookable_reached(objects: list[dict[str, Any]], patches: list[Patch], patch: Patch,
                       declared: Iterable[PodTemplatePath] = ()) -> list[tuple[dict[str, Any], tuple[str, str]]]:
    """The objects one patch (the gpu trait's) reaches, once every patch is applied, whose pods cannot be
    booked (unbookable), each with why."""
    declared = tuple(declared)
    names = named_containers(patch) if patch.kind is None else set()
    found = []
    for obj in objects:
        if not reaches(patch, obj, declared):
            continue
        done = patched(obj, patches, declared)
        problem = unbookable(done)
        if problem is not None and any(_runs(t.template, names) for t in templates(done, declared)):
            found.append((done, problem))
    return found
