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
from conftest import CRDS, CRDS_ABSENT, copy_init_repo, easel, write_files

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
    # the cluster's app-of-apps and each workload's own (apps/<project>/<workload>/)
    apps = [obj for path in (tree / "apps").rglob("*.yaml") if path.name != "kustomization.yaml"
            for obj in _documents(path)]
    workloads = [app for app in apps if app["spec"]["source"].get("path", "").startswith("apps/")]
    assert workloads and all((tree / app["spec"]["source"]["path"] / "kustomization.yaml").is_file()
                             for app in workloads)
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


@pytest.mark.skipif(not CRDS.is_dir(), reason=CRDS_ABSENT)
def test_the_delivery_objects_validate_against_the_upstream_crds(oci_repo):
    out = oci_repo / "output"
    checked = 0
    for path in [*out.glob("bootstrap/*/*.yaml"), *out.glob("clusters/*/flux/layers/*.yaml"),
                 *(p for p in out.glob("clusters/*/apps/**/*.yaml") if p.name != "kustomization.yaml")]:
        for obj in _documents(path):
            problems = k8s_schemas.validate_custom(obj, CRDS)
            assert not problems, f"{path}: {problems}"
            checked += 1
    assert checked > 5


@pytest.mark.skipif(_kubectl() is None, reason="kubectl is not installed (pip install '.[test]')")
def test_every_cluster_tree_builds_from_its_own_root(oci_repo):
    for tree in (oci_repo / "output/clusters").iterdir():
        run = subprocess.run([_kubectl(), "kustomize", str(tree)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr


FOLDER_PROFILE = """
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata: {name: folder}
        spec:
          version: 1.0.0
          components:
            - name: site
              type: kustomize
              properties: {path: profiles/site/overlay, target: {kind: Deployment, name: site}, container: site}
        """
FOLDER_FILES = {
    "profiles/site/base/kustomization.yaml": "resources: [deployment.yaml]\n",
    "profiles/site/base/deployment.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: site}
        spec:
          selector: {matchLabels: {app: site}}
          template:
            metadata: {labels: {app: site}}
            spec: {containers: [{name: site, image: registry.example.com/site:1}]}
        """,
    "profiles/site/overlay/kustomization.yaml": "resources: [../base]\nconfigMapGenerator:\n"
                                                "  - {name: site, envs: [site.env]}\n",
    "profiles/site/overlay/site.env": "GREETING=hello\n",
    "profiles/folder/1.0.0.yaml": FOLDER_PROFILE,
    "workloads/demo/folder.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata: {name: folder}
        spec: {project: demo, environment: dev, profile: {name: folder}}
        """}


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_kustomize_folder_travels_in_the_clusters_artifact(tmp_path, engine):
    """The folder, the folder it builds on and its generator's file are in the cluster's tree, which alone (the
    artifact's root) builds the folder with its objects."""
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {**FOLDER_FILES, "easel.yaml": SETTINGS.replace("engine: flux", f"engine: {engine}")})
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    [tree] = [t for t in (repo / "output/clusters").iterdir() if (t / "workloads/demo/folder").is_dir()]
    for path in ("base/kustomization.yaml", "base/deployment.yaml", "overlay/kustomization.yaml", "overlay/site.env"):
        assert (tree / "repository/profiles/site" / path).is_file(), path
    if engine == "flux":
        [folder] = [o for o in _documents(tree / "workloads/demo/folder/site/objects.yaml")
                    if o["kind"] == "Kustomization"]
        assert folder["spec"]["path"] == "./repository/profiles/site/overlay"
        assert folder["spec"]["sourceRef"]["kind"] == "OCIRepository"
        built_from = tree / folder["spec"]["path"]
    else:
        built_from = tree / "workloads/demo/folder/site"
    kubectl = _kubectl()
    if kubectl is None:
        pytest.skip("kubectl is not installed (pip install '.[test]')")
    artifact = tmp_path / "artifact"  # the tree alone, as `easel publish --oci` pushes it
    shutil.copytree(tree, artifact)
    built = subprocess.run([kubectl, "kustomize", str(artifact / built_from.relative_to(tree))],
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(built.stdout) if d)
    assert kinds == ["ConfigMap", "Deployment"]


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


def test_a_changed_file_of_a_carried_folder_is_compiled_again_not_replayed(tmp_path):
    """A generator's file is no YAML, yet it is an input: the cache that replays a compile must see it change."""
    repo = copy_init_repo(tmp_path / "repo")
    write_files(repo, {**FOLDER_FILES, "easel.yaml": SETTINGS})
    assert easel("compile", cwd=repo).code == 0
    [carried] = list((repo / "output/clusters").glob("*/repository/profiles/site/overlay/site.env"))
    assert carried.read_text() == "GREETING=hello\n"
    (repo / "profiles/site/overlay/site.env").write_text("GREETING=again\n")
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    assert carried.read_text() == "GREETING=again\n"
