"""Charts from a Git repository (`Repository type: git` with its `ref`; the component names the chart's folder,
`path`): Flux gets a GitRepository at that ref (with the Repository's secretRef, and the commit easel.lock pins
when `easel charts pull` read the chart) and a HelmRelease whose chart is that folder of it; Argo CD an
Application with a Git source at that path and revision (the pinned commit). Both are checked against the
upstream CRD schemas where ../shared has them. kustomize's helmCharts cannot pull from Git, so a Git chart whose
traits need it on Argo CD is refused (E806); a chart named the wrong way for its repository is E302.
"""

from __future__ import annotations

import re
from pathlib import Path

import k8s_schemas
import pytest
import yaml
from builders import cluster, docs
from conftest import SHARED, easel, write_files

URL = "https://git.acme.internal/ml/charts.git"
SETTINGS = "apiVersion: easel.dev/v1alpha1\nkind: Settings\nspec:\n  gitops: {repoURL: https://git.acme.internal/fleet.git}\n"
PATH_ONLY = "{repository: ml-charts, path: charts/inference}"


def _repo(tmp_path: Path, engine: str, *, ref: str = "{tag: v1.4.0}", name: str = "ml-charts",
          properties: str = PATH_ONLY, traits: str = "[]", extra: str = "") -> Path:
    repository = f"{{type: git, url: {URL}, secretRef: git-read" + (f", ref: {ref}" if ref else "") + "}"
    files = {
        "easel.yaml": SETTINGS,
        "environments/env.yaml": docs("kind: Project\nmetadata: {name: team}\nspec: {}", """
kind: Environment
metadata: {name: dev}
spec: {projects: ["*"]}
"""),
        "profiles/repos.yaml": docs(f"kind: Repository\nmetadata: {{name: {name}}}\nspec: {repository}"),
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
    - name: model
      type: helm-chart
      properties: {properties.replace("ml-charts", name)}
      traits: {traits}
"""),
        "workloads/w.yaml": docs("kind: Workload\nmetadata: {name: w}\nspec: {project: team, environment: dev, "
                                 "profile: {name: app}}" + extra),
        "clusters/c.yaml": cluster("c", spec=f"gitops: {{engine: {engine}}}"),
    }
    return write_files(tmp_path / "repo", files)


def _objects(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _valid(obj: dict) -> None:
    if (SHARED / "crds").is_dir():
        assert k8s_schemas.validate_custom(obj, SHARED / "crds") == []


def test_flux_fetches_the_chart_from_a_git_repository_at_its_ref(tmp_path: Path):
    repo = _repo(tmp_path, "flux")
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    assert "a Git repository's folder that `easel charts pull` has not read yet" in run.err  # W107: not proven
    tree = repo / "output/clusters/c"
    [source] = _objects(tree / "flux/sources/ml-charts.yaml")
    assert source["kind"] == "GitRepository" and source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert source["spec"]["url"] == URL and source["spec"]["ref"] == {"tag": "v1.4.0"}
    assert source["spec"]["secretRef"] == {"name": "git-read"}
    [release] = [o for o in _objects(tree / "workloads/team/w/model/objects.yaml") if o["kind"] == "HelmRelease"]
    chart = release["spec"]["chart"]["spec"]
    assert chart["chart"] == "./charts/inference" and chart["reconcileStrategy"] == "Revision"
    assert chart["sourceRef"] == {"kind": "GitRepository", "name": "ml-charts", "namespace": "flux-system"}
    assert "version" not in chart  # a Git chart's version is its source's ref
    _valid(source)
    _valid(release)


@pytest.mark.parametrize(("ref", "written"), [("{branch: release-2}", {"branch": "release-2"}),
                                              ("{commit: " + "a" * 40 + "}", {"commit": "a" * 40})])
def test_each_kind_of_ref_is_the_git_repositorys(tmp_path: Path, ref: str, written: dict):
    repo = _repo(tmp_path, "flux", ref=ref)
    assert easel("compile", cwd=repo).code == 0
    [source] = _objects(repo / "output/clusters/c/flux/sources/ml-charts.yaml")
    assert source["spec"]["ref"] == written


def test_argo_cd_syncs_the_chart_from_a_git_source_with_its_path(tmp_path: Path):
    repo = _repo(tmp_path, "argocd")
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    tree = repo / "output/clusters/c"
    [app] = [o for p in (tree / "apps").rglob("*.yaml") for o in _objects(p)
             if o["kind"] == "Application" and "model" in o["metadata"]["name"]]
    source = app["spec"]["source"]
    assert source["repoURL"] == URL and source["path"] == "charts/inference" and source["targetRevision"] == "v1.4.0"
    assert "chart" not in source and source["helm"]["releaseName"]
    projects = [o for p in (tree / "projects").glob("*.yaml") for o in _objects(p)]
    assert any(URL in p["spec"]["sourceRepos"] for p in projects)  # the team's AppProject lets it sync from there
    _valid(app)


def test_a_git_chart_patched_on_argo_cd_is_refused_as_kustomize_cannot_pull_it(tmp_path: Path):
    patched = _repo(tmp_path / "a", "argocd", properties="{repository: ml-charts, path: charts/inference, "
                    "target: {kind: Deployment}, container: server}",
                    traits="[{type: resources, properties: {memory: 8Gi}}]")
    run = easel("compile", cwd=patched)
    assert run.code == 1 and "error[E806]" in run.err and "of the Git repository 'ml-charts'" in run.err, run.text
    assert "pulls charts from Helm repositories and OCI registries only" in run.err
    on_flux = _repo(tmp_path / "b", "flux", properties="{repository: ml-charts, path: charts/inference, "
                    "target: {kind: Deployment}, container: server}",
                    traits="[{type: resources, properties: {memory: 8Gi}}]")
    assert easel("compile", cwd=on_flux).code == 0  # Flux post-renders a chart from any source


@pytest.mark.parametrize(("properties", "said"), [
    ("{repository: ml-charts, chart: inference, version: 1.4.0}", "is a Git repository: a chart of it is named by"),
])
def test_a_git_chart_named_like_a_helm_one_is_e302(tmp_path: Path, properties: str, said: str):
    run = easel("compile", cwd=_repo(tmp_path, "flux", properties=properties))
    assert run.code == 1 and "error[E302]" in run.err and said in run.err, run.text


def test_a_helm_repositorys_chart_named_by_path_is_e302(tmp_path: Path):
    repo = _repo(tmp_path, "flux")
    write_files(repo, {"profiles/repos.yaml": docs("kind: Repository\nmetadata: {name: ml-charts}\n"
                                                   "spec: {type: helm, url: https://charts.acme.internal}")})
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "error[E302]" in run.err and "is a helm repository" in run.err, run.text
    [where] = re.findall(r"^(\S+): error\[E302\]", run.err, re.M)
    assert where.startswith("profiles/app.yaml:")


def test_a_git_repository_names_its_ref_and_only_a_git_one_does(tmp_path: Path):
    missing = easel("validate", cwd=_repo(tmp_path / "a", "flux", ref=""))
    assert missing.code == 1 and "profiles/repos.yaml:" in missing.err and "ref" in missing.err, missing.text
    helm = _repo(tmp_path / "b", "flux")
    write_files(helm, {"profiles/repos.yaml": docs("kind: Repository\nmetadata: {name: ml-charts}\nspec: {type: helm, "
                                                   "url: https://charts.acme.internal, ref: {tag: v1}}")})
    run = easel("validate", cwd=helm)
    assert run.code == 1 and "profiles/repos.yaml:" in run.err, run.text


def test_a_git_repository_named_like_the_bootstrap_source_gets_a_name_of_its_own(tmp_path: Path):
    repo = _repo(tmp_path, "flux", name="easel")
    assert easel("compile", cwd=repo).code == 0
    tree = repo / "output/clusters/c"
    [source] = _objects(tree / "flux/sources/easel-charts.yaml")
    assert source["kind"] == "GitRepository" and source["metadata"]["name"] == "easel-charts"
    [release] = [o for o in _objects(tree / "workloads/team/w/model/objects.yaml") if o["kind"] == "HelmRelease"]
    assert release["spec"]["chart"]["spec"]["sourceRef"]["name"] == "easel-charts"


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_the_commit_easel_lock_pins_is_the_one_the_engines_fetch(tmp_path: Path, engine: str):
    # (written by `easel charts pull`, tests/test_git_chart_pull.py; kept by every compile, here without the archive)
    repo = _repo(tmp_path, engine, ref="{branch: release-2}")
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "easel.lock").write_text("apiVersion: easel.dev/v1alpha1\nkind: Lock\n"
                                     f"chartCommits:\n  ml-charts/inference release-2: {commit}\n")
    run = easel("compile", cwd=repo)
    assert run.code == 0 and "W107" in run.err, run.text  # no archive: the commit is pinned, the chart unproven
    tree = repo / "output/clusters/c"
    if engine == "flux":
        [source] = _objects(tree / "flux/sources/ml-charts.yaml")
        assert source["spec"]["ref"] == {"branch": "release-2", "commit": commit}  # Flux clones the branch for it
    else:
        [source] = [o for p in (tree / "apps").rglob("*.yaml") for o in _objects(p)
                    if o["kind"] == "Application" and "model" in o["metadata"]["name"]]
        assert source["spec"]["source"]["targetRevision"] == commit
    _valid(source)
    assert f"ml-charts/inference release-2: {commit}" in (repo / "easel.lock").read_text()  # compiling keeps it
