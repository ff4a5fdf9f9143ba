"""Placement invariants, over fleets and workloads hypothesis makes up:
no cluster gives out more GPUs than it has; the same input gives the same placement; adding an unrelated
cluster or workload never moves an existing placement; every unplaced workload has a reason per cluster."""

from __future__ import annotations

from collections import defaultdict

from builders import cluster_file, docs, gpu_device
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario import compile_files

PRODUCTS = ("A", "B")
TIERS = ("prod", "dev")

clusters_strategy = st.lists(
    st.tuples(st.sampled_from(TIERS), st.sampled_from(PRODUCTS), st.lists(st.integers(0, 4), min_size=0, max_size=3)),
    min_size=1, max_size=5)
workloads_strategy = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(PRODUCTS), st.sampled_from(TIERS)), min_size=1, max_size=6)


def repo(clusters, workloads, number_of_clusters) -> dict[str, str]:
    files = {"environments/env.yaml": docs("""
kind: Project
metadata: {name: team}
spec: {quota: {gpus: 1000}}
""", *(f"""
kind: Environment
metadata: {{name: {tier}}}
spec:
  projects: [team]
  placement:
    clusterSelector: {{matchLabels: {{tier: {tier}}}}}
{f"    numberOfClusters: {number_of_clusters}" if number_of_clusters else ""}
""" for tier in TIERS)), "profiles/app.yaml": docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  parameters:
    gpus: {type: integer, default: 0}
    product: {type: string, default: A}
  components:
    - name: main
      type: manifests
      properties:   # a Deployment: a gpu trait on a component without pods is an error (E409)
        objects: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: x}, spec: {
          selector: {matchLabels: {app: x}},
          template: {metadata: {labels: {app: x}}, spec: {containers: [{name: app, image: app}]}}}}]
""")}
    for index, (tier, product, devices) in enumerate(clusters):
        listed = [gpu_device(f"d{d}", product, count, state=None, arch=None) for d, count in enumerate(devices)]
        files.update(cluster_file(f"c{index}", f"{{tier: {tier}}}", k8s="1.30.0", devices=listed or None))
    for index, (gpus, product, tier) in enumerate(workloads):
        files[f"workloads/w{index}.yaml"] = _workload(f"w{index}", gpus, product, tier)
    return files


def _workload(name: str, gpus: int, product: str, tier: str) -> str:
    traits = f'  traits: {{main: [{{type: gpu, properties: {{count: {gpus}, product: {product}}}}}]}}\n' if gpus else ""
    return docs(f"""
kind: Workload
metadata: {{name: {name}}}
spec:
  project: team
  environment: {tier}
  profile: {{name: app}}
""") + traits


def placements(result) -> dict[str, list[str]]:
    return {w: list(d.clusters) for w, d in result.decisions.workloads.items() if d.placement and d.placement.placed}


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(clusters_strategy, workloads_strategy, st.sampled_from([None, 1, 2]))
def test_no_cluster_gives_out_more_gpus_than_it_has(clusters, workloads, number):
    result = compile_files(repo(clusters, workloads, number), render=False)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for decided in result.decisions.workloads.values():
        for cluster, allocations in decided.allocations.items():
            for allocation in allocations:
                taken[(cluster, allocation.pool)] += allocation.count
    for (cluster, pool), count in taken.items():
        assert count <= result.fleet[cluster].gpus[pool].total


@PROPERTY
@given(clusters_strategy, workloads_strategy, st.sampled_from([None, 1, 2]))
def test_the_same_input_gives_the_same_placement(clusters, workloads, number):
    files = repo(clusters, workloads, number)
    first = compile_files(files, render=False)
    second = compile_files(dict(reversed(list(files.items()))), render=False)
    assert placements(first) == placements(second)
    assert [(d.code, d.message) for d in first.diagnostics] == [(d.code, d.message) for d in second.diagnostics]


@PROPERTY
@given(clusters_strategy, workloads_strategy, st.sampled_from([None, 1, 2]), st.data())
def test_adding_a_cluster_or_a_workload_moves_nothing_placed(clusters, workloads, number, data):
    files = repo(clusters, workloads, number)
    first = compile_files(files)
    if first.lock_text is None:  # the repository has errors (e.g. a workload that fits nowhere)
        return
    before = placements(first)
    grown = dict(files)
    if data.draw(st.booleans(), label="add a cluster"):
        tier, product, devices = data.draw(clusters_strategy)[0]
        grown.update({k.replace("c0", "new"): v.replace("c0", "new") for k, v in
                      repo([(tier, product, devices)], [], number).items() if k.startswith("clusters/")})
    else:
        gpus, product, tier = data.draw(workloads_strategy)[0]
        grown["workloads/added.yaml"] = _workload("added", gpus, product, tier)
    after = compile_files({**grown, "easel.lock": first.lock_text})
    moved = {w: (before[w], clusters) for w, clusters in placements(after).items()
             if w in before and not set(before[w]) <= set(clusters)}
    assert moved == {}


@PROPERTY
@given(clusters_strategy, workloads_strategy, st.sampled_from([None, 1, 2]))
def test_every_unplaced_workload_has_a_reason_for_every_cluster(clusters, workloads, number):
    result = compile_files(repo(clusters, workloads, number), render=False)
    for workload_id, decided in result.decisions.workloads.items():
        placement = decided.placement
        if not placement.placed:
            assert set(placement.reasons) == set(result.fleet), workload_id
            assert all(str(reason) for reason in placement.reasons.values())
            failure = next(d for d in result.diagnostics
                           if d.code in ("E601", "E602", "E704") and workload_id in d.message)
            if failure.code != "E704":
                assert len(failure.notes) == len(result.fleet)
