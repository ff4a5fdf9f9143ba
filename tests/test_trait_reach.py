"""No trait is skipped silently: a trait reaches every object of every pod-bearing kind it is meant for (a
CronJob's job template and a bare Pod too), or the compile fails and says why."""

from __future__ import annotations

import yaml

from scenario import TEAM_IN_DEV, codes, compile_files, docs

TRAITS = """
        - type: gpu
          properties: {count: 2, product: A}
        - type: resources
          properties: {memory: 4Gi}
        - type: node-placement
          properties: {nodeSelector: {pool: batch}}
        - type: security-context
          properties: {runAsNonRoot: true, allowPrivilegeEscalation: false}
"""


def _files(objects: str, traits: str = TRAITS) -> dict[str, str]:
    return {
        **TEAM_IN_DEV,
        "clusters/c.yaml": docs("""
kind: Cluster
metadata: {name: c}
spec:
  source: byoc
  kubernetesVersion: "1.30.1"
  devices: [{name: c-gpu, facts: {gpus: [{product: A, memory: 80Gi, count: 8}]}}]
"""),
        "profiles/defs.yaml": docs(f"""
kind: ComponentDefinition
metadata: {{name: nightly}}
spec:
  template: |
{objects}
"""),
        "profiles/app.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
    - name: job
      type: nightly
      traits:{traits}
"""),
        "workloads/w.yaml": docs("""
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
"""),
    }


CRONJOB = """    - apiVersion: batch/v1
      kind: CronJob
      metadata: {name: "{{ component.instance }}"}
      spec:
        schedule: "0 3 * * *"
        jobTemplate:
          spec:
            template:
              spec:
                restartPolicy: Never
                containers: [{name: train, image: registry.example.com/train:1}]"""

POD = """    - apiVersion: v1
      kind: Pod
      metadata: {name: "{{ component.instance }}"}
      spec:
        containers: [{name: train, image: registry.example.com/train:1}]"""

CONFIGMAP = """    - apiVersion: v1
      kind: ConfigMap
      metadata: {name: "{{ component.instance }}"}
      data: {a: b}"""


def _rendered(result, kind: str) -> dict:
    text = result.files["clusters/c/workloads/team/w/job.yaml"]
    return next(d for d in yaml.safe_load_all(text) if d["kind"] == kind)


def _assert_traits_applied(pod: dict) -> None:
    [container] = pod["containers"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 2, "memory": "4Gi"}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False}
    assert pod["securityContext"] == {"runAsNonRoot": True}
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "A", "pool": "batch"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]


def test_a_cronjobs_pods_get_every_trait():
    result = compile_files(_files(CRONJOB))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    cronjob = _rendered(result, "CronJob")
    _assert_traits_applied(cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    assert "template" not in cronjob["spec"]  # the patch went where a CronJob keeps its pods, nowhere else


def test_a_bare_pod_gets_every_trait():
    result = compile_files(_files(POD))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    _assert_traits_applied(_rendered(result, "Pod")["spec"])


def test_a_gpu_trait_on_a_component_without_pods_is_an_error_not_a_skip():
    result = compile_files(_files(CONFIGMAP))
    assert codes(result) == ["E409"] * 4
    problem = next(d for d in result.diagnostics if "'gpu'" in d.message)
    assert "the component renders ConfigMap" in problem.text and problem.location.file == "profiles/app.yaml"
    assert result.files is None


def test_an_environment_default_trait_is_not_needed_by_a_component_without_pods():
    files = _files(CONFIGMAP, traits=" []")
    files["environments/env.yaml"] = files["environments/env.yaml"].replace(
        'spec: {projects: ["*"]}',
        'spec: {projects: ["*"], defaults: {traits: [{type: security-context, properties: {runAsNonRoot: true}}]}}')
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]
