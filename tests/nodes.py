"""Build `kubectl get nodes -o json` output for tests and benchmarks."""

from __future__ import annotations

import json
from typing import Any


def node(name: str, labels: dict[str, str] | None = None, capacity: dict[str, str] | None = None,
         ready: bool = True, cordoned: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name,
                                               **(labels or {})}},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {
            "capacity": {"cpu": "64", "memory": "527952012Ki", "pods": "110", **(capacity or {})},
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True" if ready else "False"}],
            "nodeInfo": {"architecture": "amd64", "kubeletVersion": "v1.30.2"},
        },
    }


def gfd(product: str, count: int, memory_mib: int) -> dict[str, str]:
    return {"nvidia.com/gpu.product": product, "nvidia.com/gpu.count": str(count),
            "nvidia.com/gpu.memory": str(memory_mib), "nvidia.com/gpu.present": "true",
            "nvidia.com/gfd.timestamp": "1733011200", "feature.node.kubernetes.io/pci-10de.present": "true"}


def node_list(*nodes: dict[str, Any]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(nodes)})
