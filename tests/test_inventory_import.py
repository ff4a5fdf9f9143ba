"""`easel inventory import`: Device documents from `kubectl get nodes -o json`."""

from __future__ import annotations

import json

import yaml
from conftest import easel, tree, write_files
from nodes import gfd, node, node_list

CLUSTER = """
apiVersion: easel.dev/v1alpha1
kind: Cluster
metadata:
  name: gpu-a
  labels: {tier: dev}
spec:
  source: byoc
  kubernetesVersion: "1.30.2"
"""

NODES = node_list(
    node("cp-1.example.internal", labels={"node-role.kubernetes.io/control-plane": ""}),
    node("gpu-1", labels={**gfd("NVIDIA-A100-SXM4-80GB", 4, 81920), "topology.kubernetes.io/region": "us-east",
                          "topology.kubernetes.io/zone": "us-east-1a"}, capacity={"nvidia.com/gpu": "4"}),
    node("gpu-2", capacity={"nvidia.com/gpu": "2"}),  # no GFD: product unknown
    node("gpu-3", labels=gfd("NVIDIA-L4", 2, 23034), cordoned=True),
    node("gpu-4", labels=gfd("NVIDIA-L4", 2, 23034), ready=False),
    node("amd-1", labels={"amd.com/gpu.product-name": "AMD-Instinct-MI300X", "amd.com/gpu.vram": "192G"},
         capacity={"amd.com/gpu": "8"}),
)


def _repo(repo, nodes=NODES):
    write_files(repo, {"clusters/gpu-a.yaml": CLUSTER})
    (repo / "nodes.json").write_text(nodes)
    return repo


def _devices(repo) -> dict[str, dict]:
    docs = yaml.safe_load_all((repo / "clusters/gpu-a-devices.yaml").read_text())
    return {d["metadata"]["name"]: d for d in docs}


def test_import_writes_a_device_per_node_with_its_facts(repo):
    _repo(repo)
    run = easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
    assert run.code == 0, run.text
    assert "6 added" in run.out
    devices = _devices(repo)
    assert sorted(devices) == ["amd-1", "cp-1-example-internal", "gpu-1", "gpu-2", "gpu-3", "gpu-4"]
    cp = devices["cp-1-example-internal"]
    assert cp["metadata"]["annotations"] == {"easel.dev/node": "cp-1.example.internal"}
    assert cp["spec"]["role"] == "controlPlane"
    assert devices["gpu-1"]["spec"] == {
        "cluster": "gpu-a", "role": "worker", "state": "ready",
        "facts": {"arch": "amd64", "cpu": {"cores": 64}, "memory": "527952012Ki",
                  "gpus": [{"product": "NVIDIA-A100-SXM4-80GB", "memory": "80Gi", "count": 4}],
                  "region": "us-east", "zone": "us-east-1a",
                  # the node's labels, for checking selectors (NFD's feature labels and GFD's timestamp left out)
                  "nodeLabels": {"kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "gpu-1",
                                 "nvidia.com/gpu.count": "4", "nvidia.com/gpu.memory": "81920",
                                 "nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                                 "topology.kubernetes.io/region": "us-east", "topology.kubernetes.io/zone": "us-east-1a"}}}
    assert devices["gpu-2"]["spec"]["facts"]["gpus"] == [{"count": 2}]
    assert devices["gpu-3"]["spec"]["state"] == "cordoned"
    assert devices["gpu-4"]["spec"]["state"] == "unhealthy"
    assert devices["amd-1"]["spec"]["facts"]["gpus"] == [{"product": "AMD-Instinct-MI300X", "memory": "192Gi",
                                                          "count": 8}]
    # the repository still validates; only ready devices with known GPUs count
    cluster = json.loads(easel("explain", "--cluster", "gpu-a", "--format", "json", cwd=repo).out)
    assert {g["product"]: g["total"] for g in cluster["capacity"]["gpus"]} == {
        "AMD-Instinct-MI300X": 8, "NVIDIA-A100-SXM4-80GB": 4}
    assert "W101" in easel("validate", cwd=repo).err  # gpu-2's GPUs are of unknown product


def test_reimport_changes_nothing_and_keeps_comments_and_manual_tags(repo):
    _repo(repo)
    assert easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo).code == 0
    devices_file = repo / "clusters/gpu-a-devices.yaml"
    text = devices_file.read_text()
    assert easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo).code == 0
    assert devices_file.read_text() == text
    # someone tags gpu-2 (GFD is not installed there) and comments on it
    text = text.replace("  name: gpu-2\n", "  name: gpu-2  # rack 7, no GFD yet\n").replace(
        "      kubernetes.io/hostname: gpu-2\n",
        "      kubernetes.io/hostname: gpu-2\n  tags: {gpu.product: NVIDIA-L40S, gpu.memory: 48Gi}\n")
    devices_file.write_text(text)
    changed = node_list(*[n for n in json.loads(NODES)["items"] if n["metadata"]["name"] != "gpu-3"])
    changed = changed.replace('"cpu": "64"', '"cpu": "96"')
    (repo / "nodes.json").write_text(changed)
    run = easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
    assert run.code == 0, run.text
    assert "1 removed" in run.out
    after = devices_file.read_text()
    assert "name: gpu-2  # rack 7, no GFD yet" in after
    devices = _devices(repo)
    assert "gpu-3" not in devices
    assert devices["gpu-2"]["spec"]["tags"] == {"gpu.product": "NVIDIA-L40S", "gpu.memory": "48Gi"}
    assert devices["gpu-2"]["spec"]["facts"]["cpu"] == {"cores": 96}
    # the tag makes gpu-2's GPUs count
    cluster = json.loads(easel("explain", "--cluster", "gpu-a", "--format", "json", cwd=repo).out)
    assert {g["product"]: g["total"] for g in cluster["capacity"]["gpus"]}["NVIDIA-L40S"] == 2


def test_a_device_with_manual_tags_that_left_the_cluster_is_kept_as_unhealthy(repo):
    _repo(repo)
    easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
    path = repo / "clusters/gpu-a-devices.yaml"
    text = path.read_text()
    assert "    zone: us-east-1a\n" in text
    path.write_text(text.replace("      topology.kubernetes.io/zone: us-east-1a\n",
                                 "      topology.kubernetes.io/zone: us-east-1a\n  tags: {gpu.count: 4}\n"))
    (repo / "nodes.json").write_text(node_list(node("gpu-2", capacity={"nvidia.com/gpu": "2"})))
    run = easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
    assert run.code == 0, run.text
    assert "1 gone but kept" in run.out
    devices = _devices(repo)
    assert sorted(devices) == ["gpu-1", "gpu-2"]
    assert devices["gpu-1"]["spec"]["state"] == "unhealthy"


def test_inline_devices_are_updated_in_place(repo):
    # the init repository's cluster "local" lists its one device inline
    nodes = node_list(node("local-node-1", capacity={"cpu": "16"}), node("local-node-2"))
    (repo / "nodes.json").write_text(nodes)
    run = easel("inventory", "import", "--cluster", "local", "nodes.json", cwd=repo)
    assert run.code == 0, run.text
    cluster = yaml.safe_load((repo / "clusters/local.yaml").read_text())
    assert [d["name"] for d in cluster["spec"]["devices"]] == ["local-node-1", "local-node-2"]
    assert cluster["spec"]["devices"][0]["facts"]["cpu"] == {"cores": 16}
    assert "# A cluster you enrolled yourself" in (repo / "clusters/local.yaml").read_text()
    assert easel("compile", cwd=repo).code == 0


def test_bad_node_lists_write_nothing(repo):
    _repo(repo)
    before = tree(repo)
    for bad in ("{not json", json.dumps({"kind": "Pod"}), json.dumps({"items": [{"kind": "Pod"}]}),
                node_list(node("a"), node("a"))):
        (repo / "nodes.json").write_text(bad)
        before["nodes.json"] = bad.encode()
        run = easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
        assert run.code == 1 and "nothing was written" in run.err and "Traceback" not in run.text, run.text
        assert tree(repo) == before
    (repo / "nodes.json").write_text(NODES)
    run = easel("inventory", "import", "--cluster", "nope", "nodes.json", cwd=repo)
    assert run.code == 1 and "no cluster 'nope'" in run.err


def test_nodes_whose_names_collide_get_valid_distinct_device_names(repo):
    _repo(repo, node_list(node("gpu.a"), node("GPU-A"), node("gpu_a")))
    run = easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
    assert run.code == 0, run.text
    devices = _devices(repo)
    assert len(devices) == 3 and "gpu-a" in devices
    assert all(len(name) <= 63 and name.replace("-", "").isalnum() and name.islower() for name in devices), devices
    assert easel("validate", cwd=repo).code == 0  # the next compile reads them back


def test_a_name_shortened_below_the_hash_width_stays_within_its_limit():
    from compiler.kube import names

    for limit in range(1, 20):
        assert 0 < len(names.shorten("a.very.long.node.name.example.internal", limit)) <= limit


def test_a_node_with_some_gpus_in_mig_mode_keeps_its_whole_gpus(repo):
    # eight A100s, one partitioned (MIG's mixed strategy): seven offered whole, two 3g.40gb instances
    labels = {**gfd("NVIDIA-A100-SXM4-80GB", 8, 81920), "nvidia.com/mig.strategy": "mixed",
              "nvidia.com/mig-3g.40gb.count": "2"}
    _repo(repo, node_list(node("gpu-1", labels=labels, capacity={"nvidia.com/gpu": "7", "nvidia.com/mig-3g.40gb": "2"})))
    assert easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo).code == 0
    assert _devices(repo)["gpu-1"]["spec"]["facts"]["gpus"] == [
        {"product": "NVIDIA-A100-SXM4-80GB", "memory": "80Gi", "count": 7},
        {"product": "NVIDIA-A100-SXM4-80GB", "memory": "80Gi", "count": 1, "mig": {"3g.40gb": 2}}]
    cluster = json.loads(easel("explain", "--cluster", "gpu-a", "--format", "json", cwd=repo).out)
    assert {(g["product"], g["sharing"]): g["total"] for g in cluster["capacity"]["gpus"]} == {
        ("NVIDIA-A100-SXM4-80GB", "exclusive"): 7, ("NVIDIA-A100-SXM4-80GB", "mig-3g.40gb"): 2}
