"""The ordering check: a cluster tree applies in order on an empty cluster, with no custom resource before its CRD.

Flux: the layers (flux/layers/*.yaml) are walked as kustomize-controller reconciles them: each only after every
Kustomization it `dependsOn` is Ready, and a dependency's HelmReleases (and the CRDs their charts install) are
there by then only if it waits for them (`wait: true`). Argo CD: the cluster's app-of-apps by sync wave, each wave
after the earlier ones are healthy; a workload's Application applies its own tree of Applications, whose waves
order only them, so what one workload installs is nothing another may count on. In both, a custom resource must find its CRD: one Kubernetes has, the GitOps
engine's, one the cluster has (Cluster or ClusterProfile `crds`), one a CRD object applied with it, or one a chart
installed by then (the chart component's `crds`). Returns the problems found, as text; an empty list is a pass.
"""

from __future__ import annotations

import graphlib
import posixpath

import yaml

from compiler.kube import api
from compiler.pipeline import proof_archives
from compiler.prove import crds

FLUX_LAYERS = "flux/layers/"
SKIP_DRY_RUN = "SkipDryRunOnMissingResource=true"


def _documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def _chart_groups(plan, archives=None) -> dict[tuple[str, str], frozenset[str]]:
    """(namespace, HelmRelease or release name) -> the API groups its chart installs (as the profile declares, and
    as its archive's crds/ ships)."""
    return {(release.namespace.name, component.instance): crds.installed_by(component, archives)
            for release in plan.releases for component in release.components if component.output.helm}


def _folder_objects(files: dict, folder: str) -> list[dict]:
    """What a kustomization folder applies (its resources, files or folders)."""
    listing = yaml.safe_load(files.get(f"{folder}/kustomization.yaml", "{}")) or {}
    found = []
    for entry in listing.get("resources") or ():
        path = posixpath.normpath(f"{folder}/{entry}")
        found += _documents(files[path]) if path in files else _folder_objects(files, path)
    return found


def _installs(objects: list[dict], charts: dict) -> set[str]:
    groups = {(o.get("spec") or {}).get("group") for o in objects if o.get("kind") == "CustomResourceDefinition"}
    for o in objects:
        if o.get("kind") == "HelmRelease":
            groups |= charts.get((o["metadata"].get("namespace"), o["metadata"]["name"]), frozenset())
        if o.get("kind") == "Application":
            groups |= charts.get((o["spec"]["destination"].get("namespace"),
                                  ((o["spec"].get("source") or {}).get("helm") or {}).get("releaseName")), frozenset())
    return {g for g in groups if g}


def _before_crd(where: str, objects: list[dict], available: set[str]) -> list[str]:
    here = {(o.get("spec") or {}).get("group") for o in objects if o.get("kind") == "CustomResourceDefinition"}
    return [f"{where}: {o['kind']} {o['metadata'].get('name')} ({o['apiVersion']}) is applied before its CRD"
            for o in objects if api.is_custom(o) and api.group_of(o["apiVersion"]) not in available | here]


def _flux(files: dict, root: str, plan, has: set[str], archives=None) -> list[str]:
    layers = {}
    for path, text in files.items():
        if path.startswith(f"{root}/{FLUX_LAYERS}"):
            [layer] = _documents(text)
            layers[layer["metadata"]["name"]] = layer
    problems = []
    graph = {}
    for name, layer in layers.items():
        needs = [d["name"] for d in layer["spec"].get("dependsOn") or ()]
        problems += [f"{root}: layer {name} depends on {n}, which is not one of the cluster's layers"
                     for n in needs if n not in layers]
        graph[name] = [n for n in needs if n in layers]
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return problems + [f"{root}: the layers depend on one another in a cycle: {exc.args[1]}"]
    charts = _chart_groups(plan, archives)
    ready: dict[str, set[str]] = {}  # layer -> the groups there once it is Ready (with wait: its charts' too)
    for name in order:
        layer = layers[name]
        folder = layer["spec"]["path"].split(f"/clusters/{plan.cluster}/", 1)[1]
        objects = _folder_objects(files, f"{root}/{folder}")
        available = set(has).union(*(ready[d] for d in graph[name]))
        problems += _before_crd(f"{root} layer {name}", objects, available)
        defined = {(o.get("spec") or {}).get("group") for o in objects if o.get("kind") == "CustomResourceDefinition"}
        # without `wait`, Ready means applied: a chart it applied may not have installed its CRDs yet
        ready[name] = available | defined | (_installs(objects, charts) if layer["spec"].get("wait") else set())
    return problems


def _folder_of(root: str, path: str) -> str:
    """The folder of the output an Application's source path names: `<output>/clusters/...` in the repository, or
    a path inside the cluster's own artifact (`delivery: oci`)."""
    if "clusters/" in path:
        return path[path.find("clusters/"):]
    return posixpath.normpath(f"{root}/{path}")


def _argocd_tree(files: dict, root: str, apps: list[dict], available: set[str], has: set[str],
                 charts: dict) -> tuple[list[str], set[str]]:
    """One tree of Applications, wave by wave, each wave after the earlier ones are healthy; an Application of
    Applications (a workload's) applies its own tree, whose waves order only its own Applications. Returns the
    problems, and the groups there once the whole tree is healthy."""
    problems = []
    available = set(available)
    by_wave: dict[int, list[dict]] = {}
    for app in apps:
        by_wave.setdefault(int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]), []).append(app)
    for wave in sorted(by_wave):
        arriving = set()
        for app in by_wave[wave]:
            source = app["spec"].get("source") or {}
            objects = [] if source.get("chart") else _folder_objects(files, _folder_of(root, source.get("path", "")))
            if objects and all(o.get("kind") == "Application" for o in objects):
                found, there = _argocd_tree(files, root, objects, available, has, charts)
                problems += found
                arriving |= there
                continue
            where = f"{root} Application {app['metadata']['name']} (wave {wave})"
            problems += _before_crd(where, objects, available)
            for o in objects:  # a custom resource whose CRD a release installs: no dry run before it is there
                if api.is_custom(o) and api.group_of(o["apiVersion"]) not in has and SKIP_DRY_RUN not in (
                        (o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-options", "")):
                    problems.append(f"{where}: {o['kind']} {o['metadata']['name']} lacks {SKIP_DRY_RUN}")
            arriving |= _installs([app, *objects], charts)
        available |= arriving
    return problems, available


def _argocd(files: dict, root: str, plan, has: set[str], archives=None) -> list[str]:
    """The cluster's app-of-apps (its root kustomization's Applications), as the hub syncs it."""
    apps = [o for o in _folder_objects(files, root) if o.get("kind") == "Application"]
    return _argocd_tree(files, root, apps, set(has), has, _chart_groups(plan, archives))[0]


def check(result) -> list[str]:
    """Every cluster tree of the result applies in order; the problems otherwise."""
    problems: list[str] = []
    files = {p: t for p, t in (result.files or {}).items() if p.endswith(".yaml")}
    archives = proof_archives(result.model) if result.model is not None else {}
    for cluster, plan in (result.plans.clusters.items() if result.plans and result.files else ()):
        root = f"clusters/{cluster}"
        has = set(api.kubernetes_groups()) | crds.ENGINE_GROUPS.get(plan.engine, frozenset()) \
            | set(result.fleet[cluster].crds)
        problems += (_flux if plan.engine == "flux" else _argocd)(files, root, plan, has, archives)
    return problems
