"""A hydrated chart's rendered, patched objects sorted by when they apply, and changed where plain manifests need
it to do what Helm does (the hydrate stage's object-level half):

- CRDs (and the chart's own namespace) first; with `crds: Create` a CRD Flux applies is created, never updated
  (`kustomize.toolkit.fluxcd.io/ssa: IfNotPresent`), as Helm never upgrades one;
- a hook that runs on install and upgrade, before or after the objects: on Flux a layer before or after them (its
  Jobs and Pods carry a digest of the release's objects, so that a changed release runs them again, as every
  upgrade runs Helm's hooks), on Argo CD a PreSync or PostSync hook (its weight a sync wave, its delete policy
  Argo CD's). One that runs on install only is run again by both (W115); one that runs on upgrade only, or only on
  delete or rollback, has no phase that would run it as Helm does (E825); on Argo CD a PreSync hook of a kind the
  chart's own CRDs define would run before them (E825);
- no Secret (E824);
- `helm.sh/resource-policy: keep` kept from pruning as each engine says it; a Job's `ttlSecondsAfterFinished`
  dropped where the engine would create the deleted Job again (a plain object, and a hook on Flux).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from compiler.kube import podtemplates
from compiler.kube.api import crd_defines
from compiler.plan import HydratedChart
from compiler.prove.chart_objects import HELM_HOOK

HOOK_WEIGHT = "helm.sh/hook-weight"
HOOK_DELETE = "helm.sh/hook-delete-policy"
RESOURCE_POLICY = "helm.sh/resource-policy"
ARGO_HOOK = "argocd.argoproj.io/hook"
ARGO_DELETE = "argocd.argoproj.io/hook-delete-policy"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_SSA = "kustomize.toolkit.fluxcd.io/ssa"
RELEASE_DIGEST = "easel.dev/release-digest"
INSTALL = {"before": "pre-install", "after": "post-install"}
UPGRADE = {"before": "pre-upgrade", "after": "post-upgrade"}
# Helm's delete policies as Argo CD names them; Helm's default (none written) is before-hook-creation
ARGO_DELETE_POLICIES = {"before-hook-creation": "BeforeHookCreation", "hook-succeeded": "HookSucceeded",
                        "hook-failed": "HookFailed"}
FIRST = ("CustomResourceDefinition", "Namespace")

Said = tuple[str, str, dict[str, Any], str]  # code, the chart's template, the object, why


def phased(objects: list[tuple[str, dict[str, Any]]], engine: str, crds_policy: str | None,
           cluster_scoped: set[tuple[str | None, str | None]]) -> tuple[HydratedChart, list[Said]]:
    """The objects by when they apply, and what is said of them (refusals are errors, W115 a warning)."""
    first: list[tuple[str, dict[str, Any]]] = []
    phases: dict[str, list[tuple[str, dict[str, Any]]]] = {"before": [], "objects": [], "after": []}
    said: list[Said] = []
    own_kinds = {crd_defines(obj)[1] for _, obj in objects if obj.get("kind") == "CustomResourceDefinition"}
    for file, obj in objects:
        obj = _without_namespace(obj) if _group_kind(obj) in cluster_scoped else obj
        if obj.get("kind") == "Secret" and str(obj.get("apiVersion")) == "v1":
            said.append(("E824", file, obj, "hydrated output never writes a Secret (Git would hold its data)"))
        elif obj.get("kind") in FIRST:
            first.append((file, _created_only(_without_hook(obj), engine, crds_policy)))
        elif not _events(obj):
            phases["objects"].append((file, _kept(_without_ttl(obj), engine)))
        else:
            phase, why = _hook_phase(obj, engine, own_kinds)
            said += [(code, file, obj, text) for code, text in why]
            if phase is not None:
                hook = _as_argo_hook(obj, phase) if engine == "argocd" else _without_ttl(_without_hook(obj))
                phases[phase].append((file, _kept(hook, engine)))
    if engine == "flux":  # a changed release runs its hooks again, as Helm runs them on every upgrade
        stamp = digest(phases["objects"])[:16]
        phases = {phase: [(file, _stamped(obj, stamp)) if phase != "objects" else (file, obj) for file, obj in found]
                  for phase, found in phases.items()}
    if engine == "argocd" and first:  # a wave before any the chart's own objects name
        wave = min([0, *(_wave(obj) for _, obj in phases["objects"])]) - 1
        first = [(file, _annotated(obj, {SYNC_WAVE: str(wave)})) for file, obj in first]
    chart = HydratedChart(tuple(first), tuple(phases["before"]), tuple(phases["objects"]), tuple(phases["after"]))
    return dataclasses.replace(chart, key=digest(chart.written)), said


def _events(obj: dict[str, Any]) -> set[str]:
    return {part.strip() for part in str(_annotations(obj).get(HELM_HOOK) or "").split(",") if part.strip()}


def _hook_phase(obj: dict[str, Any], engine: str, own_kinds: set[str | None]
                ) -> tuple[str | None, list[tuple[str, str]]]:
    """Where a hook goes (None: nowhere), and what is said of it."""
    events = _events(obj)
    phase = next((p for p in ("before", "after") if events & {INSTALL[p], UPGRADE[p]}), None)
    if phase is None:
        return None, [("E825", (f"a Helm hook that runs only on {', '.join(sorted(events))}: hydrated output has no "
                                "such phase (it installs and upgrades; nothing runs it on delete or rollback)"))]
    if INSTALL[phase] not in events:
        return None, [("E825", (f"a Helm hook that runs on upgrade only ({UPGRADE[phase]}): hydrated output cannot "
                               "tell an install from an upgrade, so it would run on the first install too, before "
                               "there is anything to upgrade"))]
    if engine == "argocd" and phase == "before" and obj.get("kind") in own_kinds:
        return None, [("E825", ("a hook of a kind the chart's own CRDs define runs before an install: Argo CD runs "
                               "PreSync hooks before every wave of the sync, so before those CRDs exist"))]
    if UPGRADE[phase] not in events:
        again = "on every sync (Argo CD's PreSync and PostSync)" if engine == "argocd" else \
            "whenever the release changes (a layer of its own, run again as on an upgrade)"
        return phase, [("W115", (f"a Helm hook that runs on install only ({INSTALL[phase]}): hydrated output runs "
                                f"it {again}"))]
    return phase, []


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _annotated(obj: dict[str, Any], added: Mapping[str, str], dropped: tuple[str, ...] = ()) -> dict[str, Any]:
    metadata = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in dict(metadata.get("annotations") or {}).items() if k not in dropped}
    annotations.update(added)
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    return {**obj, "metadata": metadata}


def _without_hook(obj: dict[str, Any]) -> dict[str, Any]:
    """No longer a Helm hook: nothing but easel's layers runs it now."""
    return _annotated(obj, {}, (HELM_HOOK, HOOK_WEIGHT, HOOK_DELETE))


def _as_argo_hook(obj: dict[str, Any], phase: str) -> dict[str, Any]:
    """A Helm hook as Argo CD's own: PreSync or PostSync, its weight a sync wave, its delete policy (Helm's
    default, before-hook-creation, when it names none)."""
    annotations = _annotations(obj)
    policies = [ARGO_DELETE_POLICIES[p.strip()] for p in str(annotations.get(HOOK_DELETE) or
                                                             "before-hook-creation").split(",")
                if p.strip() in ARGO_DELETE_POLICIES]
    added = {ARGO_HOOK: "PreSync" if phase == "before" else "PostSync", ARGO_DELETE: ",".join(policies)}
    weight = str(annotations.get(HOOK_WEIGHT) or "").strip()
    if weight.lstrip("-").isdigit():
        added[SYNC_WAVE] = str(int(weight))
    return _annotated(obj, added, (HELM_HOOK, HOOK_WEIGHT, HOOK_DELETE))


def _created_only(obj: dict[str, Any], engine: str, crds_policy: str | None) -> dict[str, Any]:
    """A CRD the component's release options say to create, never replace (`crds: Create`): so on Flux."""
    if engine == "flux" and crds_policy == "Create" and obj.get("kind") == "CustomResourceDefinition":
        return _annotated(obj, {FLUX_SSA: "IfNotPresent"})
    return obj


def _kept(obj: dict[str, Any], engine: str) -> dict[str, Any]:
    """An object Helm keeps when its release goes (`helm.sh/resource-policy: keep`), kept from the engine's pruning."""
    if str(_annotations(obj).get(RESOURCE_POLICY) or "").strip() != "keep":
        return obj
    if engine == "flux":
        return _annotated(obj, {FLUX_PRUNE: "disabled"})
    options = [o for o in str(_annotations(obj).get(SYNC_OPTIONS) or "").split(",") if o]
    return _annotated(obj, {SYNC_OPTIONS: ",".join([*options, *(["Delete=false"] if "Delete=false" not in options
                                                                 else [])])})


def _without_ttl(obj: dict[str, Any]) -> dict[str, Any]:
    """A Job without `ttlSecondsAfterFinished`: once its TTL deleted it, the engine would create it again, and run
    it again, on its next reconcile."""
    spec = obj.get("spec")
    if obj.get("kind") != "Job" or not isinstance(spec, dict) or "ttlSecondsAfterFinished" not in spec:
        return obj
    return {**obj, "spec": {k: v for k, v in spec.items() if k != "ttlSecondsAfterFinished"}}


def _stamped(obj: dict[str, Any], digest: str) -> dict[str, Any]:
    """A hook's pods marked with the release's objects: a release that changes changes the hook (a Job is then
    created again, its layer being forced), and so runs it."""
    if not podtemplates.templates(obj) or obj.get("kind") not in ("Job", "Pod"):
        return obj
    if obj.get("kind") == "Pod":
        return _annotated(obj, {RELEASE_DIGEST: digest})
    spec = dict(obj.get("spec") or {})
    template = dict(spec.get("template") or {})
    spec["template"] = _annotated(template, {RELEASE_DIGEST: digest})
    return {**obj, "spec": spec}


def _wave(obj: dict[str, Any]) -> int:
    written = str(_annotations(obj).get(SYNC_WAVE) or "0").strip()
    return int(written) if written.lstrip("-").isdigit() else 0


def _group_kind(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    return str(obj.get("apiVersion", "")).rpartition("/")[0], str(obj.get("kind"))


def _without_namespace(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "namespace"}
    return {**obj, "metadata": metadata}


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:32]
