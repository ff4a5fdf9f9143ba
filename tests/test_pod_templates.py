"""Custom kinds that run pods (a RayCluster's head and worker groups, a PyTorchJob's replica specs): a
ComponentDefinition says where their pod templates are (`podTemplates`), traits reach every one of them, and what
placement books is what those pods request, counted pod by pod. (compile_files runs the fidelity check.)"""

from __future__ import annotations

import yaml
from builders import docs, gpu_cluster
from scenario import TEAM_IN_DEV, codes, compile_files, decision, one_component_app

RAY = """    - apiVersion: ray.io/v1
      kind: RayCluster
      metadata: {name: "{{ component.instance }}"}
      spec:
        headGroupSpec:
          rayStartParams: {}
          template:
            spec:
              containers: [{name: ray-head, image: rayproject/ray:2.43.0}]
        workerGroupSpecs:
          - groupName: gpu
            replicas: 2
            rayStartParams: {}
            template:
              spec:
                containers: [{name: ray-worker, image: rayproject/ray:2.43.0-gpu}]"""

RAY_TEMPLATES = """
  podTemplates:
    - {kind: RayCluster, path: spec.headGroupSpec.template}
    - {kind: RayCluster, path: "spec.workerGroupSpecs[*].template", replicas: replicas}"""

PYTORCH = """    - apiVersion: kubeflow.org/v1
      kind: PyTorchJob
      metadata: {name: "{{ component.instance }}"}
      spec:
        pytorchReplicaSpecs:
          Master:
            replicas: 1
            template:
              spec:
                containers: [{name: pytorch, image: ghcr.io/example/train:1}]
          Worker:
            replicas: 3
            template:
              spec:
                containers: [{name: pytorch, image: ghcr.io/example/train:1}]"""

PYTORCH_TEMPLATES = """
  podTemplates:
    - {kind: PyTorchJob, apiVersion: kubeflow.org/v1, path: "spec.pytorchReplicaSpecs[*].template", replicas: replicas}"""


def _files(objects: str, pod_templates: str, traits: str, policy: str = "") -> dict[str, str]:
    return {
        **TEAM_IN_DEV,
        **gpu_cluster(crds="[ray.io, kubeflow.org]"),  # KubeRay's and Kubeflow's operators are installed there
        "environments/env.yaml": TEAM_IN_DEV["environments/env.yaml"].replace(
            'spec: {projects: ["*"]}', f'spec: {{projects: ["*"]{policy}}}'),
        "profiles/defs.yaml": docs(f"""
kind: ComponentDefinition
metadata: {{name: custom}}
spec:{pod_templates}
  template: |
{objects}
"""),
        **one_component_app(f"""    - name: run
      type: custom
      traits:{traits}"""),
    }


def _object(result) -> dict:
    return yaml.safe_load(result.files["clusters/c/workloads/team/w/run/objects.yaml"])


def _booked(result) -> int:
    return sum(a.count for a in decision(result).allocations["c"])


WORKER_GPU = """
        - {type: gpu, properties: {count: 1, product: A, container: ray-worker}}
        - {type: security-context, properties: {runAsNonRoot: true, allowPrivilegeEscalation: false}}"""


def test_a_rayclusters_worker_groups_get_the_gpus_and_every_pod_gets_the_other_traits():
    result = compile_files(_files(RAY, RAY_TEMPLATES, WORKER_GPU))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    spec = _object(result)["spec"]
    head = spec["headGroupSpec"]["template"]["spec"]
    worker = spec["workerGroupSpecs"][0]["template"]["spec"]
    assert worker["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert worker["nodeSelector"] == {"nvidia.com/gpu.product": "A"}
    assert worker["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert "resources" not in head["containers"][0] and "nodeSelector" not in head  # the head runs no ray-worker
    for pod in (head, worker):  # a trait without `container` reaches every pod
        assert pod["securityContext"] == {"runAsNonRoot": True}
        assert pod["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False}
    assert [c["name"] for c in worker["containers"]] == ["ray-worker"]  # no container added
    assert _booked(result) == 2  # one GPU for each of the two worker pods


def test_a_pytorchjobs_replica_specs_are_booked_pod_by_pod():
    result = compile_files(_files(PYTORCH, PYTORCH_TEMPLATES, "\n        - {type: gpu, properties: {count: 2}}"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    specs = _object(result)["spec"]["pytorchReplicaSpecs"]
    for role in ("Master", "Worker"):
        assert specs[role]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 2}
    assert _booked(result) == 8  # 2 GPUs × (1 master + 3 workers)


def test_a_custom_kind_without_declared_pod_templates_is_an_error_that_says_how_to_declare_them():
    result = compile_files(_files(RAY, "", WORKER_GPU))
    assert codes(result) == ["E409", "E409"]
    problem = next(d for d in result.diagnostics if "'gpu'" in d.message)
    assert "the component renders RayCluster" in problem.message
    assert "podTemplates: [{kind: RayCluster, path: spec.<...>.template" in problem.hint


def test_a_trait_naming_a_container_no_pod_runs_is_an_error_not_a_new_container():
    traits = "\n        - {type: gpu, properties: {count: 1, container: ray-gpu}}"
    result = compile_files(_files(RAY, RAY_TEMPLATES, traits))
    assert codes(result) == ["E409"]
    problem = next(d for d in result.diagnostics if d.code == "E409")
    assert "changes container 'ray-gpu', which none of its pods runs (they run ray-head, ray-worker)" in problem.text


def test_the_gpus_of_a_deployment_with_replicas_of_its_own_are_booked_for_every_replica():
    deployment = """    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: "{{ component.instance }}"}
      spec:
        replicas: 3
        selector: {matchLabels: {app: x}}
        template:
          metadata: {labels: {app: x}}
          spec:
            containers: [{name: app, image: registry.example.com/app:1}]"""
    result = compile_files(_files(deployment, "", "\n        - {type: gpu, properties: {count: 2}}"))
    assert codes(result) == [] and _booked(result) == 6
    with_trait = compile_files(_files(deployment, "", "\n        - {type: gpu, properties: {count: 2}}"
                                      "\n        - {type: replicas, properties: {count: 1}}"))
    assert _booked(with_trait) == 2


def test_images_of_custom_kinds_are_seen_by_policy_and_mirrored():
    traits = WORKER_GPU + "\n        - {type: image-registry, properties: {registry: mirror.example.com}}"
    result = compile_files(_files(RAY, RAY_TEMPLATES, traits))
    assert codes(result) == []
    spec = _object(result)["spec"]
    assert spec["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] == \
        "mirror.example.com/rayproject/ray:2.43.0"
    assert result.files["clusters/c/images.txt"] == (
        "rayproject/ray:2.43.0 mirror.example.com/rayproject/ray:2.43.0\n"
        "rayproject/ray:2.43.0-gpu mirror.example.com/rayproject/ray:2.43.0-gpu\n")
    refused = compile_files(_files(RAY, RAY_TEMPLATES, WORKER_GPU,
                                   policy=", policy: {allowedRegistries: [registry.example.com]}"))
    assert codes(refused) == ["E706", "E706"]  # the head's image and the workers'
    assert {d.message.split("'")[1] for d in refused.diagnostics if d.code == "E706"} == {
        "rayproject/ray:2.43.0", "rayproject/ray:2.43.0-gpu"}


def test_pod_templates_must_be_custom_kinds_and_paths():
    builtin = compile_files(_files(RAY, "\n  podTemplates: [{kind: Deployment, path: spec.template}]", WORKER_GPU))
    assert "E206" in codes(builtin)
    assert any("Deployment is a built-in kind" in d.message for d in builtin.diagnostics)
    bad_path = compile_files(_files(RAY, '\n  podTemplates: [{kind: RayCluster, path: "spec.groups[*]"}]', WORKER_GPU))
    assert "E206" in codes(bad_path)
    assert any("is not a path to a field" in d.message for d in bad_path.diagnostics)
