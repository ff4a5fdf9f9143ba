"""Built-in trait definitions: gpu, resources, replicas, node-placement, ingress, storage, image-registry,
labels, security-context.

Each returns a TraitOutput: strategic-merge patches for pod-running kinds (applied by easel to its own objects,
by kustomize to charts and folders), extra objects, and what placement needs to know (GPU demand, replicas).
A patch names containers "*" (every container) unless the trait says `container`; on a chart, "*" becomes the
component's `container` (default: the chart name), since a patch there cannot see the chart's containers.
"""

from __future__ import annotations

from typing import Any

from .. import gpu as gpus
from .. import names
from ..rendered import ALL_CONTAINERS, POD_KINDS, Patch, RenderContext, TraitOutput
from ..schemas import LABEL_KEY, LABEL_VALUE, QUANTITY, array, obj
from .components import _RESOURCES, resources_block

_CONTAINER = {"type": "string", "minLength": 1, "description": "the container to change (default: every one)"}
_K8S_TOLERATION = obj({
    "key": {"type": "string"}, "operator": {"enum": ["Equal", "Exists"]}, "value": {"type": "string"},
    "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
    "tolerationSeconds": {"type": "integer"},
})

SCHEMAS: dict[str, dict[str, Any]] = {
    "gpu": obj({
        "count": {"type": "integer", "minimum": 1, "default": 1},
        "product": {"anyOf": [{"type": "string", "minLength": 1},
                              array({"type": "string", "minLength": 1}, minItems=1)]},
        "minMemory": QUANTITY,
        "sharing": {"enum": list(gpus.SHARING_MODES), "default": gpus.EXCLUSIVE},
        "migProfile": {"type": "string", "pattern": gpus.MIG_PROFILE_PATTERN},
        "container": _CONTAINER,
    }, allOf=[{"if": {"properties": {"sharing": {"const": "mig"}}, "required": ["sharing"]},
               "then": {"required": ["migProfile"]}}]),
    "resources": {**_RESOURCES, "properties": {**_RESOURCES["properties"], "container": _CONTAINER}},
    "replicas": obj({"count": {"type": "integer", "minimum": 0}}, ["count"]),
    "node-placement": obj({
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        "tolerations": array(_K8S_TOLERATION),
        "affinity": {"type": "object"},
    }),
    "ingress": obj({
        "host": {"type": "string", "minLength": 1},
        "path": {"type": "string", "default": "/"},
        "service": {"type": "string", "minLength": 1},
        "port": {"type": ["integer", "string"]},
        "className": {"type": "string"},
        "tls": obj({"secretName": {"type": "string", "minLength": 1}}, ["secretName"]),
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    }, ["host"]),
    "storage": obj({
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "default": "data"},
        "size": QUANTITY,
        "storageClass": {"type": "string"},
        "mountPath": {"type": "string", "pattern": "^/"},
        "accessModes": array({"enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]}),
        "container": _CONTAINER,
    }, ["size", "mountPath"]),
    "image-registry": obj({
        "registry": {"type": "string", "minLength": 1, "pattern": r"^[^/\s]+(/[^\s]+)?$"},
        "images": array({"type": "string", "minLength": 1},
                        description="images of a chart to rewrite (a chart's images cannot be seen before it renders)"),
    }, ["registry"]),
    "labels": {"type": "object", "propertyNames": {"pattern": LABEL_KEY},
               "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}},
    "security-context": obj({
        "runAsNonRoot": {"type": "boolean"},
        "runAsUser": {"type": "integer", "minimum": 0},
        "runAsGroup": {"type": "integer", "minimum": 0},
        "fsGroup": {"type": "integer", "minimum": 0},
        "seccompProfile": {"enum": ["RuntimeDefault", "Unconfined"]},
        "allowPrivilegeEscalation": {"type": "boolean"},
        "readOnlyRootFilesystem": {"type": "boolean"},
        "privileged": {"type": "boolean"},
        "capabilities": obj({"add": array({"type": "string"}), "drop": array({"type": "string"})}),
        "container": _CONTAINER,
    }),
}

DESCRIPTIONS = {
    "gpu": "GPUs per replica (count, product, minMemory, sharing, migProfile): device-plugin limits and node "
           "selector, or a DRA claim (ResourceClaimTemplate), as each cluster allocates; a toleration; and the "
           "workload's GPU demand for placement",
    "resources": "container CPU and memory requests and limits",
    "replicas": "the number of replicas of Deployments and StatefulSets",
    "node-placement": "nodeSelector, tolerations and affinity of pods",
    "ingress": "an Ingress in front of the component's Service",
    "storage": "a PersistentVolumeClaim mounted into the containers",
    "image-registry": "rewrite image registries to a mirror (air-gapped sites)",
    "labels": "labels on every object and pod",
    "security-context": "pod and container security contexts",
}


def _pod_patches(pod_spec: dict[str, Any], kinds: tuple[str, ...] = POD_KINDS, pod_wide: bool = True) -> list[Patch]:
    return [Patch({"spec": {"template": {"spec": pod_spec}}}, kinds=kinds, pod_wide=pod_wide)]


def _container(props: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {"name": props.get("container", ALL_CONTAINERS), **body}


def gpu(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    ask = gpus.ask_from_properties(props)
    if ctx.gpu_allocation == gpus.DRA:
        return _gpu_claim(props, ask, ctx)
    pod: dict[str, Any] = {
        "containers": [_container(props, {"resources": {"limits": {ask.resource_name: ask.count}}})],
        "tolerations": [{"key": gpus.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
    }
    if len(ask.products) == 1:
        pod["nodeSelector"] = {gpus.PRODUCT_LABEL: ask.product_labels[0]}
    elif ask.products:
        pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": gpus.PRODUCT_LABEL, "operator": "In",
                                   "values": list(ask.product_labels)}]}]}}}
    return TraitOutput(patches=_pod_patches(pod, pod_wide=False), gpu=ask)


def _gpu_claim(props: dict[str, Any], ask: gpus.GpuAsk, ctx: RenderContext) -> TraitOutput:
    """The ask on a cluster that allocates GPUs through DRA: a ResourceClaimTemplate (one claim per pod, of
    `count` devices of the driver's class, selected by CEL on product, MIG profile and memory), the pod's claim
    from it, and each container's use of that claim; no extended-resource limit and no GPU Feature Discovery
    label, which the DRA driver's nodes do not have. The GPU nodes' taint is tolerated as with the device plugin."""
    template = names.join(ctx.instance, gpus.CLAIM)
    request: dict[str, Any] = {"deviceClassName": gpus.device_class(ask), "allocationMode": "ExactCount",
                               "count": ask.count}
    selectors = gpus.cel_selectors(ask, dict(ctx.dra_products))
    if selectors:
        request["selectors"] = [{"cel": {"expression": expression}} for expression in selectors]
    claim_template = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate",
                      "metadata": {"name": template},
                      "spec": {"spec": {"devices": {"requests": [{"name": gpus.CLAIM, "exactly": request}]}}}}
    pod: dict[str, Any] = {
        "resourceClaims": [{"name": gpus.CLAIM, "resourceClaimTemplateName": template}],
        "containers": [_container(props, {"resources": {"claims": [{"name": gpus.CLAIM}]}})],
        "tolerations": [{"key": gpus.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}],
    }
    return TraitOutput(patches=_pod_patches(pod, pod_wide=False), objects=[claim_template], gpu=ask)


def resources(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    block = resources_block(props)
    if not block:
        return TraitOutput()
    return TraitOutput(patches=_pod_patches({"containers": [_container(props, {"resources": block})]}))


def replicas(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    count = props["count"]
    return TraitOutput(patches=[Patch({"spec": {"replicas": count}}, kinds=("Deployment", "StatefulSet"))],
                       replicas=count)


def node_placement(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    pod = {key: props[key] for key in ("nodeSelector", "tolerations", "affinity") if props.get(key)}
    return TraitOutput(patches=_pod_patches(pod)) if pod else TraitOutput()


def ingress(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    port = props.get("port", "http")
    backend_port = {"number": port} if isinstance(port, int) else {"name": port}
    spec: dict[str, Any] = {"rules": [{"host": props["host"], "http": {"paths": [{
        "path": props.get("path", "/"), "pathType": "Prefix",
        "backend": {"service": {"name": props.get("service", ctx.instance), "port": backend_port}}}]}}]}
    if props.get("className"):
        spec = {"ingressClassName": props["className"], **spec}
    if props.get("tls"):
        spec["tls"] = [{"hosts": [props["host"]], "secretName": props["tls"]["secretName"]}]
    metadata: dict[str, Any] = {"name": ctx.instance}
    if props.get("annotations"):
        metadata["annotations"] = dict(props["annotations"])
    return TraitOutput(objects=[{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
                                 "spec": spec}])


def storage(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    volume = props.get("name", "data")
    claim = f"{ctx.instance}-{volume}"
    pvc_spec: dict[str, Any] = {"accessModes": list(props.get("accessModes", ["ReadWriteOnce"])),
                                "resources": {"requests": {"storage": str(props["size"])}}}
    if props.get("storageClass"):
        pvc_spec["storageClassName"] = props["storageClass"]
    pod = {"volumes": [{"name": volume, "persistentVolumeClaim": {"claimName": claim}}],
           "containers": [_container(props, {"volumeMounts": [{"name": volume, "mountPath": props["mountPath"]}]})]}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim}, "spec": pvc_spec}
    return TraitOutput(patches=_pod_patches(pod, ("Deployment",), pod_wide=False), objects=[pvc])


def image_registry(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    return TraitOutput(registry=props["registry"].rstrip("/"), helm_images=tuple(props.get("images", ())))


def labels(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    pod_labels = Patch({"spec": {"template": {"metadata": {"labels": dict(props)}}}})
    return TraitOutput(patches=[pod_labels], labels=dict(props)) if props else TraitOutput()


_POD_SECURITY = ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup")
_CONTAINER_SECURITY = ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "privileged", "capabilities")


def security_context(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    pod_context = {k: props[k] for k in _POD_SECURITY if k in props}
    if "seccompProfile" in props:
        pod_context["seccompProfile"] = {"type": props["seccompProfile"]}
    container_context = {k: props[k] for k in _CONTAINER_SECURITY if k in props}
    pod: dict[str, Any] = {}
    if pod_context:
        pod["securityContext"] = pod_context
    if container_context:
        pod["containers"] = [_container(props, {"securityContext": container_context})]
    return TraitOutput(patches=_pod_patches(pod)) if pod else TraitOutput()


RENDERERS = {
    "gpu": gpu, "resources": resources, "replicas": replicas, "node-placement": node_placement,
    "ingress": ingress, "storage": storage, "image-registry": image_registry, "labels": labels,
    "security-context": security_context,
}
