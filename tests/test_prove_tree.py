"""The proof of the rendered trees (compiler/prove/tree.py): each cluster's tree, read back as the cluster will
apply it, must hold what easel decided. Each defect is injected into a real rendered tree and the proof must name
its code, cluster, object and field; and a compile whose tree fails its proof writes nothing."""

from __future__ import annotations

import re

import pytest
from builders import docs, gpu_cluster
from conftest import easel, tree, write_files
from scenario import TEAM_IN_DEV, one_component_app

from compiler.load.source import MemorySource
from compiler.pipeline import Request, compile_repository
from compiler.prove import workload_policies
from compiler.prove.tree import prove_cluster

GPU_APP = one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080}
      traits:
      - type: gpu
        properties: {count: 2}
""")
STRICT = """
kind: Environment
metadata: {name: dev}
spec:
  projects: ["*"]
  policy: {allowedRegistries: [registry.example.com]}
"""


def _compiled(files: dict[str, str]):
    result = compile_repository(MemorySource(files), Request())
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
    return result


def _problems(result, cluster: str, edit) -> list:
    """The proof of one cluster's tree after `edit(path, text)` changed its files."""
    files = {p: edit(p, t) for p, t in (result.files or {}).items() if p.startswith(f"clusters/{cluster}/")}
    return prove_cluster(result.plans.clusters[cluster], files, workload_policies(result.model))


def _in_objects(pattern: str, replacement: str):
    def edit(path: str, text: str) -> str:
        return re.sub(pattern, replacement, text, count=1) if path.endswith("/api/objects.yaml") else text
    return edit


@pytest.fixture(scope="module")
def gpu_result():
    return _compiled({**TEAM_IN_DEV, **gpu_cluster("c"), **GPU_APP})


def test_the_tree_as_rendered_passes_its_proof(gpu_result):
    assert _problems(gpu_result, "c", lambda p, t: t) == []


@pytest.mark.parametrize(("pattern", "replacement", "code", "field"), [
    (r"nvidia.com/gpu: 2", "nvidia.com/gpu: 3", "E810", "resources.limits['nvidia.com/gpu']"),
    (r"replicas: 1", "replicas: 2", "E810", "resources.limits['nvidia.com/gpu']"),
    (r"easel.dev/component: api", "easel.dev/component: other", "E811", "metadata.labels['easel.dev/component']"),
    (r"    easel.dev/workload: w\n", "", "E811", "metadata.labels['easel.dev/workload']"),
    (r"image: registry.example.com/api:1.0", "image: registry.example.com/api:2.0", "E812", "container 'api' image"),
])
def test_each_injected_defect_is_named_by_code_cluster_object_and_field(gpu_result, pattern, replacement, code,
                                                                          field):
    problems = _problems(gpu_result, "c", _in_objects(pattern, replacement))
    assert problems, f"the proof missed {pattern!r} -> {replacement!r}"
    first = problems[0]
    assert first.code == code
    assert "cluster 'c'" in first.message and "Deployment 'w-api'" in first.message and field in first.message
    assert first.subject is not None and first.subject.cluster == "c"
    assert first.location.file == "profiles/app.yaml"  # the component that made it


def test_gpus_a_booking_does_not_name_are_refused():
    result = _compiled({**TEAM_IN_DEV, **gpu_cluster("c"), **GPU_APP})
    problems = _problems(result, "c", _in_objects(r"nvidia.com/gpu: 2", "nvidia.com/mig-1g.10gb: 1"))
    assert {p.code for p in problems} == {"E810"}
    assert any("did not book" in p.message and "nvidia.com/mig-1g.10gb" in p.message for p in problems)


def test_an_image_from_a_registry_the_environment_does_not_allow_is_refused():
    files = {**TEAM_IN_DEV, "environments/env.yaml": docs("""
kind: Project
metadata: {name: team}
spec: {}
""", STRICT), **gpu_cluster("c"), **GPU_APP}
    result = _compiled(files)
    problems = _problems(result, "c", lambda p, t: t.replace("registry.example.com/api:1.0", "evil.example.org/x:1")
                         .replace("image: registry.example.com/api:1.0", "image: evil.example.org/x:1"))
    messages = [p.message for p in problems if p.code == "E812"]
    assert any("not from a registry the environment allows (registry.example.com)" in m for m in messages)


# A platform team's own trait that sets a GPU limit behind easel's back: the pods ask for GPUs no booking counts, so
# the cluster's capacity and the project's quota are exceeded unseen. The proof makes it an error; nothing is
# written.
GREEDY = docs("""
kind: TraitDefinition
metadata: {name: greedy}
spec:
  template: |
    patches:
      - patch:
          spec:
            template:
              spec:
                containers:
                - name: "*"
                  resources: {limits: {nvidia.com/gpu: 4}}
""")


def greedy_files(*clusters: str) -> dict[str, str]:
    """A repository whose one workload carries the greedy trait, placed on every one of these GPU clusters."""
    found = {**TEAM_IN_DEV, "profiles/defs.yaml": GREEDY, **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080}
      traits:
      - type: greedy
""")}
    for name in clusters:
        found.update(gpu_cluster(name))
    return found


def test_a_trait_that_asks_for_unbooked_gpus_fails_the_proof_and_nothing_is_written(tmp_path):
    files = greedy_files("c")
    result = compile_repository(MemorySource(files), Request())
    assert [d.code for d in result.diagnostics] == ["W111", "E810"]  # W111: no easel.yaml, so no repoURL
    problem = next(d for d in result.diagnostics if d.code == "E810")
    assert "cluster 'c': Deployment 'w-api'" in problem.message and "did not book" in problem.message
    assert result.files is None and result.lock_text is None
    repo = tmp_path / "repo"
    write_files(repo, {"easel.yaml": docs("kind: Settings\nspec: {}\n"), **files})
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "error[E810]" in run.err, run.text
    assert not (repo / "output").exists() or tree(repo / "output") == {}
    assert not (repo / "easel.lock").exists()


def test_both_lanes_of_a_first_compile_prove_their_clusters_and_nothing_is_written(tmp_path, monkeypatch):
    from compiler import write
    from compiler.runtime import parallel
    if not parallel.AVAILABLE:
        pytest.skip("the system cannot fork: one process writes")
    files = greedy_files("c0", "c1", "c2", "c3")
    repo = tmp_path / "repo"
    write_files(repo, {"easel.yaml": docs("kind: Settings\nspec: {}\n"), **files})
    monkeypatch.setattr(write, "LANE_MIN", 2)  # a "fleet" of four: the second process renders c1 and c3
    run = easel("--no-cache", "compile", cwd=repo)
    assert run.code == 1, run.text
    assert sorted(set(re.findall(r"cluster '(c\d)'", run.err))) == ["c0", "c1", "c2", "c3"]
    assert not (repo / "output").exists() or tree(repo / "output") == {}
    assert not (repo / "easel.lock").exists()


def test_a_required_trait_that_did_not_reach_a_pod_template_is_named():
    required = """
kind: Environment
metadata: {name: dev}
spec:
  projects: ["*"]
  policy: {requiredTraits: [security-context]}
"""
    files = {**TEAM_IN_DEV, "environments/env.yaml": docs("""
kind: Project
metadata: {name: team}
spec: {}
""", required), **gpu_cluster("c"), **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080}
      traits:
      - type: security-context
        properties: {runAsNonRoot: true, runAsUser: 1000}
""")}
    result = _compiled(files)
    assert _problems(result, "c", lambda p, t: t) == []
    problems = _problems(result, "c", _in_objects(r"runAsUser: 1000", "runAsUser: 0"))
    assert [p.code for p in problems] == ["E813"]
    assert "runAsUser" in problems[0].message and "'security-context'" in problems[0].message
    assert "cluster 'c': Deployment 'w-api'" in problems[0].message


def test_an_object_the_api_server_would_reject_is_named_with_the_field(gpu_result):
    problems = _problems(gpu_result, "c", _in_objects(r"\nspec:\n", "\nspec:\n  paused: maybe\n"))
    rejected = [p for p in problems if p.code == "E814"]
    assert rejected and "spec.paused" in rejected[0].message and "Deployment 'w-api'" in rejected[0].message
    unknown = _problems(gpu_result, "c", _in_objects(r"\nspec:\n", "\nspec:\n  replicaz: 2\n"))
    assert [p.code for p in unknown] == ["E814"] and "replicaz" in unknown[0].message


def test_a_cluster_older_than_the_schemas_easel_has_is_checked_against_the_oldest_with_a_warning():
    from builders import cluster_file

    from compiler.prove import workload_policies as policies
    result = _compiled({**TEAM_IN_DEV, **cluster_file("old", k8s="1.20.4"), **one_component_app("""
    - name: api
      type: webservice
      properties: {image: registry.example.com/api:1.0, port: 8080}
""")})
    files = {p: t for p, t in result.files.items() if p.startswith("clusters/old/")}
    found = prove_cluster(result.plans.clusters["old"], files, policies(result.model), facts=result.fleet["old"])
    assert [(p.code, p.severity.name) for p in found] == [("W106", "WARNING")]
    assert "1.20.4" in found[0].message and found[0].location.file == "clusters/old.yaml"
    assert any(d.code == "W106" for d in result.diagnostics)  # and the compile says it too


# A user ComponentDefinition whose objects run several pods, by a templated `replicas` and a Job's `parallelism`:
# the booking counts them all (3 + 2 pods), and the tree's proof agrees with what placement took.
PAIR = docs("""
kind: ComponentDefinition
metadata: {name: pair}
spec:
  parameters: {type: object, properties: {replicas: {type: integer}}}
  template: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: {{ component.instance }}}
    spec:
      replicas: {{ params.replicas }}
      selector: {matchLabels: {app: pair}}
      template:
        metadata: {labels: {app: pair}}
        spec:
          containers:
          - {name: main, image: registry.example.com/pair:1}
    ---
    apiVersion: batch/v1
    kind: Job
    metadata: {name: {{ component.instance }}-warm}
    spec:
      parallelism: 2
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: warm, image: registry.example.com/pair:1}
""")


def test_a_user_definitions_pods_are_all_booked_and_proven():
    result = _compiled({**TEAM_IN_DEV, **gpu_cluster("c"), "profiles/defs.yaml": PAIR, **one_component_app("""
    - name: pair
      type: pair
      properties: {replicas: 3}
      traits:
      - type: gpu
        properties: {count: 1}
""")})
    [booking] = result.plans.clusters["c"].workloads[0].bookings
    assert (booking.gpus[0].per_replica, booking.gpus[0].replicas) == (1, 5)
    assert sum(a.count for a in result.decisions.workloads["team/w"].allocations["c"]) == 5
    assert _problems(result, "c", lambda p, t: t) == []
    problems = _problems(result, "c", lambda p, t: t.replace("parallelism: 2", "parallelism: 4"))
    assert [p.code for p in problems] == ["E810"] and "ask for 7" in problems[0].message


@pytest.mark.parametrize(("kind", "spec"), [
    ("DaemonSet", "{selector: {matchLabels: {app: agent}}, template: %s}"),
    ("CronJob", "{schedule: '*/5 * * * *', jobTemplate: {spec: {template: %s}}}"),
])
def test_gpu_pods_whose_number_cannot_be_booked_are_refused_by_the_proof(gpu_result, kind, spec):
    """A DaemonSet or an overlapping CronJob in the tree (as a folder or a template could write one) that asks for
    the booked GPUs: counted as one pod or one run, it could request more than easel booked."""
    pod = ("{metadata: {labels: {app: agent}}, spec: {restartPolicy: OnFailure, containers: [{name: agent, "
           "image: registry.example.com/api:1.0, resources: {limits: {nvidia.com/gpu: 2}}}]}}")
    def edit(path: str, text: str) -> str:
        if not path.endswith("/api/objects.yaml"):
            return text
        text = text.replace("nvidia.com/gpu: 2", "nvidia.com/gpu: 0")  # the Deployment gives its GPUs up
        return text + f"---\napiVersion: {'apps/v1' if kind == 'DaemonSet' else 'batch/v1'}\nkind: {kind}\n" \
            f"metadata: {{name: agent, namespace: team-w, labels: {{easel.dev/component: api}}}}\n" \
            f"spec: {spec % pod}\n"
    problems = [p for p in _problems(gpu_result, "c", edit) if "cannot be booked" in p.message]
    assert [p.code for p in problems] == ["E810"], [p.message for p in _problems(gpu_result, "c", edit)]
    assert f"{kind} 'agent'" in problems[0].message and "cluster 'c'" in problems[0].message
