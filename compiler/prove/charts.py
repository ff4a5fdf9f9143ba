"""What the plans show of charts, before any tree is rendered:

- which charts easel cannot prove: no archive pinned for them (`easel charts pull` fetches them), or no Helm
  engine installed (easel's `helm` extra). Their pods' requests, traits and images rest on the profile's values
  and patch mapping: listed in one warning, or each an error where its profile names it when `easel.yaml` says
  `charts.proof: required`;
- a chart whose `kubeVersion` excludes a cluster it is planned for (Helm refuses to install it there, E820);
- a chart whose templates call `lookup` (W108): the engine on the cluster renders it against live objects, which
  easel cannot see;
- a chart that lacks a dependency its Chart.yaml declares (E818: Helm's engine would render it without it), and
  `traitValues` paths its values.yaml does not know (E817).

The charts easel can prove are proven on their rendered objects, a cluster at a time (chart_objects.py, tree.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.diagnostics import Diagnostic, Note, Subject, error, warning
from compiler.model import valuespath, versions
from compiler.model.charts import ChartArchive
from compiler.plan import Plans

WHAT = ("what their pods request, which traits reach them and which images they pull are taken from the profile's "
        "values and patch mapping")
NOTES = 5

HINT_WARN = ("run `easel charts pull` to fetch and pin their archives (and install easel's `helm` extra, Helm's "
             "engine); `charts.proof: required` in easel.yaml makes each unproven chart an error")
HINT_REQUIRED = ("run `easel charts pull` to fetch and pin its archive (and install easel's `helm` extra, Helm's "
                 "engine), or set `charts.proof: warn` to take it on trust")

Archives = Mapping[tuple[str, str, str], ChartArchive]


def _components(plans: Plans) -> dict[tuple[str, str, str], Any]:
    """Every chart component of each profile version some cluster runs."""
    found: dict[tuple[str, str, str], Any] = {}
    for cluster in plans.clusters.values():
        for release in (*cluster.stacks, *cluster.workloads):
            for component in release.components:
                if component.output.helm is not None and not release.hydrates(component):  # (else E823)
                    found.setdefault((release.profile, release.version, component.name), component)
    return dict(sorted(found.items()))


def _key(component: Any) -> tuple[str, str, str]:
    return component.output.helm.key


def unproven(plans: Plans, archives: Archives, engine: bool) -> list[Diagnostic]:
    """Under `charts.proof: required`, an error per chart component easel cannot prove; else one warning that
    lists them (one compile's report stays short however many charts a fleet runs)."""
    charts = {key: c for key, c in _components(plans).items() if not engine or _key(c) not in archives}
    if not charts:
        return []
    why = {key: ("no Helm engine (easel's `helm` extra) is installed" if _key(c) in archives
                 else "a Git repository's folder that `easel charts pull` has not read yet" if _from_git(plans, c)
                 else "its archive is not pulled") for key, c in charts.items()}
    said = {key: _chart(component) + f" (component {key[2]!r} of profile {key[0]} {key[1]}; {why[key]})"
            for key, component in charts.items()}
    if plans.settings.chart_proof == "required":
        return [error("E816", f"chart {text} is not proven: {WHAT}", charts[key].loc, HINT_REQUIRED)
                for key, text in said.items()]
    names = sorted({_chart(component) for component in charts.values()})
    first = next(iter(said))
    return [warning("W107", f"{len(names)} chart{'s' if len(names) != 1 else ''} not proven ({', '.join(names[:5])}"
                    f"{', …' if len(names) > 5 else ''}): {WHAT}", charts[first].loc, HINT_WARN,
                    notes=[Note(f"chart {text}", charts[key].loc) for key, text in list(said.items())[:NOTES]])]


def _from_git(plans: Plans, component: Any) -> bool:
    helm = component.output.helm
    repository = plans.repositories.get(helm.repository) if helm is not None else None
    return repository is not None and repository.type == "git"


def cluster_problems(plans: Plans, fleet: Mapping[str, ClusterFacts], archives: Archives) -> list[Diagnostic]:
    """Charts whose kubeVersion excludes a cluster they are planned for; charts that call `lookup`."""
    problems: list[Diagnostic] = []
    lookups: dict[tuple[str, str, str, bool], Any] = {}  # by chart, and whether a release hydrates it
    mapped: dict[tuple[str, str, str], Any] = {}  # (profile, version, component) -> its component, once each
    for name, cluster in plans.clusters.items():
        kube = fleet[name].kubernetes_version if name in fleet else None
        for release in (*cluster.stacks, *cluster.workloads):
            for component in release.components:
                archive = archives.get(_key(component)) if component.output.helm is not None else None
                if archive is None:
                    continue
                if archive.calls_lookup:
                    lookups.setdefault((*_key(component), release.hydrates(component)), component)
                if (release.profile, release.version, component.name) not in mapped:
                    mapped[(release.profile, release.version, component.name)] = component
                    problems += _unknown_values(component, archive)
                    problems += [error("E818", f"chart {_chart(component)} ({archive.file}) cannot be rendered as "
                                       f"it is: {why}", component.loc) for why in archive.problems]
                if kube and archive.kube_version and not versions.satisfies(kube, archive.kube_version):
                    problems.append(error(
                        "E820", f"cluster {name!r}: chart {_chart(component)} needs Kubernetes "
                        f"{archive.kube_version} (its Chart.yaml kubeVersion); the cluster runs {kube}",
                        component.loc, subject=Subject(release.kind, (release.id,), name)))
    problems += [warning("W108", f"chart {_chart(component)} calls `lookup`: " + (
        "hydrated, it is rendered as `helm template` renders it, each lookup finding nothing, and that is what is "
        "written" if hydrated else "on the cluster its templates read live objects easel cannot see, so what easel "
        "proved may differ from what the cluster renders"), component.loc)
                 for (*_, hydrated), component in lookups.items()]
    return problems


def _unknown_values(component: Any, archive: ChartArchive) -> list[Diagnostic]:
    """`traitValues` paths the chart's values.yaml does not know: a trait mapped there would do nothing."""
    problems = []
    for mapping in component.external.trait_values if component.external is not None else ():
        for index, path in enumerate(mapping.paths):
            step = valuespath.unknown_step(archive.values, path)
            if step is not None:
                where = ("properties", "traitValues", mapping.key, *((index,) if mapping.listed else ()))
                problems.append(error(
                    "E817", f"chart {_chart(component)}: traitValues {mapping.key} maps to {path!r}, but the "
                    f"chart's values have no {step!r} (its values.yaml), so the trait would change nothing",
                    component.loc.at(*where)))
    return problems


def _chart(component: Any) -> str:
    helm = component.output.helm
    return f"{helm.path or helm.repository + '/' + helm.chart} {helm.version}"
