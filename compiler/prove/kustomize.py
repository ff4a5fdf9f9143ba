"""`easel build CLUSTER`: a cluster's tree as `kustomize build` (and `kubectl kustomize`) prints it, from the
rendered files in memory: the resources its kustomization.yaml lists, followed into folders, put in kustomize's
default ("legacy") order, each object with its keys sorted, separated by `---`.

The trees easel writes use `resources` only where a cluster's root reaches (the Flux layers and Argo CD
Applications point at the folders with patches and Helm inflation; their controllers build those); anything
else in a kustomization reached from the root is a bug in easel, reported as such.
"""

from __future__ import annotations

import posixpath
from typing import Any

from compiler.load import yamlio

# kustomize's legacy order (api/resid/gvk.go): these kinds first, in this order; the webhooks last; every other
# kind between them; ties by group, version and kind, then namespace and name
_FIRST = ("Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
          "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret",
          "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim",
          "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget")
_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
_RANK = {**{kind: index - len(_FIRST) for index, kind in enumerate(_FIRST)},
         **{kind: index + 1 for index, kind in enumerate(_LAST)}}
_KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "resources"}


class UnsupportedTree(Exception):
    """A kustomization reached from a cluster's root uses more than `resources` (easel never writes that)."""


def legacy_order_key(obj: dict[str, Any]) -> tuple:
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    kind = str(obj.get("kind") or "")
    metadata = obj.get("metadata") or {}
    return (_RANK.get(kind, 0), f"{group or '~G'}_{version or '~V'}_{kind or '~K'}",
            metadata.get("namespace") or "~X", metadata.get("name") or "~N")


def resources(files: dict[str, str], folder: str) -> list[dict[str, Any]]:
    """Every object the kustomization in `folder` lists, in the order it lists them, folders followed."""
    path = posixpath.join(folder, "kustomization.yaml")
    kustomization = yamlio.load_all(files[path])[0]
    extra = set(kustomization) - _KUSTOMIZATION_FIELDS
    if extra:
        raise UnsupportedTree(f"{path} uses {', '.join(sorted(extra))}")
    found: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        target = posixpath.normpath(posixpath.join(folder, entry))
        if target in files:
            found.extend(doc for doc in yamlio.load_all(files[target]) if doc)
        else:
            found.extend(resources(files, target))
    return found


def _keys_sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _keys_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_keys_sorted(item) for item in value]
    return value


def build(files: dict[str, str], folder: str) -> str:
    """The YAML stream `kustomize build folder` prints for these files."""
    objects = sorted(resources(files, folder), key=legacy_order_key)
    return "---\n".join(yamlio.dump(_keys_sorted(obj)) for obj in objects)
