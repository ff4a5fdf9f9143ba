"""A GPU ask that lists several products is booked on the product placement took, and its pods are pinned to
it: the affinity that admitted every product in the list (so that pods could land on GPUs easel counts as free)
is narrowed, per cluster, to the products booked there; for one product, a node selector. An ask for any product
is pinned too where the cluster offers the same GPU resource in a product placement did not take."""

from __future__ import annotations

import yaml
from builders import cluster_file, gpu_device
from scenario import TEAM_IN_DEV, compile_files, one_component_app

APP = one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080, replicas: 2}
      traits:
      - type: gpu
        properties: {count: 1, product: [L40S, A100, H100]}
""")


def _pod(result, cluster: str) -> dict:
    text = result.files[f"clusters/{cluster}/workloads/team/w/api/objects.yaml"]
    deployment = next(d for d in yaml.safe_load_all(text) if d["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]


def test_the_pods_are_pinned_to_the_product_placement_took_on_each_cluster():
    files = {**TEAM_IN_DEV, **APP,
             **cluster_file("mixed", devices=[gpu_device("n1", "L40S", 2), gpu_device("n2", "H100", 8)]),
             **cluster_file("big", devices=[gpu_device("n1", "H100", 8), gpu_device("n2", "A100", 8)])}
    result = compile_files(files)
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    taken = {c: {a.product for a in allocations}
             for c, allocations in result.decisions.workloads["team/w"].allocations.items()}
    assert taken == {"mixed": {"L40S"}, "big": {"A100"}}
    for cluster, product in (("mixed", "L40S"), ("big", "A100")):
        pod = _pod(result, cluster)
        assert pod["nodeSelector"] == {"nvidia.com/gpu.product": product}
        assert "affinity" not in pod  # no longer every product of the list
        [booking] = result.plans.clusters[cluster].release("team/w").bookings
        assert booking.gpus[0].products == (product,)


def test_a_list_whose_products_all_serve_keeps_them_all():
    """Placement took one product, but the list is what it is: only the products taken are kept."""
    files = {**TEAM_IN_DEV, **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080, replicas: 2}
      traits:
      - type: gpu
        properties: {count: 1, product: [L40S, H100]}
"""), **cluster_file("c", devices=[gpu_device("n1", "L40S", 8)])}
    result = compile_files(files)
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    assert _pod(result, "c")["nodeSelector"] == {"nvidia.com/gpu.product": "L40S"}


def test_the_proof_refuses_pods_that_can_land_on_products_not_booked():
    from compiler.prove import workload_policies
    from compiler.prove.tree import prove_cluster
    files = {**TEAM_IN_DEV, **APP, **cluster_file("c", devices=[gpu_device("n1", "L40S", 8)])}
    result = compile_files(files)
    tree = {p: t for p, t in result.files.items() if p.startswith("clusters/c/")}
    path = "clusters/c/workloads/team/w/api/objects.yaml"
    every = ("affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
             "[{matchExpressions: [{key: nvidia.com/gpu.product, operator: In, values: [L40S, A100, H100]}]}]}}}")
    pinned = "      nodeSelector:\n        nvidia.com/gpu.product: L40S\n"
    assert pinned in tree[path]
    for edited, found in ((tree[path].replace(pinned, ""), "any product"),
                          (tree[path].replace(pinned, f"      {every}\n"), "A100, H100")):
        problems = prove_cluster(result.plans.clusters["c"], {**tree, path: edited},
                                 workload_policies(result.model))
        assert [p.code for p in problems] == ["E815"], [p.message for p in problems]
        assert f"easel booked L40S; the pods can also land on {found}" in problems[0].message


def _any_product_files(*devices: str) -> dict[str, str]:
    return {**TEAM_IN_DEV, **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080, replicas: 2}
      traits:
      - type: gpu
        properties: {count: 1, minMemory: 40Gi}
"""), **cluster_file("c", devices=list(devices))}


def test_an_ask_for_any_product_is_pinned_where_the_cluster_offers_its_gpus_in_another_product_too():
    # H100 has the most free, so placement takes it; without a selector the pods could land on the L40S node
    result = compile_files(_any_product_files(gpu_device("n1", "L40S", 2, memory="48Gi"),
                                              gpu_device("n2", "H100", 8)))
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    assert {a.product for a in result.decisions.workloads["team/w"].allocations["c"]} == {"H100"}
    assert _pod(result, "c")["nodeSelector"] == {"nvidia.com/gpu.product": "H100"}
    [booking] = result.plans.clusters["c"].release("team/w").bookings
    assert booking.gpus[0].products == ("H100",)


def test_an_ask_for_any_product_is_not_pinned_where_the_product_taken_is_all_there_is():
    result = compile_files(_any_product_files(gpu_device("n1", "H100", 8)))
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    assert "nodeSelector" not in _pod(result, "c")


def test_an_ask_for_whole_gpus_is_pinned_away_from_time_sliced_nodes_of_the_same_resource():
    sliced = "{name: n2, facts: {gpus: [{product: H100, count: 1, memory: 80Gi, timeSlicing: {replicas: 4}}]}}"
    result = compile_files(_any_product_files(gpu_device("n1", "H100", 8), sliced))
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    # both serve nvidia.com/gpu: the whole-GPU pods select H100, not the time-sliced H100-SHARED nodes
    assert _pod(result, "c")["nodeSelector"] == {"nvidia.com/gpu.product": "H100"}
