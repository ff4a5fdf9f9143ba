"""The fidelity check (tests/fidelity.py) on every repository the suite compiles whole, and proof that it catches
each way a booking can fail to reach the pods. (Every scenario compiled through tests/scenario.py is checked
too, by compile_files.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

import fidelity
from compiler.pipeline import compile_repository
from compiler.source import DirectorySource, MemorySource
from conftest import INIT_REPO, ROOT
from test_trait_reach import CRONJOB, _chart_files, _files, GPU

BENCH = ROOT / "bench" / "fleet.py"


def _compiled(source):
    result = compile_repository(source)
    assert result.files is not None, [d.text for d in result.diagnostics if d.is_error]
    return result


def _gpu_bookings(result) -> int:
    return sum(len(b.gpus) for plan in result.plans.clusters.values() for r in plan.releases for b in r.bookings)


@pytest.mark.parametrize("name", ["example", "init", "bench-fleet"])
def test_every_booked_gpu_is_requested_in_the_compiled_tree(name, tmp_path):
    if name == "example":
        source = DirectorySource(ROOT)
    elif name == "init":
        source = DirectorySource(INIT_REPO)
    else:
        subprocess.run([sys.executable, str(BENCH), str(tmp_path / "fleet"), "--clusters", "6", "--workloads", "6",
                        "--argocd-half"], check=True, capture_output=True)
        source = DirectorySource(tmp_path / "fleet")
    result = _compiled(source)
    assert fidelity.check(result) == []
    if name != "init":
        assert _gpu_bookings(result) > 0  # the check had GPUs to look at


def _broken(result, path: str, old: str, new: str):
    assert old in result.files[path], result.files[path]
    result.files[path] = result.files[path].replace(old, new)
    return fidelity.check(result)


def test_it_catches_a_limit_that_does_not_match_the_booking():
    result = compile_repository(MemorySource(_files(CRONJOB)))
    path = "clusters/c/workloads/team/w/job.yaml"
    assert any("booked 2 nvidia.com/gpu per replica" in p for p in _broken(result, path, "nvidia.com/gpu: 2",
                                                                          "nvidia.com/gpu: 1"))


def test_it_catches_a_missing_selector_and_toleration():
    result = compile_repository(MemorySource(_files(CRONJOB)))
    path = "clusters/c/workloads/team/w/job.yaml"
    problems = _broken(result, path, "nvidia.com/gpu.product: A", "nvidia.com/gpu.product: B")
    assert any("nodeSelector" in p for p in problems)
    problems = _broken(result, path, "key: nvidia.com/gpu\n", "key: something-else\n")
    assert any("toleration" in p for p in problems)


def test_it_catches_a_chart_patch_that_misses_the_container():
    files = _chart_files(', target: {kind: Deployment, name: ".*-engine"}, container: vllm', GPU)
    result = compile_repository(MemorySource(files))
    path = "clusters/c/workloads/team/w/server.yaml"
    assert any("no values mapping or patch of container 'vllm'" in p
               for p in _broken(result, path, "name: vllm", "name: router"))


def test_it_catches_a_chart_value_that_does_not_match():
    result = compile_repository(MemorySource(_chart_files(', traitValues: {gpu.count: "engine.gpus"}', GPU)))
    path = "clusters/c/workloads/team/w/server.yaml"
    assert any("values engine.gpus is 3" in p for p in _broken(result, path, "gpus: 2", "gpus: 3"))


def test_it_counts_the_pods_of_custom_kinds_where_their_definition_says():
    from test_pod_templates import RAY, RAY_TEMPLATES, WORKER_GPU, _files as custom_files
    result = compile_repository(MemorySource(custom_files(RAY, RAY_TEMPLATES, WORKER_GPU)))
    path = "clusters/c/workloads/team/w/run.yaml"
    assert any("booked 1 nvidia.com/gpu × 2 pods; the pods request 3 in all" in p
               for p in _broken(result, path, "replicas: 2", "replicas: 3"))
