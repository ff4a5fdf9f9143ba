"""Built-in trait definitions: gpu, resources, replicas, node-placement, ingress, storage, image-registry,
labels, security-context.

Each returns a TraitOutput: strategic-merge patches for pod-running kinds (applied by easel to its own objects,
by kustomize to charts and folders), extra objects, and what placement needs to know (GPU demand, replicas).
A patch names containers "*" (every container) unless the trait says `container`; on a chart, "*" becomes the
component's `container` (default: the chart name), since a patch there cannot see the chart's containers.
"""

from __future__ import annotations

from typing import Any

from compiler.definitions.builtins.components import _RESOURCES, resources_block
from compiler.kube import cel, names
from compiler.model import gpu as gpus
from compiler.model import quantity
from compiler.model.parts import ALL_CONTAINERS, POD_KINDS, Patch, RenderContext, TraitOutput
from compiler.schemas.blocks import LABEL_KEY, LABEL_VALUE, QUANTITY, array, described, obj
from compiler.schemas.defaults import with_defaults

_CONTAINER = described({"type": "string", "minLength": 1}, "The container to change (default: every one).")
_K8S_TOLERATION = obj({
    "key": described({"type": "string"}, "The taint key tolerated (omitted with Exists: every taint)."),
    "operator": described({"enum": ["Equal", "Exists"]}, "Equal matches the taint's value; Exists any value."),
    "value": described({"type": "string"}, "The taint value tolerated."),
    "effect": described({"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
                        "The taint effect tolerated (omitted: every effect)."),
    "tolerationSeconds": described({"type": "integer"}, "How long a NoExecute taint is tolerated."),
})

SCHEMAS: dict[str, dict[str, Any]] = {
    "gpu": obj({
        "count": described({"type": "integer", "minimum": 1, "default": 1}, "GPUs per replica."),
        "product": described({"anyOf": [{"type": "string", "minLength": 1},
                                        array({"type": "string", "minLength": 1}, minItems=1)]},
                             "The GPU product, or a list of them, as devices name them (default: any)."),
        "minMemory": described(QUANTITY, "The least memory per GPU (e.g. 40Gi)."),
        "sharing": described({"enum": list(gpus.SHARING_MODES), "default": gpus.EXCLUSIVE},
                             "Whole GPUs, time-slicing slots, or MIG instances."),
        "migProfile": described({"type": "string", "pattern": gpus.MIG_PROFILE_PATTERN},
                                "The MIG profile of `sharing: mig` (required then), e.g. 3g.40gb."),
        "container": _CONTAINER,
    }, allOf=[{"if": {"properties": {"sharing": {"const": "mig"}}, "required": ["sharing"]},
               "then": {"required": ["migProfile"]}}]),
    "resources": {**_RESOURCES, "properties": {**_RESOURCES["properties"], "container": _CONTAINER}},
    "replicas": obj({"count": described({"type": "integer", "minimum": 0}, "The number of replicas.")}, ["count"]),
    "node-placement": obj({
        "nodeSelector": described({"type": "object", "additionalProperties": {"type": "string"}},
                                  "Node labels the pods' nodes must carry."),
        "tolerations": described(array(_K8S_TOLERATION), "Node taints the pods tolerate."),
        "affinity": described({"type": "object"}, "A Kubernetes affinity, as in a pod spec."),
    }),
    "ingress": obj({
        "host": described({"type": "string", "minLength": 1}, "The host name served."),
        "path": described({"type": "string", "default": "/"}, "The path prefix served."),
        "service": described({"type": "string", "minLength": 1},
                             "The Service behind it (default: the component's instance name)."),
        "port": described({"type": ["integer", "string"]}, "The Service port, by number or name (default: http)."),
        "className": described({"type": "string"}, "The IngressClass (default: the cluster's default)."),
        "tls": described(obj({"secretName": described({"type": "string", "minLength": 1},
                                                      "The Secret holding the certificate.")}, ["secretName"]),
                         "TLS for the host."),
        "annotations": described({"type": "object", "additionalProperties": {"type": "string"}},
                                 "Annotations of the Ingress (for the ingress controller)."),
    }, ["host"]),
    "storage": obj({
        "name": described({"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "default": "data"},
                          "The volume's name (a Deployment's claim is <instance>-<name>; a StatefulSet's claim "
                          "template is <name>, its claims <name>-<pod>)."),
        "size": described(QUANTITY, "The claim's size (e.g. 100Gi)."),
        "storageClass": described({"type": "string"}, "The StorageClass (default: the cluster's default)."),
        "mountPath": described({"type": "string", "pattern": "^/"}, "Where the volume is mounted."),
        "accessModes": described(array({"enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
                                                 "ReadWriteOncePod"]}),
                                 "The claim's access modes (default: [ReadWriteOnce])."),
        "container": _CONTAINER,
    }, ["size", "mountPath"]),
    "image-registry": obj({
        "registry": described({"type": "string", "minLength": 1, "pattern": r"^[^/\s]+(/[^\s]+)?$"},
                              "The mirror images are pulled from instead (a host, and optionally a path)."),
        "images": array({"type": "string", "minLength": 1}, description=(
            "Images of a chart to rewrite (a chart's images cannot be seen before it renders).")),
    }, ["registry"]),
    "labels": {"type": "object", "propertyNames": {"pattern": LABEL_KEY},
               "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}},
    "security-context": obj({
        "runAsNonRoot": described({"type": "boolean"}, "The containers must run as a non-root user."),
        "runAsUser": described({"type": "integer", "minimum": 0}, "The user the pod's containers run as."),
        "runAsGroup": described({"type": "integer", "minimum": 0}, "The group the pod's containers run as."),
        "fsGroup": described({"type": "integer", "minimum": 0}, "The group that owns the pod's volumes."),
        "seccompProfile": described({"enum": ["RuntimeDefault", "Unconfined"]}, "The pod's seccomp profile."),
        "allowPrivilegeEscalation": described({"type": "boolean"}, "A process may gain more privileges than its "
                                                                   "parent."),
        "readOnlyRootFilesystem": described({"type": "boolean"}, "The container's root filesystem is read-only."),
        "privileged": described({"type": "boolean"}, "The container runs privileged."),
        "capabilities": described(obj({"add": described(array({"type": "string"}), "Capabilities added."),
                                       "drop": described(array({"type": "string"}), "Capabilities dropped.")}),
                                  "Linux capabilities of the container."),
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
    "storage": "a volume mounted into the containers: a Deployment's PersistentVolumeClaim, a StatefulSet's "
               "claim template (one claim per replica)",
    "image-registry": "rewrite image registries to a mirror (air-gapped sites)",
    "labels": "labels on every object and pod",
    "security-context": "pod and container security contexts",
}


def _pod_patches(pod_spec: dict[str, Any], kinds: tuple[str, ...] = POD_KINDS, pod_wide: bool = True) -> list[Patch]:
    return [Patch({"spec": {"template": {"spec": pod_spec}}}, kinds=kinds, pod_wide=pod_wide)]


def _container(props: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return {"name": props.get("container", ALL_CONTAINERS), **body}


def gpu_ask(props: dict[str, Any]) -> gpus.GpuAsk:
    """The ask of a `gpu` trait's properties (checked against its schema), with the schema's defaults."""
    props = with_defaults(SCHEMAS["gpu"], props)
    product = props.get("product")
    products = tuple(product) if isinstance(product, list) else ((product,) if product else ())
    min_memory = quantity.parse(props["minMemory"]) if "minMemory" in props else None
    return gpus.GpuAsk(count=props["count"], products=products, min_memory=min_memory, sharing=props["sharing"],
                       mig_profile=props.get("migProfile"))


def gpu(props: dict[str, Any], ctx: RenderContext) -> TraitOutput:
    ask = gpu_ask(props)
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
    selectors = cel.cel_selectors(ask, dict(ctx.dra_products))
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
    mount = _container(props, {"volumeMounts": [{"name": volume, "mountPath": props["mountPath"]}]})
    # A Deployment's replicas share one claim; a StatefulSet gets a claim per replica from a claim template (the
    # list is replaced whole: decide/resolve/components.py keeps it off StatefulSets that have their own).
    # The claim object stays only where a Deployment mounts it (components.py, _without_unmounted_claims).
    shared = {"volumes": [{"name": volume, "persistentVolumeClaim": {"claimName": claim}}], "containers": [mount]}
    per_replica = Patch({"spec": {"volumeClaimTemplates": [{"metadata": {"name": volume}, "spec": pvc_spec}],
                                  "template": {"spec": {"containers": [mount]}}}}, kinds=("StatefulSet",),
                        pod_wide=False)
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim}, "spec": pvc_spec}
    return TraitOutput(patches=[*_pod_patches(shared, ("Deployment",), pod_wide=False), per_replica],
                       objects=[pvc])


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
