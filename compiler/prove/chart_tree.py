"""The charts of a cluster's tree, proven on their objects: which archive a chart component renders (the one
easel.lock pins, or an in-house chart's), its objects as the cluster's engine makes them (chart_objects.py) joined
to the component's own for every check of tree.py, the CRDs it ships, and a chart that renders differently
twice, said once."""

from __future__ import annotations

from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.diagnostics import Diagnostic, warning
from compiler.kube.api import crd_defines
from compiler.model.charts import ChartArchive
from compiler.plan import ClusterPlan, Release
from compiler.prove import chart_objects
from compiler.prove.chart_objects import ChartProof
from compiler.prove.objects import ComponentObjects, Parsed
from compiler.render.argocd import application_file


def archive_of(component: Any, charts: ChartProof | None) -> ChartArchive | None:
    helm = component.output.helm
    if charts is None or helm is None:
        return None
    return charts.archives.get(helm.key)


def archives_of(plan: ClusterPlan, charts: ChartProof | None) -> list[ChartArchive]:
    return [a for release in plan.releases for c in release.components if (a := archive_of(c, charts)) is not None]


def shipped_crds(component: Any, charts: ChartProof | None) -> dict[tuple[str, str], tuple[dict[str, Any], ...]]:
    """The CRDs the component's chart ships in crds/, by the kind they define."""
    archive = archive_of(component, charts)
    return {(str(group), str(kind)): (crd,) for crd in (archive.crds if archive else ())
            for group, kind in [crd_defines(crd)]}


def with_chart(own: ComponentObjects, component: Any, files: dict[str, str], parsed: Parsed,
                facts: ClusterFacts | None, charts: ChartProof | None, capabilities: tuple[str, ...],
                application: str | None = None) -> tuple[ComponentObjects, list[chart_objects.Problem]]:
    """The component's objects, its chart's rendered and patched objects after its own (when easel has the
    chart's archive and its engine), and what went wrong getting them."""
    archive = archive_of(component, charts)
    use = chart_objects.chart_use(own, files, parsed) if archive is not None else None
    if use is None and archive is not None and application is not None:  # Argo CD, a chart without a wrapper
        use = chart_objects.application_use(files, application, parsed)
    if charts is None or archive is None or use is None:
        return own, []
    kube, apis = use.capabilities or (facts.kubernetes_version if facts else None, capabilities)
    request = chart_objects.ChartRequest(archive, use.values, use.release, use.namespace, kube, apis)
    # rendered, parsed and patched once for every cluster whose tree gives the engine the same (the holder is
    # one object for one text: Parsed), so the schema verdicts on the objects are shared too
    key = ("chart", id(use.holder), request.key())
    if key not in parsed.charts:
        rendering = charts.engine.render(request)
        if rendering.failure == "unavailable":
            return own, []  # said once, for every chart (prove/charts.py)
        made = (use.holder, use.file, *chart_objects.rendered_objects(
            use, rendering, f"chart {archive.name} {archive.version} ({archive.file})"))
        if rendering.failure not in (None, "render"):  # a timeout or a crash: this run's answer only
            return _joined(own, use, made)
        parsed.charts[key] = made
    return _joined(own, use, parsed.charts[key])


def _joined(own: ComponentObjects, use: chart_objects.ChartUse, made: tuple
            ) -> tuple[ComponentObjects, list[chart_objects.Problem]]:
    _, first, objects, found = made
    # what is said of the holder names this cluster's file (the chart's own objects name the chart's templates)
    found = [(use.file if problem[0] == first else problem[0], *problem[1:]) for problem in found]
    return ComponentObjects(own.folder, [*own.objects, *objects], own.unproven), found


def unstable(component: Any, charts: ChartProof | None) -> list[Diagnostic]:
    """A chart that rendered differently twice with the same input (random values, timestamps): said once."""
    archive = archive_of(component, charts)
    if charts is None or archive is None or archive.digest in charts.unstable:
        return []
    charts.unstable.add(archive.digest)
    return [warning("W108", f"chart {archive.name} {archive.version} ({archive.file}) renders differently each "
                    "time with the same values (random values or timestamps in its templates): every sync changes "
                    "its objects, and what easel proved is one render of many", component.loc)]


def joined(plan: ClusterPlan, release: Release, component: Any, own: ComponentObjects, files: dict[str, str],
           parsed: Parsed, facts: ClusterFacts | None, charts: ChartProof | None, capabilities: tuple[str, ...]
           ) -> tuple[ComponentObjects, list[chart_objects.Problem], list[Diagnostic]]:
    """The component's objects with its chart's (own when it has none easel can render), the problems of getting
    them (for tree.py to say, with the object), and warnings said once per chart. The images the chart's pods pull
    join charts.images for the cluster."""
    if release.hydrates(component):  # written as its objects: proven as they are, nothing left to render
        return own, [], []
    application = (f"clusters/{plan.cluster}/{application_file(plan.cluster, release, component)}"
                   if plan.engine == "argocd" else None)
    built, found = with_chart(own, component, files, parsed, facts, charts, capabilities, application)
    said = unstable(component, charts) if any(problem[4] == "W108" for problem in found) else []
    if charts is not None and built is not own:
        charts.images.setdefault(plan.cluster, set()).update(
            chart_objects.pulled_images(built.objects[len(own.objects):]))
    return built, [problem for problem in found if problem[4] != "W108"], said
