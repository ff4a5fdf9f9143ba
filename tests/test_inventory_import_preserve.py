"""`easel inventory import` guards and preserves: another cluster's node list is refused (E912) unless it is to
replace the devices (`--replace`), and a file people wrote changes only where the devices changed: comments,
quotes, flow and block styles, indentation and key order stay, quantities are written in the units people use."""

from __future__ import annotations

import pytest
import yaml
from conftest import easel, tree, write_files
from nodes import gfd, node, node_list
from test_inventory_import import _repo

from compiler.model import quantity

CLUSTER = """
apiVersion: easel.dev/v1alpha1
kind: Cluster
metadata:
  name: gpu-a
spec:
  source: byoc
  kubernetesVersion: "1.30.2"
"""

# written by hand: four-space indents, dashes under their key, quotes of every kind, a flow mapping with spaces
# inside its braces, keys in no particular order, comments, memory in Gi
HAND_WRITTEN = """\
# gpu-a's nodes, written by hand before easel could import them
---
apiVersion: easel.dev/v1alpha1
kind: Device
metadata: { name: cpu-1 }   # the build box
spec:
    cluster: "gpu-a"
    state: ready
    role: 'worker'
    facts: {memory: 755Gi, arch: "amd64", cpu: {cores: 64}, nodeLabels: {kubernetes.io/arch: amd64, kubernetes.io/hostname: cpu-1}}
---
apiVersion: easel.dev/v1alpha1
kind: Device
metadata:
    name: gpu-1
spec:
    role: worker
    cluster: gpu-a
    facts:
        # checked on the rack
        gpus:
        -   count: 4
            memory: "80Gi"
            product: NVIDIA-A100-SXM4-80GB
        cpu:
            cores: 64
        memory: 755Gi
        arch: amd64
        nodeLabels:
            kubernetes.io/hostname: gpu-1
            kubernetes.io/arch: amd64
            nvidia.com/gpu.count: "4"
            nvidia.com/gpu.memory: '81920'
            nvidia.com/gpu.present: "true"
            nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
    # ready, as a device is unless it says otherwise
"""

GIB_755 = {"memory": "791674880Ki"}  # 755Gi, as the kubelet reports it
A100 = gfd("NVIDIA-A100-SXM4-80GB", 4, 81920)  # its memory in MiB: 80Gi


def _hand_written(repo):
    write_files(repo, {"clusters/gpu-a.yaml": CLUSTER})
    (repo / "clusters/gpu-a-devices.yaml").write_text(HAND_WRITTEN)
    return repo / "clusters/gpu-a-devices.yaml"


def _import(repo, *nodes, replace: bool = False):
    (repo / "nodes.json").write_text(node_list(*nodes))
    return easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", *(["--replace"] if replace else []),
                 cwd=repo)


def test_another_clusters_node_list_is_refused_unless_it_is_to_replace_the_devices(repo):
    _repo(repo)
    assert easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo).code == 0
    byoc = [node("ip-10-0-1-5.ec2.internal"), node("ip-10-0-1-6.ec2.internal")]  # another cluster's nodes
    before = tree(repo)
    for nodes in (byoc, byoc[:1], []):
        run = _import(repo, *nodes)
        assert run.code == 1 and "error[E912]" in run.err and "nothing was written" in run.err, run.text
        assert "--replace" in run.err and "recorded for cluster 'gpu-a'" in run.err
        assert tree(repo) == {**before, "nodes.json": (repo / "nodes.json").read_bytes()}
    assert "none of the 2 nodes listed (ip-10-0-1-5.ec2.internal, ip-10-0-1-6.ec2.internal)" in _import(
        repo, *byoc).err
    run = _import(repo, *byoc, replace=True)
    assert run.code == 0 and "2 added" in run.out and "6 removed" in run.out, run.text
    devices = {d["metadata"]["name"] for d in yaml.safe_load_all((repo / "clusters/gpu-a-devices.yaml").read_text())}
    assert devices == {"ip-10-0-1-5-ec2-internal", "ip-10-0-1-6-ec2-internal"}
    # one node in common is the same cluster: its new nodes are added, those gone removed
    run = _import(repo, byoc[0], node("ip-10-0-1-7.ec2.internal"))
    assert run.code == 0 and "1 added" in run.out and "1 removed" in run.out, run.text


def test_an_import_into_a_hand_written_file_changes_only_the_lines_of_what_changed(repo):
    path = _hand_written(repo)
    # cpu-1 is cordoned, gpu-1 has 96 cores now; the rest is as written (755Gi, 80Gi, in other units)
    run = _import(repo, node("cpu-1", capacity=GIB_755, cordoned=True),
                  node("gpu-1", labels=A100, capacity={**GIB_755, "cpu": "96"}))
    assert run.code == 0 and "2 updated" in run.out, run.text
    expected = HAND_WRITTEN.replace("    state: ready\n    role: 'worker'", "    state: cordoned\n    role: 'worker'")
    expected = expected.replace("            cores: 64\n", "            cores: 96\n")
    assert path.read_text() == expected
    # the same list again changes nothing, byte for byte
    before = tree(repo)
    run = easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo)
    assert run.code == 0 and "2 unchanged" in run.out, run.text
    assert tree(repo) == before
    # a new fact joins the flow mapping where the import puts it, among the keys as they are
    run = _import(repo, node("cpu-1", capacity=GIB_755, cordoned=True, labels={"topology.kubernetes.io/zone": "z1"}),
                  node("gpu-1", labels=A100, capacity={**GIB_755, "cpu": "96"}))
    assert run.code == 0 and "1 updated" in run.out, run.text
    assert path.read_text() == expected.replace(
        'cpu: {cores: 64}, nodeLabels: {kubernetes.io/arch: amd64, kubernetes.io/hostname: cpu-1}}',
        'cpu: {cores: 64}, zone: z1, nodeLabels: {kubernetes.io/arch: amd64, kubernetes.io/hostname: cpu-1, '
        'topology.kubernetes.io/zone: z1}}')
    assert easel("validate", cwd=repo).code == 0


def test_devices_gone_and_new_leave_the_others_as_written(repo):
    path = _hand_written(repo)
    run = _import(repo, node("cpu-1", capacity=GIB_755), node("gpu-2", labels=gfd("NVIDIA-L4", 2, 23034)))
    assert run.code == 0 and "1 added" in run.out and "1 removed" in run.out, run.text
    kept = HAND_WRITTEN[:HAND_WRITTEN.index("---\napiVersion: easel.dev/v1alpha1\nkind: Device\nmetadata:\n")]
    text = path.read_text()
    assert text.startswith(kept)  # cpu-1 as written; gpu-1's document gone
    # the new device indented as the file's others are
    assert text[len(kept):].startswith("---\napiVersion: easel.dev/v1alpha1\nkind: Device\nmetadata:\n    name: gpu-2\n")
    assert ("        gpus:\n        -   product: NVIDIA-L4\n            memory: 23034Mi\n            count: 2\n"
            in text[len(kept):])
    assert "            nvidia.com/gpu.present: 'true'\n" in text  # a label's value stays a string
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(text) if d] == ["cpu-1", "gpu-2"]
    assert easel("validate", cwd=repo).code == 0


def test_inline_devices_written_in_flow_style_get_new_gpus_in_flow_style(repo):
    # the init repository's cluster "local" lists its device inline, its facts a flow mapping
    path = repo / "clusters/local.yaml"
    before = path.read_text()
    (repo / "nodes.json").write_text(node_list(node("local-node-1", capacity={"cpu": "8", "memory": "32Gi",
                                                                              "nvidia.com/gpu": "2"})))
    run = easel("inventory", "import", "--cluster", "local", "nodes.json", cwd=repo)
    assert run.code == 0, run.text
    assert path.read_text() == before.replace(
        "facts: {arch: amd64, cpu: {cores: 8}, memory: 32Gi}",
        "facts: {arch: amd64, cpu: {cores: 8}, memory: 32Gi, gpus: [{count: 2}], nodeLabels: {kubernetes.io/arch: "
        "amd64, kubernetes.io/hostname: local-node-1}}")


def test_a_changed_line_that_ruamel_would_write_otherwise_changes_alone(repo):
    # braces with spaces inside, as formatters write them: ruamel.yaml writes `{a: 1}`; only the line that
    # changes is written its way
    path = repo / "clusters/local.yaml"
    before = path.read_text().replace("labels: {tier: dev}", "labels: { tier: dev }").replace(
        "facts: {arch: amd64, cpu: {cores: 8}, memory: 32Gi}",
        "facts: { arch: amd64, cpu: { cores: 8 }, memory: 32Gi, nodeLabels: { kubernetes.io/arch: amd64, "
        "kubernetes.io/hostname: local-node-1 } }")
    path.write_text(before)
    (repo / "nodes.json").write_text(node_list(node("local-node-1", capacity={"cpu": "16", "memory": "32Gi"})))
    run = easel("inventory", "import", "--cluster", "local", "nodes.json", cwd=repo)
    assert run.code == 0 and "1 updated" in run.out, run.text
    assert path.read_text() == before.replace(
        "facts: { arch: amd64, cpu: { cores: 8 }, memory: 32Gi, nodeLabels: { kubernetes.io/arch: amd64, "
        "kubernetes.io/hostname: local-node-1 } }",
        "facts: {arch: amd64, cpu: {cores: 16}, memory: 32Gi, nodeLabels: {kubernetes.io/arch: amd64, "
        "kubernetes.io/hostname: local-node-1}}")


def test_quantities_are_written_in_the_units_people_write(repo):
    _repo(repo, node_list(node("gpu-1", labels=A100, capacity=GIB_755), node("odd", capacity={"memory": "791234560Ki"}),
                          node("uneven", capacity={"memory": "527952012Ki"})))
    assert easel("inventory", "import", "--cluster", "gpu-a", "nodes.json", cwd=repo).code == 0
    facts = {d["metadata"]["name"]: d["spec"]["facts"]
             for d in yaml.safe_load_all((repo / "clusters/gpu-a-devices.yaml").read_text())}
    assert facts["gpu-1"]["memory"] == "755Gi" and facts["gpu-1"]["gpus"][0]["memory"] == "80Gi"
    assert facts["odd"]["memory"] == "772690Mi"  # not a whole number of GiB: the largest unit that divides it
    assert facts["uneven"]["memory"] == "527952012Ki"


@pytest.mark.parametrize(("given", "written"), [
    ("791674880Ki", "755Gi"), ("81920Mi", "80Gi"), ("791234560Ki", "772690Mi"), ("85899345920", "80Gi"),
    ("527952012Ki", "527952012Ki"), ("2Ti", "2Ti"), ("80G", "80G"), ("1.5Gi", "1.5Gi"), ("0.5", "0.5"),
])
def test_a_byte_quantity_is_written_in_the_largest_binary_unit_that_divides_it(given, written):
    assert quantity.written(given) == written
    assert quantity.parse(quantity.written(given)) == quantity.parse(given)
