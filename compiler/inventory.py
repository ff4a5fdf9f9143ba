"""The fleet as placement sees it: each cluster's Kubernetes version, labels (its own and derived), and GPU
capacity from its ready devices. Unknown facts never count as capacity."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from . import quantity, versions
from .diagnostics import Diagnostics
from .model import Cluster, Model


@dataclass(frozen=True)
class GpuPool:
    product: str
    memory: Fraction | None  # bytes per GPU (the smallest seen, when devices disagree)
    total: int  # GPUs on ready devices
    largest_device: int  # most GPUs of this product on one ready device: the most one replica can get


@dataclass(frozen=True)
class ClusterFacts:
    cluster: Cluster
    engine: str
    kubernetes_version: str | None  # normalised, e.g. "1.30.5"
    labels: dict[str, str]  # the cluster's own labels and easel.dev/* derived labels
    gpus: dict[str, GpuPool]  # product -> pool, sorted by product
    cpu_cores: int
    memory: Fraction
    addons: dict[str, str] = field(default_factory=dict)  # cluster-profile layers by name -> version

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


def cluster_facts(cluster: Cluster, model: Model, diagnostics: Diagnostics | None = None) -> ClusterFacts:
    pools: dict[str, list] = {}
    cores = 0
    memory = Fraction(0)
    arches: set[str] = set()
    for device in cluster.devices:
        if device.state != "ready":
            continue
        cores += device.cpu_cores or 0
        memory += device.memory or 0
        if device.arch:
            arches.add(device.arch)
        for gpu in device.gpus:
            if gpu.product is None or not gpu.count:
                if diagnostics is not None and gpu.count != 0:
                    diagnostics.warning("W101", f"device {device.name!r} has GPUs of unknown "
                                        + ("product" if gpu.product is None else "count") + "; they are not counted",
                                        device.loc)
                continue
            pool = pools.setdefault(gpu.product, [0, 0, gpu.memory])
            pool[0] += gpu.count
            pool[1] = max(pool[1], gpu.count)
            if gpu.memory is not None and (pool[2] is None or gpu.memory < pool[2]):
                pool[2] = gpu.memory
    gpus = {product: GpuPool(product, mem, total, largest) for product, (total, largest, mem) in sorted(pools.items())}
    k8s = _kubernetes(cluster, model)
    profile = model.cluster_profiles.get(cluster.cluster_profile) if cluster.cluster_profile else None
    labels = dict(cluster.meta.labels)
    labels["easel.dev/source"] = cluster.source
    if k8s:
        labels["easel.dev/kubernetes-version"] = k8s
    if arches:
        labels["easel.dev/arch"] = next(iter(arches)) if len(arches) == 1 else "mixed"
        for arch in sorted(arches):
            labels[f"easel.dev/arch.{arch}"] = "true"
    for product in gpus:
        labels[f"easel.dev/gpu.product.{product}"] = "true"
    labels["easel.dev/gpu.count"] = str(sum(p.total for p in gpus.values()))
    memories = [p.memory for p in gpus.values() if p.memory is not None]
    if memories:
        labels["easel.dev/gpu.memory"] = quantity.format_gi(max(memories))
    return ClusterFacts(
        cluster=cluster, engine=cluster.engine or model.settings.engine, kubernetes_version=k8s,
        labels=dict(sorted(labels.items())), gpus=gpus, cpu_cores=cores, memory=memory,
        addons={layer.name: layer.version for layer in profile.layers} if profile else {})


def template_context(facts: ClusterFacts) -> dict:
    """What a definition template sees as `cluster` (documented in the README)."""
    return {
        "name": facts.name, "labels": dict(facts.labels), "source": facts.cluster.source, "engine": facts.engine,
        "kubernetesVersion": facts.kubernetes_version, "cpuCores": facts.cpu_cores,
        "memoryGi": quantity.format_gi(facts.memory),
        "gpus": {p.product: {"count": p.total, "memoryGi": quantity.format_gi(p.memory) if p.memory else None}
                 for p in facts.gpus.values()},
    }


def fleet(model: Model, diagnostics: Diagnostics | None = None) -> dict[str, ClusterFacts]:
    return {name: cluster_facts(cluster, model, diagnostics) for name, cluster in model.clusters.items()}
