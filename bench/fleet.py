#!/usr/bin/env python3
"""Synthetic fleet generator for the easel benchmark.

    python bench/fleet.py OUTDIR --clusters 1000 --workloads 20 [--argocd-half] [--seed 42]
                          [--charts | --charts-unpinned] [--render {helmrelease,hydrated}]

writes a complete easel config repository (SPEC.md §1-§2) in which every workload is placed on every
cluster: environments have no `numberOfClusters`, selectors that match the whole fleet, generous project
quotas, and every cluster carries enough ready GPUs for all M workloads at once.

Each profile has exactly one `helm-chart` component, so the fleet compiles to one release per
placement (N x M), the unit the Kapitan peer in kapitan_fleet.py writes too.

With --charts, the profiles' components use the test charts of tests/helm_charts/ instead (llm-serving,
packed twice as 0.3.0 and 0.3.1, and batch-tools 1.2.0, all from one Helm repository `bench`), whose archives
are packed as easel packs a chart folder (compiler.load.charts.pack) into charts/bench/<chart>-<version>.tgz and
pinned in easel.lock's `charts:` section, so that the compile renders them with Helm's engine and proves them.
--charts-unpinned writes the same profiles without the archives or the pins (the charts are then unproven, W107).
--render hydrated (with --charts only: Helm's engine renders pinned archives) sets easel.yaml's `gitops.render:
hydrated`, so that each cluster's tree holds the charts' rendered objects instead of a HelmRelease or an Argo CD
Application per chart; --render helmrelease (the default) writes nothing more, the same bytes as without it.

Pure standard library + PyYAML (and, with --charts, easel's own packer), and deterministic: the same arguments
give the same bytes.
"""

import argparse
import hashlib
import math
import os
import random
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEST_CHARTS = os.path.join(ROOT, "tests", "helm_charts")
API = "easel.dev/v1alpha1"
REGIONS = ["us-east", "us-west", "eu-central", "ap-south"]
# (product, per-GPU memory): one product per cluster, so clusters differ but all can host anything.
GPUS = [("NVIDIA-A100-SXM4-80GB", "80Gi"), ("NVIDIA-H100-80GB-HBM3", "80Gi"), ("NVIDIA-L40S", "48Gi")]
GPUS_PER_WORKER = 8
PROJECTS = ["vision", "nlp", "research"]
MODELS = ["meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3",
          "Qwen/Qwen2.5-7B-Instruct", "google/gemma-2-9b-it"]
WORDS = ["support-bot", "doc-search", "vision-qa", "fraud-score", "code-assist", "notebooks",
         "churn-model", "ocr", "summarizer", "rec-train", "speech", "translate"]

REPOSITORIES = [
    ("vllm", "https://vllm-project.github.io/production-stack"),
    ("jupyterhub", "https://hub.jupyter.org/helm-chart/"),
    ("kuberay", "https://ray-project.github.io/kuberay-helm/"),
]
CHART_REPOSITORY = ("bench", "https://charts.example.com/bench")
# (repository, chart, version) -> (folder under tests/helm_charts, the version its Chart.yaml is given when packed)
CHARTS = {
    ("bench", "llm-serving", "0.3.0"): ("llm-serving", "0.3.0"),
    ("bench", "llm-serving", "0.3.1"): ("llm-serving", "0.3.1"),  # the same chart, repacked as a second version
    ("bench", "batch-tools", "1.2.0"): ("batch-tools", "1.2.0"),
}


def profiles():
    """The WorkloadProfile specs: three profiles, llm-serving in two versions."""
    def llm(version, chart_version):
        return {
            "version": version,
            "type": "Model",
            "parameters": {
                "model": {"type": "string"},
                "gpus": {"type": "integer", "minimum": 1, "default": 1},
                "maxModelLen": {"type": "integer", "default": 8192},
            },
            "requires": {"kubernetes": ">=1.28"},
            "components": [{
                "name": "server",
                "type": "helm-chart",
                "properties": {
                    "repository": "vllm",
                    "chart": "vllm-stack",
                    "version": chart_version,
                    "target": {"kind": "Deployment", "name": ".*-deployment-vllm"},
                    "container": "vllm",
                    "values": {"servingEngineSpec": {"modelSpec": [{
                        "name": "main",
                        "repository": "vllm/vllm-openai",
                        "tag": "v0.6.3",
                        "modelURL": "{{ params.model }}",
                        "replicaCount": 1,
                        "requestGPU": "{{ params.gpus }}",
                        "vllmConfig": {"maxModelLen": "{{ params.maxModelLen }}"},
                    }]}},
                },
                "traits": [
                    {"type": "gpu", "properties": {"count": "{{ params.gpus }}"}},
                    {"type": "resources", "properties": {"memory": "64Gi"}},
                ],
            }],
        }

    notebook = {
        "version": "1.0.0",
        "type": "Application",
        "parameters": {
            "imageTag": {"type": "string", "default": "cuda12-2024-10-07"},
            "cpuLimit": {"type": "integer", "default": 4},
        },
        "components": [{
            "name": "hub",
            "type": "helm-chart",
            "properties": {
                "repository": "jupyterhub",
                "chart": "jupyterhub",
                "version": "3.3.8",
                "target": {"kind": "Deployment", "name": "hub"},
                "container": "hub",
                "values": {
                    "hub": {"config": {"JupyterHub": {"admin_access": False}}},
                    "singleuser": {
                        "image": {"name": "quay.io/jupyter/pytorch-notebook", "tag": "{{ params.imageTag }}"},
                        "cpu": {"limit": "{{ params.cpuLimit }}"},
                    },
                },
            },
            "traits": [{"type": "gpu", "properties": {"count": 1}}],
        }],
    }
    training = {
        "version": "0.4.0",
        "type": "Application",
        "parameters": {
            "workers": {"type": "integer", "minimum": 1, "default": 2},
            "gpusPerWorker": {"type": "integer", "minimum": 1, "default": 1},
        },
        "components": [{
            "name": "ray",
            "type": "helm-chart",
            "properties": {
                "repository": "kuberay",
                "chart": "ray-cluster",
                "version": "1.2.2",
                "traitValues": {"gpu.count": 'worker.resources.limits["nvidia.com/gpu"]'},
                "values": {
                    "image": {"repository": "rayproject/ray", "tag": "2.38.0-gpu"},
                    "worker": {
                        "replicas": "{{ params.workers }}",
                        "resources": {"limits": {"nvidia.com/gpu": "{{ params.gpusPerWorker }}"}},
                    },
                },
            },
            "traits": [{"type": "gpu", "properties": {"count": "{{ params.gpusPerWorker }}"}}],
        }],
    }
    return {
        ("llm-serving", "1.2.0"): llm("1.2.0", "0.1.5"),
        ("llm-serving", "1.3.0"): llm("1.3.0", "0.1.7"),
        ("notebook", "1.0.0"): notebook,
        ("batch-training", "0.4.0"): training,
    }


def chart_profiles():
    """The same profiles and parameters (profiles()), their components on the test charts (CHARTS): llm-serving's
    engine Deployment gets the GPUs (easel's patch) for the two llm-serving versions and the notebook,
    batch-tools' api Deployment for batch-training."""
    def engine(model_value, extra=None):
        return {"engine": {"model": model_value, **(extra or {})}}

    def on_engine(chart_version, values):
        return {"repository": "bench", "chart": "llm-serving", "version": chart_version,
                "target": {"kind": "Deployment", "name": ".*-engine"}, "container": "engine", "values": values}

    def server(chart_version):
        return {"name": "server", "type": "helm-chart", "properties": {
            **on_engine(chart_version, engine("{{ params.model }}", {
                "image": {"repository": "vllm/vllm-openai", "tag": "v0.6.3"}, "port": 8000})),
            "traitValues": {"replicas.count": "engine.replicaCount"}},
            "traits": [{"type": "gpu", "properties": {"count": "{{ params.gpus }}"}},
                       {"type": "resources", "properties": {"memory": "64Gi"}}]}

    hub = {"name": "hub", "type": "helm-chart", "properties": on_engine("0.3.0", engine("notebook", {
        "image": {"repository": "quay.io/jupyter/pytorch-notebook", "tag": "{{ params.imageTag }}"},
        "resources": {"limits": {"cpu": "{{ params.cpuLimit }}"}}})),
        "traits": [{"type": "gpu", "properties": {"count": 1}}]}
    ray = {"name": "ray", "type": "helm-chart", "properties": {
        "repository": "bench", "chart": "batch-tools", "version": "1.2.0", "crds": ["tools.example.com"],
        "target": {"kind": "Deployment", "name": ".*-api"}, "container": "api",
        # the pod security context through the chart's values: it reaches the chart's hook Job too, which Flux's
        # post-renderer may not (easel's proof holds it to that)
        "traitValues": {"security-context.pod.securityContext": "podSecurityContext"},
        "values": {"api": {"replicaCount": 1}, "sweep": {"size": "{{ params.workers }}"}}},
        "traits": [{"type": "gpu", "properties": {"count": "{{ params.gpusPerWorker }}"}}]}
    components = {("llm-serving", "1.2.0"): [server("0.3.0")], ("llm-serving", "1.3.0"): [server("0.3.1")],
                  ("notebook", "1.0.0"): [hub], ("batch-training", "0.4.0"): [ray]}
    return {key: {**profile, "components": components[key]} for key, profile in profiles().items()}


def chart_archives():
    """{(repository, chart, version): archive bytes} of CHARTS, packed as easel packs a chart folder (sorted, no
    times, owners or modes: the same bytes every time); a second version is the folder with its Chart.yaml's
    `version` changed."""
    sys.path.insert(0, ROOT)
    from compiler.load.charts import pack
    from compiler.load.source import MemorySource

    out = {}
    for key, (folder, version) in CHARTS.items():
        base = os.path.join(TEST_CHARTS, folder)
        files = {}
        for d, _, names in os.walk(base):
            for name in names:
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, TEST_CHARTS).replace(os.sep, "/")] = f.read()
        meta = f"{folder}/Chart.yaml"
        files[meta] = re.sub(rb"(?m)^version: .*$", f"version: {version}".encode(), files[meta], count=1)
        name, data = pack(MemorySource(files), folder)
        assert name == key[1], (name, key)
        out[key] = data
    return out


def environments():
    """Environment specs: one open to every project, one explicit and strict; none limit the count."""
    allowed = [{"name": "llm-serving", "versions": ">=1.2 <2"}, {"name": "notebook"}, {"name": "batch-training"}]
    return {
        "dev": {
            "projects": ["*"],
            "placement": {"clusterSelector": {"matchLabels": {"fleet": "bench"}}},
            "namespace": {"strategy": "project"},
            "policy": {"allowedProfiles": allowed, "maxGPUsPerWorkload": 8},
            "rollout": {"strategy": "all"},
        },
        "prod": {
            "projects": list(PROJECTS),
            "placement": {"clusterSelector": {"matchExpressions": [
                {"key": "region", "operator": "In", "values": list(REGIONS)}]}},
            "namespace": {"strategy": "workload", "quota": {"requests.nvidia.com/gpu": "8"},
                          "isolation": "strict"},
            "defaults": {"traits": [{"type": "security-context", "properties": {"runAsNonRoot": True}}]},
            "policy": {"allowedProfiles": allowed, "maxGPUsPerWorkload": 8,
                       "requiredTraits": ["security-context"]},
            "rollout": {"strategy": "all"},
        },
    }


def workloads(m, rng):
    """M workload specs, round-robin over profiles, projects and environments. Returns (name, spec, gpus)."""
    kinds = ["llm-exact", "llm-range", "notebook", "training"]
    out = []
    for i in range(m):
        kind = kinds[i % len(kinds)]
        project = PROJECTS[i % len(PROJECTS)]
        env = ["dev", "prod"][(i + i // 4) % 2]  # shifts every 4, so each profile lands in both
        name = f"{rng.choice(WORDS)}-{i:03d}"
        spec = {"project": project, "environment": env}
        if kind.startswith("llm"):
            gpus = rng.choice([1, 2])
            spec["profile"] = {"name": "llm-serving", "version": "1.2.0" if kind == "llm-exact" else "^1.2"}
            spec["parameters"] = {"model": rng.choice(MODELS), "gpus": gpus}
            if i % 8 == 1:  # a few ask for two replicas: GPU demand is count x replicas
                spec["traits"] = {"server": [{"type": "replicas", "properties": {"count": 2}}]}
                gpus *= 2
        elif kind == "notebook":
            gpus = 1
            spec["profile"] = {"name": "notebook", "version": "1.x"}
            spec["parameters"] = {"cpuLimit": rng.choice([2, 4, 8])}
        else:
            gpus = 1
            spec["profile"] = {"name": "batch-training", "version": "*"}
            spec["parameters"] = {"workers": rng.choice([1, 2, 4])}
        out.append((name, spec, gpus))
    return out


def clusters(n, demand, rng, argocd_half):
    """N cluster specs, each with a control plane and enough 8-GPU workers for `demand` GPUs."""
    out = []
    for i in range(n):
        region = REGIONS[i % len(REGIONS)]
        name = f"{region}-{i:04d}"
        product, gpu_mem = GPUS[rng.randrange(len(GPUS))]
        workers = math.ceil(demand / GPUS_PER_WORKER) + rng.choice([1, 1, 2])  # fits all, with headroom
        devices = [{"name": f"{name}-cp-0", "role": "controlPlane", "state": "ready",
                    "facts": {"arch": "amd64", "cpu": {"cores": 16}, "memory": "64Gi", "gpus": []}}]
        devices += [{"name": f"{name}-gpu-{w:02d}", "role": "worker", "state": "ready",
                     "facts": {"arch": "amd64", "cpu": {"cores": 64}, "memory": "512Gi",
                               "gpus": [{"product": product, "memory": gpu_mem, "count": GPUS_PER_WORKER}]}}
                    for w in range(workers)]
        spec = {"source": "byoc", "kubernetesVersion": rng.choice(["1.29.4", "1.30.5", "1.31.1"])}
        if argocd_half and i % 2:
            spec["gitops"] = {"engine": "argocd"}
        spec["devices"] = devices
        labels = {"region": region, "tier": "prod" if i % 3 else "staging", "fleet": "bench"}
        out.append((name, labels, spec))
    return out


RENDERS = ("helmrelease", "hydrated")  # easel.yaml's gitops.render; the first is easel's default


def fleet(n, m, seed=42, argocd_half=False, charts=None, render="helmrelease"):
    """The whole fleet as plain data; kapitan_fleet.py renders the same model for Kapitan.

    charts: None (the profiles name public charts easel has no archive of), "pinned" (the test charts, their
    archives packed and pinned), "unpinned" (the test charts' names, no archives).
    render: easel.yaml's gitops.render; "hydrated" needs charts="pinned" (ValueError otherwise), the default
    writes no `render` key at all."""
    if render not in RENDERS:
        raise ValueError(f"render must be one of {', '.join(RENDERS)}, not {render!r}")
    if render != RENDERS[0] and charts != "pinned":
        raise ValueError(f"render {render} needs charts='pinned': easel renders only charts whose archives are pinned")
    rng = random.Random(seed)
    wls = workloads(m, rng)
    demand = sum(g for _, _, g in wls)
    # Quotas count every placement of every workload across the fleet: leave plenty of room.
    quota = max(1, demand) * n * 2
    gitops = {"engine": "flux", "interval": "10m", "repoURL": "https://git.example.com/platform/fleet.git",
              "branch": "main"}
    if render != RENDERS[0]:
        gitops["render"] = render
    return {
        "settings": {"inputs": ["profiles", "environments", "clusters", "workloads"], "output": "output",
                     "gitops": gitops, "parameters": {}},
        "repositories": {name: {"type": "helm", "url": url}
                         for name, url in ([CHART_REPOSITORY] if charts else REPOSITORIES)},
        "profiles": chart_profiles() if charts else profiles(),
        "charts": chart_archives() if charts == "pinned" else {},
        "projects": {p: {"quota": {"gpus": quota}, "parameters": {}} for p in PROJECTS},
        "environments": environments(),
        "clusters": clusters(n, demand, rng, argocd_half),
        "workloads": wls,
    }


def resolve_profile(model, name, version_range):
    """The profile version a workload gets: the highest listed version the (simple) range admits.

    Only the range forms this generator writes are understood (exact, ^X.Y, X.x, *); the Kapitan
    peer needs the answer because Kapitan has no version resolution of its own.
    """
    versions = sorted((v for (p, v) in model["profiles"] if p == name),
                      key=lambda v: tuple(int(x) for x in v.split(".")))
    if version_range in versions:
        return version_range
    major = re.match(r"^\^?(\d+)", version_range)
    ok = [v for v in versions if version_range == "*" or (major and v.split(".")[0] == major.group(1))]
    return ok[-1]


def render_params(value, params):
    """Fill `{{ params.x }}` like easel: a value that is only a placeholder keeps the parameter's type."""
    if isinstance(value, dict):
        return {k: render_params(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [render_params(v, params) for v in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\{\{\s*params\.(\w+)\s*\}\}", value)
        if whole:
            return params[whole.group(1)]
        return re.sub(r"\{\{\s*params\.(\w+)\s*\}\}", lambda mt: str(params[mt.group(1)]), value)
    return value


def effective_params(profile, wspec):
    """Profile defaults overlaid with the workload's parameters (the only layers this fleet uses)."""
    params = {k: s["default"] for k, s in profile["parameters"].items() if "default" in s}
    params.update(wspec.get("parameters", {}))
    return params


def doc(kind, name, spec, labels=None):
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": spec}


def dump(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False, default_flow_style=False)


def write_easel_repo(model, outdir):
    """Write the model as an easel config repository (formats exactly as in SPEC.md)."""
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "easel.yaml"), "w") as f:
        yaml.safe_dump({"apiVersion": API, "kind": "Settings", "spec": model["settings"]}, f, sort_keys=False)
    dump(os.path.join(outdir, "profiles", "repositories.yaml"),
         [doc("Repository", n, s) for n, s in model["repositories"].items()])
    for (name, version), spec in model["profiles"].items():
        dump(os.path.join(outdir, "profiles", name, f"{version}.yaml"), [doc("WorkloadProfile", name, spec)])
    dump(os.path.join(outdir, "environments", "projects.yaml"),
         [doc("Project", n, s) for n, s in model["projects"].items()])
    for name, spec in model["environments"].items():
        dump(os.path.join(outdir, "environments", f"{name}.yaml"), [doc("Environment", name, spec)])
    for name, labels, spec in model["clusters"]:
        dump(os.path.join(outdir, "clusters", f"{name}.yaml"), [doc("Cluster", name, spec, labels)])
    for name, spec, _ in model["workloads"]:
        dump(os.path.join(outdir, "workloads", spec["project"], f"{name}.yaml"), [doc("Workload", name, spec)])
    if model.get("charts"):
        for (repository, chart, version), data in model["charts"].items():
            os.makedirs(os.path.join(outdir, "charts", repository), exist_ok=True)
            with open(os.path.join(outdir, "charts", repository, f"{chart}-{version}.tgz"), "wb") as f:
                f.write(data)
        with open(os.path.join(outdir, "easel.lock"), "w") as f:
            f.write(lock_text(model))


def lock_text(model):
    """easel.lock with only its `charts:` section: every archive pinned by the sha256 of its bytes ("" when the
    fleet has no archives)."""
    if not model.get("charts"):
        return ""
    pins = "".join(f"  {repository}/{chart} {version}: sha256:{hashlib.sha256(data).hexdigest()}\n"
                   for (repository, chart, version), data in sorted(model["charts"].items()))
    return f"apiVersion: {API}\nkind: Lock\ncharts:\n{pins}"


def add_fleet_arguments(ap):
    """The arguments that describe a fleet, shared by this generator and kapitan_fleet.py."""
    ap.add_argument("outdir")
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--workloads", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--argocd-half", action="store_true", help="every other cluster uses gitops.engine argocd")


def add_chart_arguments(ap):
    """--charts / --charts-unpinned (fleet.py and run.py)."""
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--charts", action="store_const", const="pinned", dest="charts",
                       help="profiles on the test charts, their archives packed into charts/ and pinned in easel.lock")
    group.add_argument("--charts-unpinned", action="store_const", const="unpinned", dest="charts",
                       help="the same profiles, without the archives (charts unproven)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_fleet_arguments(ap)
    add_chart_arguments(ap)
    ap.add_argument("--render", choices=RENDERS, default=RENDERS[0],
                    help="easel.yaml's gitops.render (default helmrelease: no `render` key written); hydrated needs"
                         " --charts")
    args = ap.parse_args(argv)
    if args.render != RENDERS[0] and args.charts != "pinned":
        ap.error(f"--render {args.render} needs --charts: easel renders a chart into the clusters' trees only from"
                 " its pinned archive (--charts packs and pins them; --charts-unpinned and the default fleet have none)")
    if os.path.exists(args.outdir) and os.listdir(args.outdir):
        ap.error(f"{args.outdir} is not empty")
    model = fleet(args.clusters, args.workloads, args.seed, args.argocd_half, args.charts, args.render)
    write_easel_repo(model, args.outdir)
    print(f"wrote {args.clusters} clusters x {args.workloads} workloads to {args.outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
