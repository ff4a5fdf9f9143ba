"""`easel inventory import` from ResourceSlices: the GPUs NVIDIA's DRA driver publishes (tests/resourceslices/:
whole GPUs, MIG instances, and a node with both), alone or with the node list."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import easel, tree, write_files
from nodes import node, node_list
from scenario import replaced

SAMPLES = Path(__file__).parent / "resourceslices"

CLUSTER = """
apiVersion: easel.dev/v1alpha1
kind: Cluster
metadata:
  name: dra-a
spec:
  source: byoc
  kubernetesVersion: "1.34.1"
"""

H100 = {"driver": "gpu.nvidia.com", "productName": "NVIDIA H100 80GB HBM3", "architecture": "Hopper",
        "cudaComputeCapability": "9.0.0", "driverVersion": "570.124.6"}
A100 = {"driver": "gpu.nvidia.com", "productName": "NVIDIA A100-SXM4-80GB", "architecture": "Ampere",
        "cudaComputeCapability": "8.0.0", "driverVersion": "570.124.6"}


def _repo(repo, *samples):
    write_files(repo, {"clusters/dra-a.yaml": CLUSTER})
    for sample in samples:
        (repo / sample).write_bytes((SAMPLES / sample).read_bytes())
    return repo


def _devices(repo) -> dict[str, dict]:
    docs = yaml.safe_load_all((repo / "clusters/dra-a-devices.yaml").read_text())
    return {d["metadata"]["name"]: d["spec"] for d in docs}


def _capacity(repo) -> dict[tuple[str, str], int]:
    cluster = json.loads(easel("explain", "--cluster", "dra-a", "--format", "json", cwd=repo).out)
    return {(g["product"], g["sharing"]): g["total"] for g in cluster["capacity"]["gpus"]}


def test_whole_gpus_are_counted_per_node_under_the_product_name_gfd_would_write(repo):
    _repo(repo, "whole-gpus.json")
    run = easel("inventory", "import", "--cluster", "dra-a", "whole-gpus.json", cwd=repo)
    assert run.code == 0, run.text
    assert "the GPUs of 2 nodes (16 GPUs from ResourceSlices)" in run.out and "2 added" in run.out, run.out
    devices = _devices(repo)
    assert sorted(devices) == ["gpu-node-a", "gpu-node-b"]  # the ComputeDomain driver's slice is not a GPU
    assert devices["gpu-node-a"] == {
        "cluster": "dra-a", "role": "worker", "state": "ready",
        "facts": {"gpus": [{"product": "NVIDIA-H100-80GB-HBM3", "memory": "81559Mi", "count": 8, "dra": H100}]}}
    assert _capacity(repo) == {("NVIDIA-H100-80GB-HBM3", "exclusive"): 16}


def test_mig_instances_are_counted_per_profile_on_their_gpus(repo):
    _repo(repo, "mig.json")
    assert easel("inventory", "import", "--cluster", "dra-a", "mig.json", cwd=repo).code == 0
    assert _devices(repo)["mig-node-1"]["facts"]["gpus"] == [
        {"product": "NVIDIA-A100-SXM4-80GB", "count": 4, "mig": {"3g.40gb": 8}, "dra": A100}]
    assert _capacity(repo) == {("NVIDIA-A100-SXM4-80GB", "mig-3g.40gb"): 8}


def test_a_mixed_node_keeps_whole_and_partitioned_gpus_apart_and_reads_only_the_newest_slices(repo):
    _repo(repo, "mixed.json")
    assert easel("inventory", "import", "--cluster", "dra-a", "mixed.json", cwd=repo).code == 0
    assert _devices(repo)["mixed-node-1"]["facts"]["gpus"] == [
        {"product": "NVIDIA-A100-SXM4-80GB", "memory": "80Gi", "count": 2, "dra": A100},
        {"product": "NVIDIA-A100-SXM4-80GB", "count": 2, "mig": {"3g.40gb": 4}, "dra": A100}]
    assert _capacity(repo) == {("NVIDIA-A100-SXM4-80GB", "exclusive"): 2,
                               ("NVIDIA-A100-SXM4-80GB", "mig-3g.40gb"): 4}


def test_nodes_and_slices_together_give_the_node_facts_with_the_drivers_gpus(repo):
    _repo(repo, "mixed.json")
    nodes = json.loads(node_list(node("mixed-node-1"), node("cpu-1")))
    slices = json.loads((SAMPLES / "mixed.json").read_text())
    (repo / "both.json").write_text(json.dumps({"kind": "List", "items": nodes["items"] + slices["items"]}))
    run = easel("inventory", "import", "--cluster", "dra-a", "both.json", cwd=repo)
    assert run.code == 0 and "imported 2 nodes (4 GPUs from ResourceSlices)" in run.out, run.text
    one_list = tree(repo)["clusters/dra-a-devices.yaml"]
    facts = _devices(repo)["mixed-node-1"]["facts"]
    assert list(facts) == ["arch", "cpu", "memory", "gpus", "nodeLabels"]
    assert facts["gpus"][0]["dra"] == A100 and _devices(repo)["cpu-1"]["facts"].get("gpus") is None
    # the same from two files
    (repo / "clusters/dra-a-devices.yaml").unlink()
    (repo / "nodes.json").write_text(json.dumps(nodes))
    assert easel("inventory", "import", "--cluster", "dra-a", "nodes.json", "mixed.json", cwd=repo).code == 0
    assert tree(repo)["clusters/dra-a-devices.yaml"] == one_list


def test_importing_twice_changes_nothing_and_keeps_tags_comments_and_the_other_facts(repo):
    _repo(repo, "mixed.json")
    (repo / "nodes.json").write_text(node_list(node("mixed-node-1"), node("cpu-1")))
    assert easel("inventory", "import", "--cluster", "dra-a", "nodes.json", cwd=repo).code == 0
    path = repo / "clusters/dra-a-devices.yaml"
    text = path.read_text().replace("  role: worker\n", "  # racked in row 4\n  role: worker\n  tags: {arch: amd64}\n", 1)
    path.write_text(text)
    run = easel("inventory", "import", "--cluster", "dra-a", "mixed.json", cwd=repo)
    assert run.code == 0 and "1 updated" in run.out, run.text
    after = path.read_text()
    assert "# racked in row 4" in after and "tags: {arch: amd64}" in after
    devices = _devices(repo)
    assert devices["cpu-1"]["facts"]["cpu"] == {"cores": 64}  # a node the slices do not name stays
    assert devices["mixed-node-1"]["facts"]["arch"] == "amd64" and devices["mixed-node-1"]["facts"]["gpus"]
    before = tree(repo)
    again = easel("inventory", "import", "--cluster", "dra-a", "mixed.json", cwd=repo)
    assert again.code == 0 and "1 unchanged" in again.out and "0 updated" in again.out, again.text
    assert tree(repo) == before
    assert easel("validate", cwd=repo).code == 0


def _slices(**device_changes) -> str:
    data = json.loads((SAMPLES / "whole-gpus.json").read_text())
    device = data["items"][0]["spec"]["devices"][0]
    device.update(device_changes)
    return json.dumps(data)


def test_bad_slice_lists_write_nothing(repo):
    _repo(repo)
    duplicated = json.loads((SAMPLES / "whole-gpus.json").read_text())
    duplicated["items"][0]["spec"]["devices"].append(duplicated["items"][0]["spec"]["devices"][0])
    not_a_list = json.loads((SAMPLES / "whole-gpus.json").read_text())
    not_a_list["items"][0]["spec"]["devices"] = {"gpu-0": {}}
    before = tree(repo)
    for bad in (_slices(capacity={"memory": {"value": "eighty gigs"}}), json.dumps(duplicated),
                json.dumps(not_a_list), json.dumps({"items": [{"kind": "ResourceSlice"}]}),
                json.dumps({"items": [{"kind": "ResourceClaim", "spec": {}}]}), _slices(name=None)):
        (repo / "slices.json").write_text(bad)
        before["slices.json"] = bad.encode()
        run = easel("inventory", "import", "--cluster", "dra-a", "slices.json", cwd=repo)
        assert run.code == 1 and "E105" in run.err and "nothing was written" in run.err, run.text
        assert "Traceback" not in run.text
        assert tree(repo) == before


def test_slices_of_nodes_none_of_which_is_recorded_are_refused_unless_told_to_replace(repo):
    _repo(repo, "mig.json", "whole-gpus.json")
    assert easel("inventory", "import", "--cluster", "dra-a", "mig.json", cwd=repo).code == 0
    before = tree(repo)
    run = easel("inventory", "import", "--cluster", "dra-a", "whole-gpus.json", cwd=repo)
    assert run.code == 1 and "E912" in run.err and "--replace" in run.err, run.text
    assert tree(repo) == before
    run = easel("inventory", "import", "--cluster", "dra-a", "whole-gpus.json", "--replace", cwd=repo)
    assert run.code == 0 and "2 added" in run.out, run.text
    assert sorted(_devices(repo)) == ["gpu-node-a", "gpu-node-b", "mig-node-1"]  # slices alone remove nothing


def test_a_device_document_in_error_is_fixed_first_not_imported_again(repo):
    _repo(repo, "mig.json")
    assert easel("inventory", "import", "--cluster", "dra-a", "mig.json", cwd=repo).code == 0
    path = repo / "clusters/dra-a-devices.yaml"
    path.write_text(path.read_text().replace("  role: worker\n", "  role: worker\n  tags: {rack: r4}\n"))
    before = tree(repo)
    run = easel("inventory", "import", "--cluster", "dra-a", "mig.json", cwd=repo)
    assert run.code == 1 and "E203" in run.err and "dra-a-devices.yaml" in run.err, run.text
    assert tree(repo) == before  # not a second mig-node-1 beside the one it could not read


def _on_imported_gpus(ask: str, allocation: str | None = None) -> dict[str, str]:
    """A cluster whose one device has the GPUs of tests/resourceslices/whole-gpus.json's first node, and a
    workload asking for some."""
    from test_node_selection import _files

    from compiler.commands.inventory_import import read_items, reported

    gpus = json.dumps(reported([read_items((SAMPLES / "whole-gpus.json").read_text())]).gpus["gpu-node-a"])
    files = _files(f"{{name: gpu-node-a, facts: {{gpus: {gpus}}}}}", ask)
    if allocation:
        files = replaced(files, "clusters/c.yaml", 'kubernetesVersion: "1.30.1"',
                         f'kubernetesVersion: "1.30.1"\n  gpu: {{allocation: {allocation}}}')
    return files


def test_gpus_handed_out_through_dra_are_never_booked_for_device_plugin_requests():
    """A cluster that says its GPUs go through the device plugin, while they were imported from ResourceSlices:
    a pod asking for nvidia.com/gpu there would stay Pending, so the compile fails and says so."""
    from scenario import codes, compile_files

    for ask in ("{count: 1}", "{count: 1, product: NVIDIA-H100-80GB-HBM3}"):
        result = compile_files(_on_imported_gpus(ask, "device-plugin"))
        assert codes(result) == ["E604"], [d.text for d in result.diagnostics]
        problem = next(d for d in result.diagnostics if d.code == "E604")
        assert "published through DRA (ResourceSlices)" in problem.text and "nvidia.com/gpu" in problem.text
    plugin = '{name: g, facts: {gpus: [{product: NVIDIA-H100-80GB-HBM3, count: 8}]}}'
    from test_node_selection import _files
    assert codes(compile_files(_files(plugin, "{count: 1}"))) == []
