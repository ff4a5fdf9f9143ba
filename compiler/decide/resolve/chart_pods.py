"""A chart's target and container found in the chart itself: when a helm-chart component names no `target` (or
no `container`) and its traits must reach containers, easel looks at the pods of its chart as Helm's own engine
renders it, with the component's values as resolved (after `traitValues`), its release name and namespace. Where
exactly one object fits, it is the target, as if the profile had written it; where exactly one container runs
in it, the container.

What fits: an object with a pod template of a built-in kind (kube/podtemplates.py), not a Helm hook (hooks run
once around an install and Flux's post-renderer may not reach them); a Deployment or StatefulSet first (the
long-running workloads, DEFAULT_EXTERNAL_KINDS), another pod-bearing kind (a Job, a CronJob, a DaemonSet, a Pod)
only when the chart renders neither; running every container the component or its traits name. Its container:
the one of its `containers`; init containers do not count (they run to completion before the pod's containers
start: a GPU, resources or a mount is for what runs).

The engine stays out of decide: a ChartPods (pipeline.py gives one where easel has the chart's archive and
Helm's engine) answers with the rendered objects, and what is found is kept as data on the resolved component
(`found`), which plan/chart_patches.py and `easel explain` read like what an author writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from compiler.kube import podtemplates
from compiler.model.parts import (
    ALL_CONTAINERS,
    DEFAULT_EXTERNAL_KINDS,
    POD_TEMPLATES,
    ChartTarget,
    ComponentOutput,
    ExternalSource,
    HelmChart,
    Patch,
)

HELM_HOOK = "helm.sh/hook"


class ChartPods(Protocol):
    def objects(self, chart: HelmChart, release: str, namespace: str) -> Sequence[dict[str, Any]] | None:
        """The objects of the chart rendered with its values, for that release name and namespace (the cluster's
        Kubernetes version unknown), without those only `helm test` runs; None when easel cannot render it (no
        archive of it, or the chart does not render: the proof says why)."""


@dataclass(frozen=True)
class FoundTarget:
    """What easel chose in the rendered chart: the object (kind, name) and its container; `found` says which of
    the two it found (the other the component names)."""
    kind: str
    name: str
    container: str | None
    found: tuple[str, ...]  # "target", "container"


@dataclass(frozen=True)
class Looked:
    """What looking at the chart gave: the component's fields with what was found; the pod objects that fit when
    several do (several objects, or one running several containers), listed for the message."""
    external: ExternalSource | None
    found: FoundTarget | None = None
    fitting: str | None = None  # several fit: "Deployment 'api' (api, sidecar); Deployment 'worker' (worker)"


def look(charts: ChartPods | None, output: ComponentOutput, external: ExternalSource | None,
         patches: Sequence[Patch], release: str, namespace: str) -> Looked:
    """The target and container of a chart component that does not name them and whose trait patches (as
    mapped to values) need them. Nothing found: the component as written."""
    helm = output.helm
    if external is None or helm is None:
        return Looked(external)
    named = {n for p in patches if p.kind is None for n in container_names(p.body) if n != ALL_CONTAINERS}
    named |= {external.container} if external.container else set()
    every = any(names_every_container(p.body) for p in patches if p.kind is None)
    needs_target = external.target is None and bool(named or every)
    needs_container = external.container is None and every
    rendered = charts.objects(helm, release, namespace) \
        if charts is not None and (needs_target or needs_container) else None
    if rendered is None:
        return Looked(external)
    pods = [o for o in rendered if podtemplates.templates(o) and not _hook(o)]
    fitting = _fitting(pods, external.target, named)
    if needs_target and len(fitting) != 1:
        return Looked(external, fitting=_listed(fitting) if fitting else None)
    obj = fitting[0] if needs_target else None
    target = external.target or _target(obj)
    container = external.container
    if needs_container:
        containers = sorted({c for o in ([obj] if obj else fitting) for c in _running(o)})
        if len(containers) != 1:
            return Looked(external, fitting=_listed([obj] if obj else fitting) if containers else None)
        container = containers[0]
    name = _name(obj) if obj is not None else (target.name or "")
    found = FoundTarget(target.kind, name, container, (*(("target",) if needs_target else ()),
                                                        *(("container",) if needs_container else ())))
    return Looked(replace(external, target=target, container=container), found)


def _fitting(pods: list[dict[str, Any]], target: ChartTarget | None, named: set[str]) -> list[dict[str, Any]]:
    """The pod objects a patch may go to: those of the target (its name matched whole, as kustomize matches it);
    without one, those that run every container named, long-running kinds first."""
    if target is not None:
        return [o for o in pods if o.get("kind") == target.kind and (target.name is None or _matches(target.name, o))]
    running = [o for o in pods if named <= set(_running(o, init=True))]
    first = [o for o in running if o.get("kind") in DEFAULT_EXTERNAL_KINDS]
    return first or [o for o in running if o.get("kind") in POD_TEMPLATES]


def _matches(pattern: str, obj: dict[str, Any]) -> bool:
    try:
        return re.fullmatch(pattern, _name(obj)) is not None
    except re.error:  # a regular expression kustomize (Go) reads and Python does not: none found here
        return False


def _target(obj: dict[str, Any] | None) -> ChartTarget:
    assert obj is not None
    return ChartTarget(str(obj.get("kind")), _name(obj).replace(".", r"\."))  # a name kustomize matches whole


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _hook(obj: dict[str, Any]) -> bool:
    return bool(((obj.get("metadata") or {}).get("annotations") or {}).get(HELM_HOOK))


def _running(obj: dict[str, Any], init: bool = False) -> list[str]:
    """The containers an object's pods run (init containers too, when asked), in order, once each."""
    keys = ("initContainers", "containers") if init else ("containers",)
    return list(dict.fromkeys(str(c.get("name")) for t in podtemplates.templates(obj)
                              for key in keys for c in ((t.template.get("spec") or {}).get(key) or ())
                              if isinstance(c, dict)))


def _listed(objects: Iterable[dict[str, Any]]) -> str:
    return "; ".join(f"{o.get('kind')} {_name(o)!r} ({', '.join(_running(o))})" for o in objects) or "none"


def container_values(body: Any, field: str) -> list[str]:
    """A field of every container (and init container) a patch sets, where it is a string."""
    if not isinstance(body, dict):
        return []
    found = []
    for key, value in body.items():
        if key in ("containers", "initContainers") and isinstance(value, list):
            found += [c[field] for c in value if isinstance(c, dict) and isinstance(c.get(field), str)]
        else:
            found += container_values(value, field)
    return found


def container_names(body: Any) -> list[str]:
    """The names of the containers a patch sets ("*", every container, among them)."""
    return container_values(body, "name")


def names_a_container(body: Any) -> bool:
    """Whether the patch names a container of its own (not "*", every container)."""
    return any(name != ALL_CONTAINERS for name in container_names(body))


def names_every_container(body: Any) -> bool:
    return ALL_CONTAINERS in container_names(body)
