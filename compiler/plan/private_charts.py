"""A chart from a private repository (a Repository with `secretRef`) or a Git repository that Argo CD would inflate
through kustomize is refused (E806). Argo CD's kustomize `helmCharts` inflation gets none of Argo CD's repository
credentials, for Helm repositories (argoproj/argo-cd#10745) and OCI registries (#16623) alike, and pulls nothing
from a Git repository, so the sync could not pull the chart; Argo CD's own Helm (or Git) source can, and a chart
whose traits all go through values is rendered that way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from compiler.decide.resolve import ResolvedComponent, ResolvedTrait
from compiler.diagnostics import Diagnostic, Note, Subject, error
from compiler.model import Repository
from compiler.plan.chart_patches import ChartPatch


class Release(Protocol):
    """What this check reads of a plan's Release (compiler.plan, which imports this module)."""
    @property
    def kind(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def components(self) -> tuple[ResolvedComponent, ...]: ...

    def patches_for(self, component: str) -> tuple[ChartPatch, ...]: ...

    def hydrates(self, component: ResolvedComponent) -> bool: ...


def refused(clusters: Mapping[str, tuple[str, Sequence[Release]]],
            repositories: Mapping[str, Repository]) -> list[Diagnostic]:
    """E806 for each private chart component a release gives kustomize on Argo CD clusters, naming them.
    clusters: each cluster's engine and releases."""
    on: dict[tuple[str, str, str, str], list[str]] = {}
    found: dict[tuple[str, str, str, str], tuple[Release, ResolvedComponent, Repository]] = {}
    for name, (engine, releases) in sorted(clusters.items()):
        if engine != "argocd":
            continue
        for release in releases:
            for component in release.components:
                repository = _private_repository(component, repositories)
                if repository is not None and kustomize_inflates(release, component):
                    key = (release.kind, release.id, release.version, component.name)
                    on.setdefault(key, []).append(name)
                    found[key] = (release, component, repository)
    return [_refusal(*found[key], names) for key, names in on.items()]


def kustomize_inflates(release: Release, component: ResolvedComponent) -> bool:
    """Whether Argo CD gets the chart through easel's kustomize wrapper (render/argocd.py `_wrapper`): when its
    traits patch its objects, rewrite its images, add objects beside it or label its objects."""
    if release.hydrates(component):  # easel writes its objects: nothing is inflated on the cluster
        return False
    return bool(release.patches_for(component.name)) or any(_needs_kustomize(t) for t in component.traits)


def _needs_kustomize(trait: ResolvedTrait) -> bool:
    output = trait.output
    return bool(output.patches or output.objects or output.labels or (output.registry and output.helm_images))


def _private_repository(component: ResolvedComponent, repositories: Mapping[str, Repository]) -> Repository | None:
    """The chart's repository when kustomize's helmCharts cannot pull from it: a private one, or a Git one
    (helmCharts reads Helm repositories and OCI registries only)."""
    helm = component.output.helm
    if helm is None or helm.path is not None:  # not a chart, or an in-house one (no repository)
        return None
    repository = repositories.get(helm.repository)
    return repository if repository is not None and (repository.secret_ref or repository.type == "git") else None


def _refusal(release: Release, component: ResolvedComponent, repository: Repository,
             clusters: list[str]) -> Diagnostic:
    helm = component.output.helm
    assert helm is not None
    traits = [t for t in component.traits if _needs_kustomize(t)]
    types = sorted({t.type for t in traits})
    listed = ", ".join(repr(t) for t in types)
    where = traits[0].loc if traits else component.loc
    plural, verb = ("traits", "reach") if len(types) > 1 else ("trait", "reaches")
    on = f"cluster {clusters[0]}" if len(clusters) == 1 else f"clusters {', '.join(clusters)}"
    subject = (Subject("workload", (release.id,)) if release.kind == "workload"
               else Subject("stack", (f"{release.id} {release.version}",)))
    if repository.type == "git":
        what = (f"chart {helm.git_path!r} of the Git repository {repository.meta.name!r}",
                "which pulls charts from Helm repositories and OCI registries only", ("spec", "type"))
    else:
        private = (f"chart {helm.chart} {helm.version} of the private repository {repository.meta.name!r} "
                   f"(secretRef {repository.secret_ref!r})")
        what = (private, "which gets no repository credentials", ("spec", "secretRef"))
    return error(
        "E806", f"component {component.name!r} is {what[0]}, and its {plural} {listed} {verb} it by kustomize "
        f"(patches, image rewrites, objects beside it), not by values: Argo CD on {on} would inflate it with "
        f"kustomize's helmCharts, {what[1]}, so the sync could not pull the chart",
        where, notes=[Note("the component", component.loc),
                      Note("the repository", repository.meta.loc.at(*what[2]))], subject=subject)
