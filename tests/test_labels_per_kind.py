"""SPEC §6's labels, by kind of object, on both engines and both deliveries, as the proof checks them
(compiler/prove/labels.py, E811):

- a workload's component objects (plain objects, HelmReleases, Argo CD Applications): managed-by, project,
  workload, environment, profile, profile-version, component;
- its namespace's objects (Namespace, ResourceQuota, NetworkPolicy), its Flux layers and its Argo CD Application
  (the one that syncs its components' Applications): the same without profile-version and component, so a
  version bump does not touch them;
- an infrastructure stack's objects, layers, Applications and namespace: profile, profile-version, managed-by only.

A label missing, wrong or present where it must not be, on each kind of object of a rendered tree, is named by
the proof (code, cluster, object, field); and a profile version bump changes no namespace-level object."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from builders import byoc_cluster, docs

from compiler.load import yamlio
from compiler.load.source import MemorySource
from compiler.pipeline import Request, compile_repository
from compiler.prove import workload_policies
from compiler.prove.tree import prove_cluster

TEAM = {"environments/env.yaml": docs("""
kind: Project
metadata: {name: team}
spec: {}
""", """
kind: Environment
metadata: {name: dev}
spec:
  projects: ["*"]
  namespace: {strategy: workload, quota: {pods: "10"}, isolation: strict}
"""), "profiles/repos.yaml": docs("""
kind: Repository
metadata: {name: charts}
spec: {type: helm, url: https://charts.example.com}
"""), "profiles/base.yaml": docs("""
kind: WorkloadProfile
metadata: {name: base}
spec:
  version: 1.0.0
  type: Infrastructure
  components:
    - name: chart
      type: helm-chart
      properties: {repository: charts, chart: base, version: 1.0.0}
"""), "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""), **byoc_cluster("f", "flux"), **byoc_cluster("a", "argocd")}
OCI = docs("""
kind: Settings
spec:
  gitops: {delivery: oci, oci: {repository: registry.example.com/fleet, tag: stable}}
""")


def app(version: str) -> dict[str, str]:
    """Profile `app` at a version: plain objects (api), a chart (web), and the stack `base` it requires."""
    return {"profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: {version}
  requires:
    profiles: [{{name: base, version: "^1.0"}}]
  components:
    - name: api
      type: webservice
      properties: {{image: registry.example.com/api:1.0, port: 8080}}
    - name: web
      type: helm-chart
      properties: {{repository: charts, chart: web, version: 1.0.0}}
""")}


def _compiled(files: dict[str, str]):
    result = compile_repository(MemorySource(files), Request())
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    return result


@pytest.fixture(scope="module", params=["git", "oci"])
def result(request):
    return _compiled({**TEAM, **app("1.0.0"), **({"easel.yaml": OCI} if request.param == "oci" else {})})


def _proof(result, cluster: str, path: str = "", kind: str = "", change: Callable[[dict], object] = dict):
    """The proof of one cluster's tree after `change(labels)` on the labels of each `kind` object of one file."""
    def edited(file: str, text: str) -> str:
        if file != f"clusters/{cluster}/{path}":
            return text
        documents = yamlio.load_all(text)
        for obj in documents:
            if obj.get("kind") == kind:
                change(obj["metadata"].setdefault("labels", {}))
        return yamlio.dump_all(documents) if len(documents) > 1 else yamlio.dump(documents[0])
    files = {p: edited(p, t) for p, t in result.files.items() if p.startswith(f"clusters/{cluster}/")}
    assert path == "" or f"clusters/{cluster}/{path}" in files, path
    return prove_cluster(result.plans.clusters[cluster], files, workload_policies(result.model))


def test_both_trees_as_rendered_pass_their_proof(result):
    assert _proof(result, "f") == [] and _proof(result, "a") == []


def _drop(key: str):
    return lambda labels: labels.pop(key)


def _set(key: str, value: str):
    return lambda labels: labels.update({key: value})


CASES = [
    # a workload's component objects
    ("f", "workloads/team/w/api/objects.yaml", "Service", "w-api", _drop("app.kubernetes.io/managed-by")),
    ("f", "workloads/team/w/web/objects.yaml", "HelmRelease", "w-web", _set("easel.dev/profile-version", "0.9.0")),
    ("a", "workloads/team/w/api/objects.yaml", "Deployment", "w-api", _set("easel.dev/profile", "other")),
    ("a", "apps/team/w/a-team-w-api.yaml", "Application", "a-team-w-api", _drop("easel.dev/component")),
    ("a", "apps/team/w/a-team-w-web.yaml", "Application", "a-team-w-web", _set("easel.dev/workload", "other")),
    # its namespace's objects, its Flux layers and its Argo CD Application: no version, no component
    ("f", "namespaces/team-w.yaml", "Namespace", "team-w", _drop("easel.dev/workload")),
    ("f", "namespaces/team-w.yaml", "ResourceQuota", "easel-quota", _set("easel.dev/profile-version", "1.0.0")),
    ("f", "namespaces/team-w.yaml", "NetworkPolicy", "easel-isolation", _set("easel.dev/environment", "prod")),
    ("a", "namespaces/team-w.yaml", "Namespace", "team-w", _set("easel.dev/component", "api")),
    ("f", "flux/layers/easel-team-w-api.yaml", "Kustomization", "easel-team-w-api", _set("easel.dev/component", "api")),
    ("f", "flux/layers/easel-team-w-web.yaml", "Kustomization", "easel-team-w-web", _set("easel.dev/project", "x")),
    ("a", "apps/a-apps-team-w.yaml", "Application", "a-apps-team-w", _set("easel.dev/profile-version", "1.0.0")),
    ("a", "apps/a-apps-team-w.yaml", "Application", "a-apps-team-w", _drop("easel.dev/environment")),
    ("a", "apps/a-apps-team-w.yaml", "Application", "a-apps-team-w", _set("easel.dev/component", "api")),
    # an infrastructure stack: profile, profile-version, managed-by only
    ("f", "infrastructure/base/chart/objects.yaml", "HelmRelease", "base-chart", _set("easel.dev/project", "team")),
    ("f", "flux/layers/easel-infrastructure-base-chart.yaml", "Kustomization", "easel-infrastructure-base-chart",
     _drop("easel.dev/profile-version")),
    ("f", "namespaces/base.yaml", "Namespace", "base", _set("easel.dev/environment", "dev")),
    ("a", "apps/a-infrastructure-base-chart.yaml", "Application", "a-infrastructure-base-chart",
     _set("easel.dev/component", "chart")),
    ("a", "namespaces/base.yaml", "Namespace", "base", _set("easel.dev/profile", "other")),
]


@pytest.mark.parametrize(("cluster", "path", "kind", "name", "change"), CASES,
                         ids=[f"{c[0]}:{c[2]}:{c[1]}" for c in CASES])
def test_a_wrong_label_on_each_kind_of_object_is_named_by_code_cluster_object_and_field(result, cluster, path,
                                                                                        kind, name, change):
    before = {}
    _proof(result, cluster, path, kind, lambda labels: before.update(labels))
    changed = dict(before)
    change(changed)
    [field] = [key for key in {**before, **changed} if before.get(key) != changed.get(key)]
    problems = _proof(result, cluster, path, kind, change)
    assert [p.code for p in problems] == ["E811"], [p.message for p in problems]
    message = problems[0].message
    assert message.startswith(f"cluster {cluster!r}: {kind} {name!r} (clusters/{cluster}/{path}), "
                              f"metadata.labels[{field!r}]: expected "), message
    assert problems[0].subject is not None and problems[0].subject.cluster == cluster
    if field in before:  # the value the plan gives it, or: it must not be there
        assert f"found {changed[field]!r}" in message if field in changed else "found no such label" in message
    else:
        assert f"expected no such label, found {changed[field]!r}" in message


def test_a_project_namespace_names_no_workload_of_the_project():
    shared = TEAM["environments/env.yaml"].replace("strategy: workload", "strategy: project")
    result = _compiled({**TEAM, "environments/env.yaml": shared, **app("1.0.0")})
    assert _proof(result, "f") == []
    [problem] = _proof(result, "f", "namespaces/team.yaml", "ResourceQuota", _set("easel.dev/workload", "w"))
    assert "ResourceQuota 'easel-quota'" in problem.message
    assert "metadata.labels['easel.dev/workload']: expected no such label, found 'w'" in problem.message


def test_a_version_bump_touches_only_the_component_objects():
    """The same profile published as 1.1.0: on both engines, only the workload's component files change (their
    easel.dev/profile-version); its namespace, Flux layers, Argo CD Application, the stack and the Argo CD projects
    stay as they were."""
    old, new = _compiled({**TEAM, **app("1.0.0")}).files, _compiled({**TEAM, **app("1.1.0")}).files
    assert set(old) == set(new)
    changed = sorted(path for path in old if old[path] != new[path])
    component_files = ("clusters/f/workloads/team/w/", "clusters/a/workloads/team/w/", "clusters/a/apps/team/w/a-team-w-")
    assert changed and all(path.startswith(component_files) for path in changed), changed
    assert "clusters/f/workloads/team/w/web/objects.yaml" in changed
    assert "clusters/a/apps/team/w/a-team-w-web.yaml" in changed and "clusters/a/apps/a-apps-team-w.yaml" in old
    for path in changed:
        assert old[path].replace("profile-version: 1.0.0", "profile-version: 1.1.0") == new[path], path


def test_an_application_written_in_another_order_is_read_whole(result):
    """The proof reads an Application's metadata before its spec (the same on every cluster: parsed once); one
    whose spec comes first is read whole, and its labels are checked all the same."""
    path = "clusters/a/apps/team/w/a-team-w-api.yaml"
    [application] = yamlio.load_all(result.files[path])
    files = {p: t for p, t in result.files.items() if p.startswith("clusters/a/")}
    for labels, found in ((application["metadata"]["labels"], []),
                          ({**application["metadata"]["labels"], "easel.dev/component": "web"}, ["E811"])):
        reordered = {"apiVersion": application["apiVersion"], "kind": "Application", "spec": application["spec"],
                     "metadata": {**application["metadata"], "labels": labels}}
        assert yamlio.dump(reordered).index("\nspec:") < yamlio.dump(reordered).index("\nmetadata:")
        problems = prove_cluster(result.plans.clusters["a"], {**files, path: yamlio.dump(reordered)},
                                 workload_policies(result.model))
        assert [p.code for p in problems] == found, [p.message for p in problems]
