"""The objects each cluster's charts render, as the proof saw them (prove/chart_tree.py: the archive easel.lock
pins, rendered by Helm's engine for what the tree gives it, then patched as the cluster's engine patches), for
`easel diff` to compare. The renders come from the proof's memo (pipeline.HelmCharts): the compile that proved
the tree rendered them already, so the engine is not asked again."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from compiler.pipeline import Result, chart_proof
from compiler.plan import ClusterPlan
from compiler.prove import chart_objects, chart_tree, custom_schemas
from compiler.prove.chart_objects import ChartProof
from compiler.prove.objects import Parsed, component_objects, flux_layers
from compiler.render.argocd import application_file
from compiler.runtime import helm

# what changes with every chart version or values change and says nothing of its own: folded when comparing
NOISE_LABELS = ("helm.sh/chart", "app.kubernetes.io/version")
NOISE_ANNOTATION_PREFIX = "checksum/"

Key = tuple[str, str]  # (kind, namespace/name)


@dataclass
class Rendered:
    """Per cluster, each chart-rendered object by (kind, namespace/name): (the chart's name, the object with its
    noise folded); and why charts were not rendered, each reason once."""
    objects: dict[str, dict[Key, tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    unrendered: list[str] = field(default_factory=list)
    # per cluster, the charts whose objects are not known here: not compared with the other revision's either
    skipped: dict[str, set[str]] = field(default_factory=dict)
    # per cluster, the objects the tree holds as a hydrated chart wrote them, by key: the chart's name (compared
    # as written, their noise folded too)
    hydrated: dict[str, dict[Key, str]] = field(default_factory=dict)


def rendered(result: Result) -> Rendered:
    """The chart-rendered objects of a compile that wrote its tree (result.files)."""
    found = Rendered()
    plans, model = result.plans, result.model
    if plans is None or model is None or result.files is None:
        return found
    found.hydrated = {name: hydrated for name, p in plans.clusters.items() if (hydrated := _hydrated(p))}
    charted = [(name, chart.key[1]) for name, p in plans.clusters.items() for r in p.releases for c in r.components
               if (chart := c.output.helm) is not None and not r.hydrates(c)]
    if not charted:
        return found
    if not helm.available():
        found.unrendered.append("chart not rendered: Helm's engine is not installed")
        for name, chart_name in charted:
            found.skipped.setdefault(name, set()).add(chart_name)
        return found
    charts, with_charts = chart_proof(model), {name for name, _ in charted}
    by_cluster: dict[str, dict[str, str]] = defaultdict(dict)
    for path, text in result.files.items():
        parts = path.split("/", 2)
        if len(parts) == 3 and parts[0] == "clusters":
            by_cluster[parts[1]][path] = text
    try:
        for name, plan in plans.clusters.items():
            if name in with_charts:
                found.objects[name] = _cluster(plan, by_cluster.get(name, {}), result.fleet.get(name), charts,
                                               found.unrendered, found.skipped.setdefault(name, set()))
    finally:
        if charts is not None:
            charts.engine.close()
    return found


def _cluster(plan: ClusterPlan, files: dict[str, str], facts: Any, charts: ChartProof | None,
             unrendered: list[str], skipped: set[str]) -> dict[Key, tuple[str, dict[str, Any]]]:
    """One cluster's chart objects, read as prove/tree.py reads them (the same render requests, so the same
    memo entries). facts: the cluster's (decide's ClusterFacts, which reports never import), for its version."""
    parsed = Parsed()
    layers = flux_layers(files, plan.cluster, parsed) if plan.engine == "flux" else {}
    crds = custom_schemas.installed(plan, files, layers, parsed)
    capabilities = chart_objects.api_versions(crds, chart_tree.archives_of(plan, charts)) if charts else ()
    found: dict[Key, tuple[str, dict[str, Any]]] = {}
    for release in plan.releases:
        for component in release.components:
            helm_chart = component.output.helm
            if helm_chart is None or release.hydrates(component):  # (hydrated: its objects are in the tree)
                continue
            archive = chart_tree.archive_of(component, charts)
            if archive is None:
                skipped.add(helm_chart.key[1])
                _say(unrendered, f"chart not rendered: easel.lock pins no archive of {helm_chart.key[1]} "
                                 f"{helm_chart.key[2]}")
                continue
            folder = f"clusters/{plan.cluster}/{release.path}/{component.name}"
            own = component_objects(files, folder, layers.get(folder), parsed)
            application = (f"clusters/{plan.cluster}/{application_file(plan.cluster, release, component)}"
                           if plan.engine == "argocd" else None)
            built, problems = chart_tree.with_chart(own, component, files, parsed, facts, charts, capabilities,
                                                    application)
            failed = [problem[3] for problem in problems if problem[4] in ("E818", "E819")]
            if failed or built is own:
                skipped.add(archive.name)
                _say(unrendered, f"chart not rendered: {failed[0] if failed else 'Helm engine gave no answer'}")
                continue
            for _, obj in built.objects[len(own.objects):]:
                found[key_of(obj)] = (archive.name, folded(obj))
    return found


def _hydrated(plan: ClusterPlan) -> dict[Key, str]:
    """The objects of the cluster's hydrated charts, by (kind, namespace/name): the chart's name."""
    return {key_of(obj): str(component.output.helm.chart)
            for release in plan.releases for component in release.components
            if component.output.helm is not None and (chart := release.hydrated.get(component.name)) is not None
            for _, obj in chart.written}


def key_of(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return str(obj.get("kind", "?")), f"{metadata.get('namespace', '')}/{metadata.get('name', '')}".lstrip("/")


def _say(unrendered: list[str], text: str) -> None:
    if text not in unrendered:
        unrendered.append(text)


def folded(node: Any) -> Any:
    """A copy of the object without the labels and annotations every chart bump changes: `helm.sh/chart`,
    `app.kubernetes.io/version` and `checksum/...`, wherever metadata appears (pod templates too)."""
    if isinstance(node, list):
        return [folded(item) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: folded(value) for key, value in node.items()}
    metadata = copied.get("metadata")
    if isinstance(metadata, dict):
        for name, noise in (("labels", lambda k: k in NOISE_LABELS),
                            ("annotations", lambda k: k.startswith(NOISE_ANNOTATION_PREFIX))):
            values = metadata.get(name)
            if isinstance(values, dict) and any(noise(str(k)) for k in values):
                kept = {k: v for k, v in values.items() if not noise(str(k))}
                if kept:
                    metadata[name] = kept
                else:
                    del metadata[name]
    return copied
