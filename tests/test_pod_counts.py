"""How many pods easel books GPUs for, kind by kind, counted on what the component renders (README, "GPUs are
booked for every pod that requests them"): a Job's parallelism never more than its completions; a CronJob's job
template alike, when its runs cannot overlap, and E414 when they may; a DaemonSet's pods, one per node and more
as nodes join, cannot be booked (E415). And what a MIG instance and a time-slicing slot count against a
project's GPU quota: one each, under the GPU's product."""

from __future__ import annotations

from builders import cluster_file, docs, gpu_cluster
from conftest import easel, write_files
from scenario import TEAM_IN_DEV, codes, compile_files, decision, one_component_app

GPU = "\n        - {type: gpu, properties: {count: 2}}"


def _files(objects: str, traits: str = GPU) -> dict[str, str]:
    """A user ComponentDefinition rendering the objects, used by one component with the traits."""
    return {**TEAM_IN_DEV, **gpu_cluster(), "profiles/defs.yaml": docs(f"""
kind: ComponentDefinition
metadata: {{name: batch}}
spec:
  template: |
{objects}
"""), **one_component_app(f"""    - name: run
      type: batch
      traits:{traits}""")}


def _job(spec: str) -> str:
    return f"""    apiVersion: batch/v1
    kind: Job
    metadata: {{name: "{{{{ component.instance }}}}"}}
    spec:
{spec}
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: train, image: registry.example.com/train:1}}]"""


def _cronjob(policy: str, job: str = "") -> str:
    return f"""    apiVersion: batch/v1
    kind: CronJob
    metadata: {{name: "{{{{ component.instance }}}}"}}
    spec:
      schedule: "0 3 * * *"{policy}
      jobTemplate:
        spec:{job}
          template:
            spec:
              restartPolicy: Never
              containers: [{{name: train, image: registry.example.com/train:1}}]"""


DAEMONSET = """    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: "{{ component.instance }}-agent"}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec:
          containers: [{name: agent, image: registry.example.com/agent:1}]"""

DEPLOYMENT = """    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: "{{ component.instance }}"}
    spec:
      replicas: 2
      selector: {matchLabels: {app: server}}
      template:
        metadata: {labels: {app: server}}
        spec:
          containers: [{name: server, image: registry.example.com/server:1}]"""


def _booked(result) -> int:
    return sum(a.count for a in decision(result).allocations["c"])


def _ok(result) -> None:
    assert codes(result) == [], [d.text for d in result.diagnostics]


# --- Job ----------------------------------------------------------------------------------------------------------

def test_a_job_runs_no_more_pods_at_once_than_its_completions():
    for spec, pods in [("      parallelism: 4\n      completions: 2", 2),  # 2 pods, each one completion
                       ("      parallelism: 3", 3),  # a work queue: parallelism pods until one succeeds
                       ("      completions: 5", 1),  # parallelism 1 (the default): one after another
                       ("      parallelism: 2\n      completions: 6", 2),
                       ("      parallelism: 5\n      completions: 3\n      completionMode: Indexed", 3)]:
        result = compile_files(_files(_job(spec)))
        _ok(result)
        assert _booked(result) == 2 * pods, spec  # 2 GPUs per pod; the proof of the tree agreed (E810)


# --- CronJob ------------------------------------------------------------------------------------------------------

def test_a_cronjob_whose_runs_may_overlap_cannot_be_booked_gpus():
    for policy in ("", "\n      concurrencyPolicy: Allow"):
        result = compile_files(_files(_cronjob(policy)))
        assert codes(result) == ["E414"]
        [problem] = [d for d in result.diagnostics if d.code == "E414"]
        assert "trait 'gpu' of component 'run' asks for GPUs for the pods of CronJob 'w-run'" in problem.message
        assert "its runs may overlap (concurrencyPolicy Allow" in problem.message
        assert "concurrencyPolicy: Forbid" in problem.hint
        assert problem.location.file == "profiles/app.yaml"  # the gpu trait that asked
        assert result.files is None


def test_a_cronjob_running_one_run_at_a_time_is_booked_one_runs_pods():
    for policy in ("Forbid", "Replace"):
        result = compile_files(_files(_cronjob(f"\n      concurrencyPolicy: {policy}",
                                               "\n          parallelism: 3\n          completions: 2")))
        _ok(result)
        assert _booked(result) == 4  # 2 GPUs × 2 pods: parallelism 3 capped by 2 completions


def test_a_cronjob_without_gpus_may_overlap():
    traits = "\n        - {type: security-context, properties: {runAsNonRoot: true}}"
    _ok(compile_files(_files(_cronjob(""), traits)))


# --- DaemonSet ----------------------------------------------------------------------------------------------------

def test_gpus_for_a_daemonset_are_an_error():
    result = compile_files(_files(DAEMONSET))
    assert codes(result) == ["E415"]
    [problem] = [d for d in result.diagnostics if d.code == "E415"]
    assert "asks for GPUs for the pods of DaemonSet 'w-run-agent'" in problem.message
    assert "every node it selects, nodes that join the cluster later too" in problem.message
    assert "Deployment or StatefulSet" in problem.hint


def test_a_daemonset_beside_the_gpu_pods_is_fine_when_the_gpu_trait_names_their_container():
    objects = DEPLOYMENT + "\n    ---\n" + DAEMONSET
    traits = ("\n        - {type: gpu, properties: {count: 1, container: server}}"
              "\n        - {type: security-context, properties: {runAsNonRoot: true}}")  # reaches both
    result = compile_files(_files(objects, traits))
    _ok(result)
    assert _booked(result) == 2  # the Deployment's two replicas; the agent asks for none
    assert codes(compile_files(_files(objects))) == ["E415"]  # without `container`, the agent's pods ask too


def test_the_error_says_where_through_the_command_line(tmp_path):
    write_files(tmp_path, _files(DAEMONSET))
    run = easel("validate", cwd=tmp_path)
    assert run.code == 1
    line = next(x for x in run.err.splitlines() if "error[E415]" in x)  # at the gpu trait, line 10
    assert line.startswith("profiles/app.yaml:10:11: error[E415]: trait 'gpu' of component 'run'"), run.err
    assert "Deployment or StatefulSet" in run.err  # the hint


# --- quotas: MIG instances and time-slicing slots ----------------------------------------------------------------

H100 = "NVIDIA-H100-80GB-HBM3"


def _shared_fleet(quota: str, ask: str, replicas: int) -> dict[str, str]:
    """One cluster: an H100 cut into seven 1g.10gb MIG instances, and an L4 time-sliced into four slots."""
    devices = [f"{{name: mig, facts: {{gpus: [{{product: {H100}, memory: 80Gi, count: 1, mig: {{1g.10gb: 7}}}}]}}}}",
               "{name: ts, facts: {gpus: [{product: NVIDIA-L4, memory: 24Gi, count: 1, timeSlicing: {replicas: 4}}]}}"]
    files = {**TEAM_IN_DEV, **cluster_file("c", devices=devices), **one_component_app(f"""    - name: web
      type: webservice
      properties: {{image: registry.example.com/web:1, port: 8080}}
      traits:
        - {{type: gpu, properties: {ask}}}
        - {{type: replicas, properties: {{count: {replicas}}}}}""")}
    files["environments/env.yaml"] = files["environments/env.yaml"].replace("spec: {}", f"spec: {{quota: {quota}}}")
    return files


MIG = f"{{count: 1, product: {H100}, sharing: mig, migProfile: 1g.10gb}}"
SLOT = "{count: 1, product: NVIDIA-L4, sharing: time-slicing}"


def test_each_mig_instance_counts_one_gpu_of_its_product_against_the_quota():
    fits = compile_files(_shared_fleet(f"{{gpus: 3, gpusByProduct: {{{H100}: 3}}}}", MIG, 3))
    _ok(fits)
    assert [(a.product, a.count) for a in decision(fits).allocations["c"]] == [(H100, 3)]  # 3 of one GPU's 7
    over = compile_files(_shared_fleet("{gpus: 2}", MIG, 3))
    assert codes(over) == ["E704"]
    assert "would take 3 GPUs" in next(d.message for d in over.diagnostics if d.code == "E704")
    by_product = compile_files(_shared_fleet(f"{{gpusByProduct: {{{H100}: 2}}}}", MIG, 3))
    assert codes(by_product) == ["E704"]
    assert f"would take 3 × {H100}" in next(d.message for d in by_product.diagnostics if d.code == "E704")


def test_each_time_slicing_slot_counts_one_gpu_against_the_quota():
    fits = compile_files(_shared_fleet("{gpus: 4, gpusByProduct: {NVIDIA-L4: 4}}", SLOT, 4))
    _ok(fits)
    assert [(a.product, a.count) for a in decision(fits).allocations["c"]] == [("NVIDIA-L4", 4)]  # of one L4
    over = compile_files(_shared_fleet("{gpusByProduct: {NVIDIA-L4: 3}}", SLOT, 4))
    assert codes(over) == ["E704"]
    assert "would take 4 × NVIDIA-L4" in next(d.message for d in over.diagnostics if d.code == "E704")
