"""The fidelity check: what easel booked is what the rendered pods request.

For every cluster and every component easel booked GPUs for (the plan's bookings), read the tree as written:
- easel's own objects (Flux: the component's file; Argo CD: its folder's objects.yaml): every pod template of
  every pod-bearing object requests the booked GPUs per replica in a container, runs the booked replicas, and
  selects and tolerates as booked;
- a chart: the booked GPUs reach it, through values the profile maps (`traitValues`, read back from the
  HelmRelease's values or the Argo CD wrapper's valuesInline), or through a patch (Flux post-renderer, Argo CD
  wrapper `patches`) for the component's `target` that sets them on its `container`.
Returns the problems found, as text; an empty list is a pass.
"""

from __future__ import annotations

import yaml

from compiler import valuespath

POD_PATHS = {"Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
             "DaemonSet": ("spec", "template"), "ReplicaSet": ("spec", "template"), "Job": ("spec", "template"),
             "CronJob": ("spec", "jobTemplate", "spec", "template"), "Pod": ()}
# how many pods a template of a built-in kind runs (a DaemonSet: one per node, counted as one, as easel does)
PODS = {"Deployment": ("spec", "replicas"), "StatefulSet": ("spec", "replicas"), "ReplicaSet": ("spec", "replicas"),
        "Job": ("spec", "parallelism"), "CronJob": ("spec", "jobTemplate", "spec", "parallelism")}


def _at(node, path):
    for key in path:
        node = (node or {}).get(key)
    return node


def _pod(obj: dict) -> dict | None:
    return (_at(obj, POD_PATHS[obj["kind"]]) or {}).get("spec")


def _pods(obj: dict, declared) -> list[tuple[str, dict, int]]:
    """(where, pod spec, pods it runs) of every pod template of an object: built-in kinds by their known paths,
    custom kinds where their ComponentDefinition says (`podTemplates`)."""
    if obj["kind"] in POD_PATHS:
        count = _at(obj, PODS[obj["kind"]]) if obj["kind"] in PODS else 1
        return [("", _pod(obj) or {}, 1 if count is None else count)]
    found = []
    for entry in declared:
        if entry.kind == obj["kind"]:
            for index, (holder, key) in enumerate(valuespath.holders(obj, entry.path)):
                pods = holder.get(entry.replicas, 1) if entry.replicas else 1
                found.append((f" {entry.path}#{index}", holder[key].get("spec") or {}, pods))
    return found


def _documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _asked(pod: dict, resource: str) -> list:
    return [c.get("resources", {}).get("limits", {}).get(resource) for c in pod.get("containers", [])]


def _pod_problems(where: str, pod: dict, booking, gpus) -> list[str]:
    problems = [f"{where}: container {c.get('name')!r} has no image (a patch added it)"
                for c in pod.get("containers", []) if not c.get("image")]
    asked = [a for a in _asked(pod, gpus.resource) if a is not None]
    if asked != [gpus.per_replica]:
        problems.append(f"{where}: booked {gpus.per_replica} {gpus.resource} per replica; containers ask {asked}")
    selector = pod.get("nodeSelector") or {}
    for key, value in booking.node_selector.items():
        if selector.get(key) != value:
            problems.append(f"{where}: booked nodes with {key}={value}; nodeSelector is {selector}")
    for toleration in booking.tolerations:
        if toleration not in (pod.get("tolerations") or []):
            problems.append(f"{where}: booked toleration {toleration} is missing")
    return problems


def _own_objects(where: str, documents: list[dict], booking, gpus, declared=()) -> list[str]:
    pods = [(f"{where} {d['kind']}/{d['metadata']['name']}{at}", pod, count)
            for d in documents for at, pod, count in _pods(d, declared)]
    if not pods:
        return [f"{where}: booked {gpus.per_replica} {gpus.resource} × {gpus.replicas}, but no pod-bearing object"]
    problems = []
    requested = 0
    for name, pod, count in pods:
        if any(a is not None for a in _asked(pod, gpus.resource)):
            problems += _pod_problems(name, pod, booking, gpus)
            requested += count * sum(a for a in _asked(pod, gpus.resource) if isinstance(a, int))
        else:
            problems += [f"{name}: container {c.get('name')!r} has no image (a patch added it)"
                         for c in pod.get("containers", []) if not c.get("image")]
    if requested != gpus.per_replica * gpus.replicas:
        problems.append(f"{where}: booked {gpus.per_replica} {gpus.resource} × {gpus.replicas} pods; the pods "
                        f"request {requested} in all")
    return problems


def _chart(where: str, component, values: dict, patches: list[dict], gpus) -> list[str]:
    mapping = component.properties.get("traitValues") or {}
    if "gpu.count" in mapping:
        found = valuespath.get(values, mapping["gpu.count"])
        return [] if found == gpus.per_replica else [
            f"{where}: booked {gpus.per_replica} GPUs per replica; values {mapping['gpu.count']} is {found!r}"]
    container = component.properties.get("container")
    for entry in patches:
        patch = yaml.safe_load(entry["patch"])
        pod = _pod({**patch, "kind": entry["target"]["kind"]}) if entry["target"]["kind"] in POD_PATHS else None
        for c in (pod or {}).get("containers", []):
            if c.get("name") == container and \
                    c.get("resources", {}).get("limits", {}).get(gpus.resource) == gpus.per_replica:
                return []
    return [f"{where}: booked {gpus.per_replica} {gpus.resource} per replica; no values mapping or patch of "
            f"container {container!r} asks for it"]


def check(result) -> list[str]:
    """Every booked GPU is requested by what the tree renders; the problems otherwise."""
    problems: list[str] = []
    files = result.files or {}
    for cluster, plan in (result.plans.clusters.items() if result.plans else ()):
        for release in plan.releases:
            components = {c.name: c for c in release.components}
            for booking in release.bookings:
                component = components[booking.component]
                base = f"clusters/{cluster}/{release.path}/{component.name}"
                where = f"{cluster} {release.id} {component.name}"
                for gpus in booking.gpus:
                    if plan.engine == "flux":
                        documents = _documents(files.get(f"{base}.yaml", ""))
                        if component.output.helm:
                            [hr] = [d for d in documents if d["kind"] == "HelmRelease"]
                            post = (hr["spec"].get("postRenderers") or [{}])[0].get("kustomize") or {}
                            problems += _chart(where, component, hr["spec"].get("values") or {},
                                               post.get("patches") or [], gpus)
                        else:
                            problems += _own_objects(where, documents, booking, gpus,
                                                     component.output.pod_templates)
                    elif component.output.helm:
                        wrapper = yaml.safe_load(files.get(f"{base}/kustomization.yaml", "{}")) or {}
                        chart = (wrapper.get("helmCharts") or [{}])[0]
                        app = next((d for p, t in files.items() if p.startswith(f"clusters/{cluster}/apps/")
                                    for d in _documents(t) if d["metadata"]["labels"].get("easel.dev/component")
                                    == component.name and d["metadata"]["labels"].get("easel.dev/workload")
                                    == release.name), None)
                        values = chart.get("valuesInline") or (
                            ((app or {}).get("spec", {}).get("source", {}).get("helm") or {}).get("valuesObject")
                            or {})
                        problems += _chart(where, component, values, wrapper.get("patches") or [], gpus)
                    else:
                        problems += _own_objects(where, _documents(files.get(f"{base}/objects.yaml", "")), booking,
                                                 gpus, component.output.pod_templates)
    return problems
