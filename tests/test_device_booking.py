"""A booking is packed onto devices: each pod gets all of its GPUs on one device (a pod runs on one node), and
every device a booking spans must run its pods. Pool totals alone would book GPUs scattered over devices no pod
can use, or pods on a node that lacks the label they select."""

from __future__ import annotations

from builders import cluster_file, docs
from scenario import TEAM_IN_DEV, codes, compile_files, decision

PROFILE = docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  parameters: {gpus: {type: integer, default: 1}}
  components:
    - name: web
      type: webservice
      properties: {image: registry.example.com/app:1}
      traits:
        - {type: gpu, properties: {count: "{{ params.gpus }}", product: NVIDIA-T4}}
""")


def _workloads(*gpus: int) -> dict[str, str]:
    return {f"workloads/w{i}.yaml": docs(f"""
kind: Workload
metadata: {{name: w{i}}}
spec: {{project: team, environment: dev, profile: {{name: app}}, parameters: {{gpus: {count}}}}}
""") for i, count in enumerate(gpus, start=1)}


def _files(devices: list[str], *gpus: int) -> dict[str, str]:
    return {**TEAM_IN_DEV, **cluster_file("c", devices=devices), "profiles/app.yaml": PROFILE, **_workloads(*gpus)}


GATHERED = "{name: %s, facts: {gpus: [{product: NVIDIA-T4, count: %d, memory: 16Gi}]}}"
TAGGED = "{name: %s, facts: {gpus: [{count: %d}]}, tags: {gpu.product: NVIDIA-T4, gpu.memory: 16Gi}}"


def test_three_single_gpu_asks_over_a_device_known_only_from_tags_name_that_device():
    result = compile_files(_files([TAGGED % ("tagged", 1), GATHERED % ("seen", 2)], 1, 1, 1))
    assert codes(result) == ["E603"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E603")
    # the two pods that fit on the device whose labels were seen go there; the third lands on the tagged one
    assert "device 'tagged'" in problem.message and "known only from its tags" in problem.message
    assert "'seen'" not in problem.message
    assert problem.subject.cluster == "c"
    # each booking names the device its pod was packed on
    taken = {w: [a.devices for a in decision(result, f"team/{w}").allocations["c"]] for w in ("w1", "w2", "w3")}
    assert taken == {"w1": [(("seen", 1),)], "w2": [(("seen", 1),)], "w3": [(("tagged", 1),)]}


def test_two_asks_that_fit_on_the_seen_device_compile():
    result = compile_files(_files([TAGGED % ("tagged", 1), GATHERED % ("seen", 2)], 1, 1))
    assert codes(result) == []


def test_free_gpus_scattered_over_devices_do_not_make_a_pod_that_needs_them_on_one():
    # 3 + 3 GPUs; two pods of 2 leave 1 free on each device: 2 free in all, but no device has 2
    result = compile_files(_files([GATHERED % ("a", 3), GATHERED % ("b", 3)], 2, 2, 2))
    assert codes(result) == ["E601"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E601")
    assert "team/w3" in problem.message
    assert any("needs 1 pods × 2 × NVIDIA-T4, each pod's on one device; free: 1 on 'a', 1 on 'b'" in note.message
               for note in problem.notes), [n.message for n in problem.notes]
    spans = {w: decision(result, f"team/{w}").allocations["c"][0].devices for w in ("w1", "w2")}
    assert spans == {"w1": (("a", 2),), "w2": (("b", 2),)}


def test_replicas_are_packed_across_devices_when_one_cannot_hold_them_all():
    files = _files([GATHERED % ("a", 2), GATHERED % ("b", 2)], 1)
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        "        - {type: gpu,", "        - {type: replicas, properties: {count: 3}}\n        - {type: gpu,")
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert decision(result, "team/w1").allocations["c"][0].devices == (("a", 2), ("b", 1))


def test_two_facts_of_one_product_on_a_device_make_one_device_for_a_pod():
    two_facts = "{name: d1, facts: {gpus: [{product: NVIDIA-T4, count: 4, memory: 16Gi}, " \
                "{product: NVIDIA-T4, count: 4, memory: 16Gi}]}}"
    result = compile_files(_files([two_facts], 8))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert decision(result, "team/w1").allocations["c"][0].devices == (("d1", 8),)


def _labelled(name: str, pool: str) -> str:
    return (f"{{name: {name}, facts: {{gpus: [{{product: NVIDIA-T4, count: 2, memory: 16Gi}}], "
            f"nodeLabels: {{nvidia.com/gpu.product: NVIDIA-T4, pool: {pool}}}}}}}")


def _selecting(files: dict[str, str], pool: str) -> dict[str, str]:
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        "        - {type: gpu,", f"        - {{type: node-placement, properties: {{nodeSelector: {{pool: {pool}}}}}}}\n"
        "        - {type: gpu,")
    return files


def test_pods_are_packed_only_on_devices_whose_nodes_their_selector_admits():
    result = compile_files(_selecting(_files([_labelled("d1", "a"), _labelled("d2", "b")], 1), "b"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert decision(result, "team/w1").allocations["c"][0].devices == (("d2", 1),)


def test_no_device_whose_node_the_selector_admits_has_room_says_so():
    result = compile_files(_selecting(_files([_labelled("d1", "a"), _labelled("d2", "b")], 1, 2), "b"))
    assert codes(result) == ["E601"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E601")
    assert any("each pod's on one device whose node has pool=b; free: 1 on 'd2'" in n.message for n in problem.notes), \
        [n.message for n in problem.notes]


def test_a_device_whose_recorded_product_label_differs_is_used_last():
    mislabelled = ("{name: d1, facts: {gpus: [{product: NVIDIA-T4, count: 2, memory: 16Gi}], "
                   "nodeLabels: {nvidia.com/gpu.product: Tesla-T4}}}")
    result = compile_files(_files([mislabelled, _labelled("d2", "a")], 1))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert decision(result, "team/w1").allocations["c"][0].devices == (("d2", 1),)
    # when it is all there is, the proof names the label its node lacks
    text = next(d.text for d in compile_files(_files([mislabelled], 1)).diagnostics if d.code == "E603")
    assert "device 'd1' is labelled nvidia.com/gpu.product=Tesla-T4" in text
