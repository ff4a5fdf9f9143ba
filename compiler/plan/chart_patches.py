"""Traits on what kustomize renders (a chart, a kustomize folder), as the patches it applies: worked out here,
once, as data (which objects, the patch's body); the Flux post-renderer and Argo CD's kustomize wrapper only
write them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler.decide.resolve import ResolvedComponent
from compiler.kube import merge as smp
from compiler.kube.api import mapping
from compiler.kube.podtemplates import for_kind
from compiler.model.parts import ALL_CONTAINERS, API_VERSIONS, DEFAULT_EXTERNAL_KINDS, ChartTarget, Patch

# The pod-bearing kinds charts render besides Deployments and StatefulSets (ReplicaSets they leave to
# Deployments): a pod-wide trait's pod-level part reaches them too. A patch whose target matches nothing in a
# chart is one kustomize skips.
CHART_POD_KINDS = ("DaemonSet", "Job", "CronJob", "Pod")


@dataclass(frozen=True)
class ChartPatch:
    """One kustomize patch of a chart or folder: its target, and the patch (a strategic merge patch of an object
    of the target's kind and `api_version`; its body is what follows apiVersion, kind and metadata)."""
    target: ChartTarget
    api_version: str
    body: dict[str, Any]


def chart_patches(component: ResolvedComponent) -> tuple[ChartPatch, ...]:
    """The component's trait patches, combined per target: every Deployment's and StatefulSet's first, the
    target's after them (see _pieces). Patches name every container "*"; here they name the component's
    `container` (resolve made sure there is one where it matters)."""
    container = component.external.container if component.external is not None else None
    combined: dict[tuple[str, str | None], tuple[str, dict[str, Any]]] = {}
    for trait in component.traits:
        for patch in trait.output.patches:
            for kind, name, piece in _pieces(patch, component):
                api_version, body = combined.get((kind, name), (None, {}))
                api_version = patch.api_version or api_version or API_VERSIONS.get(kind, "v1")
                patch_body = piece if patch.kind else for_kind(piece, kind)
                combined[(kind, name)] = (api_version, smp.combine(body, patch_body, api_version, kind))
    return tuple(ChartPatch(ChartTarget(kind, name), api_version,
                            _name_containers(body, container) if container is not None else body)
                 for (kind, name), (api_version, body) in sorted(combined.items(),
                                                                 key=lambda item: item[0][1] is not None))


def _pieces(patch: Patch, component: ResolvedComponent) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(kind, name regex, body) of what a patch does in a chart or folder. A pod-wide patch (security context,
    labels, node placement) is split: its pod-level part goes to every pod-bearing kind a chart renders (Jobs,
    CronJobs, DaemonSets and hook pods too, where kustomize's inflation or Helm 4's post-renderer reaches hooks: a
    required security context must reach every pod), its container-level part to the target, the objects that run
    the component's `container` (by default every Deployment and StatefulSet). A patch that is not pod-wide (gpu:
    the GPUs' node selector and tolerations; storage: the volume of its mount) goes wholly to the target."""
    if patch.kind is not None:
        return [(patch.kind, patch.name, patch.body)]
    target = component.external.target if component.external is not None else None
    wide = _pod_wide_part(patch.body) if patch.pod_wide else {}
    if target is None:
        return [(kind, None, patch.body) for kind in DEFAULT_EXTERNAL_KINDS if kind in patch.kinds] + [
            (kind, None, wide) for kind in CHART_POD_KINDS
            if wide and kind in patch.kinds and kind not in DEFAULT_EXTERNAL_KINDS]
    if target.kind not in patch.kinds:
        return []
    kinds = dict.fromkeys((*DEFAULT_EXTERNAL_KINDS, *CHART_POD_KINDS, target.kind))
    # the target gets the whole patch too: kustomize applies the patches one by one, and a later one replaces
    # lists (tolerations) an earlier one set, so the target's patch, applied last, must hold them all
    return [(kind, None, wide) for kind in kinds if wide and kind in patch.kinds] + [
        (target.kind, target.name, patch.body)]


def _pod_wide_part(body: dict[str, Any]) -> dict[str, Any]:
    """The pod-level part of a Deployment-form patch: its pod template without containers."""
    template = mapping(mapping(body.get("spec")).get("template"))
    pod = mapping(template.get("spec"))
    wide_pod = {k: v for k, v in pod.items() if k not in ("containers", "initContainers")}
    wide = {**{k: v for k, v in template.items() if k != "spec"}, **({"spec": wide_pod} if wide_pod else {})}
    return {"spec": {"template": wide}} if wide else {}


def _name_containers(value: Any, container: str) -> Any:
    if isinstance(value, dict):
        return {k: ([{**c, "name": container} if isinstance(c, dict) and c.get("name") == ALL_CONTAINERS else c
                     for c in v] if k in ("containers", "initContainers") and isinstance(v, list)
                    else _name_containers(v, container)) for k, v in value.items()}
    return value
