"""Custom resources and their CRDs: a custom resource easel writes is applied only after its CRD exists.

A kind's API group is built in (Kubernetes' own groups, as its OpenAPI schemas list them; the GitOps engine's on
that engine's clusters), or the cluster has it (`Cluster.spec.crds`, a ClusterProfile layer's `crds`), or a
release installs it: a chart or folder that declares it (`crds` in its properties), a chart whose archive ships
it (its crds/ folder, which Helm installs before the chart's objects), or a component whose own objects hold the
CustomResourceDefinition. A custom resource of a group none of these installs before it (in
a stack the release needs, or in a component it depends on) is an error that names the kind; a hydrated chart's
rendered objects are written, so they are checked too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from compiler.diagnostics import Diagnostic, Subject, error
from compiler.kube.api import group_of, is_custom

if TYPE_CHECKING:
    from compiler.decide.resolve import ResolvedComponent
    from compiler.model.charts import ChartArchive
    from compiler.plan import ClusterPlan, Release

    Archives = Mapping[tuple[str, str, str], ChartArchive]

ENGINE_GROUPS = {
    "flux": frozenset({"source.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io",
                       "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"}),
    "argocd": frozenset({"argoproj.io"}),
}


def own_objects(component: ResolvedComponent) -> list[dict]:
    return [*(component.output.objects or ()), *(o for t in component.traits for o in t.output.objects)]


def installed_by(component: ResolvedComponent, archives: Archives | None = None) -> frozenset[str]:
    """The API groups whose CRDs the component installs: declared (`crds`), its own CRD objects, or the crds/ of
    its chart's archive (archives: those easel has, by (repository, chart, version); "" for in-house charts)."""
    declared = component.external.crds if component.external is not None else ()
    defined = {((o.get("spec") or {}).get("group")) for o in own_objects(component)
               if o.get("kind") == "CustomResourceDefinition"}
    helm = component.output.helm
    archive = (archives or {}).get(helm.key) if helm is not None else None
    shipped = {(crd.get("spec") or {}).get("group") for crd in (archive.crds if archive is not None else ())}
    return frozenset(g for g in (*declared, *defined, *shipped) if isinstance(g, str))


def _written(release: Release, component: ResolvedComponent) -> list[dict]:
    """The objects the component writes: its own, and a hydrated chart's rendered objects (hooks too)."""
    chart = release.hydrated.get(component.name)
    rendered = [o for _, o in chart.written] if chart is not None else []
    return [*own_objects(component), *rendered]


def _installs(release: Release, component: ResolvedComponent, archives: Archives | None) -> frozenset[str]:
    """installed_by, and the groups of the CRDs a hydrated chart's templates render."""
    chart = release.hydrated.get(component.name)
    rendered = {(o.get("spec") or {}).get("group") for _, o in chart.crds} if chart is not None else set()
    return installed_by(component, archives) | {g for g in rendered if isinstance(g, str)}


def _before(release: Release, component: ResolvedComponent) -> set[str]:
    """The components of the release this one depends on, transitively."""
    by_name = {c.name: c for c in release.components}
    found: set[str] = set()
    pending = list(component.depends_on)
    while pending:
        name = pending.pop()
        if name not in found and name in by_name:
            found.add(name)
            pending.extend(by_name[name].depends_on)
    return found


def check(plan: ClusterPlan, has: Iterable[str], memo: dict | None = None,
          archives: Archives | None = None) -> list[Diagnostic]:
    """The custom resources on this cluster that nothing installs the CRD of before them. has: the groups the
    cluster has (its own and its cluster profile's). memo: what a release planned alike lacks, given what the
    cluster has, for clusters that run the same releases (a fleet's thousands of them)."""
    memo = {} if memo is None else memo
    present = frozenset(has) | ENGINE_GROUPS.get(plan.engine, frozenset())
    stacks = {s.id: frozenset().union(*(_installs(s, c, archives) for c in s.components)) for s in plan.stacks}
    problems = []
    for release in plan.releases:
        from_stacks = frozenset().union(*(stacks.get(s, frozenset()) for s in release.requires))
        key = (release.key, present, from_stacks)
        found = memo.get(key) if release.key else None
        if found is None:
            found = _lacking(release, present | from_stacks, archives)
            if release.key:
                memo[key] = found
        for component, obj, group, sibling in found:
            hint = (f"make component {component.name!r} depend on {sibling!r}, which installs {group} "
                    f"(`dependsOn: [{sibling}]`)" if sibling else
                    f"require the stack that installs {group} (`requires.profiles`), list it in `crds` of the "
                    f"chart that installs it, or say the cluster has it (`crds: [{group}]` on the Cluster or "
                    "its ClusterProfile layer)")
            problems.append(error(
                "E412", f"component {component.name!r} writes a {obj.get('kind')} ({obj.get('apiVersion')}), "
                f"but nothing installs the {group} CRDs before it on cluster {plan.cluster!r}", component.loc,
                hint, subject=Subject(release.kind, (release.id,), plan.cluster)))
    return problems


def _lacking(release: Release, there: frozenset[str], archives: Archives | None
             ) -> list[tuple[Any, dict, str, str | None]]:
    """Per component of the release, the first custom object whose CRD nothing installs before it: (component,
    object, group, the sibling component that installs it, if one does)."""
    found = []
    for component in release.components:
        earlier = _before(release, component)
        ready = there | set().union(*(_installs(release, c, archives) for c in release.components
                                      if c.name in earlier))
        own = _installs(release, component, archives)
        for obj in _written(release, component):
            group = group_of(str(obj.get("apiVersion", "")))
            if not is_custom(obj) or group in ready or group in own:
                continue
            sibling = next((c.name for c in release.components if group in _installs(release, c, archives)), None)
            found.append((component, obj, group, sibling))
            break
    return found
