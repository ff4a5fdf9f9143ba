"""A definition whose template reads `cluster` renders differently on each cluster; what depends on its objects
is worked out on each: the pods that request its GPUs (placement books what each cluster will run, before it
places) and the images it pulls (images.txt, allowedRegistries)."""

from __future__ import annotations

from builders import docs, gpu_cluster
from scenario import TEAM_IN_DEV, codes, compile_files

TRAINER = docs("""
kind: ComponentDefinition
metadata: {name: trainer}
spec:
  parameters: {}
  template: |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: {{ component.instance }}}
    spec:
      replicas: {{ 3 if cluster.name == "big" else 1 }}
      selector: {matchLabels: {app: t}}
      template:
        metadata: {labels: {app: t}}
        spec:
          containers: [{name: t, image: "registry.example.com/t:{{ cluster.kubernetesVersion }}"}]
""")
PROFILE = docs("""
kind: WorkloadProfile
metadata: {name: app}
spec:
  version: 1.0.0
  components:
    - name: t
      type: trainer
      traits:
        - {type: gpu, properties: {count: 2}}
""")
WORKLOAD = docs("kind: Workload\nmetadata: {name: w}\nspec: {project: team, environment: dev, profile: {name: app}}\n")


def _files() -> dict[str, str]:
    return {**TEAM_IN_DEV, "profiles/defs.yaml": TRAINER, "profiles/app.yaml": PROFILE, "workloads/w.yaml": WORKLOAD,
            **gpu_cluster("big"), **gpu_cluster("small")}


def test_placement_books_the_pods_each_cluster_renders():
    result = compile_files(_files())
    assert codes(result) == [], [d.text for d in result.diagnostics]
    taken = {c: sum(a.count for a in allocations)
             for c, allocations in result.decisions.workloads["team/w"].allocations.items()}
    assert taken == {"big": 6, "small": 2}  # 2 GPUs × 3 pods where the template says 3, × 1 elsewhere


def test_a_cluster_whose_rendered_pods_do_not_fit_is_passed_over_for_that_reason():
    files = _files()
    files["profiles/app.yaml"] = PROFILE.replace("count: 2", "count: 3")  # 3 × 3 = 9 on a cluster of 8
    result = compile_files(files)
    assert codes(result) == [], [d.text for d in result.diagnostics]
    decision = result.decisions.workloads["team/w"]
    assert decision.clusters == ("small",)
    assert "needs 9 × A" in str(decision.placement.reasons["big"])


def test_the_images_each_cluster_renders_are_listed_for_mirroring():
    result = compile_files(_files())
    assert codes(result) == []
    for cluster in ("big", "small"):
        assert "registry.example.com/t:1.30.1\n" in result.files[f"clusters/{cluster}/images.txt"]


def test_max_gpus_per_workload_holds_on_each_cluster_as_its_templates_render():
    files = _files()
    files["environments/env.yaml"] = files["environments/env.yaml"].replace(
        'spec: {projects: ["*"]}', 'spec: {projects: ["*"], policy: {maxGPUsPerWorkload: 4}}')
    result = compile_files(files)
    assert codes(result) == ["E703"], [d.text for d in result.diagnostics]
    problem = next(d for d in result.diagnostics if d.code == "E703")
    assert "asks for 6 GPUs on cluster 'big'" in problem.message and problem.subject.cluster == "big"
