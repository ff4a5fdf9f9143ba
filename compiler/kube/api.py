"""Kubernetes' own API: its kinds and their OpenAPI types, as the schemas the merge table was made from list them
(data/merge-keys.json, written by tests/merge_keys.py). The table is read once, here."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from functools import cache
from importlib import resources
from typing import Any


@cache
def openapi_table() -> dict[str, Any]:
    """{"kinds": {"apiVersion/Kind": type}, "types": {type: {field: [type, merge key, strategy]}}}."""
    text = resources.files(__package__).joinpath("data/merge-keys.json").read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


@cache
def kubernetes_groups() -> frozenset[str]:
    """Kubernetes' own API groups ("" for the core group)."""
    return frozenset(group_of(kind.rsplit("/", 1)[0]) for kind in openapi_table()["kinds"])


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def is_custom(obj: dict[str, Any]) -> bool:
    """Whether the object is a custom resource (its kind is not one of Kubernetes' own)."""
    api_version = obj.get("apiVersion")
    return isinstance(api_version, str) and group_of(api_version) not in kubernetes_groups()


# Kubernetes' own kinds that are cluster-scoped (its API discovery's `namespaced: false`); every other kind of its
# own is namespaced
BUILTIN_CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ComponentStatus", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "PriorityClass", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment",
    "VolumeAttributesClass", "RuntimeClass", "IngressClass", "CertificateSigningRequest", "ClusterTrustBundle",
    "FlowSchema", "PriorityLevelConfiguration", "DeviceClass", "ResourceSlice", "IPAddress", "ServiceCIDR",
    "StorageVersionMigration", "PodSecurityPolicy", "TokenReview", "SelfSubjectReview", "SubjectAccessReview",
    "SelfSubjectAccessReview", "SelfSubjectRulesReview",
})
# cluster-scoped kinds of well-known projects, which objects may name without their CRD in sight (by group)
WELL_KNOWN_CLUSTER_SCOPED = frozenset({("cert-manager.io", "ClusterIssuer"),
                                       ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
                                       ("snapshot.storage.k8s.io", "VolumeSnapshotContent")})


def cluster_scoped(obj: dict[str, Any], custom: Collection[tuple[str | None, str | None]] = ()) -> bool:
    """Whether the object's kind is cluster-scoped: one of Kubernetes' own that is, a custom kind a CRD in sight
    defines so (custom: their (group, kind)), or a well-known project's. Any other custom kind is taken to be
    namespaced, as most are."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return False
    if not is_custom(obj):
        return kind in BUILTIN_CLUSTER_SCOPED
    return (group_of(api_version), kind) in custom or (group_of(api_version), kind) in WELL_KNOWN_CLUSTER_SCOPED


def cluster_scoped_kinds(crds: Iterable[dict[str, Any]]) -> set[tuple[str | None, str | None]]:
    """The custom kinds (group, kind) these CRDs define as cluster-scoped (for `cluster_scoped`'s custom)."""
    return {crd_defines(crd) for crd in crds if mapping(crd.get("spec")).get("scope") == "Cluster"}


def mapping(value: Any) -> dict[str, Any]:
    """value when it is a mapping, else an empty one: for reading objects whose fields may be of any type (a chart
    renders what its templates print)."""
    return value if isinstance(value, dict) else {}


def crd_defines(crd: dict[str, Any]) -> tuple[str | None, str | None]:
    """(API group, kind) a CustomResourceDefinition defines; None for what it does not say as a string."""
    spec = mapping(crd.get("spec"))
    group, kind = spec.get("group"), mapping(spec.get("names")).get("kind")
    return (group if isinstance(group, str) else None), (kind if isinstance(kind, str) else None)
