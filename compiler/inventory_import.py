"""`easel inventory import`: a cluster's Device documents from `kubectl get nodes -o json`.

Facts come from the node: architecture, CPU and memory capacity, GPUs from NVIDIA GPU Feature Discovery labels
(`nvidia.com/gpu.product`, `.count`, `.memory` in MiB, MIG and time-slicing labels), from AMD's node labeller,
or, without labels, from the `nvidia.com/gpu` / `amd.com/gpu` capacity (product unknown), region and zone from
the well-known topology labels; cordoned nodes are `state: cordoned`, NotReady ones `unhealthy`. What people
wrote stays: manual `tags`, comments (files with comments are edited with ruamel.yaml's round trip), and
devices that left the cluster but carry tags (kept, marked unhealthy).
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import names, quantity, yamlio
from .diagnostics import Diagnostics
from .gpu import MIG_COUNT_LABEL
from .schemas import API_VERSION

NODE_ANNOTATION = "easel.dev/node"  # the node a Device was imported from


class NodeListError(ValueError):
    pass


def _quantity_text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


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
            gpu["product"] = product.removesuffix("-SHARED")
        memory = labels.get("nvidia.com/gpu.memory")
        if memory and memory.isdigit():
            gpu["memory"] = f"{memory}Mi"
        if count and str(count).isdigit():
            gpu["count"] = int(count)
        replicas = labels.get("nvidia.com/gpu.replicas")
        if replicas and replicas.isdigit() and int(replicas) > 1:
            gpu["timeSlicing"] = {"replicas": int(replicas)}
        mig = {m["profile"]: int(v) for k, v in labels.items() if (m := MIG_COUNT_LABEL.match(k)) and v.isdigit()}
        if mig:
            gpu["mig"] = dict(sorted(mig.items()))
        return [gpu]
    amd_count = capacity.get("amd.com/gpu")
    amd_product = labels.get("amd.com/gpu.product-name") or labels.get("amd.com/gpu.device-id")
    if amd_count or amd_product:
        gpu = {}
        if amd_product:
            gpu["product"] = amd_product if "product-name" in str(labels) else f"AMD-{amd_product}"
        vram = labels.get("amd.com/gpu.vram")
        if vram:
            gpu["memory"] = vram if vram[-1:] != "G" else f"{vram[:-1]}Gi"
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
    control_plane = any(k in labels for k in ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"))
    facts: dict[str, Any] = {}
    arch = labels.get("kubernetes.io/arch") or (status.get("nodeInfo") or {}).get("architecture")
    if arch:
        facts["arch"] = arch
    cores = _cores(capacity.get("cpu"))
    if cores is not None:
        facts["cpu"] = {"cores": cores}
    memory = _quantity_text(capacity.get("memory"))
    if memory:
        facts["memory"] = memory
    gpus = _gpus(labels, capacity)
    if gpus:
        facts["gpus"] = gpus
    for key, fact in (("topology.kubernetes.io/region", "region"), ("topology.kubernetes.io/zone", "zone")):
        if labels.get(key):
            facts[fact] = labels[key]
    return name, {"role": "controlPlane" if control_plane else "worker", "state": state, "facts": facts}


def read_nodes(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The nodes of `kubectl get nodes -o json` (a List, or a single Node)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NodeListError(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if isinstance(data, dict) and data.get("kind") == "Node":
        items = [data]
    elif isinstance(data, dict) and isinstance(data.get("items"), list):
        items = data["items"]
    else:
        raise NodeListError("expected the output of `kubectl get nodes -o json` (a List of Nodes)")
    nodes = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("kind", "Node") != "Node":
            raise NodeListError(f"item {index} is not a Node")
        nodes.append(device_from_node(item))
    names_seen = [n for n, _ in nodes]
    if len(set(names_seen)) != len(names_seen):
        raise NodeListError("the same node is listed twice")
    return nodes


def device_name(node: str, taken: set[str]) -> str:
    """A DNS label for a node name such as ip-10-0-1-5.ec2.internal."""
    base = re.sub(r"[^a-z0-9-]+", "-", node.lower()).strip("-") or "node"
    name = names.shorten(base)
    if name in taken:
        name = names.shorten(f"{base}-{names.shorten(node, 8)}")
    return name


@dataclass
class ImportSummary:
    files: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # gone from the cluster, kept for their manual tags


# --- editing the files ------------------------------------------------------------------------------------

@dataclass
class _Doc:
    """One document of a file: its data, and its original text, written back as it was unless it changed."""
    data: Any
    text: str | None  # None: a new document
    dirty: bool = False
    removed: bool = False
    is_document: bool = True  # False: comments above the first '---'


@dataclass
class _File:
    path: str
    docs: list[_Doc]

    def document(self, index: int) -> _Doc:
        return [d for d in self.docs if d.is_document][index]

    @property
    def changed(self) -> bool:
        return any(d.dirty or d.removed or d.text is None for d in self.docs)


def _chunks(text: str) -> list[str]:
    """The text cut before every '---' line: one piece per document (and the comments above the first)."""
    pieces: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("---") and line[3:4] in ("", " ", "\n", "\r", "\t") and current:
            pieces.append("".join(current))
            current = []
        current.append(line)
    if current:
        pieces.append("".join(current))
    return pieces


def _load(root: Path, path: str) -> _File:
    text = _read(root, path)
    docs = []
    for chunk in _chunks(text):
        parsed, problems = yamlio.parse(chunk)
        if problems or len(parsed) > 1:
            raise NodeListError(f"{path}: cannot tell its documents apart; write each after a '---' line")
        if parsed:
            docs.append(_Doc(parsed[0].data, chunk))
        else:
            docs.append(_Doc(None, chunk, is_document=False))
    return _File(path, docs)


def _sync(target: Any, source: Any) -> Any:
    """target (a ruamel.yaml node, with comments) made equal to source, keeping what did not change."""
    if isinstance(target, dict) and isinstance(source, dict):
        for key in [k for k in target if k not in source]:
            del target[key]
        for key, value in source.items():
            target[key] = _sync(target[key], value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(source, list):
        named = all(isinstance(i, dict) and "name" in i for i in [*target, *source])
        if named:  # devices listed inline: match by name
            by_name = {item["name"]: item for item in target}
            target[:] = [_sync(by_name[item["name"]], item) if item["name"] in by_name else item for item in source]
            return target
        if len(target) == len(source):
            target[:] = [_sync(t, s) for t, s in zip(target, source)]
            return target
    return source


def _dump_doc(doc: _Doc, explicit_start: bool) -> str:
    if doc.text is not None and not doc.dirty:
        return doc.text
    if doc.text is not None and "#" in doc.text:  # a person's comments: edit the document in place
        from ruamel.yaml import YAML

        yaml = YAML()
        yaml.width = 4096
        yaml.explicit_start = doc.text.startswith("---")
        original = yaml.load(doc.text)
        out = io.StringIO()
        yaml.dump(_sync(original, doc.data), out)
        return out.getvalue()
    text = yamlio.dump(doc.data)
    started = doc.text.startswith("---") if doc.text is not None else explicit_start
    return f"---\n{text}" if started else text


def _dump(file: _File) -> str:
    several = sum(1 for d in file.docs if d.is_document and not d.removed) > 1
    parts = [_dump_doc(d, several) if d.is_document else d.text for d in file.docs if not d.removed]
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)


def import_nodes(root: Path, cluster: str, nodes: list[tuple[str, dict[str, Any]]], result,
                 diagnostics: Diagnostics) -> ImportSummary | None:
    """Write the cluster's Device documents (or inline devices) from nodes; None when nothing was written.

    Documents that did not change are written back as they were, byte for byte; one that changed and holds
    comments is edited with ruamel.yaml's round trip, so its comments stay."""
    model = result.model
    summary = ImportSummary()
    target = model.clusters.get(cluster) if model else None
    if target is None:
        diagnostics.error("E901", f"no cluster {cluster!r} in the repository",
                          hint="add the Cluster document first, then import its nodes")
        return None
    files: dict[str, _File] = {}

    def file(path: str) -> _File:
        if path not in files:
            files[path] = _load(root, path)
        return files[path]

    cluster_doc = file(target.meta.loc.file).document(target.meta.loc.doc)
    inline = cluster_doc.data["spec"].get("devices")
    # each existing device: the document it is in, and the mapping of its spec
    existing: dict[str, tuple[_Doc, Any]] = {}
    node_names: dict[str, str] = {}
    for device in target.devices:
        doc = file(device.loc.file).document(device.loc.doc)
        if device.loc.path[:2] == ("spec", "devices"):
            spec = doc.data["spec"]["devices"][device.loc.path[2]]
        else:
            spec = doc.data["spec"]
            node = ((doc.data.get("metadata") or {}).get("annotations") or {}).get(NODE_ANNOTATION)
            if node:
                node_names[node] = device.name
        existing[device.name] = (doc, spec)
    taken = set(existing)
    docs_file = next((f for f in files.values() for d in f.docs
                      if d is not cluster_doc and any(d is e for e, _ in existing.values())), None)
    if docs_file is None and not inline:
        folder = os.path.dirname(target.meta.loc.file)
        docs_file = file(f"{folder}/{cluster}-devices.yaml" if folder else f"{cluster}-devices.yaml")
    seen: set[str] = set()
    for node, spec in nodes:
        name = node_names.get(node)
        if name is None:
            name = device_name(node, set())
            name = name if name in existing else None
        if name is not None:
            seen.add(name)
            doc, current = existing[name]
            changed = False
            for key in ("role", "state", "facts"):
                if current.get(key) != spec[key]:
                    current[key] = spec[key]
                    changed = True
            doc.dirty |= changed
            (summary.updated if changed else summary.unchanged).append(name)
            continue
        name = device_name(node, taken)
        taken.add(name)
        summary.added.append(name)
        if inline:
            inline.append({"name": name, **spec})
            cluster_doc.dirty = True
        else:
            metadata: dict[str, Any] = {"name": name}
            if name != node:
                metadata["annotations"] = {NODE_ANNOTATION: node}
            docs_file.docs.append(_Doc({"apiVersion": API_VERSION, "kind": "Device", "metadata": metadata,
                                        "spec": {"cluster": cluster, **spec}}, None))
    for name, (doc, spec) in existing.items():
        if name in seen:
            continue
        if spec.get("tags"):  # what people wrote is never dropped: the device stays, marked unhealthy
            if spec.get("state") != "unhealthy":
                spec["state"] = "unhealthy"
                doc.dirty = True
            summary.kept.append(name)
        elif doc is cluster_doc:
            inline.remove(spec)
            doc.dirty = True
            summary.removed.append(name)
        else:
            doc.removed = True
            summary.removed.append(name)
    texts = {f.path: _dump(f) for f in files.values() if f.changed}
    if not _write_all(root, texts, diagnostics):
        return None
    summary.files = sorted(texts)
    return summary


def _read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8") if (root / path).exists() else ""


def _write_all(root: Path, texts: dict[str, str], diagnostics: Diagnostics) -> bool:
    """Write every file or none: each goes to a temporary file beside it first."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in texts.items():
            final = root / path
            final.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".easel-", dir=final.parent)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            staged.append((temporary, final))
    except OSError as exc:
        for temporary, _ in staged:
            os.unlink(temporary)
        diagnostics.error("E802", f"cannot write {exc.filename}: {exc.strerror}; nothing was changed")
        return False
    for temporary, final in staged:
        os.replace(temporary, final)
    return True
