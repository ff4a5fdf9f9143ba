"""During a rollout each cluster books the GPUs of the version it runs: a wave that reaches a cluster with a
hungrier version takes the new version's GPUs there (capacity and the project's quota checked for them, as for any
placement), or the rollout stops with an error naming the cluster and why. The proof of the tree then finds what
the pods request equal to what placement took."""

from __future__ import annotations

from builders import docs, gpu_cluster
from scenario import TEAM_IN_DEV

from compiler.load.source import MemorySource
from compiler.pipeline import Request, compile_repository

WAVES = """
kind: Environment
metadata: {name: dev}
spec:
  projects: ["*"]
  rollout:
    strategy: progressive
    waves:
      - {name: canary, clusterSelector: {matchLabels: {canary: "true"}}}
      - {name: rest, percent: 100}
"""
WORKLOAD = docs("kind: Workload\nmetadata: {name: w}\nspec: {project: team, environment: dev, profile: {name: app}}\n")


def _profile(version: str, gpus: int) -> str:
    return docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: {version}
  parameters: {{gpus: {{type: integer, default: {gpus}}}}}
  components:
    - name: api
      type: webservice
      properties: {{image: registry.example.com/api:1.0, port: 8080, replicas: 2}}
      traits:
      - type: gpu
        properties: {{count: "{{{{ params.gpus }}}}"}}
""")


def _rolled_out(new_gpus: int, quota: str = "{}"):
    """1.0.0 (1 GPU a replica) on a canary and another cluster, then 1.1.0 published and `lock --update`."""
    env = docs(f"kind: Project\nmetadata: {{name: team}}\nspec: {quota}\n", WAVES)
    files = {**TEAM_IN_DEV, "environments/env.yaml": env, **gpu_cluster("c1", '{canary: "true"}'),
             **gpu_cluster("c2"), "profiles/app-1.yaml": _profile("1.0.0", 1), "workloads/w.yaml": WORKLOAD}
    first = compile_repository(MemorySource(files), Request())
    assert not first.diagnostics.has_errors, [d.message for d in first.diagnostics]
    files = {**files, "easel.lock": first.lock_text, "profiles/app-2.yaml": _profile("1.1.0", new_gpus)}
    return compile_repository(MemorySource(files), Request(update="*"))


def _taken(result) -> dict[str, int]:
    return {c: sum(a.count for a in taken) for c, taken in result.decisions.workloads["team/w"].allocations.items()}


def test_the_wave_that_runs_a_hungrier_version_books_its_gpus():
    result = _rolled_out(4)
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    assert result.decisions.workloads["team/w"].version_on("c1") == "1.1.0"
    assert _taken(result) == {"c1": 8, "c2": 2}  # 4 × 2 replicas where 1.1.0 runs, 1 × 2 where 1.0.0 does
    assert result.files is not None  # and the tree's proof agrees with it


def test_a_hungrier_version_that_does_not_fit_where_the_wave_reaches_is_an_error_naming_the_cluster():
    result = _rolled_out(5)  # 5 × 2 = 10 GPUs on a cluster of 8
    errors = [d for d in result.diagnostics if d.code == "E607"]
    assert len(errors) == 1 and "cluster 'c1'" in errors[0].message and "1.1.0" in errors[0].message
    assert errors[0].location.file == "workloads/w.yaml"
    assert result.files is None


def test_a_hungrier_version_that_exceeds_the_projects_quota_is_an_error_naming_the_cluster():
    result = _rolled_out(4, "{quota: {gpus: 9}}")  # 2 + 2 before; 8 + 2 = 10 with the canary on 1.1.0
    errors = [d for d in result.diagnostics if d.code == "E607"]
    assert len(errors) == 1 and "cluster 'c1'" in errors[0].message and "quota of 9" in errors[0].message
    assert result.files is None


def test_explain_and_status_show_each_clusters_version_and_the_devices_its_booking_holds():
    from compiler.reports import explain, html_report, status

    result = _rolled_out(4)
    workload = result.require_model().workloads[("team", "w")]
    report = explain.workload_report(result, workload)
    chosen = {c["cluster"]: c for c in report["placement"]["clusters"] if c["verdict"] == "chosen"}
    assert {name: c["version"] for name, c in chosen.items()} == {"c1": "1.1.0", "c2": "1.0.0"}
    # gpu_cluster's one device of 8: both replicas' GPUs on it, at the version each cluster runs
    assert chosen["c1"]["gpus"][0]["devices"] == [{"device": "c1-gpu", "count": 8}]
    assert chosen["c2"]["gpus"][0]["devices"] == [{"device": "c2-gpu", "count": 2}]
    text = explain.workload_text(report)
    assert "runs 1.1.0; takes 8 × A (8 on device 'c1-gpu')" in text
    assert "runs 1.0.0; takes 2 × A (2 on device 'c2-gpu')" in text
    devices = {c["cluster"]: c["devices"] for c in status.fleet_status(result)["clusters"]}
    assert devices["c1"] == [{"device": "c1-gpu", "product": "A", "total": 8, "allocated": 8, "free": 0, "holders": [
        {"workload": "team/w", "component": "api", "count": 8, "version": "1.1.0"}]}]
    assert devices["c2"][0]["holders"] == [{"workload": "team/w", "component": "api", "count": 2, "version": "1.0.0"}]
    cells = {c: cell["why"] for row in html_report.placement_matrix(result)["rows"]
             for c, cell in row["cells"].items()}
    assert "runs app 1.1.0; takes 8 × A (8 on device 'c1-gpu')" in cells["c1"]
