"""Governance carried into Argo CD: an AppProject per easel Project and cluster (sources, destinations,
cluster-scoped kinds), the domain-qualified deletion finalizer, and no namespace that nothing uses."""

from __future__ import annotations

import yaml
from builders import byoc_cluster, docs
from scenario import TEAM_IN_DEV, codes, compile_files

FILES = {
    **TEAM_IN_DEV,
    **byoc_cluster("c", engine="argocd"),
    "profiles/stack.yaml": docs("""
kind: WorkloadProfile
metadata: {name: operator}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: chart
      type: helm-chart
      properties: {repository: charts, chart: operator, version: 1.0.0, namespace: operator-system}
"""),
    "profiles/app.yaml": docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  requires: {profiles: [{name: operator}]}
  components:
    - name: web
      type: webservice
      properties: {image: registry.example.com/web:1, port: 8080, runAsUser: 1000}
    - name: api
      type: helm-chart
      properties: {repository: charts, chart: api, version: 2.0.0}
"""),
    "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
}


def _doc(result, path: str) -> dict:
    return yaml.safe_load(result.files[path])


def test_each_project_gets_an_appproject_that_restricts_sources_and_destinations():
    result = compile_files(FILES)
    assert codes(result) == [], [d.text for d in result.diagnostics]
    team = _doc(result, "clusters/c/projects/c-team.yaml")
    # the config repository (the folders Applications sync) and the Helm repositories of its charts
    assert team["spec"]["sourceRepos"] == sorted({"https://charts.example.com", result.plans.settings.repo_url})
    assert team["spec"]["destinations"] == [{"name": "c", "namespace": "team-w"}]
    assert team["spec"]["clusterResourceWhitelist"] == [{"group": "apiextensions.k8s.io",
                                                         "kind": "CustomResourceDefinition"}]
    infrastructure = _doc(result, "clusters/c/projects/c-infrastructure.yaml")
    assert infrastructure["spec"]["destinations"] == [{"name": "c", "namespace": "operator-system"}]
    applications = [p for p in result.files if p.startswith("clusters/c/apps/") and "kustomization" not in p]
    assert "clusters/c/apps/team/w/c-team-w-web.yaml" in applications
    for path in applications:
        app = _doc(result, path)
        group = app["metadata"]["labels"].get("easel.dev/project")
        wanted = "c-team" if group else ("c-namespaces" if path.endswith("-namespaces.yaml") else "c-infrastructure")
        if path == "clusters/c/apps/c-apps-team-w.yaml":
            # the workload's Application creates Applications on the hub, as the app-of-apps does: in the hub's
            # project, not in the team's, which must not reach the argocd namespace
            wanted = "default"
            assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "argocd"}
        assert app["spec"]["project"] == wanted, path  # the finding: every Application used `default`
        assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io/foreground"]
        assert int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) > int(
            team["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    assert all(d.get("name") == "c" and d.get("namespace") != "argocd" for d in team["spec"]["destinations"])


def test_no_namespace_that_nothing_uses():
    # the stack's only chart installs into operator-system: its own namespace `operator` would stay empty
    result = compile_files(FILES)
    assert "clusters/c/namespaces/operator.yaml" not in result.files
    assert "clusters/c/namespaces/team-w.yaml" in result.files
    # on Flux the stack's HelmRelease itself lives in `operator`: that namespace is used, and made first
    flux = {**FILES, **byoc_cluster("c", engine="flux")}
    result = compile_files(flux)
    assert yaml.safe_load(result.files["clusters/c/infrastructure/operator/chart/objects.yaml"])["metadata"][
        "namespace"] == "operator"
    assert "clusters/c/namespaces/operator.yaml" in result.files


def test_the_namespaces_application_is_allowed_where_it_syncs():
    result = compile_files(FILES)
    project = _doc(result, "clusters/c/projects/c-namespaces.yaml")
    app = _doc(result, "clusters/c/apps/c-namespaces.yaml")
    assert "namespace" not in app["spec"]["destination"]  # Namespaces are cluster-scoped
    assert project["spec"]["destinations"] == [{"name": "c", "namespace": "*"}]  # '' matches only a glob


def test_workloads_whose_namespaces_run_together_are_an_error():
    # team/w-x and team-w/x would both live in team-w-x, and fight over its objects
    files = {**FILES, "profiles/more.yaml": docs("""
kind: Project
metadata: {name: team-w}
spec: {}
"""), "workloads/x.yaml": docs("""
kind: Workload
metadata: {name: x}
spec: {project: team-w, environment: dev, profile: {name: app}}
""")}
    files["workloads/w.yaml"] = files["workloads/w.yaml"].replace("metadata: {name: w}", "metadata: {name: w-x}")
    result = compile_files(files)
    assert [d.code for d in result.diagnostics if d.is_error] == ["E801"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E801")
    assert "namespace 'team-w-x' on cluster 'c' would hold both" in problem.text and "rename" in problem.hint
