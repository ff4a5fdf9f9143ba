"""The schemas of what the fleet inventory says of a device (gathered facts: GPUs, memory, node labels; and the
manual tags that override them) and of where a cluster's images come from."""

from __future__ import annotations

from compiler.model.gpu import MIG_PROFILE_PATTERN
from compiler.schemas.blocks import COUNT, LABEL_KEY, LABEL_VALUE, NONEMPTY, QUANTITY, STRING, array, described, obj

GPU_FACT = obj({
    "product": described(NONEMPTY, "The GPU product, as GPU Feature Discovery names it (e.g. NVIDIA-A100-SXM4-80GB)."),
    "memory": described(QUANTITY, "Memory per GPU (e.g. 80Gi)."),
    "count": described(COUNT, "How many GPUs of this product the device has."),
    "timeSlicing": described(obj({
        "replicas": described({"type": "integer", "minimum": 1}, "Time-slicing slots per GPU."),
    }, ["replicas"]), "Time-slicing: each GPU serves this many slots (`sharing: time-slicing`)."),
    "mig": described({"type": "object", "propertyNames": {"pattern": MIG_PROFILE_PATTERN},
                      "additionalProperties": {"type": "integer", "minimum": 0}},
                     "MIG instances per profile (e.g. `{3g.40gb: 2}`): the GPUs serve `sharing: mig` asks."),
    # published through Dynamic Resource Allocation: the DRA driver, and its device attributes as it wrote them
    "dra": described(obj({
        "driver": described(NONEMPTY, "The DRA driver that publishes the GPUs (e.g. gpu.nvidia.com)."),
        "productName": described(NONEMPTY, "The product name the driver publishes (what claims select on)."),
        "architecture": described(NONEMPTY, "The GPU architecture the driver publishes."),
        "cudaComputeCapability": described(NONEMPTY, "The CUDA compute capability the driver publishes."),
        "driverVersion": described(NONEMPTY, "The driver version the driver publishes."),
    }, ["driver"]), "Published through Dynamic Resource Allocation: what the driver's ResourceSlices said."),
})

DEVICE_FACTS = obj({
    "arch": described(NONEMPTY, "CPU architecture (e.g. amd64, arm64)."),
    "cpu": described(obj({"cores": described(COUNT, "CPU cores.")}), "The device's CPUs."),
    "memory": described(QUANTITY, "Memory (e.g. 512Gi)."),
    "gpus": described(array(GPU_FACT), "The device's GPUs (unknown and untagged: the device offers none)."),
    "nics": described(array(obj({"name": described(STRING, "The interface's name."),
                                 "speed": described(STRING, "The interface's speed (e.g. 100Gbps).")})),
                      "Network interfaces (informational)."),
    "region": described(NONEMPTY, "The node's region (topology.kubernetes.io/region)."),
    "zone": described(NONEMPTY, "The node's zone (topology.kubernetes.io/zone)."),
    # the labels its node carries (as `kubectl get nodes` shows them): what node selectors are checked against
    "nodeLabels": described({"type": "object", "propertyNames": {"pattern": LABEL_KEY},
                             "additionalProperties": {"type": "string", "pattern": LABEL_VALUE}},
                            "The labels the node carries: what rendered node selectors are checked against."),
})

DEVICE_TAGS = obj({
    "arch": described(NONEMPTY, "Overrides facts.arch."),
    "cpu.cores": described(COUNT, "Overrides facts.cpu.cores."),
    "memory": described(QUANTITY, "Overrides facts.memory."),
    "gpu.product": described(NONEMPTY, "Overrides the GPU product of facts.gpus."),
    "gpu.count": described(COUNT, "Overrides the GPU count of facts.gpus."),
    "gpu.memory": described(QUANTITY, "Overrides the per-GPU memory of facts.gpus."),
})

DEVICE_BODY = {
    "role": described({"enum": ["controlPlane", "worker"], "default": "worker"}, "The node's role."),
    "state": described({"enum": ["ready", "cordoned", "unhealthy"], "default": "ready"},
                       "Only ready devices count toward capacity."),
    "facts": described(DEVICE_FACTS, "What was gathered about the device (by Palette, or `easel inventory import`)."),
    "tags": described(DEVICE_TAGS, "Manual tags: fill in or correct facts; a tag wins over the fact of its key."),
}

# as the image-registry trait's `registry` is written (definitions/builtins/traits.py): a host, and optionally a path
REGISTRY = {"type": "string", "minLength": 1, "pattern": r"^[^/\s]+(/[^\s]+)?$"}

CLUSTER_REGISTRY = obj({
    "mirror": described(REGISTRY, "The registry (a host, optionally a path) every image on the cluster is rewritten "
                                  "to, stacks' and workloads', as the `image-registry` trait does (over it)."),
    "allowed": described(array(REGISTRY), "The registries (hosts, or host/path prefixes) every image on the cluster "
                                          "must come from (default: the mirror alone when there is one, else any)."),
})

RENDER_MODE = {"enum": ["helmrelease", "hydrated"]}  # gitops.render: how charts reach the clusters
SETTINGS_RENDER = described(RENDER_MODE, (
    "How charts reach the clusters: helmrelease (the engine renders them: Flux HelmRelease, Argo CD Application) or "
    "hydrated (easel writes the rendered, patched manifests)."), default="helmrelease")
CLUSTER_GITOPS = described(obj({
    "engine": described({"enum": ["flux", "argocd"]}, "This cluster's GitOps engine (default: easel.yaml's)."),
    "render": described(RENDER_MODE, "How charts reach this cluster (default: the environment's, else easel.yaml's; "
                                     "hydrated wins over helmrelease)."),
}), "Overrides of easel.yaml's gitops settings.")
ENVIRONMENT_GITOPS = described(obj({
    "render": described(RENDER_MODE, "How charts of this environment's workloads reach their clusters (default: "
                                     "easel.yaml's; hydrated wins over a cluster's helmrelease)."),
}), "Overrides of easel.yaml's gitops settings for this environment's workloads.")
