"""No trait is skipped silently: a trait reaches every object of every pod-bearing kind it is meant for (a
CronJob's job template and a bare Pod too), or the compile fails and says why."""

from __future__ import annotations

import yaml
from builders import docs, gpu_cluster
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

from compiler.model.parts import POD_TEMPLATES

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
        **gpu_cluster(),
        "profiles/defs.yaml": docs(f"""
kind: ComponentDefinition
metadata: {{name: nightly}}
spec:
  template: |
{objects}
"""),
        **one_component_app(f"""    - name: job
      type: nightly
      traits:{traits}"""),
    }


CRONJOB = """    - apiVersion: batch/v1
      kind: CronJob
      metadata: {name: "{{ component.instance }}"}
      spec:
        schedule: "0 3 * * *"
        concurrencyPolicy: Forbid  # one run at a time, so that its GPUs can be booked (E414)
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
    text = result.files["clusters/c/workloads/team/w/job/objects.yaml"]
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


def _chart_files(properties: str, traits: str, required: str = "") -> dict[str, str]:
    files = _files(CRONJOB)
    files["profiles/app.yaml"] = docs(f"""
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
    - name: server
      type: helm-chart
      properties: {{repository: charts, chart: vllm-stack, version: 0.1.9{properties}}}
      traits:{traits}
""")
    if required:
        files["environments/env.yaml"] = files["environments/env.yaml"].replace(
            'spec: {projects: ["*"]}', f'spec: {{projects: ["*"], policy: {{requiredTraits: [{required}]}}}}')
    return files


GPU = "\n        - {type: gpu, properties: {count: 2, product: A}}"
SECURITY = "\n        - {type: security-context, properties: {allowPrivilegeEscalation: false}}"


def test_a_gpu_trait_on_a_chart_without_container_or_values_is_an_error_that_says_what_to_add():
    result = compile_files(_chart_files("", GPU))
    assert codes(result) == ["E411"]
    problem = next(d for d in result.diagnostics if d.code == "E411")
    assert "trait 'gpu' cannot reach the containers of chart component 'server'" in problem.text
    assert "target:" in problem.hint and "container:" in problem.hint and "traitValues:" in problem.hint


def test_a_chart_gpu_trait_through_target_and_container_or_values_compiles():
    with_patch = compile_files(_chart_files(', target: {kind: Deployment, name: ".*-deployment-vllm"}, container: vllm', GPU))
    assert codes(with_patch) == []
    through_values = compile_files(_chart_files(', traitValues: {gpu.count: "engine.gpus"}', GPU))
    assert codes(through_values) == []
    assert "gpus: 2" in through_values.files["clusters/c/workloads/team/w/server/objects.yaml"]


def test_container_without_target_is_an_error():
    result = compile_files(_chart_files(", container: vllm", GPU))
    assert codes(result) == ["E410"]
    own_container = "\n        - {type: gpu, properties: {count: 2, product: A, container: vllm}}"
    result = compile_files(_chart_files("", own_container))  # the trait's own container: the same risk
    assert codes(result) == ["E410"]
    assert "trait 'gpu' names a container" in next(d.text for d in result.diagnostics if d.code == "E410")


def test_an_optional_container_setting_only_warns_but_a_required_trait_must_reach_the_containers():
    optional = compile_files(_chart_files("", SECURITY))
    # W107: a chart; W111: no easel.yaml, so no repoURL
    assert codes(optional) == [] and [d.code for d in optional.diagnostics] == ["W111", "W103", "W107"]
    required = compile_files(_chart_files("", SECURITY, required="security-context"))
    assert codes(required) == ["E411"]


def _flux_patches(result) -> tuple[list[dict], dict]:
    release = yaml.safe_load(result.files["clusters/c/workloads/team/w/server/objects.yaml"])
    post = release["spec"].get("postRenderers") or [{"kustomize": {"patches": []}}]
    return post[0]["kustomize"]["patches"], release["spec"].get("values") or {}


def test_chart_values_can_take_what_a_trait_sets_on_the_pod_and_the_rest_still_goes_by_patch():
    mapped = compile_files(_chart_files(', traitValues: {gpu.count: "engine.gpus", gpu.pod.tolerations: '
                                        'engine.tolerations, gpu.pod.nodeSelector: engine.nodeSelector}', GPU))
    assert codes(mapped) == []
    patches, values = _flux_patches(mapped)
    assert values["engine"] == {"gpus": 2, "nodeSelector": {"nvidia.com/gpu.product": "A"},
                                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                                 "effect": "NoSchedule"}]}
    assert patches == []  # nothing of the gpu trait is left for a patch
    partly = compile_files(_chart_files(', traitValues: {gpu.count: "engine.gpus"}', GPU))
    patches, values = _flux_patches(partly)
    assert values["engine"] == {"gpus": 2}
    for entry in patches:  # the node selector and toleration, booked with the GPUs, still reach the pods
        pod = yaml.safe_load(entry["patch"])["spec"]["template"]["spec"]
        assert set(pod) == {"nodeSelector", "tolerations"}


def test_one_trait_part_may_go_to_several_values_paths():
    files = _chart_files(', traitValues: {security-context.pod.securityContext: [head.podSecurityContext, '
                         'worker.podSecurityContext]}', "\n        - {type: security-context, properties: "
                         "{runAsNonRoot: true, runAsUser: 1000}}")
    result = compile_files(files)
    assert codes(result) == []
    patches, values = _flux_patches(result)
    assert values == {"head": {"podSecurityContext": {"runAsNonRoot": True, "runAsUser": 1000}},
                      "worker": {"podSecurityContext": {"runAsNonRoot": True, "runAsUser": 1000}}}
    assert patches == []


def _pod_spec(patch: dict, kind: str) -> dict:
    """The pod spec a patch of this kind sets (where the kind keeps its pod template)."""
    node = patch
    for key in (*POD_TEMPLATES[kind], "spec"):
        node = node[key]
    return node


def test_with_a_target_pod_wide_settings_reach_every_pod_and_gpus_only_the_target():
    traits = GPU + "\n        - {type: security-context, properties: {runAsNonRoot: true, " \
                   "allowPrivilegeEscalation: false}}"
    result = compile_files(_chart_files(', target: {kind: Deployment, name: ".*-deployment-vllm"}, container: vllm',
                                        traits))
    assert codes(result) == []
    patches, _ = _flux_patches(result)
    by_target = {(p["target"]["kind"], p["target"].get("name")): yaml.safe_load(p["patch"]) for p in patches}
    wide_kinds = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
    assert set(by_target) == {*((kind, None) for kind in wide_kinds), ("Deployment", ".*-deployment-vllm")}
    for kind in wide_kinds:  # every pod (the router, a chart's Jobs, CronJobs, DaemonSets, hook pods) runs as non-root
        assert _pod_spec(by_target[(kind, None)], kind) == {"securityContext": {"runAsNonRoot": True}}
    by_target = {key: _pod_spec(value, key[0]) for key, value in by_target.items()}
    engine = by_target[("Deployment", ".*-deployment-vllm")]
    assert engine["containers"] == [{"name": "vllm", "resources": {"limits": {"nvidia.com/gpu": 2}},
                                     "securityContext": {"allowPrivilegeEscalation": False}}]
    assert engine["nodeSelector"] == {"nvidia.com/gpu.product": "A"}
    # kustomize applies patches in turn and a later one replaces lists: the target's, last, holds everything
    assert engine["securityContext"] == {"runAsNonRoot": True} and patches[-1]["target"].get("name")
