"""Custom kinds that run no pods: pod-level traits have nothing to do on them, so an environment's default or
required trait passes over them as it passes over a ConfigMap.

A custom kind runs no pods when easel knows it (the table below: widely installed operators' kinds that only
configure something else), when its CustomResourceDefinition is among the component's own objects and its schema
holds no pod template, or when the component says where all its pods are (`podTemplates`, even `[]`) and leaves
the kind out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from compiler.kube.api import crd_defines

# (API group, kind) of custom kinds that run no pods. Each configures something that runs elsewhere.
KINDS_WITHOUT_PODS: frozenset[tuple[str, str]] = frozenset({
    # Prometheus operator (prometheus-operator.dev, group monitoring.coreos.com): what Prometheus and
    # Alertmanager scrape, alert on and route; its Prometheus, Alertmanager and ThanosRuler kinds do run pods.
    *(("monitoring.coreos.com", kind) for kind in (
        "ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe", "AlertmanagerConfig", "ScrapeConfig")),
    # cert-manager (cert-manager.io): certificates and their issuers; the controller runs in its own chart.
    *(("cert-manager.io", kind) for kind in (
        "Certificate", "CertificateRequest", "Issuer", "ClusterIssuer")),
    # Gateway API (gateway.networking.k8s.io): routes and gateways, served by the gateway controller's pods.
    *(("gateway.networking.k8s.io", kind) for kind in (
        "Gateway", "GatewayClass", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute",
        "ReferenceGrant", "BackendTLSPolicy")),
    # External Secrets Operator (external-secrets.io): where a Secret's data comes from.
    *(("external-secrets.io", kind) for kind in (
        "ExternalSecret", "SecretStore", "ClusterSecretStore", "ClusterExternalSecret", "PushSecret")),
    # KEDA (keda.sh): scaling rules for a Deployment or Job that runs elsewhere (ScaledJob does run pods).
    *(("keda.sh", kind) for kind in ("ScaledObject", "TriggerAuthentication", "ClusterTriggerAuthentication")),
    # Istio (networking.istio.io, security.istio.io): traffic and security rules for the mesh's proxies.
    *(("networking.istio.io", kind) for kind in (
        "VirtualService", "DestinationRule", "ServiceEntry", "Sidecar")),
    *(("security.istio.io", kind) for kind in ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication")),
    # Flux (fluxcd.io) and Argo CD (argoproj.io) sources and applications: the controllers run them.
    *(("source.toolkit.fluxcd.io", kind) for kind in (
        "GitRepository", "HelmRepository", "OCIRepository", "Bucket", "HelmChart")),
    ("helm.toolkit.fluxcd.io", "HelmRelease"), ("kustomize.toolkit.fluxcd.io", "Kustomization"),
    *(("argoproj.io", kind) for kind in ("Application", "ApplicationSet", "AppProject")),
    # Kubernetes' own volume snapshots (snapshot.storage.k8s.io, a CRD the CSI snapshotter installs).
    *(("snapshot.storage.k8s.io", kind) for kind in ("VolumeSnapshot", "VolumeSnapshotClass")),
})

CRD_API_GROUP = "apiextensions.k8s.io"


def group_of(api_version: Any) -> str:
    """The API group of an apiVersion ("" for the core group, `v1`)."""
    return api_version.rpartition("/")[0] if isinstance(api_version, str) else ""


def _holds_pod_template(schema: Any) -> bool | None:
    """Whether an OpenAPI schema has a pod template or a pod spec anywhere (a property with `spec.containers`,
    or `containers` itself); None when part of it is left open (`x-kubernetes-preserve-unknown-fields` with no
    properties), so that it could hold one."""
    if not isinstance(schema, dict):
        return False
    properties = schema.get("properties")
    if isinstance(properties, dict) and "containers" in properties:
        return True
    if schema.get("x-kubernetes-preserve-unknown-fields") and not properties and not schema.get("additionalProperties"):
        return None
    children = [*(properties.values() if isinstance(properties, dict) else ()),
                schema.get("items"), schema.get("additionalProperties"),
                *(c for key in ("allOf", "anyOf", "oneOf") for c in (schema.get(key) or ()))]
    results = [_holds_pod_template(child) for child in children]
    return True if any(results) else (None if None in results else False)


def _crd_runs_no_pods(crd: dict[str, Any]) -> bool:
    """Whether every version of a CustomResourceDefinition has a schema, and none could hold a pod template."""
    versions = (crd.get("spec") or {}).get("versions")
    if not isinstance(versions, list) or not versions:
        return False
    schemas = [((v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v, dict) else None) for v in versions]
    return all(isinstance(s, dict) and _holds_pod_template(s) is False for s in schemas)


def kinds_without_pods(objects: Iterable[dict[str, Any]]) -> frozenset[tuple[str, str]]:
    """(API group, kind) of the custom kinds known to run no pods: the table's, and those whose
    CustomResourceDefinition is among the objects and holds no pod template."""
    seen = set(KINDS_WITHOUT_PODS)
    for obj in objects:
        if obj.get("kind") == "CustomResourceDefinition" and group_of(obj.get("apiVersion")) == CRD_API_GROUP:
            group, kind = crd_defines(obj)
            if group is not None and kind is not None and _crd_runs_no_pods(obj):
                seen.add((group, kind))
    return frozenset(seen)


def runs_no_pods(obj: dict[str, Any], known: frozenset[tuple[str, str]]) -> bool:
    """Whether a custom kind's object is one of the known kinds without pods."""
    return (group_of(obj.get("apiVersion")), obj.get("kind")) in known
