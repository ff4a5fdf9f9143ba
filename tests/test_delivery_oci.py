"""`gitops.delivery: oci`: each cluster's bootstrap follows its own artifact, and everything inside the tree
points inside the tree (the artifact's root), so what `easel publish --oci` pushes applies as it is."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import k8s_schemas
import pytest
import yaml
from conftest import SHARED, copy_init_repo, easel, write_files

REGISTRY = "registry.example.com/platform/fleet"
SETTINGS = f"""
apiVersion: easel.dev/v1alpha1
kind: Settings
spec:
  gitops:
    engine: flux
    delivery: oci
    oci: {{repository: {REGISTRY}, tag: stable}}
"""
ARGO_CLUSTER = """
apiVersion: easel.dev/v1alpha1
kind: Cluster
metadata:
  name: argo-1
  labels: {tier: dev}
spec:
  source: byoc
  kubernetesVersion: "1.30.2"
  gitops: {engine: argocd}
  devices:
    - name: argo-node-1
      role: worker
      state: ready
      facts: {arch: amd64, cpu: {cores: 8}, memory: 32Gi}
"""


def _kubectl() -> str | None:
    return shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


def _documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture
def oci_repo(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {"easel.yaml": SETTINGS, "clusters/argo-1.yaml": ARGO_CLUSTER})
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    return repo


def test_flux_bootstrap_follows_the_clusters_artifact(oci_repo):
    out = oci_repo / "output"
    flux_clusters = [p.stem for p in (out / "bootstrap/flux").glob("*.yaml")]
    assert flux_clusters
    for cluster in flux_clusters:
        source, sync = _documents(out / f"bootstrap/flux/{cluster}.yaml")
        assert source["kind"] == "OCIRepository"
        assert source["spec"]["url"] == f"oci://{REGISTRY}/{cluster}" and source["spec"]["ref"] == {"tag": "stable"}
        assert sync["spec"]["sourceRef"] == {"kind": "OCIRepository", "name": source["metadata"]["name"]}
        assert sync["spec"]["path"] == "./flux"
        tree = out / "clusters" / cluster
        for layer in (tree / "flux/layers").glob("*.yaml"):
            for obj in _documents(layer):
                spec = obj["spec"]
                assert spec["sourceRef"]["kind"] == "OCIRepository"
                assert (tree / spec["path"] / "kustomization.yaml").is_file(), f"{layer}: {spec['path']}"


def test_argo_cd_applications_sync_from_the_clusters_artifact(oci_repo):
    out = oci_repo / "output"
    tree = out / "clusters/argo-1"
    apps = [obj for path in (tree / "apps").glob("*.yaml") for obj in _documents(path)]
    assert apps
    for app in apps:
        source = app["spec"]["source"]
        if "chart" in source:
            continue  # a chart comes from its Helm repository
        assert source["repoURL"] == f"oci://{REGISTRY}/argo-1" and source["targetRevision"] == "stable"
        assert (tree / source["path"]).is_dir(), source
    for project in (tree / "projects").glob("*.yaml"):
        repos = _documents(project)[0]["spec"]["sourceRepos"]
        assert f"oci://{REGISTRY}/argo-1" in repos and "https://git.example.com/platform/fleet.git" not in repos
    appset = _documents(out / "bootstrap/argocd/applicationset.yaml")[0]
    source = appset["spec"]["template"]["spec"]["source"]
    assert source == {"repoURL": f"oci://{REGISTRY}/{{{{ .cluster }}}}", "targetRevision": "stable", "path": "."}


@pytest.mark.skipif(not (SHARED / "crds").is_dir(), reason="the upstream CRDs are in ../shared/crds (CI has them)")
def test_the_delivery_objects_validate_against_the_upstream_crds(oci_repo):
    out = oci_repo / "output"
    checked = 0
    for path in [*out.glob("bootstrap/*/*.yaml"), *out.glob("clusters/*/flux/layers/*.yaml"),
                 *out.glob("clusters/*/apps/*.yaml")]:
        for obj in _documents(path):
            problems = k8s_schemas.validate_custom(obj, SHARED / "crds")
            assert not problems, f"{path}: {problems}"
            checked += 1
    assert checked > 5


@pytest.mark.skipif(_kubectl() is None, reason="kubectl is not installed (pip install '.[test]')")
def test_every_cluster_tree_builds_from_its_own_root(oci_repo):
    for tree in (oci_repo / "output/clusters").iterdir():
        run = subprocess.run([_kubectl(), "kustomize", str(tree)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr


def test_a_kustomize_folder_of_the_repository_cannot_be_delivered_as_an_artifact(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {"easel.yaml": SETTINGS, "profiles/base/kustomization.yaml": "resources: []\n",
                       "profiles/folder/1.0.0.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: folder}
        spec:
          version: 1.0.0
          components:
            - name: base
              type: kustomize
              properties: {path: profiles/base, target: {kind: Deployment, name: app}, container: app}
        """, "workloads/demo/folder.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: folder}
        spec: {project: demo, environment: dev, profile: {name: folder}}
        """})
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "error[E805]" in run.text and "profiles/folder/1.0.0.yaml:" in run.text, run.text


def test_oci_delivery_needs_a_repository(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {"easel.yaml": SETTINGS.replace(f"    oci: {{repository: {REGISTRY}, tag: stable}}\n", "")})
    run = easel("validate", cwd=repo)
    assert run.code == 1 and "oci" in run.text and "easel.yaml:" in run.text, run.text


def test_the_proof_reads_the_flux_layers_of_an_artifact_as_it_reads_those_of_the_repository(oci_repo):
    """Under OCI delivery a layer's path is `./<folder>` inside the cluster's artifact: the proof still finds the
    Flux Kustomization that applies each component folder (what it adds to the objects is proven too)."""
    from compiler.prove.objects import flux_layers
    tree = {p.relative_to(oci_repo / "output").as_posix(): p.read_text()
            for p in (oci_repo / "output" / "clusters" / "local").rglob("*.yaml")}
    layers = flux_layers(tree, "local")
    components = {p.rsplit("/", 1)[0] for p in tree if p.startswith("clusters/local/workloads/")
                  and p.endswith("/kustomization.yaml")}
    assert components and components <= set(layers)
    assert all(doc["spec"]["path"].startswith("./") and "/clusters/" not in doc["spec"]["path"]
               for doc in layers.values())
