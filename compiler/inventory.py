"""The fleet as placement sees it: each cluster's Kubernetes version, labels (its own and derived), and GPU
capacity from its ready devices. Unknown facts never count as capacity."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from . import quantity, versions
from .diagnostics import Diagnostics
from .model import Cluster, Model


EXCLUSIVE = "exclusive"
TIME_SLICING = "time-slicing"


def mig_mode(profile: str) -> str:
    return f"mig-{profile}"


def mig_memory(profile: str) -> Fraction | None:
    """Memory of one MIG instance from its profile name: 3g.40gb -> 40 Gi."""
    try:
        return Fraction(int(profile.split(".")[1].removesuffix("gb"))) * quantity.GI
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class GpuPool:
    """GPUs of one product, used one way: whole (exclusive), as time-slicing slots, or as instances of one MIG
    profile. A GPU belongs to one pool: time-sliced or partitioned GPUs are not also counted whole."""
    product: str
    mode: str  # EXCLUSIVE, TIME_SLICING or mig-<profile>
    memory: Fraction | None  # bytes per GPU, or per MIG instance (the smallest seen, when devices disagree)
    total: int  # GPUs (slots, instances) on ready devices
    largest_device: int  # most of them on one ready device: the most one replica can get
    arches: frozenset[str]  # architectures of the devices they are on (unknown ones left out)
    key: str = ""  # the product, or "<product> (<mode>)": how allocations and `status` name the pool

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", pool_key(self.product, self.mode))


def pool_key(product: str, mode: str) -> str:
    return product if mode == EXCLUSIVE else f"{product} ({mode})"


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
    pools: dict[tuple[str, str], dict] = {}
    physical = 0
    cores = 0
    memory = Fraction(0)
    arches: set[str] = set()

    def add(product: str, mode: str, count: int, each: Fraction | None, arch: str | None) -> None:
        pool = pools.setdefault((product, mode), {"total": 0, "largest": 0, "memory": each, "arches": set()})
        pool["total"] += count
        pool["largest"] = max(pool["largest"], count)
        if each is not None and (pool["memory"] is None or each < pool["memory"]):
            pool["memory"] = each
        if arch:
            pool["arches"].add(arch)

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
            physical += gpu.count
            if gpu.mig:
                for profile, instances in gpu.mig:
                    add(gpu.product, mig_mode(profile), instances, mig_memory(profile), device.arch)
            elif gpu.time_slicing:
                add(gpu.product, TIME_SLICING, gpu.count * gpu.time_slicing, gpu.memory, device.arch)
            else:
                add(gpu.product, EXCLUSIVE, gpu.count, gpu.memory, device.arch)
    found = [GpuPool(product, mode, p["memory"], p["total"], p["largest"], frozenset(p["arches"]))
             for (product, mode), p in pools.items()]
    gpus = {pool.key: pool for pool in sorted(found, key=lambda pool: pool.key)}
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
    for product in sorted({pool.product for pool in gpus.values()}):
        labels[f"easel.dev/gpu.product.{product}"] = "true"
    labels["easel.dev/gpu.count"] = str(physical)
    memories = [p.memory for p in gpus.values() if p.memory is not None and not p.mode.startswith("mig-")]
    if memories:
        labels["easel.dev/gpu.memory"] = quantity.format_gi(max(memories))
    return ClusterFacts(
        cluster=cluster, engine=cluster.engine or model.settings.engine, kubernetes_version=k8s,
        labels=dict(sorted(labels.items())), gpus=gpus, cpu_cores=cores, memory=memory,
        addons={layer.name: layer.version for layer in profile.layers} if profile else {}, arches=frozenset(arches))


def template_context(facts: ClusterFacts) -> dict:
    """What a definition template sees as `cluster` (documented in the README)."""
    return {
        "name": facts.name, "labels": dict(facts.labels), "source": facts.cluster.source, "engine": facts.engine,
        "kubernetesVersion": facts.kubernetes_version, "cpuCores": facts.cpu_cores,
        "memoryGi": quantity.format_gi(facts.memory),
        "gpus": {p.key: {"product": p.product, "mode": p.mode, "count": p.total,
                         "memoryGi": quantity.format_gi(p.memory) if p.memory else None}
                 for p in facts.gpus.values()},
    }


def fleet(model: Model, diagnostics: Diagnostics | None = None) -> dict[str, ClusterFacts]:
    return {name: cluster_facts(cluster, model, diagnostics) for name, cluster in model.clusters.items()}
