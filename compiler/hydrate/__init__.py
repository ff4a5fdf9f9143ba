"""Stage hydrate (`gitops.render: hydrated`): each hydrated chart component's objects, as Helm's engine renders
the chart easel.lock pins and easel's trait patches, image rewrites and labels change it, put into the plans for
render to write as plain manifests (SPEC §6). It runs between plan and render; its folder sits after prove's
because it builds a chart's objects with the proof's own build of them (prove/chart_objects.py): what is written
is what the proof would have built from a HelmRelease, and the proof then checks exactly what is written.

Here: which archive and what the engine is given (as a HelmRelease would give it), the chart's CRDs (its crds/
folder, unless the component's release options say `crds: Skip`) and the namespace a chart installed into one of
its own is given (Flux; Argo CD creates it, CreateNamespace), a CRD several charts of a Flux cluster ship alike
written once, and a chart easel cannot render (E823) or that renders differently twice (E826) refused. Where each
object goes and what it needs to do there what Helm does (hooks, Secrets, kept objects): phases.py. Test hooks and
NOTES.txt are dropped by the proof's build.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from compiler.diagnostics import Diagnostic, Subject, error, warning
from compiler.hydrate import phases
from compiler.kube.api import cluster_scoped_kinds, crd_defines
from compiler.plan import ClusterPlan, HydratedChart, Plans, Release
from compiler.prove import chart_objects, patching
from compiler.prove.chart_objects import ChartProof, ChartRequest, ChartUse
from compiler.prove.crds import own_objects
from compiler.render.layers import hydrated_layer
from compiler.render.objects import chart_labels, kustomize_images, kustomize_patches

SECRET_HINT = ("give the chart a Secret that exists on the cluster instead: most charts take its name in a value "
               "such as `existingSecret` (set it in the component's values, and create the Secret with External "
               "Secrets, Sealed Secrets or SOPS); or render this release with `gitops.render: helmrelease`")
HOOK_HINT = ("turn the hook off through the chart's values, or render this release with `gitops.render: "
             "helmrelease` (Helm runs it then)")
NO_ARCHIVE_HINT = ("run `easel charts pull` to fetch and pin the chart's archive (and install easel's `helm` extra, "
                   "Helm's engine), or render this release with `gitops.render: helmrelease`")


def hydrate(plans: Plans, charts: ChartProof | None, archives: Mapping[tuple[str, str, str], Any]
            ) -> tuple[Plans, list[Diagnostic]]:
    """The plans with every hydrated release's chart components rendered (Release.hydrated), and what stopped a
    chart being hydrated. charts: the archives and Helm's engine (None: no engine here); archives: every chart
    easel has an archive of. Renders are shared by every cluster that gives the engine the same (charts' cache)."""
    if not any(r.hydrates(c) for p in plans.clusters.values() for r in p.releases for c in r.components):
        return plans, []
    problems: dict[tuple, Diagnostic] = {}  # each said once, however many clusters run the release alike
    done: dict[tuple, Release] = {}
    clusters = {}
    for name, cluster in plans.clusters.items():
        apis = _capabilities(cluster, archives)
        releases = {}
        for release in cluster.releases:
            if not any(release.hydrates(c) for c in release.components):
                continue
            key = (release.key, release.path, cluster.kubernetes_version, apis, cluster.engine)
            if key not in done:
                done[key] = _hydrated(release, cluster, apis, charts, archives, problems)
            releases[release.id] = done[key]
        if releases:
            if cluster.engine == "flux":  # (on Argo CD one workload's Application may not count on another's)
                releases = _crds_once([releases[r.id] for r in cluster.releases if r.id in releases])
            cluster = dataclasses.replace(
                cluster, stacks=tuple(releases.get(r.id, r) for r in cluster.stacks),
                workloads=tuple(releases.get(r.id, r) for r in cluster.workloads))
        clusters[name] = cluster
    return dataclasses.replace(plans, clusters=clusters), list(problems.values())


def _capabilities(cluster: ClusterPlan, archives: Mapping[tuple[str, str, str], Any]) -> tuple[str, ...]:
    """What `.Capabilities.APIVersions` holds beyond Kubernetes' own, as the cluster will have it: the served
    versions of the CRDs its charts ship and its components' objects hold (a group a Cluster lists in `crds`
    comes with no version, so it is not among them)."""
    defined = {crd_defines(o): (o,) for r in cluster.releases for c in r.components for o in own_objects(c)
               if o.get("kind") == "CustomResourceDefinition"}
    shipped = [a for r in cluster.releases for c in r.components
               if c.output.helm is not None and (a := archives.get(c.output.helm.key)) is not None]
    return chart_objects.api_versions({(str(g), str(k)): crds for (g, k), crds in defined.items()}, shipped)


def _hydrated(release: Release, cluster: ClusterPlan, apis: tuple[str, ...], charts: ChartProof | None,
              archives: Mapping[tuple[str, str, str], Any], problems: dict[tuple, Diagnostic]) -> Release:
    found: dict[str, HydratedChart] = {}
    for component in release.components:
        if not release.hydrates(component):
            continue
        chart, said = _component(release, component, cluster, apis, charts, archives)
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
                name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
                spec = phases.digest(obj.get("spec"))
                if first.get(name, ("", ""))[0] == spec:  # (a CRD, or the namespace a chart is installed into)
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
               charts: ChartProof | None, archives: Mapping[tuple[str, str, str], Any]
               ) -> tuple[HydratedChart | None, list[Diagnostic]]:
    helm = component.output.helm
    subject = Subject(release.kind, (release.id,), cluster.cluster)
    what = f"component {component.name!r} of {release.id} renders as hydrated (gitops.render: hydrated)"
    archive = archives.get(helm.key)
    if archive is None:
        return None, [error("E823", f"{what}, but easel has no archive of chart {helm.chart} {helm.version} to "
                            "render it from", component.loc, NO_ARCHIVE_HINT, subject=subject)]
    if charts is None:
        return None, [error("E823", f"{what}, but Helm's engine is not installed here (easel's `helm` extra)",
                            component.loc, NO_ARCHIVE_HINT, subject=subject)]
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
    if helm.namespace and cluster.engine == "flux" and not (helm.namespace == release.namespace.name
                                                             and release.uses_namespace):
        # a HelmRelease would create it (Argo CD: CreateNamespace), unless the namespaces' layer writes it
        shipped += ((f"{where}: its namespace", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": helm.namespace, "labels": dict(use.labels)}}),)
    chart, found_here = phases.phased([*shipped, *objects], cluster.engine, component.release.crds,
                                      cluster_scoped_kinds([*archive.crds, *(o for _, o in objects)]))
    said += [(warning(code, f"{what}: {_named(obj)} ({file}): {message}", component.loc, subject=subject)
              if code.startswith("W") else
              error(code, f"{what}: {_named(obj)} ({file}): {message}", component.loc,
                    SECRET_HINT if code == "E824" else HOOK_HINT, subject=subject))
             for code, file, obj, message in found_here]
    return chart if not any(d.is_error for d in said) else None, said


def _said(problem: chart_objects.Problem, where: str, component: Any, subject: Subject) -> Diagnostic:
    file, obj, field, message, code = problem
    named = f"{_named(obj)} ({file})" if obj else where
    if code == "W108":  # rendered differently twice: what is written would change with every compile
        return error("E826", f"{named}: {message}, so what is written would change with every compile",
                     component.loc, subject=subject)
    if code.startswith("W"):
        return warning(code, f"{named}, {field}: {message}", component.loc, subject=subject)
    return error(code, f"{named}, {field}: {message}", component.loc, subject=subject)


def _named(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')!r}"


def _labelled(obj: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return {**obj, "metadata": metadata}
