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

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from compiler.decide import inventory
from compiler.definitions.builtins import traits
from compiler.model import PodTemplatePath, valuespath
from compiler.model.parts import RenderContext

POD_PATHS = {"Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
             "DaemonSet": ("spec", "template"), "ReplicaSet": ("spec", "template"), "Job": ("spec", "template"),
             "CronJob": ("spec", "jobTemplate", "spec", "template"), "Pod": ()}
# how many pods a template of a built-in kind runs at once: replicas, or a Job's (one run of a CronJob's)
# parallelism, never more than its completions (a DaemonSet's GPUs are refused: one pod is what's left to count)
PODS = {"Deployment": ("spec", "replicas"), "StatefulSet": ("spec", "replicas"), "ReplicaSet": ("spec", "replicas"),
        "Job": ("spec",), "CronJob": ("spec", "jobTemplate", "spec")}


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
        if obj["kind"] in ("Job", "CronJob"):
            job = count or {}
            count = min(job.get("parallelism", 1), job.get("completions", job.get("parallelism", 1)))
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


def _asked(pod: dict, gpus, templates: dict | None = None) -> list:
    """What the pod asks for of the booked GPUs. Device plugin: each container's limit of the resource, as a
    number (a quantity may be written "2"), or None. DRA: for each claim of the pod made from the booked
    ResourceClaimTemplate that a container uses, the devices its template requests."""
    if gpus.allocation != "dra":
        limits = [c.get("resources", {}).get("limits", {}).get(gpus.resource) for c in pod.get("containers", [])]
        return [int(a) if isinstance(a, str) and a.isdigit() else a for a in limits]
    used = {claim.get("name") for c in pod.get("containers", []) for claim in (c.get("resources") or {}).get("claims")
            or ()}
    template = (templates or {}).get(gpus.claim_template) or {}
    requests = _at(template, ("spec", "spec", "devices", "requests")) or []
    devices = sum((r.get("exactly") or {}).get("count", 1) for r in requests)
    return [devices for claim in pod.get("resourceClaims") or ()
            if claim.get("resourceClaimTemplateName") == gpus.claim_template and claim.get("name") in used]


def _templates(files: dict, cluster: str, release) -> dict[str, dict]:
    """The ResourceClaimTemplates of a release's folder in the cluster's tree, by name."""
    prefix = f"clusters/{cluster}/{release.path}/"
    return {d["metadata"]["name"]: d for path, text in files.items() if path.startswith(prefix)
            for d in _documents(text) if d.get("kind") == "ResourceClaimTemplate"}


def _template_problems(where: str, gpus, templates: dict, dra_names: dict) -> list[str]:
    """A booking under DRA: its ResourceClaimTemplate asks for the booked devices, of the booked class, and
    selects the booked products by the names the driver publishes."""
    if gpus.allocation != "dra":
        return []
    template = templates.get(gpus.claim_template)
    if template is None:
        return [f"{where}: ResourceClaimTemplate {gpus.claim_template!r} is not in the tree"]
    problems = []
    requests = _at(template, ("spec", "spec", "devices", "requests")) or []
    for request in requests:
        exactly = request.get("exactly") or {}
        if exactly.get("deviceClassName") != gpus.resource:
            problems.append(f"{where}: booked {gpus.resource}; the claim asks for {exactly.get('deviceClassName')}")
        if exactly.get("allocationMode", "ExactCount") != "ExactCount":
            problems.append(f"{where}: the claim asks for {exactly.get('allocationMode')} devices, not a count")
        expressions = " && ".join(s["cel"]["expression"] for s in exactly.get("selectors") or ())
        for product in gpus.products:
            if repr(dra_names.get(product, "?")) not in expressions:
                problems.append(f"{where}: booked {product}; the claim's selectors do not name it ({expressions})")
    if len(requests) != 1:
        problems.append(f"{where}: the claim has {len(requests)} requests, not one")
    return problems


def _device_plugin_limits(where: str, pod: dict) -> list[str]:
    """Under DRA no container may ask for the device plugin's GPUs: no node offers them, the pod would stay
    Pending."""
    return [f"{where}: container {c.get('name')!r} asks for {resource} on a cluster without the device plugin"
            for c in pod.get("containers", []) for part in ("limits", "requests")
            for resource, value in ((c.get("resources") or {}).get(part) or {}).items()
            if resource.startswith("nvidia.com/") and str(value) != "0"]


def _pod_problems(where: str, pod: dict, booking, gpus, templates: dict | None = None) -> list[str]:
    problems = [f"{where}: container {c.get('name')!r} has no image (a patch added it)"
                for c in pod.get("containers", []) if not c.get("image")]
    if gpus.allocation == "dra":
        problems += _device_plugin_limits(where, pod)
    asked = [a for a in _asked(pod, gpus, templates) if a is not None]
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


def _own_objects(where: str, documents: list[dict], booking, gpus, declared=(), templates=None) -> list[str]:
    pods = [(f"{where} {d['kind']}/{d['metadata']['name']}{at}", pod, count)
            for d in documents for at, pod, count in _pods(d, declared)]
    if not pods:
        return [f"{where}: booked {gpus.per_replica} {gpus.resource} × {gpus.replicas}, but no pod-bearing object"]
    problems = []
    requested = 0
    for name, pod, count in pods:
        if any(a is not None for a in _asked(pod, gpus, templates)):
            problems += _pod_problems(name, pod, booking, gpus, templates)
            requested += count * sum(a for a in _asked(pod, gpus, templates) if isinstance(a, int))
        else:
            problems += [f"{name}: container {c.get('name')!r} has no image (a patch added it)"
                         for c in pod.get("containers", []) if not c.get("image")]
    if requested != gpus.per_replica * gpus.replicas:
        problems.append(f"{where}: booked {gpus.per_replica} {gpus.resource} × {gpus.replicas} pods; the pods "
                        f"request {requested} in all")
    return problems


# Representative renderings of the charts the suite uses (`helm template` output, written from each chart's
# templates): trait patches are applied to them with the real `kubectl kustomize`, as Flux's post-renderer and
# the Argo CD wrapper apply them, to see which pods they really reach.
CHARTS = Path(__file__).resolve().parent / "charts"
# where the custom kinds of those charts keep their pods (as a ComponentDefinition would declare them)
CHART_POD_TEMPLATES = (PodTemplatePath("RayCluster", "spec.headGroupSpec.template"),
                       PodTemplatePath("RayCluster", "spec.workerGroupSpecs[*].template", "replicas"))
_BUILT: dict[tuple[str, str], list[dict]] = {}


def _kubectl() -> str | None:
    return shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


def rendered_chart(chart: str, version: str, release: str, namespace: str, patches: list[dict]) -> list[dict] | None:
    """The chart's representative rendering with the patches applied by `kubectl kustomize`; None when the suite
    has no rendering of that chart and version (or no kubectl)."""
    path = CHARTS / f"{chart}-{version}.yaml"
    kubectl = _kubectl()
    if not path.is_file() or kubectl is None:
        return None
    text = path.read_text().replace("RELEASE-NAME", release).replace("NAMESPACE", namespace)
    key = (text, json.dumps(patches, sort_keys=True))
    if key not in _BUILT:
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "chart.yaml").write_text(text)
            Path(folder, "kustomization.yaml").write_text(yaml.safe_dump(
                {"resources": ["chart.yaml"], **({"patches": patches} if patches else {})}))
            built = subprocess.run([kubectl, "kustomize", folder], capture_output=True, text=True, timeout=60)
        assert built.returncode == 0, built.stderr
        _BUILT[key] = _documents(built.stdout)
    return _BUILT[key]


def _mapped(component, key: str) -> list[str]:
    paths = (component.properties.get("traitValues") or {}).get(key)
    return [] if paths is None else [paths] if isinstance(paths, str) else list(paths)


def _values_problems(where: str, values: dict, paths: list[str], wanted, what: str) -> list[str]:
    """Each values path holds what the trait wants there (a list: holds every item of it)."""
    problems = []
    for path in paths if wanted not in ({}, [], ()) else ():
        found = valuespath.get(values, path)
        ok = all(item in (found or []) for item in wanted) if isinstance(wanted, (list, tuple)) else found == wanted
        if not ok:
            problems.append(f"{where}: booked {what} {wanted!r}; values {path} is {found!r}")
    return problems


def _chart(where: str, component, values: dict, patches: list[dict], booking, gpus, built,
           templates: dict | None = None) -> list[str]:
    """A chart's GPUs, node selector and tolerations: through the values the profile maps, or through patches,
    checked on the chart's rendering when the suite has one. Under DRA the claims always go by patch, and a
    mapped GPU count is 0."""
    problems = []
    dra = gpus.allocation == "dra"
    count_paths = [] if dra else _mapped(component, "gpu.count")
    if dra:
        problems += _values_problems(where, values, _mapped(component, "gpu.count"), 0, "device-plugin GPUs")
    pods = [(f"{where} {d['kind']}/{d['metadata']['name']}{at}", pod, n)
            for d in built or () for at, pod, n in _pods(d, CHART_POD_TEMPLATES)]
    gpu_pods = [(name, pod) for name, pod, _ in pods if any(a is not None for a in _asked(pod, gpus, templates))]
    # the pods that run the GPUs, also where the chart's own values ask for them (requests)
    gpu_runners = gpu_pods if dra else [(name, pod) for name, pod, _ in pods if any(
        gpus.resource in (c.get("resources") or {}).get(part, {}) for c in pod.get("containers", [])
        for part in ("limits", "requests"))]
    if dra:
        problems += [p for name, pod, _ in pods for p in _device_plugin_limits(name, pod)]
    if count_paths:
        problems += _values_problems(where, values, count_paths, gpus.per_replica, f"{gpus.resource} per replica")
    elif built is not None:
        if not gpu_pods:
            problems.append(f"{where}: booked {gpus.per_replica} {gpus.resource} per replica; no pod of the chart "
                            "requests it once the patches are applied (does `target` match the right object?)")
        for name, pod in gpu_pods:
            asked = [a for a in _asked(pod, gpus, templates) if a is not None]
            if asked != [gpus.per_replica]:
                problems.append(f"{name}: booked {gpus.per_replica} {gpus.resource} per replica; containers ask "
                                f"{asked}")
    else:
        problems += _patched_container(where, component, patches, gpus, templates)
    for name, pod, _ in pods:
        problems += [f"{name}: container {c.get('name')!r} has no image (a patch added it)"
                     for c in pod.get("containers", []) if not c.get("image")]
    if built is None:
        return problems
    # the pods that run the GPUs carry the node selector and tolerations they were booked with
    toleration_paths = _mapped(component, "gpu.pod.tolerations")
    selector_paths = _mapped(component, "gpu.pod.nodeSelector")
    if toleration_paths:
        problems += _values_problems(where, values, toleration_paths, list(booking.tolerations), "tolerations")
    if selector_paths:
        problems += _values_problems(where, values, selector_paths, booking.node_selector, "node selector")
    for name, pod in gpu_runners:
        if not toleration_paths:
            problems += [f"{name}: booked toleration {t} is missing" for t in booking.tolerations
                         if t not in (pod.get("tolerations") or [])]
        if not selector_paths:
            selector = pod.get("nodeSelector") or {}
            problems += [f"{name}: booked nodes with {k}={v}; nodeSelector is {selector}"
                         for k, v in booking.node_selector.items() if selector.get(k) != v]
    return problems


def _patched_container(where: str, component, patches: list[dict], gpus, templates: dict | None = None) -> list[str]:
    """Without a rendering: a patch for the component's target sets the GPUs on its container."""
    # the container as resolved: written, or found in the rendered chart where the component leaves it out
    container = component.external.container if component.external else component.properties.get("container")
    for entry in patches:
        patch = yaml.safe_load(entry["patch"])
        pod = _pod({**patch, "kind": entry["target"]["kind"]}) if entry["target"]["kind"] in POD_PATHS else None
        if gpus.allocation == "dra":
            only = {**(pod or {}), "containers": [c for c in (pod or {}).get("containers", [])
                                                  if c.get("name") == container]}
            if sum(_asked(only, gpus, templates)) == gpus.per_replica:
                return []
            continue
        for c in (pod or {}).get("containers", []):
            if c.get("name") == container and \
                    c.get("resources", {}).get("limits", {}).get(gpus.resource) == gpus.per_replica:
                return []
    return [(f"{where}: booked {gpus.per_replica} {gpus.resource} per replica; no values mapping or patch of "
            f"container {container!r} asks for it")]


def _subset(wanted, found) -> bool:
    if isinstance(wanted, dict):
        return isinstance(found, dict) and all(_subset(v, found.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(found, list) and all(any(_subset(w, f) for f in found) for w in wanted)
    return wanted == found


def _required_on_every_pod(where: str, component, built: list[dict], values: dict, required: tuple[str, ...],
                           mapped_pod_parts) -> list[str]:
    """Every pod of the chart carries the pod-level part of every trait its environment requires (or the
    profile maps that part to values)."""
    problems = []
    pods = [(f"{where} {d['kind']}/{d['metadata']['name']}{at}", pod)
            for d in built for at, pod, _ in _pods(d, CHART_POD_TEMPLATES)]
    for trait_type, pod_part in mapped_pod_parts:
        if trait_type not in required:
            continue
        for field, wanted in pod_part.items():
            paths = _mapped(component, f"{trait_type}.pod.{field}")
            if paths:
                problems += _values_problems(where, values, paths, wanted, f"{trait_type} {field}")
                continue
            problems += [p for name, pod in pods for p in _missing(name, trait_type, pod, field, wanted)]
    return problems


# what a container's own security context overrides of its pod's
CONTAINER_OVERRIDES = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")


def _missing(name: str, trait_type: str, pod: dict, field: str, wanted) -> list[str]:
    """What a required trait's pod-level field lacks on this pod, in effect (a container may override it)."""
    if not _subset(wanted, pod.get(field)):
        return [f"{name}: required trait {trait_type!r} sets {field} {wanted!r}; the pod has {pod.get(field)!r}"]
    if field != "securityContext":
        return []
    return [f"{name}: required trait {trait_type!r} sets {key} {wanted[key]!r}; container {c.get('name')!r} "
            f"overrides it with {(c.get('securityContext') or {})[key]!r}"
            for c in pod.get("containers", []) for key in CONTAINER_OVERRIDES
            if key in wanted and key in (c.get("securityContext") or {}) and c["securityContext"][key] != wanted[key]]


def _required_traits(result, release) -> tuple[str, ...]:
    if release.kind != "workload":
        return ()
    project, name = release.id.split("/")
    workload = result.model.workloads[(project, name)]
    return tuple(result.model.environments[workload.environment].required_traits)


def _pod_parts(release, component) -> list[tuple[str, dict]]:
    """(trait type, the pod-level fields it sets) for each of the component's traits, as the trait renders them
    before any of it is mapped to chart values."""
    context = RenderContext(release.name, release.group, "", release.namespace.name, component.name,
                            component.instance)
    parts = []
    for trait in component.traits:
        renderer = traits.RENDERERS.get(trait.type)
        patches = renderer(trait.properties, context).patches if renderer else trait.output.patches
        for patch in patches:
            pod = _at(patch.body, ("spec", "template", "spec")) if patch.kind is None else None
            fields = {k: v for k, v in (pod or {}).items() if k not in ("containers", "initContainers", "volumes")}
            if fields:
                parts.append((trait.type, fields))
    return parts


def _chart_source(files: dict, plan, release, component) -> tuple[dict, list[dict], str]:
    """(values, patches, release name) of a chart component as the tree writes it."""
    base = f"clusters/{plan.cluster}/{release.path}/{component.name}"
    if plan.engine == "flux":
        [hr] = [d for d in _documents(files.get(f"{base}/objects.yaml", "")) if d["kind"] == "HelmRelease"]
        post = (hr["spec"].get("postRenderers") or [{}])[0].get("kustomize") or {}
        return hr["spec"].get("values") or {}, post.get("patches") or [], hr["spec"]["releaseName"]
    wrapper = yaml.safe_load(files.get(f"{base}/kustomization.yaml", "{}")) or {}
    chart = (wrapper.get("helmCharts") or [{}])[0]
    app = next((d for p, t in files.items() if p.startswith(f"clusters/{plan.cluster}/apps/")
                for d in _documents(t) if d.get("kind") == "Application"
                and d["metadata"]["labels"].get("easel.dev/component") == component.name
                and d["metadata"]["labels"].get("easel.dev/workload") == release.name), None)
    values = chart.get("valuesInline") or (
        ((app or {}).get("spec", {}).get("source", {}).get("helm") or {}).get("valuesObject") or {})
    return values, wrapper.get("patches") or [], chart.get("releaseName") or component.instance


def check(result) -> list[str]:
    """Every booked GPU is requested by what the tree renders, and every pod carries the traits its environment
    requires; the problems otherwise."""
    problems: list[str] = []
    files = result.files or {}
    dra_names = dict(inventory.dra_product_names(result.fleet)) if result.fleet else {}
    for cluster, plan in (result.plans.clusters.items() if result.plans else ()):
        for release in plan.releases:
            components = {c.name: c for c in release.components}
            required = _required_traits(result, release)
            templates = _templates(files, cluster, release) if release.gpu_allocation == "dra" else {}
            for booking in release.bookings:
                component = components[booking.component]
                base = f"clusters/{cluster}/{release.path}/{component.name}"
                where = f"{cluster} {release.id} {component.name}"
                if component.output.helm and not release.hydrates(component):
                    values, patches, name = _chart_source(files, plan, release, component)
                    chart = component.output.helm
                    built = rendered_chart(chart.chart, chart.version, name, release.namespace.name, patches)
                    for gpus in booking.gpus:
                        problems += _chart(where, component, values, patches, booking, gpus, built, templates)
                        problems += _template_problems(where, gpus, templates, dra_names)
                    if built is not None:
                        problems += _required_on_every_pod(where, component, built, values, required,
                                                           _pod_parts(release, component))
                    continue
                if component.output.kustomize_path:
                    continue  # a folder's objects are not known here
                # a hydrated chart's objects are written (its hooks in folders beside them, on Flux)
                documents = [d for folder in (base, f"{base}/before", f"{base}/after")
                             for d in _documents(files.get(f"{folder}/objects.yaml", ""))]
                declared = component.output.pod_templates
                for gpus in booking.gpus:
                    problems += _own_objects(where, documents, booking, gpus, declared, templates)
                    problems += _template_problems(where, gpus, templates, dra_names)
                pods = [(f"{where} {d['kind']}/{d['metadata']['name']}{at}", pod)
                        for d in documents for at, pod, _ in _pods(d, declared)]
                for trait_type, fields in _pod_parts(release, component):
                    if trait_type in required:
                        problems += [p for name, pod in pods for field, wanted in fields.items()
                                     for p in _missing(name, trait_type, pod, field, wanted)]
    return problems
