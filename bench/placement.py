#!/usr/bin/env python3
"""Placement at scale: python bench/placement.py [--clusters 5000] [--workloads 2000].

Writes a fleet where each workload asks for 2 clusters of its region's environment (numberOfClusters: 2, the
MostFreeGPU and LeastWorkloads prioritizers, 1–2 GPUs of a pinned product), then times `easel validate` (load,
check, resolve, place: what a pre-commit hook or `explain` pays), a full `easel compile`, and a second
`easel validate` that keeps every placement from easel.lock.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
API = "easel.dev/v1alpha1"
REGIONS = ["us-east", "us-west", "eu-central", "ap-south"]
PRODUCTS = [("NVIDIA-A100-SXM4-80GB", "80Gi"), ("NVIDIA-H100-80GB-HBM3", "80Gi"), ("NVIDIA-L40S", "48Gi")]
PROJECTS = ["vision", "nlp", "research"]


def doc(kind, name, spec, labels=None):
    metadata = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "spec": spec}


def write(path, documents):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        yaml.safe_dump_all(documents, out, sort_keys=False)


def generate(root, clusters, workloads, seed=7):
    rng = random.Random(seed)
    write(os.path.join(root, "easel.yaml"), [{"apiVersion": API, "kind": "Settings", "spec": {}}])
    write(os.path.join(root, "profiles", "repositories.yaml"),
          [doc("Repository", "vllm", {"type": "helm", "url": "https://vllm-project.github.io/production-stack"})])
    write(os.path.join(root, "profiles", "llm-serving.yaml"), [doc("WorkloadProfile", "llm-serving", {
        "version": "1.0.0", "parameters": {"gpus": {"type": "integer", "default": 1},
                                           "product": {"type": "string", "default": PRODUCTS[0][0]}},
        "components": [{"name": "server", "type": "helm-chart",
                        "properties": {"repository": "vllm", "chart": "vllm-stack", "version": "0.1.9"},
                        "traits": [{"type": "gpu", "properties": {"count": "{{ params.gpus }}",
                                                                 "product": "{{ params.product }}"}}]}]})])
    write(os.path.join(root, "environments", "projects.yaml"),
          [doc("Project", p, {"quota": {"gpus": workloads * 8}}) for p in PROJECTS])
    write(os.path.join(root, "environments", "regions.yaml"), [doc("Environment", region, {
        "projects": ["*"],
        "placement": {"clusterSelector": {"matchLabels": {"region": region}}, "numberOfClusters": 2,
                      "prioritizers": [{"name": "MostFreeGPU", "weight": 2}, {"name": "LeastWorkloads"}]},
    }) for region in REGIONS])
    for index in range(clusters):
        name = f"c{index:05d}"
        product, memory = PRODUCTS[index % len(PRODUCTS)]
        write(os.path.join(root, "clusters", f"{name}.yaml"), [doc("Cluster", name, {
            "source": "byoc", "kubernetesVersion": "1.30.4",
            "devices": [{"name": f"{name}-gpu-{d}", "facts": {"arch": "amd64", "cpu": {"cores": 64}, "memory": "512Gi",
                                                             "gpus": [{"product": product, "memory": memory, "count": 8}]}}
                        for d in range(2)]}, {"region": REGIONS[index % len(REGIONS)], "tier": "prod"})])
    for index in range(workloads):
        project = PROJECTS[index % len(PROJECTS)]
        write(os.path.join(root, "workloads", project, f"w{index:05d}.yaml"), [doc("Workload", f"w{index:05d}", {
            "project": project, "environment": REGIONS[rng.randrange(len(REGIONS))],
            "profile": {"name": "llm-serving"},
            "parameters": {"gpus": rng.choice([1, 2]), "product": rng.choice(PRODUCTS)[0]}})])


def timed(argv):
    start = time.perf_counter()
    run = subprocess.run(argv, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clusters", type=int, default=5000)
    ap.add_argument("--workloads", type=int, default=2000)
    ap.add_argument("--easel", default=os.path.join(os.path.dirname(HERE), ".venv", "bin", "easel"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        generate(root, args.clusters, args.workloads)
        first = timed([args.easel, "-C", root, "validate"])
        full = timed([args.easel, "-C", root, "compile"])
        again = timed([args.easel, "-C", root, "validate"])
    print(f"placement of {args.workloads} workloads on {args.clusters} clusters (2 each): "
          f"validate {first:.2f} s, compile {full:.2f} s, validate keeping easel.lock {again:.2f} s")


if __name__ == "__main__":
    main()
