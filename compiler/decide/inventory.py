"""The fleet as placement sees it: each cluster's Kubernetes version, labels (its own and derived), and GPU
capacity from its ready devices. Unknown facts never count as capacity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from compiler.diagnostics import Diagnostics, Location, Note
from compiler.model import Cluster, Model, gpu, quantity, versions
from compiler.model.gpu import GpuPool

DRA_KUBERNETES = ">=1.34.0"  # the first Kubernetes that serves resource.k8s.io/v1 (DRA's GA API)


@dataclass(frozen=True)
class ClusterFacts:
    cluster: Cluster
    engine: str
    kubernetes_version: str | None  # normalised, e.g. "1.30.5"
    labels: dict[str, str]  # the cluster's own labels and easel.dev/* derived labels
    gpus: dict[str, GpuPool]  # pool key -> pool, sorted
    cpu_cores: int
    memory: Fraction
    addons: dict[str, str] = field(default_factory=dict)  # cluster-profile layers by name -> version
    arches: frozenset[str] = frozenset()  # architectures of the ready devices
    crds: frozenset[str] = frozenset()  # API groups whose CRDs it has (its own and its cluster profile's)
    gpu_allocation: str = gpu.DEVICE_PLUGIN  # how its pods get GPUs: device-plugin | dra (gpu_allocation)
    devices: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)  # gpu.device_capacity

    @property
    def name(self) -> str:
        return self.cluster.meta.name


def _kubernetes(cluster: Cluster, model: Model) -> str | None:
    if cluster.cluster_profile:
        profile = model.cluster_profiles.get(cluster.cluster_profile)
        text = profile.kubernetes_version if profile else None
    else:
        text = cluster.kubernetes_version
    return versions.kubernetes_version(text) if text else None


def _kubernetes_location(cluster: Cluster, model: Model) -> Location:
    """Where the cluster's Kubernetes version is said: its own `kubernetesVersion`, or its cluster profile's
    kubernetes layer."""
    profile = model.cluster_profiles.get(cluster.cluster_profile) if cluster.cluster_profile else None
    if profile is None:
        return cluster.meta.loc.at("spec", "kubernetesVersion")
    index = next(i for i, layer in enumerate(profile.layers) if layer.type == "kubernetes")
    return profile.meta.loc.at("spec", "layers", index, "version")


def _check_dra_kubernetes(cluster: Cluster, model: Model, k8s: str | None, diagnostics: Diagnostics) -> None:
    """easel writes DRA claims as resource.k8s.io/v1, which Kubernetes serves from 1.34 on (SPEC §2). A cluster
    whose version is unknown is left alone: placement already keeps workloads that require a version off it."""
    if k8s is None or versions.satisfies(k8s, DRA_KUBERNETES):
        return
    said = "says `gpu.allocation: dra`" if cluster.gpu_allocation else \
        "allocates GPUs through DRA (every GPU of its devices was imported from ResourceSlices)"
    notes = [Note("the cluster asks for DRA here", cluster.meta.loc.at("spec", "gpu", "allocation"))] \
        if cluster.gpu_allocation else []
    diagnostics.error("E606", f"cluster {cluster.meta.name!r} {said}, but runs Kubernetes {k8s}: "
                      f"resource.k8s.io/v1 is served from Kubernetes 1.34 on",
                      _kubernetes_location(cluster, model), notes=notes)


def gpu_allocation(cluster: Cluster) -> str:
    """How the cluster's pods get GPUs: as its Cluster says; else dra when every GPU fact of its devices was
    imported from ResourceSlices (in the GPU Operator's DRA mode no device plugin runs), else device-plugin."""
    if cluster.gpu_allocation:
        return cluster.gpu_allocation
    facts = [f for d in cluster.devices for f in d.gpus if f.count != 0]
    return gpu.DRA if facts and all(f.dra for f in facts) else gpu.DEVICE_PLUGIN


def _ready_gpus(cluster: Cluster, diagnostics: Diagnostics | None, allocation: str) -> list[gpu.DeviceGpus]:
    """The GPUs of the cluster's ready devices whose product and count are known (unknown is never free). Under
    DRA a claim gets whole GPUs or MIG instances: time-slicing replicas are a device plugin's, so not counted.
    Devices whose GPUs were gathered come first, those known only from tags last: placement packs pods onto
    devices in this order, and only a gathered device's node is known to carry the labels pods select on."""
    found = []
    for device in sorted(cluster.devices, key=lambda d: d.product_from_tags):
        if device.state != "ready":
            continue
        for fact in device.gpus:
            if fact.product is None or not fact.count:
                if diagnostics is not None and fact.count != 0:
                    diagnostics.warning("W101", f"device {device.name!r} has GPUs of unknown "
                                        + ("product" if fact.product is None else "count") + "; they are not counted",
                                        device.loc)
                continue
            time_slicing = fact.time_slicing if allocation == gpu.DEVICE_PLUGIN else None
            found.append(gpu.DeviceGpus(fact.product, fact.count, fact.memory, device.arch, time_slicing, fact.mig,
                                        device.name))
    return found


def cluster_facts(cluster: Cluster, model: Model, diagnostics: Diagnostics | None = None) -> ClusterFacts:
    ready = [d for d in cluster.devices if d.state == "ready"]
    cores = sum(d.cpu_cores or 0 for d in ready)
    memory = sum((d.memory or Fraction(0) for d in ready), Fraction(0))
    arches = {d.arch for d in ready if d.arch}
    allocation = gpu_allocation(cluster)
    gpu_facts = _ready_gpus(cluster, diagnostics, allocation)
    physical = sum(g.count for g in gpu_facts)
    gpus = gpu.pools(gpu_facts)
    k8s = _kubernetes(cluster, model)
    if allocation == gpu.DRA and diagnostics is not None:
        _check_dra_kubernetes(cluster, model, k8s, diagnostics)
    profile = model.cluster_profiles.get(cluster.cluster_profile) if cluster.cluster_profile else None
    labels = dict(cluster.meta.labels)
    labels["easel.dev/source"] = cluster.source
    if k8s:
        labels["easel.dev/kubernetes-version"] = k8s
    if arches:
        labels["easel.dev/arch"] = next(iter(arches)) if len(arches) == 1 else "mixed"
        for arch in sorted(arches):
            labels[f"easel.dev/arch.{arch}"] = "true"
    for product in sorted({pool.product for pool in gpus.values()}):
        labels[f"easel.dev/gpu.product.{product}"] = "true"
    labels["easel.dev/gpu.count"] = str(physical)
    labels["easel.dev/gpu.allocation"] = allocation
    memories = [p.memory for p in gpus.values() if p.memory is not None and not p.mode.startswith("mig-")]
    if memories:
        labels["easel.dev/gpu.memory"] = quantity.format_gi(max(memories))
    return ClusterFacts(
        cluster=cluster, engine=cluster.engine or model.settings.engine, kubernetes_version=k8s,
        labels=dict(sorted(labels.items())), gpus=gpus, cpu_cores=cores, memory=memory,
        addons={layer.name: layer.version for layer in profile.layers} if profile else {}, arches=frozenset(arches),
        crds=frozenset(cluster.crds).union(*(layer.crds for layer in profile.layers)) if profile
        else frozenset(cluster.crds), gpu_allocation=allocation, devices=gpu.device_capacity(gpu_facts))


def dra_product_names(fleet: Mapping[str, ClusterFacts]) -> tuple[tuple[str, str], ...]:
    """GPU product (GPU Feature Discovery's spelling, as placement knows it) -> the `productName` NVIDIA's DRA
    driver publishes for it ("NVIDIA-H100-80GB-HBM3" -> "NVIDIA H100 80GB HBM3"), as imported from the fleet's
    ResourceSlices; sorted."""
    found: dict[str, str] = {}
    for facts in fleet.values():
        if facts.gpu_allocation != gpu.DRA:
            continue
        for device in facts.cluster.devices:
            for fact in device.gpus:
                name = dict(fact.dra).get("productName")
                if fact.product and name:
                    found.setdefault(fact.product, name)
    return tuple(sorted(found.items()))


def template_context(facts: ClusterFacts) -> dict:
    """What a definition template sees as `cluster` (documented in the README)."""
    return {
        "name": facts.name, "labels": dict(facts.labels), "source": facts.cluster.source, "engine": facts.engine,
        "kubernetesVersion": facts.kubernetes_version, "gpuAllocation": facts.gpu_allocation,
        "cpuCores": facts.cpu_cores,
        "memoryGi": quantity.format_gi(facts.memory),
        "gpus": {p.key: {"product": p.product, "mode": p.mode, "count": p.total,
                         "memoryGi": quantity.format_gi(p.memory) if p.memory else None}
                 for p in facts.gpus.values()},
    }


def fleet(model: Model, diagnostics: Diagnostics | None = None) -> dict[str, ClusterFacts]:
    return {name: cluster_facts(cluster, model, diagnostics) for name, cluster in model.clusters.items()}
