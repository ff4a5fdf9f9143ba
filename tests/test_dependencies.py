"""Profile dependencies (`requires.profiles`): one release of each stack per cluster, shared by the workloads
that need it, resolved with backtracking; provided by a cluster profile; conflicts name every requester."""

from __future__ import annotations

import yaml
from builders import cluster_file, docs
from conftest import easel, write_files
from scenario import TEAM_IN_DEV, codes, compile_files


def stack(name: str, version: str, requires: str = "") -> dict[str, str]:
    extra = f"\n  requires:\n    profiles: [{requires}]" if requires else ""
    return {f"profiles/{name}/{version}.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: {name}}}
spec:
  version: {version}
  type: Infrastructure{extra}
  components:
    - name: chart
      type: helm-chart
      properties: {{repository: charts, chart: {name}, version: "{version}"}}
""")}


def app(name: str, requires: str) -> dict[str, str]:
    return {f"profiles/{name}.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: {name}}}
spec:
  version: 1.0.0
  requires:
    profiles: [{requires}]
  components:
    - name: web
      type: helm-chart
      properties: {{repository: charts, chart: web, version: 1.0.0}}
""")}


def workload(name: str, profile: str) -> dict[str, str]:
    return {f"workloads/{name}.yaml": docs(f"""
kind: Workload
metadata: {{name: {name}}}
spec: {{project: team, environment: dev, profile: {{name: {profile}}}}}
""")}


BASE = {
    **TEAM_IN_DEV,
    **cluster_file("byoc", k8s="1.30.0"),
}


def release(result, path: str) -> dict:
    return yaml.safe_load(result.files[path])


def test_a_needed_stack_is_deployed_once_and_waited_for():
    files = {**BASE, **stack("base", "1.0.0"), **stack("base", "1.1.0"), **app("a", '{name: base, version: "^1.0"}'),
             **app("b", '{name: base, version: ">=1.1"}'), **workload("wa", "a"), **workload("wb", "b")}
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    stack_release = release(result, "clusters/byoc/infrastructure/base/chart/objects.yaml")
    assert stack_release["metadata"]["namespace"] == "base"
    assert stack_release["spec"]["chart"]["spec"]["version"] == "1.1.0"  # the newest that satisfies both
    assert stack_release["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "easel",
                                                   "easel.dev/profile": "base", "easel.dev/profile-version": "1.1.0"}
    for name in ("wa", "wb"):
        web = release(result, f"clusters/byoc/workloads/team/{name}/web/objects.yaml")
        assert web["spec"]["dependsOn"] == [{"name": "base-chart", "namespace": "base"}]
    assert yaml.safe_load(result.lock_text)["infrastructure"] == {"byoc": {"base": "1.1.0"}}
    assert "clusters/byoc/namespaces/base.yaml" in result.files


def test_transitive_stacks_and_backtracking():
    # top 2.0.0 needs low >=2, which does not exist: the solver must go back to top 1.0.0, which takes low 1.x
    files = {**BASE, **stack("top", "1.0.0", '{name: low, version: "^1.0"}'),
             **stack("top", "2.0.0", '{name: low, version: ">=2"}'), **stack("low", "1.5.0"),
             **app("a", '{name: top, version: "*"}'), **workload("wa", "a")}
    result = compile_files(files)
    assert codes(result) == [], result.diagnostics.items
    assert yaml.safe_load(result.lock_text)["infrastructure"] == {"byoc": {"low": "1.5.0", "top": "1.0.0"}}
    web = release(result, "clusters/byoc/workloads/team/wa/web/objects.yaml")
    assert web["spec"]["dependsOn"] == [{"name": "low-chart", "namespace": "low"},
                                        {"name": "top-chart", "namespace": "top"}]


def test_a_stack_that_requires_another_comes_after_it_on_both_engines():
    """top needs low: on Flux top's layer depends on low's; on Argo CD top's Applications are in a later sync wave
    than all of low's, and the workload's after both."""
    files = {**BASE, **stack("top", "1.0.0", '{name: low, version: "^1.0"}'), **stack("low", "1.5.0"),
             **app("a", '{name: top, version: "*"}'), **workload("wa", "a")}
    flux = compile_files(files)
    assert codes(flux) == [], flux.diagnostics.items
    top_layer = release(flux, "clusters/byoc/flux/layers/easel-infrastructure-top-chart.yaml")
    assert {"name": "easel-infrastructure-low-chart"} in top_layer["spec"]["dependsOn"]
    argo = compile_files({**files, **cluster_file("byoc", k8s="1.30.0", spec="gitops: {engine: argocd}")})
    assert codes(argo) == [], argo.diagnostics.items

    def wave(path: str) -> int:
        return int(release(argo, path)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
    low, top = wave("clusters/byoc/apps/byoc-infrastructure-low-chart.yaml"), \
        wave("clusters/byoc/apps/byoc-infrastructure-top-chart.yaml")
    workload_app = wave("clusters/byoc/apps/byoc-apps-team-wa.yaml")
    assert low < top < workload_app, (low, top, workload_app)


def test_a_cluster_profile_that_provides_the_stack_gets_no_release():
    files = {**BASE, **stack("base", "1.0.0"), **app("a", '{name: base, version: "^1.0"}'), **workload("wa", "a"),
             "profiles/cluster.yaml": docs("""
kind: ClusterProfile
metadata: {name: edge}
spec:
  version: 1.0.0
  layers:
    - {type: kubernetes, name: k8s, version: 1.30.2}
    - {type: addon, name: base, version: v1.2.0}
"""), **cluster_file("byoc", source="palette", k8s=None, spec="clusterProfile: {name: edge, version: 1.0.0}")}
    result = compile_files(files)
    assert codes(result) == []
    assert not [p for p in result.files if "/infrastructure/" in p]
    assert "dependsOn" not in release(result, "clusters/byoc/workloads/team/wa/web/objects.yaml")["spec"]


def test_conflicting_ranges_name_every_requester():
    files = {**BASE, **stack("base", "1.0.0"), **stack("base", "2.0.0"), **app("a", '{name: base, version: "^1.0"}'),
             **app("b", '{name: base, version: "^2.0"}'), **workload("wa", "a"), **workload("wb", "b")}
    result = compile_files(files)
    assert codes(result) == ["E505"]
    problem = next(d for d in result.diagnostics if d.code == "E505")
    assert "cluster byoc: no version of base satisfies every requester" in problem.message
    assert "team/wa (a 1.0.0) wants '^1.0'" in problem.message
    assert "team/wb (b 1.0.0) wants '^2.0'" in problem.message
    files_named = {problem.location.file, *(n.location.file for n in problem.notes)}
    assert {"profiles/a.yaml", "profiles/b.yaml"} <= files_named


EDGE = {"profiles/cluster.yaml": docs("""
kind: ClusterProfile
metadata: {name: edge}
spec:
  version: 1.0.0
  layers: [{type: kubernetes, name: k8s, version: 1.30.2}, {type: addon, name: base, version: 1.4.0}]
"""), **cluster_file("edge", source="palette", k8s=None, spec="clusterProfile: {name: edge, version: 1.0.0}")}


def test_a_cluster_whose_profile_provides_a_stack_out_of_range_is_not_eligible():
    only_edge = {k: v for k, v in BASE.items() if k != "clusters/byoc.yaml"}
    files = {**only_edge, **EDGE, **stack("base", "2.0.0"), **app("a", '{name: base, version: ">=2"}'),
             **workload("wa", "a")}
    result = compile_files(files)
    assert codes(result) == ["E601"]  # not placed where it would then conflict (E505)
    problem = next(d for d in result.diagnostics if d.code == "E601")
    assert [n.message for n in problem.notes] == [("edge: its cluster profile provides base 1.4.0; the profile "
                                                  "requires base '>=2'")]


def test_placement_moves_on_to_a_cluster_where_the_stack_can_be_deployed_and_explain_says_why(tmp_path):
    # every eligible cluster is chosen: without the check, edge too, and the compile then failed with E505
    files = {**BASE, **EDGE, **stack("base", "2.0.0"), **app("a", '{name: base, version: ">=2"}'),
             **workload("wa", "a")}
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert list(result.decisions.workloads["team/wa"].clusters) == ["byoc"]
    assert "clusters/byoc/infrastructure/base/chart/objects.yaml" in result.files
    write_files(tmp_path, files)
    run = easel("explain", "wa", cwd=tmp_path)
    assert run.code == 0, run.text
    assert "edge" in run.out and "its cluster profile provides base 1.4.0" in run.out, run.out


def test_the_lock_keeps_a_stack_version_until_updated():
    files = {**BASE, **stack("base", "1.0.0"), **app("a", '{name: base, version: "^1.0"}'), **workload("wa", "a")}
    first = compile_files(files)
    files.update(stack("base", "1.1.0"))
    kept = compile_files({**files, "easel.lock": first.lock_text})
    assert yaml.safe_load(kept.lock_text)["infrastructure"] == {"byoc": {"base": "1.0.0"}}
    from compiler.load.source import MemorySource
    from compiler.pipeline import Request, compile_repository

    updated = compile_repository(MemorySource({**files, "easel.lock": first.lock_text}), Request(update="base"))
    assert yaml.safe_load(updated.lock_text)["infrastructure"] == {"byoc": {"base": "1.1.0"}}
