"""Node selection that real nodes satisfy: the selectors easel renders match the labels of a device it booked, as
the node really carries them (recorded by `inventory import` in `facts.nodeLabels`), or the compile fails with
E603 and says what to label."""

from __future__ import annotations

from builders import cluster_file
from conftest import easel, write_files
from nodes import gfd, node, node_list
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app, replaced


def _files(devices: str | list[str] | None, gpu: str) -> dict[str, str]:
    """A cluster `c` of these devices (YAML flow mappings; None: no devices field) and a workload whose web
    component has the gpu trait."""
    return {
        **TEAM_IN_DEV,
        **cluster_file("c", devices=[devices] if isinstance(devices, str) else devices),
        **one_component_app(f"""    - name: web
      type: webservice
      properties: {{image: registry.example.com/app:1}}
      traits:
        - {{type: gpu, properties: {gpu}}}"""),
    }


def _e603(result) -> str:
    assert codes(result) == ["E603"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E603")
    return f"{problem.text}\n{problem.hint}"


TAGGED = "{name: g, facts: {gpus: [{count: 2}]%s}, tags: {gpu.product: NVIDIA-L40S, gpu.memory: 48Gi}}"


def test_a_gpu_known_only_from_tags_is_not_selected_by_a_label_no_one_has_seen():
    text = _e603(compile_files(_files(TAGGED % "", "{count: 1, product: NVIDIA-L40S}")))
    assert "the pods select nvidia.com/gpu.product=NVIDIA-L40S, but the GPUs of device 'g' are known only " \
           "from its tags" in text
    assert "kubectl label node" in text and "facts.nodeLabels" in text
    labelled = TAGGED % ", nodeLabels: {nvidia.com/gpu.product: NVIDIA-L40S}"
    assert codes(compile_files(_files(labelled, "{count: 1, product: NVIDIA-L40S}"))) == []
    # no product pinned: no selector, nothing to check
    assert codes(compile_files(_files(TAGGED % "", "{count: 1, minMemory: 40Gi}"))) == []


SLICED = "{name: g, facts: {gpus: [{product: NVIDIA-L4, count: 1, timeSlicing: {replicas: 4}}]%s}}"


def test_time_sliced_gpus_are_selected_by_the_product_label_their_nodes_carry():
    ask = "{count: 1, product: NVIDIA-L4, sharing: time-slicing}"
    result = compile_files(_files(SLICED % "", ask))  # gathered, labels not recorded: GFD's default, -SHARED
    assert codes(result) == []
    assert "nvidia.com/gpu.product: NVIDIA-L4-SHARED" in result.files["clusters/c/workloads/team/w/web/objects.yaml"]
    shared = ", nodeLabels: {nvidia.com/gpu.product: NVIDIA-L4-SHARED, nvidia.com/gpu.replicas: '4'}"
    assert codes(compile_files(_files(SLICED % shared, ask))) == []
    renamed = ", nodeLabels: {nvidia.com/gpu.product: NVIDIA-L4, nvidia.com/gpu.replicas: '4'}"
    text = _e603(compile_files(_files(SLICED % renamed, ask)))
    assert "the pods select nvidia.com/gpu.product=NVIDIA-L4-SHARED; device 'g' is labelled " \
           "nvidia.com/gpu.product=NVIDIA-L4" in text


def test_mig_instances_need_the_mixed_strategy():
    device = ("{name: g, facts: {gpus: [{product: NVIDIA-A100-SXM4-80GB, count: 1, mig: {3g.40gb: 2}}], "
              "nodeLabels: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB, nvidia.com/mig.strategy: %s}}}")
    ask = "{count: 1, product: NVIDIA-A100-SXM4-80GB, sharing: mig, migProfile: 3g.40gb}"
    assert codes(compile_files(_files(device % "mixed", ask))) == []
    text = _e603(compile_files(_files(device % "single", ask)))
    assert "nvidia.com/mig.strategy=single, which offers MIG instances as nvidia.com/gpu, not " \
           "nvidia.com/mig-3g.40gb" in text


def test_one_of_several_products_is_enough_and_a_missing_label_is_named():
    two = ["{name: a, facts: {gpus: [{product: A, count: 1}], nodeLabels: {nvidia.com/gpu.product: A}}}",
           "{name: b, facts: {gpus: [{product: B, count: 1}], nodeLabels: {kubernetes.io/arch: amd64}}}"]
    assert codes(compile_files(_files(two, "{count: 1, product: [A, B]}"))) == []
    text = _e603(compile_files(_files(two, "{count: 1, product: B}")))
    assert "the pods select nvidia.com/gpu.product=B; device 'b' has no nvidia.com/gpu.product label" in text


def test_imported_time_sliced_nodes_compile_with_the_labels_they_carry(tmp_path):
    labels = {**gfd("NVIDIA-L4-SHARED", 1, 23034), "nvidia.com/gpu.replicas": "4"}
    files = _files(None, "{count: 1, product: NVIDIA-L4, sharing: time-slicing}")
    write_files(tmp_path, {**files, "nodes.json": node_list(node("l4-1", labels=labels,
                                                                 capacity={"nvidia.com/gpu": "4"}))})
    assert easel("inventory", "import", "--cluster", "c", "nodes.json", cwd=tmp_path).code == 0
    assert "nvidia.com/gpu.product: NVIDIA-L4-SHARED" in (tmp_path / "clusters/c-devices.yaml").read_text()
    run = easel("compile", cwd=tmp_path)
    assert run.code == 0, run.text
    web = (tmp_path / "output/clusters/c/workloads/team/w/web/objects.yaml").read_text()
    assert "nvidia.com/gpu.product: NVIDIA-L4-SHARED" in web


def test_a_node_selector_no_labelled_worker_carries_is_an_error_when_every_workers_labels_are_known():
    files = _files("{name: w1, facts: {nodeLabels: {pool: general}}}", "{count: 1}")
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        "- {type: gpu, properties: {count: 1}}", "- {type: node-placement, properties: {nodeSelector: {pool: batch}}}")
    text = _e603(compile_files(files))
    assert "the pods select pool=batch; device 'w1' is labelled pool=general" in text
    unknown = replaced_device(files, "{name: w1, facts: {nodeLabels: {pool: general}}}", "{name: w1}")
    assert codes(compile_files(unknown)) == []  # labels not recorded: nothing to check against


def replaced_device(files: dict[str, str], old: str, new: str) -> dict[str, str]:
    return replaced(files, "clusters/c.yaml", old, new)
