#!/usr/bin/env python3
"""Time `easel inventory import` of a synthetic node list: python bench/import_nodes.py [--nodes 5000].

Prints the wall time of a first import (every node new), a re-import with nothing changed, and an import
that changes one node of a file a person has commented (the slower round-trip path).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from nodes import gfd, node, node_list  # noqa: E402

CLUSTER = """apiVersion: easel.dev/v1alpha1
kind: Cluster
metadata: {name: big, labels: {tier: prod}}
spec: {source: byoc, kubernetesVersion: "1.30.2"}
"""


def timed(argv, cwd):
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--easel", default=os.path.join(os.path.dirname(HERE), ".venv", "bin", "easel"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as repo:
        os.makedirs(os.path.join(repo, "clusters"))
        with open(os.path.join(repo, "clusters", "big.yaml"), "w") as out:
            out.write(CLUSTER)
        nodes = [node(f"gpu-{i:05d}.dc1.example.com",
                      labels={**gfd("NVIDIA-H100-80GB-HBM3", 8, 81559), "topology.kubernetes.io/zone": f"z{i % 3}"},
                      capacity={"nvidia.com/gpu": "8"}) for i in range(args.nodes)]
        path = os.path.join(repo, "nodes.json")
        with open(path, "w") as out:
            out.write(node_list(*nodes))
        argv = [args.easel, "-C", repo, "inventory", "import", "--cluster", "big", path]
        first = timed(argv, repo)
        again = timed(argv, repo)
        devices = os.path.join(repo, "clusters", "big-devices.yaml")
        with open(devices) as f:
            text = f.read()
        with open(devices, "w") as f:
            f.write("# devices of the big cluster, imported\n" + text)
        nodes[0]["status"]["capacity"]["cpu"] = "96"
        with open(path, "w") as out:
            out.write(node_list(*nodes))
        commented = timed(argv, repo)
    print(f"inventory import of {args.nodes} nodes: first {first:.2f} s, again (nothing changed) {again:.2f} s, "
          f"one node changed in a commented file {commented:.2f} s")


if __name__ == "__main__":
    main()
