"""GPU capacity, in one place: what a `gpu` trait asks for, the pools a cluster's ready devices offer (whole
GPUs, time-slicing slots, MIG instances), the Kubernetes resource names, and fitting and taking GPUs while
placing. Pure: no files, no YAML.

A GPU belongs to one pool: time-sliced or partitioned GPUs are not also counted whole. A pool is named by its
key: the product, or "<product> (<mode>)", e.g. "NVIDIA-L4 (time-slicing)", "NVIDIA-H100-80GB-HBM3 (mig-3g.40gb)".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import NamedTuple

from compiler.diagnostics import Location
from compiler.model import quantity
from compiler.model.reasons import (
    DeviceTooSmall,
    NoDeviceFits,
    NoGpus,
    NotEnoughFree,
    PoolMemoryShort,
    PoolNotOnArch,
    Reason,
)

EXCLUSIVE = "exclusive"
TIME_SLICING = "time-slicing"
MIG = "mig"
SHARING_MODES = (EXCLUSIVE, TIME_SLICING, MIG)

# A MIG profile name, as NVIDIA writes it: <compute slices>g.<memory>gb, e.g. 3g.40gb.
MIG_PROFILE = r"[0-9]+g\.[0-9]+gb"
MIG_PROFILE_PATTERN = f"^{MIG_PROFILE}$"  # for JSON Schemas (ECMA-262 and Python read it alike)
MIG_COUNT_LABEL = re.compile(rf"^nvidia\.com/mig-(?P<profile>{MIG_PROFILE})\.count$")  # GPU Feature Discovery

# How a cluster's pods get GPUs: the device plugin's extended resources, or Dynamic Resource Allocation claims
# (resource.k8s.io/v1) served by NVIDIA's DRA driver.
DEVICE_PLUGIN = "device-plugin"
DRA = "dra"
ALLOCATION_MODES = (DEVICE_PLUGIN, DRA)

GPU_RESOURCE = "nvidia.com/gpu"  # the device plugin's resource, and the taint GPU nodes carry
PRODUCT_LABEL = "nvidia.com/gpu.product"  # GPU Feature Discovery's node label
SHARED_SUFFIX = "-SHARED"  # what GFD appends to the product label of time-sliced GPUs


def mig_mode(profile: str) -> str:
    return f"mig-{profile}"


def mig_memory(profile: str) -> Fraction | None:
    """Memory of one MIG instance from its profile name: 3g.40gb -> 40 Gi."""
    if not re.fullmatch(MIG_PROFILE, profile):
        return None
    return Fraction(int(profile.split(".")[1].removesuffix("gb"))) * quantity.GI


def pool_key(product: str, mode: str) -> str:
    return product if mode == EXCLUSIVE else f"{product} ({mode})"


# --- what is asked ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GpuAsk:
    count: int  # GPUs per replica
    products: tuple[str, ...]  # () = any product
    min_memory: Fraction | None
    sharing: str
    mig_profile: str | None

    @cached_property
    def mode(self) -> str:
        """The pool mode that serves the ask."""
        if self.sharing == MIG and self.mig_profile:
            return mig_mode(self.mig_profile)
        return TIME_SLICING if self.sharing == TIME_SLICING else EXCLUSIVE

    @cached_property
    def pool_keys(self) -> tuple[str, ...]:
        """The pools of the pinned products, in the order asked."""
        return tuple(pool_key(product, self.mode) for product in self.products)

    @property
    def product_labels(self) -> tuple[str, ...]:
        """The values of GPU Feature Discovery's product label on the nodes that serve the ask: time-sliced GPUs
        carry the product with `-SHARED` (GFD's default, renameByDefault: false); whole GPUs and MIG instances
        (mixed strategy, which the mig resource names belong to) carry the product itself."""
        suffix = SHARED_SUFFIX if self.mode == TIME_SLICING else ""
        return tuple(f"{product}{suffix}" for product in self.products)

    @property
    def resource_name(self) -> str:
        """The extended resource a container requests: the device plugin's, or its MIG resource."""
        if self.sharing == MIG and self.mig_profile:
            return f"nvidia.com/mig-{self.mig_profile}"
        return GPU_RESOURCE


# --- what is asked, as a DRA claim (NVIDIA's DRA driver; its CEL selectors: kube/cel.py) -------------------------

DRA_DRIVER = "gpu.nvidia.com"  # the driver's name: also the domain of its device attributes and capacities
GPU_DEVICE_CLASS = "gpu.nvidia.com"  # its DeviceClass of whole GPUs (device type gpu)
MIG_DEVICE_CLASS = "mig.nvidia.com"  # its DeviceClass of MIG instances (device type mig)
CLAIM = "gpu"  # the name of the claim in the pod, and of its one request


def device_class(ask: GpuAsk) -> str:
    return MIG_DEVICE_CLASS if ask.mode.startswith("mig-") else GPU_DEVICE_CLASS


@dataclass(frozen=True)
class GpuDemand:
    """What one component of a workload takes on each cluster it runs on: the ask times its replicas."""
    component: str
    ask: GpuAsk
    replicas: int
    loc: Location
    node_selector: tuple[tuple[str, str], ...] = ()  # the node labels its pods select (the node-placement trait)

    @property
    def total(self) -> int:
        return self.ask.count * self.replicas


# --- what a cluster offers -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GpuPool:
    """GPUs of one product, used one way: whole (exclusive), as time-slicing slots, or as instances of one MIG
    profile."""
    product: str
    mode: str  # EXCLUSIVE, TIME_SLICING or mig-<profile>
    memory: Fraction | None  # bytes per GPU, or per MIG instance (the smallest seen, when devices disagree)
    total: int  # GPUs (slots, instances) on ready devices
    largest_device: int  # most of them on one ready device: the most one replica can get
    arches: frozenset[str]  # architectures of the devices they are on (unknown ones left out)
    key: str = ""  # pool_key(product, mode)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", pool_key(self.product, self.mode))


@dataclass(frozen=True)
class DeviceGpus:
    """GPUs of one product on one ready device, as its facts and tags say."""
    product: str
    count: int
    memory: Fraction | None
    arch: str | None
    time_slicing: int | None = None  # replicas per GPU
    mig: tuple[tuple[str, int], ...] = ()  # MIG profile -> instances
    device: str = ""  # the device's name


def _served(gpu: DeviceGpus) -> list[tuple[str, int, Fraction | None]]:
    """The pools one device's GPUs of a product serve: (mode, GPUs, slots or instances, memory of each)."""
    if gpu.mig:
        return [(mig_mode(profile), instances, mig_memory(profile)) for profile, instances in gpu.mig]
    if gpu.time_slicing:
        return [(TIME_SLICING, gpu.count * gpu.time_slicing, gpu.memory)]
    return [(EXCLUSIVE, gpu.count, gpu.memory)]


def device_capacity(gpus: Iterable[DeviceGpus]) -> dict[str, tuple[tuple[str, int], ...]]:
    """Per pool key, the devices that serve it and how many of its GPUs (slots, instances) each has, in the order
    given: a pod gets its GPUs on one node, so placement packs a booking's pods onto these."""
    found: dict[str, dict[str, int]] = {}
    for gpu in gpus:
        for mode, count, _ in _served(gpu):
            on = found.setdefault(pool_key(gpu.product, mode), {})
            on[gpu.device] = on.get(gpu.device, 0) + count
    return {key: tuple(on.items()) for key, on in sorted(found.items())}


def pools(gpus: Iterable[DeviceGpus]) -> dict[str, GpuPool]:
    """The pools, by key (sorted), that these devices' GPUs make up."""
    found: dict[tuple[str, str], dict] = {}
    for index, gpu in enumerate(gpus):
        device = gpu.device or f"#{index}"  # facts without a device name: each its own device
        for mode, count, each in _served(gpu):
            pool = found.setdefault((gpu.product, mode), {"total": 0, "on": {}, "memory": each, "arches": set()})
            pool["total"] += count
            pool["on"][device] = pool["on"].get(device, 0) + count  # two facts of one product on a device add up
            if each is not None and (pool["memory"] is None or each < pool["memory"]):
                pool["memory"] = each
            if gpu.arch:
                pool["arches"].add(gpu.arch)
    made = [GpuPool(product, mode, p["memory"], p["total"], max(p["on"].values()), frozenset(p["arches"]))
            for (product, mode), p in found.items()]
    return {pool.key: pool for pool in sorted(made, key=lambda pool: pool.key)}


# --- fitting and taking ----------------------------------------------------------------------------------------

Requirements = tuple[tuple[str, tuple[str, ...]], ...]  # node label -> the values it may have


class Allocation(NamedTuple):  # a tuple: placement makes one per workload per cluster it could take
    component: str
    product: str
    count: int  # type: ignore[assignment]  # the field easel.lock names; shadows tuple.count, never called
    pool: str  # the GpuPool key
    devices: tuple[tuple[str, int], ...] = ()  # the devices its pods are packed on, and the GPUs taken on each


@dataclass
class FreeGpus:
    """What earlier placements took: free GPUs per cluster and pool, on each device, and who holds them."""
    free: dict[str, dict[str, int]]
    capacity: Mapping[str, Mapping[str, tuple[tuple[str, int], ...]]] = field(default_factory=dict)
    used: dict[str, dict[tuple[str, str], int]] = field(default_factory=lambda: defaultdict(dict))  # (pool, device)
    holders: dict[str, list[tuple[str, str, int]]] = field(default_factory=lambda: defaultdict(list))
    workloads: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # per cluster, the labels each device's node carries where they are recorded (None: not known)
    labels: Mapping[str, Mapping[str, Mapping[str, str] | None]] = field(default_factory=dict)
    dra: frozenset[str] = frozenset()  # the clusters whose pods get GPUs by DRA claims, not node labels

    @classmethod
    def of(cls, pools_by_cluster: Mapping[str, dict[str, GpuPool]],
           devices_by_cluster: Mapping[str, Mapping[str, tuple[tuple[str, int], ...]]],
           labels: Mapping[str, Mapping[str, Mapping[str, str] | None]], dra: frozenset[str]) -> FreeGpus:
        """devices_by_cluster: each cluster's device_capacity; labels: its devices' recorded node labels."""
        return cls({name: {key: pool.total for key, pool in found.items()} for name, found in pools_by_cluster.items()},
                   devices_by_cluster, labels=labels, dra=dra)

    def requirements(self, cluster: str, demand: GpuDemand) -> tuple[Requirements, Requirements]:
        """The node labels (and their allowed values) the demand's pods select: (the node-placement trait's, a
        device whose recorded labels miss them is not used; the products' label, not under DRA, a device whose
        recorded one differs used last, so that the proof says which label its node lacks)."""
        selected = tuple((key, (value,)) for key, value in demand.node_selector)
        products = ((PRODUCT_LABEL, demand.ask.product_labels),) \
            if demand.ask.products and cluster not in self.dra else ()
        return selected, products

    def _devices(self, cluster: str, pool: str, requirements: tuple[Requirements, Requirements]
                 ) -> list[tuple[str, int]]:
        """The pool's devices on the cluster the pods may be packed on, in the order they are tried."""
        devices = self.capacity.get(cluster, {}).get(pool, ())
        selected, products = requirements
        if not selected and not products:
            return list(devices)
        known = self.labels.get(cluster, {})
        admitted = [(device, capacity) for device, capacity in devices if _admits(known.get(device), selected)]
        return sorted(admitted, key=lambda item: not _admits(known.get(item[0]), products))

    def take(self, cluster: str, workload: str, allocations: Sequence[Allocation]) -> None:
        self.workloads[cluster] += 1
        used = self.used[cluster]
        for allocation in allocations:
            self.free[cluster][allocation.pool] -= allocation.count
            self.holders[cluster].append((workload, allocation.pool, allocation.count))
            for device, count in allocation.devices:
                used[allocation.pool, device] = used.get((allocation.pool, device), 0) + count

    def give_back(self, cluster: str, workload: str, allocations: Sequence[Allocation]) -> None:
        """Undo `take` (a rollout books its new version in place of the old)."""
        self.workloads[cluster] -= 1
        used = self.used[cluster]
        for allocation in allocations:
            self.free[cluster][allocation.pool] += allocation.count
            self.holders[cluster].remove((workload, allocation.pool, allocation.count))
            for device, count in allocation.devices:
                used[allocation.pool, device] -= count

    def pack(self, cluster: str, pool: str, per_pod: int, pods: int,
             pending: Mapping[tuple[str, str], int] | None = None,
             requirements: tuple[Requirements, Requirements] = ((), ()),
             booked: Mapping[str, int] | None = None) -> tuple[tuple[str, int], ...] | None:
        """The devices the pods get their GPUs on, each pod all of its per_pod GPUs on one device (a pod runs on
        one node), first fit in the devices' order (requirements: what the pods select, see `requirements`);
        None when they do not fit. pending: (pool, device) -> GPUs this workload's other components take;
        booked: device -> GPUs easel.lock records for these pods, taken again first (up to as many)."""
        used = self.used.get(cluster, {})
        devices = self._devices(cluster, pool, requirements)
        packed: dict[str, int] = {}
        left = pods
        for cap in ((booked,) if booked else ()) + (None,):  # the recorded devices first, then first fit
            for device, capacity in devices:
                if not left:
                    break
                taken = used.get((pool, device), 0) + (pending or {}).get((pool, device), 0) + packed.get(device, 0)
                free = capacity - taken if cap is None else min(capacity - taken, cap.get(device, 0))
                fit = min(left, free // per_pod) if per_pod else left
                if fit > 0:
                    packed[device] = packed.get(device, 0) + fit * per_pod
                    left -= fit
        return tuple((device, packed[device]) for device, _ in devices if device in packed) if not left else None

    def free_on_devices(self, cluster: str, pool: str) -> tuple[tuple[str, int], ...]:
        used = self.used.get(cluster, {})
        return tuple((device, capacity - used.get((pool, device), 0))
                     for device, capacity in self.capacity.get(cluster, {}).get(pool, ()))


def _pools_for(ask: GpuAsk, offered: dict[str, GpuPool]) -> list[GpuPool]:
    """The pools that could serve the ask: the asked products in the order asked, else all of its mode (by key;
    take puts the freest first)."""
    if ask.products:
        return [offered[key] for key in ask.pool_keys if key in offered]
    return [pool for pool in offered.values() if pool.mode == ask.mode]


def viable_pools(demands: Sequence[GpuDemand], offered: dict[str, GpuPool], arch: str | None = None,
                 allocation: str = DEVICE_PLUGIN) -> tuple[list[list[GpuPool]] | None, Reason | None]:
    """For each demand, the pools that could ever serve it on a cluster (product, sharing, architecture,
    memory, GPUs per device), in preference order; or the reason one has none. Free capacity aside."""
    viable: list[list[GpuPool]] = []
    for demand in demands:
        ask = demand.ask
        candidates = _pools_for(ask, offered)
        if not candidates:
            return None, NoGpus(ask.products, ask.mode, ask.mode == TIME_SLICING and allocation == DRA)
        reason: Reason | None = None
        fitting = []
        for pool in candidates:
            if arch is not None and arch not in pool.arches:
                reason = reason or PoolNotOnArch(pool.key, arch)
            elif ask.min_memory is not None and (pool.memory is None or pool.memory < ask.min_memory):
                reason = reason or PoolMemoryShort(pool.key, pool.memory, ask.min_memory)
            elif pool.largest_device < ask.count:
                reason = reason or DeviceTooSmall(pool.key, ask.count, pool.largest_device)
            else:
                fitting.append(pool)
        if not fitting:
            return None, reason
        viable.append(fitting)
    return viable, None


def take(demands: Sequence[GpuDemand], viable: list[list[GpuPool]], cluster: str, state: FreeGpus,
         booked: Mapping[str, Mapping[str, int]] | None = None) -> tuple[list[Allocation], Reason | None]:
    """The GPUs the demands take from their viable pools given what is free now, packed onto devices, or why
    they cannot; booked: component -> device -> GPUs easel.lock records there, taken again first (a pool
    holding them first). (A hot path: it runs for every workload on every cluster that could serve it.)"""
    free = state.free[cluster]
    if len(demands) == 1 and len(viable[0]) == 1:  # the common case, without the bookkeeping below
        demand, pool = demands[0], viable[0][0]
        if free.get(pool.key, 0) < demand.total:
            return [], _not_enough(demand, pool, cluster, state, 0)
        packed = state.pack(cluster, pool.key, demand.ask.count, demand.replicas, None,
                            state.requirements(cluster, demand), (booked or {}).get(demand.component))
        if packed is None:
            return [], _scattered(demand, pool, cluster, state)
        return [Allocation(demand.component, pool.product, demand.total, pool.key, packed)], None
    used: dict[str, int] = {}  # by this workload's earlier demands on this cluster
    pending: dict[tuple[str, str], int] = {}  # the same, per device
    taken: list[Allocation] = []
    for demand, choices in zip(demands, viable, strict=False):
        total = demand.total
        if len(choices) > 1 and not demand.ask.products:  # any product will do: the one with most free first
            choices = sorted(choices, key=lambda p: (-(free.get(p.key, 0) - used.get(p.key, 0)), p.key))
        on = (booked or {}).get(demand.component)
        if on and len(choices) > 1:  # the pool of the devices it was booked on first
            choices = sorted(choices, key=lambda p: not any(d in on for d, _ in state.free_on_devices(cluster, p.key)))
        scattered: GpuPool | None = None
        for pool in choices:
            key = pool.key
            if free.get(key, 0) - used.get(key, 0) < total:
                continue
            packed = state.pack(cluster, key, demand.ask.count, demand.replicas, pending,
                                state.requirements(cluster, demand), on)
            if packed is None:
                scattered = scattered or pool
                continue
            used[key] = used.get(key, 0) + total
            for device, count in packed:
                pending[key, device] = pending.get((key, device), 0) + count
            taken.append(Allocation(demand.component, pool.product, total, key, packed))
            break
        else:
            if scattered is not None:
                return [], _scattered(demand, scattered, cluster, state)
            return [], _not_enough(demand, choices[0], cluster, state, used.get(choices[0].key, 0))
    return taken, None


def _admits(labels: Mapping[str, str] | None, requirements: Requirements) -> bool:
    """Whether a device's node, by its recorded labels, takes pods that select these (unknown labels: it may)."""
    return labels is None or all(labels.get(key) in values for key, values in requirements)


def _scattered(demand: GpuDemand, pool: GpuPool, cluster: str, state: FreeGpus) -> NoDeviceFits:
    selected, _ = state.requirements(cluster, demand)
    known = state.labels.get(cluster, {})
    selects = " and ".join(f"{key}={'|'.join(values)}" for key, values in selected)
    return NoDeviceFits(pool.key, demand.ask.count, demand.replicas,
                        tuple((d, n) for d, n in state.free_on_devices(cluster, pool.key)
                              if n > 0 and _admits(known.get(d), selected)), selects)


def _not_enough(demand: GpuDemand, pool: GpuPool, cluster: str, state: FreeGpus, pending: int) -> NotEnoughFree:
    holders = tuple(sorted({w for w, key, _ in state.holders.get(cluster, ()) if key == pool.key}))
    allocated = pool.total - state.free.get(cluster, {}).get(pool.key, 0)
    return NotEnoughFree(pool.key, demand.total, pool.total, allocated, holders, pending)
