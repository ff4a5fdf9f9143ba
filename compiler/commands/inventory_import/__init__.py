"""`easel inventory import`: a cluster's Device documents from `kubectl get nodes -o json` and, on a cluster that
hands out GPUs through Dynamic Resource Allocation, `kubectl get resourceslices -o json`.

    nodes.py   what each node says (facts, state, role)
    slices.py  what NVIDIA's DRA driver publishes of each node's GPUs
    files.py   editing the inventory's files, keeping what people wrote

With ResourceSlices alone, only the GPU facts of the nodes they name are written (a device that is new gets the
role `worker`); the other facts, and devices the slices do not name, stay as they are.

What people wrote stays: manual `tags`, and devices that left the cluster but carry tags (kept, marked
unhealthy). A document whose devices did not change is written back byte for byte; one that changed is edited with
ruamel.yaml's round trip, only the lines of what changed rewritten (edit.py): comments, quotes, flow and block
styles, indentation and key order stay, and a value equal to what is written (`512Gi` for `536870912Ki`) too.

A node list that shares no node with the cluster's recorded devices is refused (E912), unless told to replace
them: it is most likely another cluster's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.commands.inventory_import.edit import kept, same
from compiler.commands.inventory_import.files import Doc, File, dump, load, write_all
from compiler.commands.inventory_import.nodes import (
    NODE_ANNOTATION,
    NodeListError,
    device_from_node,
    device_name,
    read_items,
)
from compiler.commands.inventory_import.slices import gpu_facts, read_slices
from compiler.diagnostics import Diagnostics
from compiler.model import Cluster
from compiler.schemas.blocks import API_VERSION

__all__ = ["ImportSummary", "NodeListError", "Reported", "device_from_node", "import_nodes", "read_items",
           "reported"]

_DEFAULTS = {"role": "worker", "state": "ready"}  # a device's, when it does not say (schemas/fleet.py)
_FACT_ORDER = ("arch", "cpu", "memory", "gpus", "region", "zone", "nodeLabels")  # as device_from_node writes them


@dataclass
class Reported:
    """What a cluster reported: its nodes (None when only ResourceSlices were given) and, per node, the GPU facts
    its ResourceSlices give."""
    nodes: list[tuple[str, dict[str, Any]]] | None
    gpus: dict[str, list[dict[str, Any]]]

    @property
    def gpu_count(self) -> int:
        return sum(fact["count"] for facts in self.gpus.values() for fact in facts)


def reported(outputs: list[tuple[list[tuple[str, dict[str, Any]]] | None, list[dict[str, Any]]]]) -> Reported:
    """What one or more `kubectl get … -o json` outputs, each read by read_items, say together."""
    nodes: list[tuple[str, dict[str, Any]]] | None = None
    slices: list[dict[str, Any]] = []
    for found, more in outputs:
        if found is not None:
            nodes = [*(nodes or []), *found]
        slices += more
    if nodes is not None and len({n for n, _ in nodes}) != len(nodes):
        raise NodeListError("the same node is listed twice")
    return Reported(nodes, {node: gpu_facts(devices) for node, devices in sorted(read_slices(slices).items())})


def _with_gpus(facts: dict[str, Any], gpus: list[dict[str, Any]]) -> dict[str, Any]:
    merged = {**facts, "gpus": gpus}
    return {key: merged[key] for key in _FACT_ORDER if key in merged} | {
        key: value for key, value in merged.items() if key not in _FACT_ORDER}


def _specs(reported: Reported) -> list[tuple[str, dict[str, Any], bool]]:
    """(node, the Device spec to write, whether only its GPU facts are known) for every node reported."""
    if reported.nodes is None:
        return [(node, {"role": "worker", "state": "ready", "facts": {"gpus": gpus}}, True)
                for node, gpus in reported.gpus.items()]
    specs = []
    for node, spec in reported.nodes:
        if node in reported.gpus:  # DRA's account of the GPUs wins: GPU Feature Discovery is off in DRA mode
            spec = {**spec, "facts": _with_gpus(spec["facts"], reported.gpus[node])}
        specs.append((node, spec, False))
    return specs


@dataclass
class ImportSummary:
    files: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # gone from the cluster, kept for their manual tags


class _Files:
    """The inventory's files, each read once."""

    def __init__(self, root: Path):
        self.root = root
        self.files: dict[str, File] = {}

    def __call__(self, path: str) -> File:
        if path not in self.files:
            self.files[path] = load(self.root, path)
        return self.files[path]


@dataclass
class _Inventory:
    """Where the cluster's devices are written: its Cluster document (inline devices) and its Device documents."""
    cluster: str
    cluster_doc: Doc
    inline: list | None  # the Cluster's `spec.devices`, when it lists them
    existing: dict[str, tuple[Doc, Any]]  # device -> the document it is in, and the mapping of its spec
    node_names: dict[str, str]  # node -> device, for devices named apart from their node
    docs_file: File | None  # where new Device documents go


def _inventory(target: Cluster, files: _Files) -> _Inventory:
    cluster_doc = files(target.meta.loc.file).document(target.meta.loc.doc)
    inline = cluster_doc.data["spec"].get("devices")
    existing: dict[str, tuple[Doc, Any]] = {}
    node_names: dict[str, str] = {}
    for device in target.devices:
        doc = files(device.loc.file).document(device.loc.doc)
        if device.loc.path[:2] == ("spec", "devices"):
            spec = doc.data["spec"]["devices"][device.loc.path[2]]
        else:
            spec = doc.data["spec"]
            node = ((doc.data.get("metadata") or {}).get("annotations") or {}).get(NODE_ANNOTATION)
            if node:
                node_names[node] = device.name
        existing[device.name] = (doc, spec)
    docs_file = next((f for f in files.files.values() for d in f.docs
                      if d is not cluster_doc and any(d is e for e, _ in existing.values())), None)
    if docs_file is None and not inline:
        folder = os.path.dirname(target.meta.loc.file)
        name = target.meta.name
        docs_file = files(f"{folder}/{name}-devices.yaml" if folder else f"{name}-devices.yaml")
    return _Inventory(target.meta.name, cluster_doc, inline, existing, node_names, docs_file)


def _device_of(inventory: _Inventory, node: str) -> str | None:
    """The recorded device a node is, if any: by its annotation, else by the name an import gives it."""
    name = inventory.node_names.get(node)
    if name is None:
        name = device_name(node, set())
        name = name if name in inventory.existing else None
    return name


def _apply(inventory: _Inventory, nodes: list[tuple[str, dict[str, Any], bool]], summary: ImportSummary) -> set[str]:
    """Each node's facts onto its device, or a new device for it; the devices seen. A node whose GPU facts only
    are known (ResourceSlices alone) changes those only."""
    existing = inventory.existing
    taken = set(existing)
    seen: set[str] = set()
    for node, spec, gpus_only in nodes:
        name = _device_of(inventory, node)
        if name is not None:
            seen.add(name)
            doc, current = existing[name]
            changed = False
            if gpus_only:
                spec = {"facts": _with_gpus(dict(current.get("facts") or {}), spec["facts"]["gpus"])}
            for key in ("role", "state", "facts"):
                if key in spec and not same(current.get(key, _DEFAULTS.get(key)), spec[key], key):
                    current[key] = kept(current.get(key), spec[key], key)
                    changed = True
            doc.dirty |= changed
            (summary.updated if changed else summary.unchanged).append(name)
            continue
        name = device_name(node, taken)
        taken.add(name)
        summary.added.append(name)
        if inventory.inline:
            inventory.inline.append({"name": name, **spec})
            inventory.cluster_doc.dirty = True
        elif inventory.docs_file is not None:
            metadata: dict[str, Any] = {"name": name}
            if name != node:
                metadata["annotations"] = {NODE_ANNOTATION: node}
            inventory.docs_file.docs.append(Doc({"apiVersion": API_VERSION, "kind": "Device", "metadata": metadata,
                                                 "spec": {"cluster": inventory.cluster, **spec}}, None))
    return seen


def _retire(inventory: _Inventory, seen: set[str], summary: ImportSummary) -> None:
    """Devices whose node is gone: kept (unhealthy) when people tagged them, else removed."""
    for name, (doc, spec) in inventory.existing.items():
        if name in seen:
            continue
        if spec.get("tags"):  # what people wrote is never dropped: the device stays, marked unhealthy
            if spec.get("state") != "unhealthy":
                spec["state"] = "unhealthy"
                doc.dirty = True
            summary.kept.append(name)
        elif doc is inventory.cluster_doc and inventory.inline is not None:
            inventory.inline.remove(spec)
            doc.dirty = True
            summary.removed.append(name)
        else:
            doc.removed = True
            summary.removed.append(name)


def _some(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _foreign(inventory: _Inventory, nodes: list[tuple[str, dict[str, Any], bool]], diagnostics: Diagnostics) -> bool:
    """Whether the nodes share none with the cluster's recorded devices (said as E912)."""
    if not inventory.existing or any(_device_of(inventory, node) for node, _, _ in nodes):
        return False
    recorded = sorted(inventory.existing)
    devices = f"the {len(recorded)} devices recorded for cluster {inventory.cluster!r} ({_some(recorded)})"
    listed = [node for node, _, _ in nodes]
    what = (f"none of the {len(listed)} nodes listed ({_some(listed)}) is one of {devices}" if len(listed) > 1 else
            f"the one node listed ({listed[0]}) is not one of {devices}" if listed else
            f"the node list names no node, and would remove {devices}")
    diagnostics.error("E912", f"{what}; nothing was written")
    return True


def import_nodes(root: Path, cluster: str, reported: Reported, result, diagnostics: Diagnostics,
                 replace: bool = False) -> ImportSummary | None:
    """Write the cluster's Device documents (or inline devices) from what it reported; None when nothing was
    written. Nodes none of which is a recorded device are refused (E912), unless they are to replace them.

    Documents that did not change are written back as they were, byte for byte; one that changed is edited in
    place (files.py, edit.py)."""
    target = result.model.clusters.get(cluster) if result.model else None
    if target is None:
        diagnostics.error("E901", f"no cluster {cluster!r} in the repository",
                          hint="add the Cluster document first, then import its nodes")
        return None
    summary = ImportSummary()
    files = _Files(root)
    inventory = _inventory(target, files)
    nodes = _specs(reported)
    if not replace and _foreign(inventory, nodes, diagnostics):
        return None
    seen = _apply(inventory, nodes, summary)
    if reported.nodes is not None:  # ResourceSlices alone do not say which nodes are gone
        _retire(inventory, seen, summary)
    texts = {f.path: dump(f) for f in files.files.values() if f.changed}
    if not write_all(root, texts, diagnostics):
        return None
    summary.files = sorted(texts)
    return summary
