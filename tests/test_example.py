"""The repository is its own config repository: its example compiles, and the committed output/ is current."""

from __future__ import annotations

import json
import re

from builders import copy_example
from conftest import ROOT, easel, tree


def test_committed_output_is_current():
    run = easel("compile", "--check", cwd=ROOT)
    assert run.code == 0, f"output/ is stale; run `easel compile` and commit it\n{run.text}"


def test_example_compiles_to_the_same_bytes_as_committed(tmp_path):
    run = easel("compile", "--out", str(tmp_path / "out"), cwd=ROOT)
    assert run.code == 0, run.text
    assert tree(tmp_path / "out") == tree(ROOT / "output")


def test_example_places_each_workload_where_the_rules_say(tmp_path):
    """Hand-worked expectations for the example (see the comments in workloads/ and environments/)."""
    expected = {
        "nlp/support-bot": ["dc-east-1"],  # gpu-prod, 4 × A100: only dc-east-1 has A100 among prod clusters
        "vision/vlm-inspect": ["dc-east-1"],
        "vision/defect-train": ["dc-west-1"],  # 4 GPUs ≥80Gi: west has most free GPUs
        "nlp/summarizer": ["edge-fra-1"],  # L4 only on edge-fra-1
        "nlp/embeddings": ["edge-fra-1"],
        "research/llm-eval": ["lab-east-1"],  # A100 on the tainted lab cluster, tolerated by gpu-staging
        "research/ray-sandbox": ["edge-fra-1", "lab-east-1"],  # every eligible staging cluster
        "vision/vision-notebooks": ["dev-east-1"],
        "research/research-tracking": ["dev-east-1"],
        "vision/doc-embed": ["dc-west-1"],  # a MIG 3g.40gb slice: only dc-west-1's gpu-03 is partitioned
        "vision/catalog-embed": ["dc-north-1"],  # gpu-pilot: the clusters that allocate GPUs through DRA
        "vision/caption-embed": ["dc-north-1"],
    }
    for workload, clusters in expected.items():
        run = easel("explain", workload, "--format", "json", cwd=ROOT)
        assert run.code == 0, run.text
        report = json.loads(run.out)
        chosen = [c["cluster"] for c in report["placement"]["clusters"] if c["verdict"] == "chosen"]
        assert chosen == clusters, workload


def test_example_resolves_versions_within_workload_and_environment_ranges():
    cases = {"nlp/support-bot": "1.3.0",  # "^1.2" within gpu-prod's ">=1.3 <2"
             "nlp/summarizer": "1.2.0"}  # exactly "1.2.0"
    for workload, version in cases.items():
        report = json.loads(easel("explain", workload, "--format", "json", cwd=ROOT).out)
        assert report["profile"]["resolved"] == version


def test_example_has_both_engines_and_bootstrap(tmp_path):
    out = ROOT / "output"
    assert (out / "bootstrap" / "argocd" / "applicationset.yaml").is_file()
    assert sorted(p.stem for p in (out / "bootstrap" / "flux").glob("*.yaml")) == [
        "dc-east-1", "dc-north-1", "dev-east-1", "lab-east-1"]
    assert list((out / "clusters" / "dc-west-1" / "apps").glob("*.yaml"))
    assert list((out / "clusters" / "dc-east-1" / "workloads").rglob("*.yaml"))


def test_compile_in_a_copy_of_the_example_writes_only_output_and_the_lock(tmp_path):
    copy = copy_example(tmp_path / "example")
    before = {p: b for p, b in tree(copy).items()}
    run = easel("compile", cwd=copy)
    assert run.code == 0, run.text
    after = tree(copy)
    outside = {p: b for p, b in after.items() if not p.startswith(("output/", ".easel-cache/"))}
    assert outside == before  # the lock is easel's to write (SPEC §1), and it has nothing to change here
    cached = {p for p in after if p.startswith(".easel-cache/")}  # its own lock and cache (cache.py), no journal
    # the example's in-house chart as Helm's engine rendered it, kept for the next compile (unless this process
    # had rendered it already)
    renders = {p for p in cached if re.fullmatch(r"\.easel-cache/render-[0-9a-f]{64}\.json", p)}
    assert {".easel-cache/.gitignore", ".easel-cache/lock"} <= cached - renders <= {
        f".easel-cache/{name}" for name in (".gitignore", "lock", "documents.json", "runs.json", "manifest.json")}
    assert tree(copy / "output") == tree(ROOT / "output")
    assert all(after[p] == before[p] for p in before)


def test_status_counts_gpus_per_cluster_and_project():
    status = json.loads(easel("status", "--format", "json", cwd=ROOT).out)
    east = next(c for c in status["clusters"] if c["cluster"] == "dc-east-1")
    # support-bot takes 2 GPUs × 2 replicas and vlm-inspect 1; gpu-03's four are cordoned and do not count
    assert east["gpus"] == [{"product": "NVIDIA-A100-SXM4-80GB", "total": 8, "allocated": 5, "free": 3}]
    assert east["workloads"] == ["nlp/support-bot", "vision/vlm-inspect"]
    nlp = next(p for p in status["projects"] if p["project"] == "nlp")
    assert (nlp["quota"], nlp["used"]) == (8, 6)
    table = easel("status", cwd=ROOT)
    assert table.code == 0 and "dc-east-1" in table.out and "NVIDIA-L4" in table.out


def test_example_shows_a_rollout_in_progress_and_an_infrastructure_stack():
    rollouts = json.loads(easel("rollout", "status", "--format", "json", cwd=ROOT).out)["rollouts"]
    [ray] = rollouts
    assert (ray["workload"], ray["from"], ray["to"], ray["wave"]) == ("research/ray-sandbox", "1.0.0", "1.1.0", 1)
    assert ray["waves"][0] == {"name": "canary", "clusters": ["lab-east-1"], "version": "1.1.0"}
    out = ROOT / "output" / "clusters"
    assert "ray-cluster\n    easel.dev/profile-version: 1.1.0" in (out / "lab-east-1/workloads/research/ray-sandbox/cluster/objects.yaml").read_text()
    # edge-fra-1 is BYOC: the gpu-operator its GPU profiles require is deployed there, before them
    assert (out / "edge-fra-1/apps/edge-fra-1-infrastructure-gpu-operator-operator.yaml").is_file()
    assert not (out / "dc-east-1/infrastructure").exists()  # its cluster profile provides gpu-operator


def test_the_dra_pilot_claims_a_whole_gpu_and_a_mig_slice_where_the_device_plugin_cluster_asks_for_limits():
    """The example's DRA cluster (imported from tests/resourceslices/mixed*.json) beside its device-plugin ones:
    the same embedding-api profile and `gpu` trait request a MIG slice as a limit on dc-west-1 and as a claim on
    dc-north-1."""
    import yaml

    def objects(cluster: str, workload: str) -> dict:
        path = ROOT / "output" / "clusters" / cluster / "workloads" / "vision" / workload / "api" / "objects.yaml"
        return {d["kind"]: d for d in yaml.safe_load_all(path.read_text()) if d}

    def request(found: dict) -> dict:
        [only] = found["ResourceClaimTemplate"]["spec"]["spec"]["devices"]["requests"]
        return only["exactly"]

    assert request(objects("dc-north-1", "catalog-embed"))["deviceClassName"] == "gpu.nvidia.com"
    mig = objects("dc-north-1", "caption-embed")
    assert request(mig)["deviceClassName"] == "mig.nvidia.com"
    assert "nvidia.com/mig-3g.40gb" not in json.dumps(mig["Deployment"])
    plugin = objects("dc-west-1", "doc-embed")
    assert "ResourceClaimTemplate" not in plugin
    [container] = plugin["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/mig-3g.40gb"] == 1
    report = json.loads(easel("status", "--format", "json", cwd=ROOT).out)
    assert {c["cluster"]: c["gpuAllocation"] for c in report["clusters"]}["dc-north-1"] == "dra"
