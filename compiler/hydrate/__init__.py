"""Stage hydrate (`gitops.render: hydrated`): each hydrated chart component's objects, as Helm's engine renders
the chart easel.lock pins and easel's trait patches, image rewrites and labels change it, put into the plans for
render to write as plain manifests (SPEC §6). It runs between plan and render; its folder sits after prove's
because it builds a chart's objects with the proof's own build of them (prove/chart_objects.py): what is written
is what the proof would have built from a HelmRelease, and the proof then checks exactly what is written.

What Helm does at install that plain manifests cannot, each handled here:

- the chart's CRDs (its crds/ folder, unless the component's release options say `crds: Skip`, and CRDs its
  templates render) apply before anything else: a layer of their own (Flux), an earlier sync wave (Argo CD); so
  does the namespace a chart installed into one of its own is given (Flux; Argo CD creates it, CreateNamespace);
- hooks that run before or after an install or upgrade become a layer before or after the objects (Flux) or
  PreSync and PostSync hooks (Argo CD, their weight a sync wave, Helm's default delete policy kept); a hook that
  runs only on delete or rollback has no such phase and is refused (E825); test hooks and NOTES.txt are dropped;
- a Secret is never written (E824): the pull request would hold its data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from compiler.diagnostics import Diagnostic, Subject, error, warning
from compiler.kube.api import crd_defines
from compiler.plan import HYDRATED, ClusterPlan, HydratedChart, Plans, Release
from compiler.prove import chart_objects, patching
from compiler.prove.chart_objects import HELM_HOOK, ChartProof, ChartRequest, ChartUse
from compiler.render.flux import hydrated_layer
from compiler.render.objects import chart_labels, kustomize_images, kustomize_patches

HOOK_WEIGHT = "helm.sh/hook-weight"
HOOK_DELETE = "helm.sh/hook-delete-policy"
ARGO_HOOK = "argocd.argoproj.io/hook"
ARGO_DELETE = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
BEFORE = ("pre-install", "pre-upgrade")
AFTER = ("post-install", "post-upgrade")
# Helm's delete policies as Argo CD names them; Helm's default (none written) is before-hook-creation
ARGO_DELETE_POLICIES = {"before-hook-creation": "BeforeHookCreation", "hook-succeeded": "HookSucceeded",
                        "hook-failed": "HookFailed"}
SECRET_HINT = ("give the chart a Secret that exists on the cluster instead: most charts take its name in a value "
               "such as `existingSecret` (set it in the component's values, and create the Secret with External "
               "Secrets, Sealed Secrets or SOPS); or render this release with `gitops.render: helmrelease`")
HOOK_HINT = ("turn the hook off through the chart's values, or render this release with `gitops.render: "
             "helmrelease` (Helm runs it then)")
NO_ARCHIVE_HINT = ("run `easel charts pull` to fetch and pin the chart's archive (and install easel's `helm` extra, "
                   "Helm's engine), or render this release with `gitops.render: helmrelease`")

Objects = tuple[tuple[str, dict[str, Any]], ...]


def hydrate(plans: Plans, charts: ChartProof | None) -> tuple[Plans, list[Diagnostic]]:
    """The plans with every hydrated release's chart components rendered (Release.hydrated), and what stopped a
    chart being hydrated. Renders are shared by every cluster that gives the engine the same (charts' cache)."""
    if not any(r.render == HYDRATED and any(r.hydrates(c) for c in r.components)
               for p in plans.clusters.values() for r in p.releases):
        return plans, []
    problems: dict[tuple, Diagnostic] = {}  # each said once, however many clusters run the release alike
    done: dict[tuple, Release] = {}
    clusters = {}
    for name, cluster in plans.clusters.items():
        apis = chart_objects.api_versions({}, [a for r in cluster.releases for c in r.components
                                               if charts is not None and c.output.helm is not None
                                               and (a := charts.archives.get(c.output.helm.key)) is not None])
        releases = {}
        for release in cluster.releases:
            if not any(release.hydrates(c) for c in release.components):
                continue
            key = (release.key, release.path, cluster.kubernetes_version, apis, cluster.engine)
            if key not in done:
                done[key] = _hydrated(release, cluster, apis, charts, problems)
            releases[release.id] = done[key]
        if releases:
            if cluster.engine == "flux":  # (on Argo CD one workload's Application may not count on another's)
                releases = _crds_once([releases[r.id] for r in cluster.releases if r.id in releases])
            cluster = dataclasses.replace(
                cluster, stacks=tuple(releases.get(r.id, r) for r in cluster.stacks),
                workloads=tuple(releases.get(r.id, r) for r in cluster.workloads))
        clusters[name] = cluster
    return dataclasses.replace(plans, clusters=clusters), list(problems.values())


def _hydrated(release: Release, cluster: ClusterPlan, apis: tuple[str, ...], charts: ChartProof | None,
              problems: dict[tuple, Diagnostic]) -> Release:
    found: dict[str, HydratedChart] = {}
    for component in release.components:
        if not release.hydrates(component):
            continue
        chart, said = _component(release, component, cluster, apis, charts)
        for problem in said:
            problems.setdefault((problem.code, problem.message), problem)
        if chart is not None:
            found[component.name] = chart
    keys = tuple(sorted((name, chart.key) for name, chart in found.items()))
    return dataclasses.replace(release, hydrated=found, key=(*release.key, "hydrated", keys) if release.key else ())


def _crds_once(releases: list[Release]) -> dict[str, Release]:
    """The releases with each CRD that several hydrated charts of the cluster ship alike (the same spec: their
    labels name each its own component) written once, by the first (in the cluster's order), on Flux: two layers
    applying one object would each claim it. The others' layers wait for that one's; it is never pruned, so it
    stays when that chart goes, until the next compile gives it to the next. CRDs that differ stay, and so do
    Argo CD's (one workload's Application may not count on another's): the proof refuses them (E801)."""
    first: dict[str, tuple[str, str]] = {}  # CRD name -> (its spec's digest, the layer that writes it)
    found = {}
    for release in releases:
        changed = {}
        for component in release.components:
            chart = release.hydrated.get(component.name)
            if chart is None:
                continue
            kept, needs = [], []
            for file, obj in chart.crds:
                name, spec = str((obj.get("metadata") or {}).get("name")), _digest(obj.get("spec"))
                if obj.get("kind") == "CustomResourceDefinition" and first.get(name, ("", ""))[0] == spec:
                    needs.append(first[name][1])
                    continue
                first.setdefault(name, (spec, hydrated_layer(release, component, "crds")))
                kept.append((file, obj))
            if needs:
                changed[component.name] = dataclasses.replace(chart, crds=tuple(kept), key=f"{chart.key} {needs}",
                                                              crds_from=tuple(sorted(set(needs))))
        found[release.id] = release if not changed else dataclasses.replace(
            release, hydrated={**release.hydrated, **changed},
            key=(*release.key, "crds-from", tuple(sorted((n, c.key) for n, c in changed.items()))))
    return found


def chart_use(release: Release, component: Any) -> ChartUse:
    """What hydrating gives Helm's engine and then kustomize's patching, as a HelmRelease would (its values,
    release name, namespace, post-renderer patches and images), with the component's labels, managed-by easel
    among them, on every object, hooks included (easel installs them as it installs the rest)."""
    helm = component.output.helm
    labels = {**chart_labels(release, component), **release.labels_for(component.name)}
    return ChartUse(f"{release.path}/{component.name}", {}, dict(helm.values or {}),
                    str(helm.release_name or component.instance), helm.namespace or release.namespace.name,
                    tuple(patching.patches_of(kustomize_patches(release, component))),
                    tuple(kustomize_images(component)), labels, patches_hooks=True)


def _component(release: Release, component: Any, cluster: ClusterPlan, apis: tuple[str, ...],
               charts: ChartProof | None) -> tuple[HydratedChart | None, list[Diagnostic]]:
    helm = component.output.helm
    subject = Subject(release.kind, (release.id,), cluster.cluster)
    what = f"component {component.name!r} of {release.id} renders as hydrated (gitops.render: hydrated)"
    archive = charts.archives.get(helm.key) if charts is not None else None
    if charts is None or archive is None:
        return None, [error("E823", f"{what}, but easel has no {'archive' if archive is None else 'engine'} of "
                            f"chart {helm.chart} {helm.version} to render it with", component.loc, NO_ARCHIVE_HINT,
                            subject=subject)]
    use = chart_use(release, component)
    rendering = charts.engine.render(ChartRequest(archive, use.values, use.release, use.namespace,
                                                  cluster.kubernetes_version, apis))
    if rendering.failure == "unavailable":
        return None, [error("E823", f"{what}, but Helm's engine is not available here", component.loc,
                            NO_ARCHIVE_HINT, subject=subject)]
    where = f"chart {archive.name} {archive.version} ({archive.file})"
    objects, found = chart_objects.rendered_objects(use, rendering, where)
    said = [_said(problem, where, component, subject) for problem in found]
    if rendering.manifests is None:
        return None, said
    shipped = () if component.release.crds == "Skip" else tuple(
        (f"{where}: crds", _labelled(crd, use.labels)) for crd in archive.crds)
    if helm.namespace and cluster.engine == "flux":  # a HelmRelease would create it (Argo CD: CreateNamespace)
        shipped += ((f"{where}: its namespace", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": helm.namespace, "labels": dict(use.labels)}}),)
    chart, refused = _phased([*shipped, *objects], cluster.engine, _cluster_scoped(archive, objects))
    said += [error(code, f"{what}: {_named(obj)} ({file}): {message}", component.loc,
                   SECRET_HINT if code == "E824" else HOOK_HINT, subject=subject)
             for code, file, obj, message in refused]
    return chart, said


def _said(problem: chart_objects.Problem, where: str, component: Any, subject: Subject) -> Diagnostic:
    file, obj, field, message, code = problem
    named = f"{_named(obj)} ({file})" if obj else where
    if code.startswith("W"):
        return warning(code, f"{named}, {field}: {message}", component.loc, subject=subject)
    return error(code, f"{named}, {field}: {message}", component.loc, subject=subject)


def _named(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r}"


def _cluster_scoped(archive: Any, objects: list[tuple[str, dict[str, Any]]]) -> set[tuple[str | None, str | None]]:
    """The custom kinds (group, kind) the chart's CRDs define as cluster-scoped: Helm installs them without a
    namespace, so none is written."""
    crds = [*archive.crds, *(obj for _, obj in objects if obj.get("kind") == "CustomResourceDefinition")]
    return {crd_defines(crd) for crd in crds if (crd.get("spec") or {}).get("scope") == "Cluster"}


def _phased(objects: list[tuple[str, dict[str, Any]]], engine: str,
            cluster_scoped: set[tuple[str | None, str | None]]
            ) -> tuple[HydratedChart, list[tuple[str, str, dict[str, Any], str]]]:
    """The objects by when they apply, and those refused (code, file, object, why)."""
    crds: list[tuple[str, dict[str, Any]]] = []
    phases: dict[str, list[tuple[str, dict[str, Any]]]] = {"before": [], "objects": [], "after": []}
    refused: list[tuple[str, str, dict[str, Any], str]] = []
    for file, obj in objects:
        obj = _without_namespace(obj) if _group_kind(obj) in cluster_scoped else obj
        if obj.get("kind") == "Secret" and str(obj.get("apiVersion")) == "v1":
            refused.append(("E824", file, obj, "hydrated output never writes a Secret (Git would hold its data)"))
            continue
        if obj.get("kind") in ("CustomResourceDefinition", "Namespace"):
            crds.append((file, _without_hook(obj)))
            continue
        hook = [part.strip() for part in str(_annotations(obj).get(HELM_HOOK) or "").split(",") if part.strip()]
        if not hook:
            phases["objects"].append((file, obj))
        elif any(h in BEFORE for h in hook) or any(h in AFTER for h in hook):
            phase = "before" if any(h in BEFORE for h in hook) else "after"
            phases[phase].append((file, _as_argo_hook(obj, phase) if engine == "argocd" else _without_hook(obj)))
        else:
            why = (f"a Helm hook that runs only on {', '.join(hook)}: hydrated output has no such phase (it installs "
                   "and upgrades; nothing runs it on delete or rollback)")
            refused.append(("E825", file, obj, why))
    if engine == "argocd" and crds:  # a wave before any the chart's own objects name
        first = min([0, *(_wave(obj) for _, obj in phases["objects"])]) - 1
        crds = [(file, _annotated(obj, {SYNC_WAVE: str(first)})) for file, obj in crds]
    chart = HydratedChart(tuple(crds), tuple(phases["before"]), tuple(phases["objects"]), tuple(phases["after"]))
    return dataclasses.replace(chart, key=_digest([chart.crds, chart.before, chart.objects, chart.after])), refused


def _labelled(obj: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return {**obj, "metadata": metadata}


def _group_kind(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    return str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind"))


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _annotated(obj: dict[str, Any], added: Mapping[str, str], dropped: tuple[str, ...] = ()) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in dict(metadata.get("annotations") or {}).items() if k not in dropped}
    annotations.update(added)
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    return {**obj, "metadata": metadata}


def _without_hook(obj: dict[str, Any]) -> dict[str, Any]:
    """No longer a Helm hook: nothing but easel's layers runs it now."""
    return _annotated(obj, {}, (HELM_HOOK, HOOK_WEIGHT, HOOK_DELETE))


def _as_argo_hook(obj: dict[str, Any], phase: str) -> dict[str, Any]:
    """A Helm hook as Argo CD's own: PreSync or PostSync, its weight a sync wave, its delete policy (Helm's
    default, before-hook-creation, when it names none)."""
    annotations = _annotations(obj)
    policies = [ARGO_DELETE_POLICIES[p.strip()] for p in str(annotations.get(HOOK_DELETE) or
                                                             "before-hook-creation").split(",")
                if p.strip() in ARGO_DELETE_POLICIES]
    added = {ARGO_HOOK: "PreSync" if phase == "before" else "PostSync", ARGO_DELETE: ",".join(policies)}
    weight = str(annotations.get(HOOK_WEIGHT) or "").strip()
    if weight.lstrip("-").isdigit():
        added[SYNC_WAVE] = str(int(weight))
    return _annotated(obj, added, (HELM_HOOK, HOOK_WEIGHT, HOOK_DELETE))


def _wave(obj: dict[str, Any]) -> int:
    written = str(_annotations(obj).get(SYNC_WAVE) or "0").strip()
    return int(written) if written.lstrip("-").isdigit() else 0


def _without_namespace(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "namespace"}
    return {**obj, "metadata": metadata}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
