"""Devices from nodes: what `kubectl get nodes -o json` says of each node, as a Device's facts.

Facts come from the node: architecture, CPU and memory capacity, GPUs from NVIDIA GPU Feature Discovery labels
(`nvidia.com/gpu.product`, `.count`, `.memory` in MiB, MIG and time-slicing labels), from AMD's node labeller,
or, without labels, from the `nvidia.com/gpu` / `amd.com/gpu` capacity (product unknown), region and zone from
the well-known topology labels; cordoned nodes are `state: cordoned`, NotReady ones `unhealthy`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from compiler.kube import names
from compiler.model import quantity
from compiler.model.gpu import MIG_COUNT_LABEL, SHARED_SUFFIX

NODE_ANNOTATION = "easel.dev/node"  # the node a Device was imported from


class NodeListError(ValueError):
    pass


# Labels not kept: Node Feature Discovery's hundreds of feature labels per node, and GFD's timestamp, which
# changes on every run (an import of the same nodes must change nothing).
_LEFT_OUT_PREFIXES = ("feature.node.kubernetes.io/",)
_LEFT_OUT = frozenset({"nvidia.com/gfd.timestamp"})


def _kept(label: str) -> bool:
    return label not in _LEFT_OUT and not label.startswith(_LEFT_OUT_PREFIXES)


def _bytes(value: Any) -> str | None:
    """A byte quantity as people write it (`755Gi` for `791674880Ki`); None when it is missing."""
    if value in (None, ""):
        return None
    try:
        return quantity.written(value)
    except ValueError:
        return str(value)  # not a quantity: written as given, for validation to report


def _cores(value: Any) -> int | None:
    """Whole cores of a CPU quantity ("8", "7900m"); None when it is missing or not one."""
    try:
        cores = quantity.parse(value)
    except ValueError:
        return None
    return int(cores) if cores >= 0 else None


def _gpus(labels: dict[str, str], capacity: dict[str, Any]) -> list[dict[str, Any]]:
    """GPU facts of one node, most specific source first."""
    product = labels.get("nvidia.com/gpu.product")
    count = labels.get("nvidia.com/gpu.count") or capacity.get("nvidia.com/gpu")
    if product or count or labels.get("feature.node.kubernetes.io/pci-10de.present") == "true":
        gpu: dict[str, Any] = {}
        if product:
            gpu["product"] = product.removesuffix(SHARED_SUFFIX)  # time-sliced: the product is the GPU
        memory = labels.get("nvidia.com/gpu.memory")
        if memory and memory.isdigit():
            gpu["memory"] = quantity.written(f"{memory}Mi")
        if count and str(count).isdigit():
            gpu["count"] = int(count)
        replicas = labels.get("nvidia.com/gpu.replicas")
        if replicas and replicas.isdigit() and int(replicas) > 1:
            gpu["timeSlicing"] = {"replicas": int(replicas)}
        mig = {m["profile"]: int(v) for k, v in labels.items() if (m := MIG_COUNT_LABEL.match(k)) and v.isdigit()}
        if not mig:
            return [gpu]
        whole = str(capacity.get("nvidia.com/gpu", ""))
        partitioned = dict(gpu, mig=dict(sorted(mig.items())))
        if whole.isdigit() and "count" in gpu and 0 < int(whole) < gpu["count"]:
            # MIG's mixed strategy: the GPUs not partitioned are still offered whole (capacity nvidia.com/gpu)
            return [dict(gpu, count=int(whole)), dict(partitioned, count=gpu["count"] - int(whole))]
        return [partitioned]
    amd_count = capacity.get("amd.com/gpu")
    amd_product = labels.get("amd.com/gpu.product-name") or labels.get("amd.com/gpu.device-id")
    if amd_count or amd_product:
        gpu = {}
        if amd_product:
            gpu["product"] = amd_product if "product-name" in str(labels) else f"AMD-{amd_product}"
        vram = labels.get("amd.com/gpu.vram")
        if vram:
            gpu["memory"] = _bytes(vram if vram[-1:] != "G" else f"{vram[:-1]}Gi")
        if amd_count and str(amd_count).isdigit():
            gpu["count"] = int(amd_count)
        return [gpu]
    return []


def device_from_node(node: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(node name, the Device spec easel derives from it, without `cluster` and `tags`)."""
    metadata = node.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise NodeListError("a node without metadata.name")
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    status = node.get("status") or {}
    capacity = status.get("capacity") or {}
    ready = next((c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    if (node.get("spec") or {}).get("unschedulable"):
        state = "cordoned"
    elif ready != "True":
        state = "unhealthy"
    else:
        state = "ready"
    control_plane = any(k in labels
                        for k in ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"))
    facts: dict[str, Any] = {}
    arch = labels.get("kubernetes.io/arch") or (status.get("nodeInfo") or {}).get("architecture")
    if arch:
        facts["arch"] = arch
    cores = _cores(capacity.get("cpu"))
    if cores is not None:
        facts["cpu"] = {"cores": cores}
    memory = _bytes(capacity.get("memory"))
    if memory:
        facts["memory"] = memory
    gpus = _gpus(labels, capacity)
    if gpus:
        facts["gpus"] = gpus
    for key, fact in (("topology.kubernetes.io/region", "region"), ("topology.kubernetes.io/zone", "zone")):
        if labels.get(key):
            facts[fact] = labels[key]
    kept = {k: v for k, v in sorted(labels.items()) if _kept(k)}
    if kept:
        facts["nodeLabels"] = kept  # what node selectors are checked against
    return name, {"role": "controlPlane" if control_plane else "worker", "state": state, "facts": facts}


def read_items(text: str) -> tuple[list[tuple[str, dict[str, Any]]] | None, list[dict[str, Any]]]:
    """(the Nodes, None when none are listed; the ResourceSlices) of `kubectl get nodes -o json`,
    `kubectl get resourceslices -o json`, or both in one List (`kubectl get nodes,resourceslices -o json`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NodeListError(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if isinstance(data, dict) and data.get("kind") in ("Node", "ResourceSlice"):
        items = [data]
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    else:
        raise NodeListError("expected the output of `kubectl get nodes -o json` or `kubectl get resourceslices "
                            "-o json` (a List of Nodes or ResourceSlices)")
    nodes, slices = [], []
    for index, item in enumerate(items):
        kind = item.get("kind", "Node") if isinstance(item, dict) else None
        if kind == "Node":
            nodes.append(device_from_node(item))
        elif kind == "ResourceSlice":
            slices.append(item)
        else:
            raise NodeListError(f"item {index} is neither a Node nor a ResourceSlice")
    names_seen = [n for n, _ in nodes]
    if len(set(names_seen)) != len(names_seen):
        raise NodeListError("the same node is listed twice")
    return (nodes if nodes or not slices else None), slices


def device_name(node: str, taken: set[str]) -> str:
    """A DNS label for a node name such as ip-10-0-1-5.ec2.internal."""
    base = re.sub(r"[^a-z0-9-]+", "-", node.lower()).strip("-") or "node"
    name = names.shorten(base)
    if name in taken:
        name = names.join(base, names.digest(node))  # node names that differ only in case or punctuation
    return name
