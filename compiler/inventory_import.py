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

from . import names, yamlio
from .diagnostics import Diagnostics
from .schemas import API_VERSION

NODE_ANNOTATION = "easel.dev/node"  # the node a Device was imported from
_MIG_COUNT = re.compile(r"^nvidia\.com/mig-(?P<profile>\d+g\.\d+gb)\.count$")


class NodeListError(ValueError):
    pass


def _quantity_text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _cores(value: Any) -> int | None:
    text = str(value or "")
    if text.isdigit():
        return int(text)
    if text.endswith("m") and text[:-1].isdigit():
        return int(text[:-1]) // 1000
    return None


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
        mig = {m["profile"]: int(v) for k, v in labels.items() if (m := _MIG_COUNT.match(k)) and v.isdigit()}
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
class _File:
    path: str  # repository-relative
    text: str
    round_trip: bool  # comments to keep: edit with ruamel.yaml
    documents: list[Any]
    changed: bool = False
    header: str = ""  # comments above a leading '---', which ruamel.yaml does not keep


def _load(root: Path, path: str, round_trip: bool) -> _File:
    text = _read(root, path)
    if round_trip and "#" in text:
        from ruamel.yaml import YAML

        documents = list(YAML().load_all(text))
        lines = text.splitlines(keepends=True)
        top = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), 0)
        header = "".join(lines[:top]) if lines[top:top + 1] and lines[top].startswith("---") else ""
        return _File(path, text, True, documents, header=header)
    return _File(path, text, False, [d.data for d in yamlio.parse(text)[0]])


def _dump(file: _File) -> str:
    documents = [d for d in file.documents if d is not None]
    if not file.round_trip:
        return yamlio.dump_all(documents) if len(documents) != 1 else yamlio.dump(documents[0])
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 4096
    yaml.explicit_start = len(documents) != 1  # as the fast path writes them
    out = io.StringIO()
    yaml.dump_all(documents, out) if len(documents) != 1 else yaml.dump(documents[0], out)
    text = out.getvalue()
    return text if text.startswith(file.header) else file.header + text


def _set(mapping: Any, key: str, value: Any) -> bool:
    """mapping[key] = value, keeping the mapping (and its comments) where the value is a mapping too."""
    current = mapping.get(key)
    if isinstance(current, dict) and isinstance(value, dict):
        changed = False
        for k in [k for k in current if k not in value]:
            del current[k]
            changed = True
        for k, v in value.items():
            changed |= _set(current, k, v)
        return changed
    if current == value and key in mapping:
        return False
    mapping[key] = value
    return True


def import_nodes(root: Path, cluster: str, nodes: list[tuple[str, dict[str, Any]]], result,
                 diagnostics: Diagnostics) -> ImportSummary | None:
    """Write the cluster's Device documents (or inline devices) from nodes; None when nothing was written.

    A first pass reads the files with the fast parser; only files that change and hold comments are then read
    again with ruamel.yaml's (slower) round trip, so that their comments survive."""
    summary, texts = _plan(root, cluster, nodes, result, diagnostics, round_trip=set())
    if summary is None:
        return None
    with_comments = {path for path in texts if "#" in _read(root, path)}
    if with_comments:
        summary, texts = _plan(root, cluster, nodes, result, diagnostics, round_trip=with_comments)
        if summary is None:
            return None
    if not _write_all(root, texts, diagnostics):
        return None
    summary.files = sorted(texts)
    return summary


def _read(root: Path, path: str) -> str:
    return (root / path).read_text(encoding="utf-8") if (root / path).exists() else ""


def _plan(root: Path, cluster: str, nodes: list[tuple[str, dict[str, Any]]], result, diagnostics: Diagnostics,
          round_trip: set[str]) -> tuple[ImportSummary | None, dict[str, str]]:
    model = result.model
    summary = ImportSummary()
    target = model.clusters.get(cluster) if model else None
    if target is None:
        diagnostics.error("E901", f"no cluster {cluster!r} in the repository",
                          hint="add the Cluster document first, then import its nodes")
        return None, {}
    files: dict[str, _File] = {}

    def file(path: str) -> _File:
        if path not in files:
            files[path] = _load(root, path, path in round_trip)
        return files[path]

    # Where each existing device of the cluster lives: (file, document index, spec mapping, inline list or None)
    existing: dict[str, tuple[_File, Any, Any]] = {}
    cluster_file = file(target.meta.loc.file)
    cluster_doc = cluster_file.documents[target.meta.loc.doc]
    inline = cluster_doc["spec"].get("devices") if isinstance(cluster_doc.get("spec"), dict) else None
    for device in target.devices:
        f = file(device.loc.file)
        if device.loc.path[:2] == ("spec", "devices"):
            item = f.documents[device.loc.doc]["spec"]["devices"][device.loc.path[2]]
            existing[device.name] = (f, item, item)
        else:
            doc = f.documents[device.loc.doc]
            existing[device.name] = (f, doc, doc["spec"])
    by_node = {}
    for name, (f, holder, spec) in existing.items():
        annotations = (holder.get("metadata") or {}).get("annotations") or {} if "metadata" in holder else {}
        by_node[annotations.get(NODE_ANNOTATION, name)] = name
    taken = set(existing)
    new_docs_file = next((f for f, holder, spec in existing.values() if holder is not spec), None)
    if new_docs_file is None and not inline:
        folder = os.path.dirname(target.meta.loc.file)
        new_docs_file = file(f"{folder}/{cluster}-devices.yaml" if folder else f"{cluster}-devices.yaml")
    seen: set[str] = set()
    for node, spec in nodes:
        name = by_node.get(node) or by_node.get(device_name(node, set()))
        if name is not None:
            seen.add(name)
            f, holder, current = existing[name]
            changed = False
            for key in ("role", "state", "facts"):
                changed |= _set(current, key, spec[key])
            f.changed |= changed
            (summary.updated if changed else summary.unchanged).append(name)
            continue
        name = device_name(node, taken)
        taken.add(name)
        summary.added.append(name)
        annotations = {NODE_ANNOTATION: node} if name != node else {}
        if inline:
            inline.append({"name": name, **spec})
            cluster_file.changed = True
        else:
            metadata: dict[str, Any] = {"name": name}
            if annotations:
                metadata["annotations"] = annotations
            new_docs_file.documents.append({"apiVersion": API_VERSION, "kind": "Device", "metadata": metadata,
                                            "spec": {"cluster": cluster, **spec}})
            new_docs_file.changed = True
    for name, (f, holder, spec) in existing.items():
        if name in seen:
            continue
        if spec.get("tags"):  # what people wrote is never dropped: the device stays, marked unhealthy
            if spec.get("state") != "unhealthy":
                spec["state"] = "unhealthy"
                f.changed = True
            summary.kept.append(name)
            continue
        summary.removed.append(name)
        f.changed = True
        if holder is spec:  # inline
            f.documents[target.meta.loc.doc]["spec"]["devices"].remove(holder)
        else:
            f.documents[next(i for i, d in enumerate(f.documents) if d is holder)] = None
    return summary, {f.path: _dump(f) for f in files.values() if f.changed}


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
