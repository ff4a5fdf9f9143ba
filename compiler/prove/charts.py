"""Charts easel has not proven. The proof reads what a cluster will apply; a chart release is rendered on the
cluster by the engine, and easel does not render charts here yet, so what its pods request, which traits reach
them and which images they pull rest on the profile's values and patch mapping (`target`, `container`,
`traitValues`, `imageValues`). The charts are listed in one warning, or each is an error where its profile names
it when `easel.yaml` says `charts.proof: required`.
"""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Diagnostic, Note, error, warning
from compiler.plan import Plans

WHAT = ("what their pods request, which traits reach them and which images they pull are taken from the profile's "
        "values and patch mapping")
NOTES = 5

HINT_WARN = ("easel cannot render charts yet, so their objects are taken on trust; `charts.proof: required` in "
             "easel.yaml makes each unproven chart an error")
HINT_REQUIRED = ("easel cannot render this chart, and easel.yaml says `charts.proof: required`: use a chart easel "
                 "can prove, or set `charts.proof: warn` to take it on trust")


def unproven(plans: Plans) -> list[Diagnostic]:
    """Under `charts.proof: required`, an error per chart component of each profile version some cluster runs;
    else one warning that lists them (one compile's report stays short however many charts a fleet runs)."""
    charts: dict[tuple[str, str, str], Any] = {}
    for cluster in plans.clusters.values():
        for release in (*cluster.stacks, *cluster.workloads):
            for component in release.components:
                if component.output.helm is not None:
                    charts.setdefault((release.profile, release.version, component.name), component)
    if not charts:
        return []
    said = {key: _chart(component) + f" (component {key[2]!r} of profile {key[0]} {key[1]})"
            for key, component in sorted(charts.items())}
    if plans.settings.chart_proof == "required":
        return [error("E816", f"chart {text} is not proven: {WHAT}", charts[key].loc, HINT_REQUIRED)
                for key, text in said.items()]
    names = sorted({_chart(component) for component in charts.values()})
    first = next(iter(said))
    return [warning("W107", f"{len(names)} chart{'s' if len(names) != 1 else ''} not proven ({', '.join(names[:5])}"
                    f"{', …' if len(names) > 5 else ''}): {WHAT}", charts[first].loc, HINT_WARN,
                    notes=[Note(f"chart {text}", charts[key].loc) for key, text in list(said.items())[:NOTES]])]


def _chart(component: Any) -> str:
    helm = component.output.helm
    return f"{helm.repository}/{helm.chart} {helm.version}"
