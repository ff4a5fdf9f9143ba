"""Placement: selectors, taints, Kubernetes versions, GPU capacity shared in a stable order, prioritizers,
numberOfClusters, quotas, and the reason every cluster was passed over."""

from __future__ import annotations

import builders
from builders import docs
from builders import gpu_device as device
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario import chosen, codes, compile_files, decision, replaced

from compiler.load.source import MemorySource
from compiler.pipeline import compile_repository
from compiler.reports import explain


def cluster(name: str, tier: str = "prod", gpus: list[str] | None = None, k8s: str = "1.30.1", spec: str = "",
            labels: str | None = None) -> str:
    """A cluster of the tier (its only label, unless labels are given) with the GPU devices."""
    return builders.cluster(name, labels or f"{{tier: {tier}}}", k8s=k8s, spec=spec, devices=gpus)


def base(environment: str = "", project_quota: str = "gpus: 100", profile_extra: str = "") -> dict[str, str]:
    return {
        "environments/env.yaml": docs(f"""
kind: Project
metadata: {{name: team}}
spec:
  quota: {{{project_quota}}}
""", f"""
kind: Environment
metadata: {{name: prod}}
spec:
  projects: [team]
  placement:
    clusterSelector: {{matchLabels: {{tier: prod}}}}
{environment}
"""),
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  parameters:
    gpus: {{type: integer, default: 1}}
    product: {{type: string, default: A}}
    replicas: {{type: integer, default: 1}}
{profile_extra}
  components:
    - name: main
      type: webservice
      properties: {{image: "registry.example.com/app:1", replicas: "{{{{ params.replicas }}}}"}}
      traits:
        - type: gpu
          properties: {{count: "{{{{ params.gpus }}}}", product: "{{{{ params.product }}}}"}}
"""),
    }


def workload(name: str, gpus: int = 1, product: str = "A", replicas: int = 1) -> dict[str, str]:
    return {f"workloads/{name}.yaml": docs(f"""
kind: Workload
metadata: {{name: {name}}}
spec:
  project: team
  environment: prod
  profile: {{name: app}}
  parameters: {{gpus: {gpus}, product: {product}, replicas: {replicas}}}
""")}


def reasons(result, workload_id: str) -> dict[str, str]:
    """Why each cluster was passed over, in the words `explain` prints."""
    return {cluster: str(reason) for cluster, reason in decision(result, workload_id).placement.reasons.items()}


def test_selector_taints_and_versions_give_the_first_reason():
    files = {**base(), **workload("w", gpus=1),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")]),
             "clusters/dev.yaml": cluster("dev", tier="dev", gpus=[device("dev-1")]),
             "clusters/tainted.yaml": cluster("tainted", gpus=[device("t-1")],
                                              spec="taints: [{key: maintenance, effect: NoSelect}]"),
             "clusters/old.yaml": cluster("old", k8s="1.27.3", gpus=[device("o-1")])}
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace("  components:", "  requires: {kubernetes: \">=1.28\"}\n  components:")
    result = compile_files(files)
    assert codes(result) == []
    assert chosen(result) == {"team/w": ["a"]}
    why = reasons(result, "team/w")
    assert why["dev"] == "not selected: label tier is 'dev', selector wants 'prod'"
    assert why["tainted"] == "taint maintenance:NoSelect is not tolerated by environment 'prod'"
    assert why["old"] == "Kubernetes 1.27.3 does not satisfy >=1.28"


def test_toleration_admits_a_tainted_cluster():
    env = "    tolerations: [{key: maintenance, operator: Exists}]"
    files = {**base(env), **workload("w"),
             "clusters/tainted.yaml": cluster("tainted", gpus=[device("t-1")],
                                              spec="taints: [{key: maintenance, effect: NoSelect}]")}
    assert chosen(compile_files(files)) == {"team/w": ["tainted"]}


def test_gpu_capacity_is_shared_in_workload_order():
    # a: 4 GPUs. w1 (first by name) takes 3; w2 asks 2 and no longer fits.
    files = {**base(), **workload("w1", gpus=3), **workload("w2", gpus=2),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=4)])}
    result = compile_files(files)
    assert codes(result) == ["E601"]
    assert reasons(result, "team/w2")["a"] == "needs 2 × A; 4 on ready devices, 3 allocated to team/w1"


def test_replicas_multiply_the_gpu_demand():
    files = {**base(), **workload("w", gpus=2, replicas=3),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=4), device("a-2", count=4)])}
    result = compile_files(files)
    assert chosen(result) == {"team/w": ["a"]}
    assert [(a.product, a.count) for a in decision(result).allocations["a"]] == [("A", 6)]


def test_a_replica_must_fit_on_one_device():
    files = {**base(), **workload("w", gpus=6),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=4), device("a-2", count=4)])}
    result = compile_files(files)
    assert codes(result) == ["E601"]
    assert reasons(result, "team/w")["a"] == "a replica needs 6 × A on one device; the largest ready device has 4"


def test_cordoned_devices_and_unknown_gpus_never_count():
    gpus = [device("a-1", count=4, state="cordoned"), "{name: a-2, facts: {gpus: [{product: A}]}}"]  # count unknown
    files = {**base(), **workload("w"), "clusters/a.yaml": cluster("a", gpus=gpus)}
    result = compile_files(files)
    assert codes(result) == ["E601"]
    assert reasons(result, "team/w")["a"] == "no A GPUs on ready devices"
    assert "W101" in [d.code for d in result.diagnostics]


def test_manual_tags_win_over_gathered_facts():
    gpus = [("{name: a-1, facts: {gpus: [{product: unknown-vendor-string, count: 1}]}, "
             "tags: {gpu.product: A, gpu.count: 2, gpu.memory: 24Gi}}")]
    files = {**base(), **workload("w", gpus=2), "clusters/a.yaml": cluster("a", gpus=gpus)}
    result = compile_files(files)
    assert chosen(result) == {"team/w": ["a"]}
    assert result.fleet["a"].labels["easel.dev/gpu.product.A"] == "true"
    assert result.fleet["a"].labels["easel.dev/gpu.memory"] == "24"


def test_min_memory_filters_gpu_products():
    extra = "    minMemory: {type: string, default: 48Gi}"
    files = {**base(profile_extra=extra), **workload("w", product="L4"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", product="L4", memory="24Gi")])}
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        'product: "{{ params.product }}"}', 'product: "{{ params.product }}", minMemory: "{{ params.minMemory }}"}')
    result = compile_files(files)
    assert codes(result) == ["E601"]
    assert reasons(result, "team/w")["a"] == "L4 has 24Gi per GPU; needs at least 48Gi"


def test_most_free_gpu_prefers_the_emptiest_cluster_and_ties_go_to_the_name():
    env = "    numberOfClusters: 1\n    prioritizers: [{name: MostFreeGPU}]"
    files = {**base(env), **workload("w1", gpus=1), **workload("w2", gpus=1), **workload("w3", gpus=1),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=2)]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1", count=4)]),
             "clusters/c.yaml": cluster("c", gpus=[device("c-1", count=3)])}
    result = compile_files(files)
    # b (4 free) -> w1; then b 3, c 3: tie, name -> b for w2; then b 2, c 3 -> c for w3
    assert chosen(result) == {"team/w1": ["b"], "team/w2": ["b"], "team/w3": ["c"]}


def test_least_workloads_spreads():
    env = "    numberOfClusters: 1\n    prioritizers: [{name: LeastWorkloads}]"
    files = {**base(env), **workload("w1"), **workload("w2"), **workload("w3"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1")])}
    assert chosen(compile_files(files)) == {"team/w1": ["a"], "team/w2": ["b"], "team/w3": ["a"]}


def test_without_number_of_clusters_every_eligible_cluster_is_chosen():
    files = {**base(), **workload("w"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1")]),
             "clusters/c.yaml": cluster("c", tier="dev", gpus=[device("c-1")])}
    assert chosen(compile_files(files)) == {"team/w": ["a", "b"]}


def test_too_few_eligible_clusters_lists_every_cluster():
    env = "    numberOfClusters: 3"
    files = {**base(env), **workload("w", product="B"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", product="B")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1")]),
             "clusters/c.yaml": cluster("c", tier="dev", gpus=[device("c-1", product="B")])}
    result = compile_files(files)
    assert codes(result) == ["E602"]
    problem = next(d for d in result.diagnostics if d.code == "E602")
    notes = [n.message for n in problem.notes]
    assert notes == ["a: eligible, but only 1 of the 3 clusters asked for are",
                     "b: no B GPUs on ready devices",
                     "c: not selected: label tier is 'dev', selector wants 'prod'"]


def test_project_quota_counts_every_placement():
    files = {**base(project_quota="gpus: 3"), **workload("w1", gpus=1), **workload("w2", gpus=1),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1")])}
    result = compile_files(files)
    # w1 lands on both clusters (2 GPUs); w2 would bring the project to 4 > 3
    assert codes(result) == ["E704"]
    assert chosen(result) == {"team/w1": ["a", "b"]}


def test_project_quota_by_product():
    files = {**base(project_quota="gpus: 100, gpusByProduct: {A: 1}"), **workload("w", gpus=2),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")])}
    result = compile_files(files)
    assert codes(result) == ["E704"]
    assert "2 × A" in next(d.message for d in result.diagnostics if d.code == "E704")


def test_derived_labels_can_be_selected():
    env = "    numberOfClusters: 1\n"
    files = {**base(env), **workload("w"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", product="B")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1", product="A")])}
    files["environments/env.yaml"] = files["environments/env.yaml"].replace(
        "clusterSelector: {matchLabels: {tier: prod}}",
        "clusterSelector: {matchExpressions: [{key: easel.dev/gpu.product.A, operator: Exists}]}")
    result = compile_files(files)
    assert chosen(result) == {"team/w": ["b"]}
    assert reasons(result, "team/w")["a"] == "not selected: label easel.dev/gpu.product.A is not set"


def test_same_input_same_placement_whatever_the_file_order():
    files = {**base(), **workload("w1"), **workload("w2", gpus=2),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1")])}
    forward = chosen(compile_files(files))
    backward = chosen(compile_files(dict(reversed(list(files.items())))))
    assert forward == backward


def _sharing_profile(files: dict[str, str], gpu_properties: str) -> dict[str, str]:
    return replaced(files, "profiles/app.yaml", 'properties: {count: "{{ params.gpus }}", product: "{{ params.product }}"}',
                    f"properties: {gpu_properties}")


def test_time_slicing_asks_use_time_sliced_gpus_only():
    shared = [("{name: s-1, facts: {arch: amd64, gpus: [{product: A, memory: 80Gi, count: 2, "
               "timeSlicing: {replicas: 4}}]}}")]
    files = {**base(), **workload("slices"), "clusters/a.yaml": cluster("a", gpus=shared),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1", count=4)])}
    files = _sharing_profile(files, "{count: 3, product: A, sharing: time-slicing}")
    result = compile_files(files)
    assert codes(result) == []
    assert chosen(result) == {"team/slices": ["a"]}  # 2 GPUs × 4 slots on a; b's GPUs are whole
    assert reasons(result, "team/slices")["b"] == "no A GPUs (time-slicing) on ready devices"
    assert decision(result).allocations["a"][0].pool == "A (time-slicing)"
    # GPU Feature Discovery labels time-sliced nodes with the product and -SHARED: that is what pods select
    release = result.files["clusters/a/workloads/team/slices/main/objects.yaml"]
    assert "nvidia.com/gpu.product: A-SHARED" in release, release
    assert result.plans.clusters["a"].release("team/slices").bookings[0].node_selector == {
        "nvidia.com/gpu.product": "A-SHARED"}


def test_exclusive_asks_do_not_take_shared_or_partitioned_gpus():
    gpus = ["{name: s-1, facts: {gpus: [{product: A, count: 2, timeSlicing: {replicas: 4}}]}}",
            "{name: m-1, facts: {gpus: [{product: A, count: 1, mig: {3g.40gb: 2}}]}}"]
    files = {**base(), **workload("whole"), "clusters/a.yaml": cluster("a", gpus=gpus)}
    result = compile_files(files)
    assert codes(result) == ["E601"]
    assert reasons(result, "team/whole")["a"] == "no A GPUs on ready devices"
    assert sorted(result.fleet["a"].gpus) == ["A (mig-3g.40gb)", "A (time-slicing)"]
    assert result.fleet["a"].labels["easel.dev/gpu.count"] == "3"


def test_mig_asks_need_instances_of_their_profile():
    gpus = ["{name: m-1, facts: {gpus: [{product: A, memory: 80Gi, count: 1, mig: {3g.40gb: 2, 1g.10gb: 3}}]}}"]
    original = {**base(), **workload("small"), "clusters/a.yaml": cluster("a", gpus=gpus)}
    files = _sharing_profile(original, '{count: 2, product: A, sharing: mig, migProfile: 3g.40gb, minMemory: 32Gi}')
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    [allocation] = decision(result).allocations["a"]
    assert (allocation.pool, allocation.count) == ("A (mig-3g.40gb)", 2)
    release = result.files["clusters/a/workloads/team/small/main/objects.yaml"]
    assert "nvidia.com/mig-3g.40gb: 2" in release
    too_big = _sharing_profile(original, '{count: 1, product: A, sharing: mig, migProfile: 1g.10gb, minMemory: 20Gi}')
    result = compile_files(too_big)
    assert reasons(result, "team/small")["a"] == "A (mig-1g.10gb) has 10Gi per GPU; needs at least 20Gi"


def test_a_profile_can_require_an_architecture():
    arm = ["{name: g-1, facts: {arch: arm64, gpus: [{product: GH200, memory: 96Gi, count: 1}]}}"]
    files = {**base(), **workload("on-arm", product="GH200"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", product="GH200")]),  # amd64
             "clusters/b.yaml": cluster("b", gpus=arm)}
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace("  components:", "  requires: {arch: arm64}\n  components:")
    result = compile_files(files)
    assert chosen(result) == {"team/on-arm": ["b"]}
    assert reasons(result, "team/on-arm")["a"] == "no ready arm64 devices; the profile requires arm64"


# --- sticky placement (easel.lock) -------------------------------------------------------------------------

from compiler.record import lockfile  # noqa: E402
from compiler.record.decisions import Decisions, WorkloadDecision  # noqa: E402


def _recompile(files: dict[str, str], previous) -> object:
    """Compile files with the lock the previous compile wrote."""
    return compile_files({**files, "easel.lock": previous.lock_text})


def test_adding_a_cluster_moves_nothing():
    env = "    numberOfClusters: 1\n    prioritizers: [{name: MostFreeGPU}]"
    files = {**base(env), **workload("w"), "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=4)])}
    first = compile_files(files)
    assert chosen(first) == {"team/w": ["a"]}
    files["clusters/b.yaml"] = cluster("b", gpus=[device("b-1", count=8)])  # more free GPUs: would win anew
    assert chosen(compile_files(files)) == {"team/w": ["b"]}
    again = _recompile(files, first)
    assert chosen(again) == {"team/w": ["a"]}
    assert decision(again).placement.kept == ("a",)


def test_adding_a_workload_moves_nothing():
    env = "    numberOfClusters: 1\n    prioritizers: [{name: MostFreeGPU}]"
    files = {**base(env), **workload("m", gpus=3),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=4)]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1", count=3)])}
    first = compile_files(files)
    assert chosen(first) == {"team/m": ["a"]}
    # "a-new" sorts before "m": placed first from scratch, it would take a and push m to b
    files.update(workload("a-new", gpus=3))
    assert chosen(compile_files(files)) == {"team/a-new": ["a"], "team/m": ["b"]}
    again = _recompile(files, first)
    assert chosen(again) == {"team/a-new": ["b"], "team/m": ["a"]}


def test_a_cluster_that_stops_being_eligible_moves_only_its_workloads():
    env = "    numberOfClusters: 1\n    prioritizers: [{name: LeastWorkloads}]"
    files = {**base(env), **workload("w1"), **workload("w2"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1")]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1")]),
             "clusters/c.yaml": cluster("c", gpus=[device("c-1")])}
    first = compile_files(files)
    assert chosen(first) == {"team/w1": ["a"], "team/w2": ["b"]}
    files["clusters/a.yaml"] = cluster("a", gpus=[device("a-1")], spec="taints: [{key: drain, effect: NoSelect}]")
    again = _recompile(files, first)
    assert chosen(again) == {"team/w1": ["c"], "team/w2": ["b"]}
    moved = decision(again, "team/w1").placement
    assert {cluster: str(why) for cluster, why in moved.left.items()} == {
        "a": "taint drain:NoSelect is not tolerated by environment 'prod'"}


def test_no_select_if_new_keeps_what_runs_and_admits_nothing_new():
    env = "    numberOfClusters: 1"
    files = {**base(env), **workload("old"), "clusters/a.yaml": cluster("a", gpus=[device("a-1")])}
    first = compile_files(files)
    files["clusters/a.yaml"] = cluster("a", gpus=[device("a-1")],
                                       spec="taints: [{key: retiring, effect: NoSelectIfNew}]")
    files.update(workload("young"))
    files["clusters/b.yaml"] = cluster("b", gpus=[device("b-1")])
    again = _recompile(files, first)
    assert chosen(again) == {"team/old": ["a"], "team/young": ["b"]}
    assert reasons(again, "team/young")["a"].startswith("taint retiring:NoSelectIfNew")


def test_spread_balances_chosen_clusters_over_a_label():
    env = "    numberOfClusters: 2\n    spread: {by: region}"
    regions = {"a": "east", "b": "east", "c": "west"}
    files = {**base(env), **workload("w", gpus=1)}
    for name, region in regions.items():
        files[f"clusters/{name}.yaml"] = cluster(name, gpus=[device(f"{name}-1", count=8 if name != "c" else 1)],
                                                 labels=f"{{tier: prod, region: {region}}}")
    result = compile_files(files)
    # MostFreeGPU alone would pick a and b (both east); spread takes one east, one west
    assert chosen(result) == {"team/w": ["a", "c"]}


def test_the_lock_is_deterministic_and_round_trips():
    files = {**base(), **workload("w"), "clusters/a.yaml": cluster("a", gpus=[device("a-1")])}
    result = compile_files(files)
    parsed, problems = lockfile.parse(result.lock_text)
    assert problems == [] and {w: d.clusters for w, d in parsed.workloads.items()} == {"team/w": ("a",)}
    assert lockfile.dump(parsed) == result.lock_text
    assert codes(compile_files({**files, "easel.lock": "placements: [oops"})) == ["E108"]


def test_a_kept_workload_is_booked_again_on_the_devices_the_lock_records():
    """Regression (hypothesis): m needs 2 GPUs on one device, a-new 1. Booked anew in name order, a-new would
    take the 2-GPU device and leave m nowhere; the lock records each one's devices, so compiling again with
    the lock a compile wrote books the same and unplaces nothing (compile_files checks the fixed point)."""
    env = "    numberOfClusters: 1"
    files = {**base(env), **workload("m", gpus=2),
             "clusters/a.yaml": cluster("a", gpus=[device("a-0", count=2), device("a-1", count=1)])}
    first = compile_files(files)
    files.update(workload("a-new", gpus=1))
    grown = _recompile(files, first)
    assert codes(grown) == [] and chosen(grown) == {"team/a-new": ["a"], "team/m": ["a"]}
    assert {w: dict(d.devices) for w, d in grown.decisions.workloads.items()} == {
        "team/a-new": {"a": {"main": {"a-1": 1}}}, "team/m": {"a": {"main": {"a-0": 2}}}}
    again = _recompile(files, grown)
    assert codes(again) == [] and again.lock_text == grown.lock_text
    assert "devices:\n  team/a-new:\n    a: 'main: a-1=1'\n" in grown.lock_text  # a line per placement


def test_devices_as_the_first_locks_wrote_them_still_load():
    files = {**base(), **workload("w"), "clusters/a.yaml": cluster("a", gpus=[device("a-1")])}
    result = compile_files(files)
    nested = result.lock_text.replace("    a: 'main: a-1=1'\n", "    a:\n      main:\n        a-1: 1\n")
    parsed, problems = lockfile.parse(nested)
    assert problems == [] and parsed.workloads["team/w"].devices == {"a": {"main": {"a-1": 1}}}
    assert compile_files({**files, "easel.lock": nested}).lock_text == result.lock_text


def test_a_lock_without_devices_still_loads():
    files = {**base(), **workload("w"), "clusters/a.yaml": cluster("a", gpus=[device("a-1")])}
    result = compile_files(files)
    older = result.lock_text.replace("devices:\n  team/w:\n    a: 'main: a-1=1'\n", "")
    assert "devices:" in result.lock_text and "devices:" not in older
    parsed, problems = lockfile.parse(older)
    assert problems == [] and parsed.workloads["team/w"].devices == {}
    assert compile_files({**files, "easel.lock": older}).lock_text == result.lock_text


_NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_NAMES, st.dictionaries(_NAMES, st.dictionaries(_NAMES, st.integers(1, 64), min_size=1,
                                                                        max_size=3), min_size=1, max_size=3),
                       min_size=1, max_size=3))
def test_the_devices_a_lock_records_read_back_as_written(devices):
    """Any booking (cluster -> component -> device -> GPUs) written to easel.lock reads back the same."""
    decisions = Decisions(workloads={"team/w": WorkloadDecision("team/w", "app", "1.0.0", clusters=tuple(devices),
                                                                devices=devices)})
    parsed, problems = lockfile.parse(lockfile.dump(decisions))
    assert problems == [] and parsed.workloads["team/w"].devices == devices


def _explained(result, name: str) -> dict[str, str]:
    """Each cluster's line of `easel explain`'s placement, by cluster."""
    text = explain.workload_text(explain.workload_report(result, result.model.workloads[("team", name)]))
    return {line.split()[1]: line.split(None, 2)[2] for line in text.splitlines() if line[:3] in ("  ✓", "  ·")}


def test_explain_says_a_tie_on_score_went_to_the_name():
    files = {**base("    numberOfClusters: 1\n    prioritizers: [{name: MostFreeGPU}]"), **workload("w1"),
             "clusters/a.yaml": cluster("a", gpus=[device("a-1", count=2)]),
             "clusters/b.yaml": cluster("b", gpus=[device("b-1", count=2)]),
             "clusters/c.yaml": cluster("c", gpus=[device("c-1", count=1)])}
    result = compile_files(files)
    assert _explained(result, "w1") == {
        "a": "chosen (score 100.0, tied with b: the first name); runs 1.0.0; takes 1 × A (1 on device 'a-1')",
        "b": "eligible, tied with a on score 100.0: of equal scores the first name is chosen",
        "c": "eligible, but score 0.0: clusters with a higher score were chosen"}
    again = compile_repository(MemorySource({**files, "easel.lock": result.lock_text}))  # kept: scores do not count
    assert _explained(again, "w1") == {
        "a": "chosen (kept from easel.lock); runs 1.0.0; takes 1 × A (1 on device 'a-1')",
        "b": "eligible, but the 1 cluster(s) wanted are kept from easel.lock",
        "c": "eligible, but the 1 cluster(s) wanted are kept from easel.lock"}
