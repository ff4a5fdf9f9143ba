"""GPUs from ResourceSlices: what NVIDIA's DRA driver (`gpu.nvidia.com`) publishes of each node's devices, in
`kubectl get resourceslices -o json`, as the GPU facts of that node's Device.

The driver publishes one device per whole GPU (`type: gpu`) and one per MIG instance (`type: mig`, with its
`profile` and `parentUUID`), each with `productName`, `architecture`, `driverVersion`, `cudaComputeCapability`
and its `memory` capacity. Per node, the whole GPUs alike are one GPU fact (count, product, memory) and the GPUs
partitioned into MIG instances another (their instances counted per profile), as the node import writes them
from GPU Feature Discovery's labels, so placement counts the same devices either way. A GPU with MIG instances
published is counted as partitioned only, even when the driver also offers it whole (a GPU is in one pool).

Product names are written as GPU Feature Discovery writes them (spaces as dashes: `NVIDIA-H100-80GB-HBM3`), so
a profile pins the same product on device-plugin and DRA clusters; `dra` keeps what the driver said, for the
claims easel writes. Only the newest generation of each pool counts: while the driver replaces its slices, the
old ones are still listed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from compiler.commands.inventory_import.nodes import NodeListError
from compiler.model import quantity

DRIVER = "gpu.nvidia.com"  # NVIDIA's DRA driver for GPUs (its ComputeDomain driver is another)


@dataclass(frozen=True)
class SliceDevice:
    node: str
    name: str
    type: str  # gpu | mig
    uuid: str
    parent_uuid: str | None  # a MIG instance's GPU
    profile: str | None  # a MIG instance's profile, e.g. 3g.40gb
    product_name: str | None
    memory: str | None  # its memory capacity, as the driver wrote the quantity
    dra: tuple[tuple[str, str], ...]  # the driver's facts kept on the GPU fact: (attribute, value)


# Attributes kept with a GPU fact (all GPUs of one fact share them): what a claim's selector may ask about.
_KEPT = ("productName", "architecture", "cudaComputeCapability", "driverVersion")


def _value(attribute: Any) -> str | None:
    """A DeviceAttribute's value (exactly one of string, int, bool, version), as text."""
    if not isinstance(attribute, dict):
        return None
    for kind in ("string", "version", "int", "bool"):
        if kind in attribute:
            value = attribute[kind]
            return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def _device(node: str, device: Any, where: str) -> SliceDevice:
    if not isinstance(device, dict) or not isinstance(device.get("name"), str):
        raise NodeListError(f"{where}: a device without a name")
    attributes = device.get("attributes") or {}
    capacity = device.get("capacity") or {}
    if not isinstance(attributes, dict) or not isinstance(capacity, dict):
        raise NodeListError(f"{where}: device {device['name']!r} has malformed attributes or capacity")
    found = {name: _value(value) for name, value in attributes.items()}
    memory = (capacity.get("memory") or {}).get("value") if isinstance(capacity.get("memory"), dict) else None
    if memory is not None:
        try:
            memory = quantity.written(memory)  # as people write it: 80Gi for 85899345920
        except ValueError:
            raise NodeListError(f"{where}: device {device['name']!r} has memory {memory!r}, not a quantity") from None
    kind = found.get("type") or "gpu"
    uuid = found.get("uuid") or f"{node}/{device['name']}"
    return SliceDevice(node, device["name"], kind, uuid, found.get("parentUUID"), found.get("profile"),
                       found.get("productName"), str(memory) if memory is not None else None,
                       tuple((key, str(value)) for key in _KEPT if (value := found.get(key))))


def read_slices(slices: list[dict[str, Any]]) -> dict[str, list[SliceDevice]]:
    """node -> the GPU devices NVIDIA's driver publishes there, from the newest generation of each pool."""
    newest: dict[tuple[str, str], int] = {}
    for index, item in enumerate(slices):
        spec = item.get("spec")
        if not isinstance(spec, dict):
            raise NodeListError(f"ResourceSlice {index} has no spec")
        pool = spec.get("pool") or {}
        if not isinstance(pool, dict) or not isinstance(pool.get("generation", 0), int):
            raise NodeListError(f"ResourceSlice {index} has a malformed pool")
        key = (str(spec.get("driver")), str(pool.get("name")))
        newest[key] = max(newest.get(key, 0), pool.get("generation", 0))
    devices: dict[str, list[SliceDevice]] = defaultdict(list)
    for index, item in enumerate(slices):
        spec = item["spec"]
        pool = spec.get("pool") or {}
        if spec.get("driver") != DRIVER or pool.get("generation", 0) != newest[(DRIVER, str(pool.get("name")))]:
            continue
        node = spec.get("nodeName")
        if not isinstance(node, str) or not node:
            continue  # not a node's GPUs (a slice for all nodes, or a selection of them): nothing to book
        name = (item.get("metadata") or {}).get("name") or f"ResourceSlice {index}"
        listed = spec.get("devices") or []
        if not isinstance(listed, list):
            raise NodeListError(f"{name}: devices is not a list")
        devices[node] += [_device(node, device, name) for device in listed]
    for node, found in devices.items():
        uuids = [d.uuid for d in found]
        if len(set(uuids)) != len(uuids):
            raise NodeListError(f"node {node}: the same device is published twice in one generation")
    return dict(devices)


def _product(name: str | None) -> str | None:
    """GPU Feature Discovery's spelling of a product name (its label value): spaces as dashes."""
    return "-".join(name.split()) if name else None


def gpu_facts(devices: list[SliceDevice]) -> list[dict[str, Any]]:
    """The GPU facts of one node's devices: whole GPUs alike as one fact, partitioned GPUs alike as another."""
    by_uuid = {d.uuid: d for d in devices if d.type == "gpu"}
    instances: dict[str, list[SliceDevice]] = defaultdict(list)
    for device in devices:
        if device.type == "mig" and device.parent_uuid:
            instances[device.parent_uuid].append(device)
    groups: dict[tuple, dict[str, Any]] = {}
    for device in devices:
        if device.type == "gpu" and device.uuid not in instances:
            key = ("whole", device.product_name, device.memory, device.dra)
            fact = groups.setdefault(key, _fact(device, device.memory))
            fact["count"] += 1
    for parent, slices in sorted(instances.items()):
        first = slices[0]
        whole = by_uuid.get(parent)
        memory = whole.memory if whole else None
        key = ("mig", first.product_name, memory, first.dra)
        fact = groups.setdefault(key, {**_fact(first, memory), "mig": {}})
        fact["count"] += 1
        for instance in slices:
            if instance.profile:
                fact["mig"][instance.profile] = fact["mig"].get(instance.profile, 0) + 1
    order = ("product", "memory", "count", "mig", "dra")  # as the node import writes a GPU fact
    for fact in groups.values():
        if "mig" in fact:
            fact["mig"] = dict(sorted(fact["mig"].items()))
    return [{key: fact[key] for key in order if key in fact} for fact in groups.values()]


def _fact(device: SliceDevice, memory: str | None) -> dict[str, Any]:
    fact: dict[str, Any] = {}
    product = _product(device.product_name)
    if product:
        fact["product"] = product
    if memory:
        fact["memory"] = memory
    fact["count"] = 0
    fact["dra"] = {"driver": DRIVER, **dict(device.dra)}
    return fact
