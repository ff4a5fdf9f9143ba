"""Infrastructure stacks roll out like workloads: `easel lock --update STACK` in a progressive environment moves
the stack wave by wave over the clusters that run it, `rollout status|advance|rollback` cover it, and every
update is reported (the finding: it moved every cluster at once and printed nothing)."""

from __future__ import annotations

import json

import yaml
from builders import cluster_file, docs
from conftest import easel, write_files

WAVES = """
  rollout:
    strategy: progressive
    waves:
      - {name: canary, clusterSelector: {matchLabels: {canary: "true"}}}
      - {name: rest, percent: 100}"""


def _stack(version: str) -> dict[str, str]:
    return {f"profiles/op/{version}.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: op}}
spec:
  version: {version}
  type: Infrastructure
  components:
    - name: chart
      type: helm-chart
      properties: {{repository: charts, chart: op, version: "{version}"}}
""")}


def _repo(tmp_path, progressive: bool = True):
    files = {
        "environments/env.yaml": docs("""
kind: Project
metadata: {name: team}
spec: {}
""", f"""
kind: Environment
metadata: {{name: dev}}
spec:
  projects: ["*"]{WAVES if progressive else ""}
"""),
        "profiles/repos.yaml": docs("""
kind: Repository
metadata: {name: charts}
spec: {type: helm, url: https://charts.example.com}
"""),
        "profiles/app.yaml": docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  requires: {profiles: [{name: op, version: "^1.0"}]}
  components:
    - name: web
      type: helm-chart
      properties: {repository: charts, chart: web, version: 1.0.0}
"""),
        "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
        **_stack("1.0.0"),
    }
    for name, canary in (("c1", "true"), ("c2", "false")):
        files.update(cluster_file(name, f'{{canary: "{canary}"}}'))
    write_files(tmp_path, files)
    assert easel("compile", cwd=tmp_path).code == 0
    write_files(tmp_path, _stack("1.1.0"))
    return tmp_path


def _running(repo) -> dict[str, str]:
    return yaml.safe_load((repo / "easel.lock").read_text())["infrastructure"]


def test_a_stack_update_goes_wave_by_wave_and_completes(tmp_path):
    repo = _repo(tmp_path)
    run = easel("lock", "--update", "op", cwd=repo)
    assert run.code == 0, run.text
    assert "updated stack op on c1: 1.0.0 -> 1.1.0" in run.out
    assert "rollout of stack op started: 1.0.0 -> 1.1.0, wave 1 of 2" in run.out
    assert _running(repo) == {"c1": {"op": "1.1.0"}, "c2": {"op": "1.0.0"}}
    assert "op: 1.1.0" not in (repo / "output/clusters/c2/infrastructure/op/chart/objects.yaml").read_text() \
        and 'version: 1.0.0' in (repo / "output/clusters/c2/infrastructure/op/chart/objects.yaml").read_text()
    [row] = json.loads(easel("rollout", "status", "--format", "json", cwd=repo).out)["rollouts"]
    assert (row["stack"], row["from"], row["to"], row["wave"]) == ("op", "1.0.0", "1.1.0", 1)
    assert [(w["name"], w["clusters"], w["version"]) for w in row["waves"]] == [
        ("canary", ["c1"], "1.1.0"), ("rest", ["c2"], "1.0.0")]
    assert "stack op: op 1.0.0 -> 1.1.0, wave 1 of 2" in easel("rollout", "status", cwd=repo).out
    assert easel("compile", "--check", cwd=repo).code == 0  # the rollout holds between compiles
    run = easel("rollout", "advance", "op", cwd=repo)  # the last wave reached: finished by the same commit
    assert run.code == 0 and "rollout of stack op ended" in run.out, run.text
    assert "updated stack op on c2: 1.0.0 -> 1.1.0" in run.out
    assert _running(repo) == {"c1": {"op": "1.1.0"}, "c2": {"op": "1.1.0"}}
    assert "stackRollouts" not in yaml.safe_load((repo / "easel.lock").read_text())
    assert easel("rollout", "status", cwd=repo).out.strip() == "no rollouts in progress"


def test_a_stack_rollout_rolls_back(tmp_path):
    repo = _repo(tmp_path)
    assert easel("lock", "--update", "op", cwd=repo).code == 0
    run = easel("rollout", "rollback", "op", cwd=repo)
    assert run.code == 0, run.text
    assert "updated stack op on c1: 1.1.0 -> 1.0.0" in run.out and "rollout of stack op ended" in run.out
    assert _running(repo) == {"c1": {"op": "1.0.0"}, "c2": {"op": "1.0.0"}}


def test_without_waves_a_stack_update_reaches_every_cluster_and_says_so(tmp_path):
    repo = _repo(tmp_path, progressive=False)
    run = easel("lock", "--update", "op", cwd=repo)
    assert run.code == 0 and "updated stack op on c1, c2: 1.0.0 -> 1.1.0" in run.out, run.text
    assert _running(repo) == {"c1": {"op": "1.1.0"}, "c2": {"op": "1.1.0"}}
