"""Volume claims that trait patches bring: a PersistentVolumeClaim a pod template mounts by name, and a
StatefulSet's claim templates (one claim per replica).

Kubernetes gives `volumeClaimTemplates` no merge key, so a patch that sets it replaces the StatefulSet's own list
(as kustomize does it, and easel with it): it may only go to StatefulSets without claim templates of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler.kube import podtemplates
from compiler.model import PodTemplatePath
from compiler.model.parts import Patch


def _volumes(pod_template: Any) -> list[dict[str, Any]]:
    spec = pod_template.get("spec") if isinstance(pod_template, dict) else None
    volumes = spec.get("volumes") if isinstance(spec, dict) else None
    return [v for v in volumes if isinstance(v, dict)] if isinstance(volumes, list) else []


def _claim_name(volume: dict[str, Any]) -> str | None:
    claim = volume.get("persistentVolumeClaim")
    name = claim.get("claimName") if isinstance(claim, dict) else None
    return name if isinstance(name, str) else None


def claims_named(patches: Iterable[Patch]) -> set[str]:
    """The PersistentVolumeClaims pod-level patches mount (Deployment form: spec.template.spec.volumes)."""
    return {name for p in patches if p.kind is None
            for v in _volumes(((p.body.get("spec") or {}) if isinstance(p.body, dict) else {}).get("template"))
            if (name := _claim_name(v)) is not None}


def claims_mounted(objects: Iterable[dict[str, Any]], patches: list[Patch],
                   declared: Iterable[PodTemplatePath] = ()) -> set[str]:
    """The PersistentVolumeClaims the objects' pods mount once the patches are applied."""
    declared = tuple(declared)
    return {name for obj in objects for t in podtemplates.templates(podtemplates.patched(obj, patches, declared),
                                                                    declared)
            for v in _volumes(t.template) if (name := _claim_name(v)) is not None}


def sets_claim_templates(patch: Patch) -> bool:
    """Whether the patch sets a StatefulSet's volumeClaimTemplates (replacing the StatefulSet's own)."""
    spec = patch.body.get("spec") if isinstance(patch.body, dict) else None
    return isinstance(spec, dict) and "volumeClaimTemplates" in spec


def own_claim_templates(obj: dict[str, Any]) -> list[str]:
    """The names of a StatefulSet's own claim templates ([] for any other object)."""
    spec = obj.get("spec") if obj.get("kind") == "StatefulSet" else None
    found = spec.get("volumeClaimTemplates") if isinstance(spec, dict) else None
    return [str((t.get("metadata") or {}).get("name")) for t in found if isinstance(t, dict)] \
        if isinstance(found, list) else []
