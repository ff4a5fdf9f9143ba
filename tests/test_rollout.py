"""A progressive rollout end to end: publish a version, `easel lock --update`, advance wave by wave, roll back;
checked on the compiled output."""

from __future__ import annotations

import json

import yaml
from builders import cluster_file
from conftest import easel, write_files

WAVES = """
  rollout:
    strategy: progressive
    waves:
      - {name: canary, clusterSelector: {matchLabels: {canary: "true"}}}
      - {name: half, percent: 50}
      - {name: rest, percent: 100}
"""


def _setup(repo):
    env = repo / "environments/dev.yaml"
    env.write_text(env.read_text().rstrip("\n") + "\n" + WAVES.lstrip("\n"))
    for index in range(1, 5):
        labels = "{tier: dev, canary: \"true\"}" if index == 1 else "{tier: dev}"
        write_files(repo, cluster_file(f"c{index}", labels))
    (repo / "clusters/local.yaml").unlink()
    assert easel("compile", cwd=repo).code == 0
    source = (repo / "profiles/hello/1.0.0.yaml").read_text()
    (repo / "profiles/hello/1.1.0.yaml").write_text(
        source.replace("version: 1.0.0", "version: 1.1.0").replace("hello from easel", "hello from 1.1"))


def _running(repo) -> dict[str, str]:
    versions = {}
    for index in range(1, 5):
        path = repo / f"output/clusters/c{index}/workloads/demo/hello/web/objects.yaml"
        deployment = next(yaml.safe_load_all(path.read_text()))
        versions[f"c{index}"] = deployment["metadata"]["labels"]["easel.dev/profile-version"]
    return versions


def test_a_rollout_goes_wave_by_wave_and_completes(repo):
    _setup(repo)
    run = easel("lock", "--update", cwd=repo)
    assert run.code == 0, run.text
    assert "rollout of demo/hello started: 1.0.0 -> 1.1.0, wave 1 of 3" in run.out
    assert _running(repo) == {"c1": "1.1.0", "c2": "1.0.0", "c3": "1.0.0", "c4": "1.0.0"}
    status = json.loads(easel("rollout", "status", "--format", "json", cwd=repo).out)["rollouts"]
    [row] = status
    assert (row["from"], row["to"], row["wave"]) == ("1.0.0", "1.1.0", 1)
    assert [w["name"] for w in row["waves"]] == ["canary", "half", "rest"]
    assert row["waves"][0]["clusters"] == ["c1"]
    half = row["waves"][1]["clusters"]
    assert len(half) == 1 and "c1" not in half  # 50% of 4 after it, the canary counted: one more (by hash)
    run = easel("rollout", "advance", "hello", cwd=repo)
    assert run.code == 0 and "rollout of demo/hello at wave 2 of 3" in run.out
    running = _running(repo)
    assert {c for c, v in running.items() if v == "1.1.0"} == {"c1", *half}
    run = easel("rollout", "advance", "--all", cwd=repo)  # the last wave reached: finished by the same commit
    assert run.code == 0 and "rollout of demo/hello completed: now 1.1.0 everywhere" in run.out, run.text
    assert set(_running(repo).values()) == {"1.1.0"}
    lock = yaml.safe_load((repo / "easel.lock").read_text())
    assert lock["versions"] == {"demo/hello": "hello 1.1.0"} and "rollouts" not in lock  # no empty section
    run = easel("rollout", "advance", "demo/hello", cwd=repo)  # no step left that would only edit the lock
    assert run.code == 1 and "error[E908]: demo/hello has no rollout in progress" in run.err, run.text
    assert easel("rollout", "status", cwd=repo).out.strip() == "no rollouts in progress"
    assert easel("compile", "--check", cwd=repo).code == 0


def test_a_rollback_returns_every_wave(repo):
    _setup(repo)
    assert easel("lock", "--update", cwd=repo).code == 0
    assert easel("rollout", "advance", "hello", cwd=repo).code == 0
    run = easel("rollout", "rollback", "hello", cwd=repo)
    assert run.code == 0 and "rollout of demo/hello rolled back: 1.0.0 everywhere" in run.out
    assert set(_running(repo).values()) == {"1.0.0"}
    lock = yaml.safe_load((repo / "easel.lock").read_text())
    assert lock["versions"] == {"demo/hello": "hello 1.0.0"} and "rollouts" not in lock
    # an ordinary compile does not start it again; only the next `lock --update` does
    assert easel("compile", "--locked", cwd=repo).code == 0
    run = easel("rollout", "rollback", "hello", cwd=repo)  # nothing to roll back: exit 1, as SPEC §7 has it
    assert run.code == 1 and "error[E908]: demo/hello has no rollout in progress" in run.err, run.text
    run = easel("rollout", "advance", "nobody", cwd=repo)
    assert run.code == 1 and "error[E901]" in run.err, run.text


def test_strategy_all_moves_every_cluster_at_once(repo):
    _setup(repo)
    env = repo / "environments/dev.yaml"
    env.write_text(env.read_text().replace("strategy: progressive", "strategy: all"))
    assert easel("lock", "--update", cwd=repo).code == 0
    assert set(_running(repo).values()) == {"1.1.0"}


def test_a_first_wave_that_reaches_every_cluster_updates_at_once(repo):
    _setup(repo)
    env = repo / "environments/dev.yaml"  # every cluster of the workload is a canary: no wave would be left to go
    env.write_text(env.read_text().replace('{canary: "true"}', "{tier: dev}"))
    run = easel("lock", "--update", cwd=repo)
    assert run.code == 0 and "updated demo/hello: hello 1.0.0 -> hello 1.1.0" in run.out, run.text
    assert "rollout" not in run.out
    assert set(_running(repo).values()) == {"1.1.0"}
    lock = yaml.safe_load((repo / "easel.lock").read_text())
    assert "rollouts" not in lock and list(lock["profiles"]) == ["hello 1.1.0"]  # 1.0.0 runs nowhere now
    assert easel("compile", "--check", cwd=repo).code == 0
