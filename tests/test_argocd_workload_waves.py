"""Argo CD waves per workload: sync waves order only the Applications of one tree, so the cluster's app-of-apps
holds one Application per workload, all in one wave after every stack's, and each workload's own folder of
Applications (apps/<project>/<workload>/) orders its components by `dependsOn`. One workload's unhealthy
Application then holds back no other workload's, while a stack still holds back every workload (the finding: every
component of every workload sat in the cluster's one tree, so one team's unhealthy wave 0 held back the later
waves of all the others)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import k8s_schemas
import pytest
import yaml
from builders import byoc_cluster, docs
from conftest import SHARED, easel, write_files
from scenario import TEAM_IN_DEV

WAVE = "argocd.argoproj.io/sync-wave"

FILES = {
    **TEAM_IN_DEV,
    **byoc_cluster("c", engine="argocd"),
    "environments/lab.yaml": docs("""
kind: Project
metadata: {name: lab}
spec: {}
"""),
    "profiles/base.yaml": docs("""
kind: WorkloadProfile
metadata: {name: base}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: crds
      type: helm-chart
      properties: {repository: charts, chart: base-crds, version: 1.0.0}
    - name: operator
      type: helm-chart
      dependsOn: [crds]
      properties: {repository: charts, chart: base-operator, version: 1.0.0}
"""),
    "profiles/app.yaml": docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  requires: {profiles: [{name: base}]}
  components:
    - name: db
      type: webservice
      properties: {image: registry.example.com/db:1, port: 5432, runAsUser: 1000}
    - name: api
      type: webservice
      dependsOn: [db]
      properties: {image: registry.example.com/api:1, port: 8080, runAsUser: 1000}
"""),
    "workloads/w1.yaml": docs("""
kind: Workload
metadata: {name: w1}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
    "workloads/w2.yaml": docs("""
kind: Workload
metadata: {name: w2}
spec: {project: lab, environment: dev, profile: {name: app}}
"""),
}
# each workload's Application: the folder of Applications it syncs, and its components' Applications' prefix
WORKLOADS = {"c-apps-team-w1": ("apps/team/w1", "c-team-w1"), "c-apps-lab-w2": ("apps/lab/w2", "c-lab-w2")}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The cluster's tree as `easel compile` writes it."""
    repo = write_files(tmp_path_factory.mktemp("repo"), FILES)
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    return repo / "output/clusters/c"


def _listed(tree: Path, folder: str) -> list[dict]:
    """The objects the kustomization of a folder of the tree lists (files only: easel's app folders list no
    folder)."""
    kustomization = yaml.safe_load((tree / folder / "kustomization.yaml").read_text())
    return [d for entry in kustomization["resources"] for d in yaml.safe_load_all((tree / folder / entry).read_text())]


def _applications(tree: Path, folder: str) -> dict[str, dict]:
    return {a["metadata"]["name"]: a for a in _listed(tree, folder) if a["kind"] == "Application"}


def _wave(app: dict) -> int:
    return int(app["metadata"]["annotations"][WAVE])


def _synced_folder(app: dict) -> str:
    """The folder of the tree an Application syncs; "" for a chart taken straight from its repository."""
    path = app["spec"]["source"].get("path")
    return path.split("/clusters/c/", 1)[1] if path else ""


def test_the_clusters_app_of_apps_holds_one_application_per_workload_in_one_wave_after_every_stack(tree):
    apps = _applications(tree, ".")
    workloads = {name: app for name, app in apps.items() if "easel.dev/workload" in app["metadata"]["labels"]}
    assert {name: _synced_folder(app) for name, app in workloads.items()} == {n: f for n, (f, _) in WORKLOADS.items()}
    stacks = [app for name, app in apps.items() if name.startswith("c-infrastructure-base-")]
    assert sorted(_wave(app) for app in stacks) == [-10, -9]  # the stack's own dependsOn
    assert len({_wave(app) for app in workloads.values()}) == 1  # applied together
    assert all(_wave(app) > max(_wave(stack) for stack in stacks) for app in workloads.values())
    # none of the workloads' components is in the cluster's tree: only their workloads' Applications are
    assert not [name for name, app in apps.items() if "easel.dev/component" in app["metadata"]["labels"]]
    for name, app in workloads.items():
        labels = app["metadata"]["labels"]  # what groups a workload (SPEC §6): no version, no component
        assert "easel.dev/profile-version" not in labels and labels["easel.dev/profile"] == "app", name
        # it creates Applications on the hub, as the cluster's app-of-apps does: in the hub's project
        assert app["spec"]["project"] == "default"
        assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io/foreground"]
        assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_each_workload_orders_its_components_by_dependson_in_its_own_folder(tree):
    for folder, prefix in WORKLOADS.values():
        apps = _applications(tree, folder)
        assert {n: _wave(a) for n, a in apps.items()} == {f"{prefix}-db": 0, f"{prefix}-api": 1}  # api dependsOn db
        project = folder.split("/")[1]
        for app in apps.values():
            assert app["spec"]["project"] == f"c-{project}"  # the team's AppProject, as before
            assert app["spec"]["destination"]["name"] == "c"
            assert _synced_folder(app).startswith(f"workloads/{project}/")


def _applied(tree: Path, unhealthy: set[str]) -> set[str]:
    """The Applications Argo CD creates from the cluster's tree on an empty hub when the named ones never become
    healthy: in each tree of Applications, a wave only after every Application of the earlier waves is healthy
    (the README's health check for Applications; one of Applications is healthy once all of its are)."""
    def sync(folder: str) -> tuple[set[str], bool]:
        applied: set[str] = set()
        healthy = True
        apps = _applications(tree, folder)
        for wave in sorted({_wave(a) for a in apps.values()}):
            if not healthy:
                break
            for name, app in apps.items():
                if _wave(app) != wave:
                    continue
                applied.add(name)
                child = _synced_folder(app)
                if child.startswith("apps/"):  # an Application of Applications: its own tree
                    more, ok = sync(child)
                    applied |= more
                else:
                    ok = name not in unhealthy
                healthy = healthy and ok
        return applied, healthy
    return sync(".")[0]


def test_one_workloads_unhealthy_application_holds_back_no_other_workloads(tree):
    everything = _applied(tree, set())
    assert {"c-team-w1-api", "c-lab-w2-api", "c-infrastructure-base-operator"} <= everything
    stuck = _applied(tree, {"c-team-w1-db"})
    assert "c-team-w1-api" not in stuck  # its own dependsOn still holds
    assert {"c-lab-w2-db", "c-lab-w2-api"} <= stuck  # the other workload's later wave is not held back
    assert everything - stuck == {"c-team-w1-api"}
    # the second workload's Applications are in no tree of the first's
    first, second = (_applications(tree, folder) for folder, _ in WORKLOADS.values())
    assert not set(first) & set(second)
    # while a stack that never becomes healthy holds back every workload
    held = _applied(tree, {"c-infrastructure-base-crds"})
    assert not {name for name in held if name.startswith(("c-team-", "c-lab-"))}, held


def _kubectl() -> str | None:
    return shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.mark.skipif(_kubectl() is None, reason="kubectl is not installed (pip install '.[test]')")
def test_each_folder_of_applications_builds_with_kubectl_kustomize(tree):
    crds = SHARED / "crds"
    for folder, wanted in ((".", {"c-namespaces", "c-infrastructure-base-crds", "c-infrastructure-base-operator",
                                  *WORKLOADS}),
                           *((f, {f"{prefix}-db", f"{prefix}-api"}) for f, prefix in WORKLOADS.values())):
        run = subprocess.run([_kubectl(), "kustomize", str(tree / folder)], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        built = [d for d in yaml.safe_load_all(run.stdout) if d]
        assert {d["metadata"]["name"] for d in built if d["kind"] == "Application"} == wanted, folder
        for obj in built if crds.is_dir() else ():
            assert k8s_schemas.validate_custom(obj, crds) == [], (folder, obj["metadata"]["name"])


def test_a_workloads_application_is_never_another_workloads_component_application(tmp_path):
    """Workload shop's component web and workload shop-web: <cluster>-<project>-<workload> would name both
    c-team-shop-web, and two trees would fight over that Application."""
    files = {**FILES, "workloads/w1.yaml": FILES["workloads/w1.yaml"].replace("{name: w1}", "{name: shop}"),
             "workloads/w2.yaml": FILES["workloads/w2.yaml"].replace("{name: w2}", "{name: shop-api}").replace(
                 "project: lab", "project: team")}
    repo = write_files(tmp_path, files)
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    names = [d["metadata"]["name"] for path in (repo / "output/clusters/c/apps").rglob("*.yaml")
             if path.name != "kustomization.yaml" for d in yaml.safe_load_all(path.read_text())]
    assert "c-team-shop-api" in names and "c-apps-team-shop-api" in names
    assert len(names) == len(set(names)), sorted(names)
