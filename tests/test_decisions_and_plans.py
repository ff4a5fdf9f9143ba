"""The values the stages pass on: Decisions (what easel.lock records, and why), one ClusterPlan per cluster
(what it runs), and the pure functions over them (rollout steps, what changed)."""

from __future__ import annotations

import dataclasses
import types
from functools import partial
from pathlib import Path

import pytest
from builders import docs, gpu_cluster
from scenario import TEAM_IN_DEV, replaced

from compiler.decide.rollout import step
from compiler.diagnostics.errors import CommandError
from compiler.load.source import MemorySource
from compiler.model.graph import depths, first_cycle
from compiler.pipeline import Request, compile_repository
from compiler.record import lockfile
from compiler.record.changes import changes

PACKAGE = Path(__file__).resolve().parent.parent / "compiler"


def _profile(version: str, gpus: int = 1) -> dict[str, str]:
    return {f"profiles/app/{version}.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: {version}
  components:
    - name: server
      type: webservice
      properties: {{image: "registry.example.com/app:{version}", port: 8080}}
      traits:
        - type: gpu
          properties: {{count: {gpus}, product: A}}
        - type: replicas
          properties: {{count: 2}}
""")}


FILES = {
    **replaced(TEAM_IN_DEV, "environments/env.yaml", 'spec: {projects: ["*"]}', """spec:
  projects: ["*"]
  rollout:
    strategy: progressive
    waves:
      - {name: canary, clusterSelector: {matchLabels: {canary: "true"}}}
      - {name: rest, percent: 100}"""),
    **_profile("1.0.0"), **gpu_cluster("east", '{canary: "true"}'), **gpu_cluster("west"),
    "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
}


def _compile(files: dict[str, str], request: Request = Request()):
    result = compile_repository(MemorySource(files), request)
    assert not result.diagnostics.has_errors, [d.text for d in result.diagnostics]
    return result


@pytest.fixture(scope="module")
def mid_rollout():
    """1.0.0 everywhere, then 1.1.0 published and `lock --update`: the canary wave runs 1.1.0."""
    first = _compile(FILES)
    files = {**FILES, **_profile("1.1.0", gpus=2), "easel.lock": first.lock_text}
    return first, _compile(files, Request(update="*"))


def test_what_runs_on_a_cluster_is_one_lookup_in_its_plan_mid_rollout(mid_rollout):
    _, result = mid_rollout
    on_canary = result.plans.clusters["east"].release("team/w")
    on_rest = result.plans.clusters["west"].release("team/w")
    assert (on_canary.version, on_rest.version) == ("1.1.0", "1.0.0")
    # ... with what each was booked: the version's own GPU ask, per replica, times its replicas
    [booked] = on_canary.bookings
    [gpus] = booked.gpus
    assert (booked.component, gpus.resource, gpus.per_replica, gpus.replicas, gpus.products) == \
        ("server", "nvidia.com/gpu", 2, 2, ("A",))
    assert booked.node_selector == {"nvidia.com/gpu.product": "A"}
    assert booked.tolerations == ({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},)
    assert on_rest.bookings[0].gpus[0].per_replica == 1
    assert result.plans.clusters["west"].release("team/other") is None
    # and the rendered tree says the same
    assert "easel.dev/profile-version: 1.1.0" in result.files["clusters/east/workloads/team/w/server/objects.yaml"]
    assert "easel.dev/profile-version: 1.0.0" in result.files["clusters/west/workloads/team/w/server/objects.yaml"]


def test_the_decision_record_holds_the_rollout_its_waves_and_why(mid_rollout):
    _, result = mid_rollout
    decision = result.decisions.workloads["team/w"]
    assert (decision.version, decision.rollout.to_version, decision.rollout.wave) == ("1.0.0", "1.1.0", 1)
    assert [(w.name, w.clusters) for w in decision.rollout.waves] == [("canary", ("east",)), ("rest", ("west",))]
    assert {c: decision.version_on(c) for c in decision.clusters} == {"east": "1.1.0", "west": "1.0.0"}
    assert decision.placement.kept == ("east", "west")  # kept from the lock the first compile wrote
    # each cluster books the version it runs: the canary 1.1.0's 2 GPUs × 2 replicas, the rest 1.0.0's 1 × 2
    assert {c: [(a.pool, a.count) for a in taken] for c, taken in decision.allocations.items()} == {
        "east": [("A", 4)], "west": [("A", 2)]}


def test_easel_lock_is_the_record_serialised(mid_rollout):
    _, result = mid_rollout
    parsed, problems = lockfile.parse(result.lock_text)
    assert problems == []
    assert lockfile.dump(parsed) == result.lock_text
    recorded = parsed.workloads["team/w"]
    assert (recorded.profile, recorded.version, recorded.clusters, recorded.rollout) == \
        ("app", "1.0.0", ("east", "west"), result.decisions.workloads["team/w"].rollout)
    assert recorded.placement is None  # the reasons are not in the lock


def test_easel_lock_writes_no_empty_section():
    text = lockfile.dump(lockfile.Decisions(workloads={"team/w": lockfile.WorkloadDecision("team/w", "app", "1.0.0")}))
    assert text.splitlines()[1:] == ["apiVersion: easel.dev/v1alpha1", "kind: Lock", "versions:",
                                     "  team/w: app 1.0.0"]  # no `placements: {}`, no `rollouts: {}`
    assert lockfile.parse(text)[1] == []


def test_what_changed_is_a_function_of_two_records(mid_rollout):
    first, result = mid_rollout
    assert [str(c) for c in changes(result.previous, result.decisions)] == [
        "rollout of team/w started: 1.0.0 -> 1.1.0, wave 1 of 2"]
    assert [str(c) for c in changes(first.decisions, first.decisions)] == []


def test_rollout_steps_are_pure_functions_of_the_record(mid_rollout):
    _, result = mid_rollout
    record = lockfile.parse(result.lock_text)[0]
    advanced = step(record, result.model, ["team/w"], False, "advance")
    assert advanced.workloads["team/w"].rollout.wave == 2
    assert record.workloads["team/w"].rollout.wave == 1  # the input is left as it was
    done = step(advanced, result.model, ["w"], False, "advance")
    assert (done.workloads["team/w"].version, done.workloads["team/w"].rollout) == ("1.1.0", None)
    back = step(advanced, result.model, [], True, "rollback")
    assert (back.workloads["team/w"].version, back.workloads["team/w"].rollout) == ("1.0.0", None)
    with pytest.raises(CommandError, match="has no rollout in progress"):
        step(done, result.model, ["team/w"], False, "advance")


def _values(value, seen: set[int]):
    """Every value reachable from a dataclass tree (dataclasses, mappings, sequences)."""
    if id(value) in seen:
        return
    seen.add(id(value))
    yield value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = list(value)
    else:
        children = []
    for child in children:
        yield from _values(child, seen)


def test_no_callable_crosses_a_stage_boundary(mid_rollout):
    _, result = mid_rollout
    seen: set[int] = set()
    found = [v for root in (result.decisions, result.resolutions, result.plans) for v in _values(root, seen)
             if isinstance(v, (types.FunctionType, types.MethodType, types.BuiltinFunctionType, partial))]
    assert found == []
    assert len(seen) > 100  # the walk went deep


def test_dependency_waves_and_cycles_through_graphlib():
    assert depths({"a": ("b",), "b": ("c",), "c": (), "d": ("a", "c")}) == {"a": 2, "b": 1, "c": 0, "d": 3}
    assert first_cycle({"a": ("b",), "b": ("c",), "c": ("a",), "d": ()}) == ["a", "b", "c", "a"]
    assert first_cycle({"a": ("a",)}) == ["a", "a"]
    assert first_cycle({"a": ("b", "zz"), "b": ()}) is None  # unknown names are reported elsewhere
    assert depths({"a": ("b",), "b": ("a",)}) == {"a": 1, "b": 0}  # a cycle (an error) still gives depths
