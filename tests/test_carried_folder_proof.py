"""A `kustomize` component's folder is copied into each cluster's tree, so the proof builds it as kustomize does
(its resources, patches, images, replicas, namespace, labels and annotations, then what Flux's Kustomization or
Argo CD's wrapper adds) and holds its objects to what easel decided, on both engines: a folder that runs more GPU
pods than were booked is refused (E810); what the proof does not build is said once per folder (W112); a folder
whose extra parts make no pods (generators) is not.
"""

from __future__ import annotations

import pytest
from builders import cluster_file, gpu_device
from scenario import TEAM_IN_DEV, compile_files, one_component_app

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: site}
spec:
  replicas: 1
  selector: {matchLabels: {app: site}}
  template:
    metadata: {labels: {app: site}}
    spec: {containers: [{name: site, image: registry.example.com/site:1}]}
"""


def _files(engine: str, kustomization: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    component = """    - name: site
      type: kustomize
      properties: {path: profiles/site, target: {kind: Deployment, name: site}, container: site}
      traits: [{type: gpu, properties: {count: 1}}]"""
    return {**TEAM_IN_DEV, **one_component_app(component), "profiles/site/kustomization.yaml": kustomization,
            "profiles/site/deployment.yaml": DEPLOYMENT, **(extra or {}),
            **cluster_file("c", spec=f"gitops: {{engine: {engine}}}", devices=[gpu_device("gpu-node", count=8)])}


def _said(result, code: str) -> list[str]:
    return [d.message for d in result.diagnostics if d.code == code]


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_folder_that_runs_the_booked_pods_is_proven_clean(engine):
    result = compile_files(_files(engine, "resources: [deployment.yaml]\n"))
    assert [d.code for d in result.diagnostics if d.severity == "error"] == [], [d.text for d in result.diagnostics]
    assert _said(result, "W112") == []


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_replicas_the_folder_sets_itself_are_seen_and_more_gpus_than_booked_refused(engine):
    """The folder's own `replicas` (kustomize's field) runs three pods of one GPU each, where one was booked."""
    result = compile_files(_files(engine, "resources: [deployment.yaml]\nreplicas: [{name: site, count: 3}]\n"))
    said = _said(result, "E810")  # against the booking, and against what placement took
    assert said and all("Deployment 'site'" in m and "repository/profiles/site/deployment.yaml" in m for m in said)
    assert all("ask for 3" in m for m in said), said


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_strategic_merge_patch_file_of_the_folder_is_applied(engine):
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: site}\nspec: {replicas: 2}\n"
    result = compile_files(_files(engine, "resources: [deployment.yaml]\npatchesStrategicMerge: [more.yaml]\n",
                                  {"profiles/site/more.yaml": patch}))
    said = _said(result, "E810")
    assert said and all("ask for 2" in m for m in said), [d.text for d in result.diagnostics]


def test_what_the_proof_does_not_build_is_said_once_per_folder():
    result = compile_files(_files("flux", "resources: [deployment.yaml]\ncomponents: [../extra]\n",
                                  {"profiles/extra/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
                                                                        "kind: Component\n"}))
    [message] = _said(result, "W112")
    assert "'profiles/site' uses components" in message


def test_generators_make_no_pods_and_are_not_warned_about():
    result = compile_files(_files("flux", "resources: [deployment.yaml]\nconfigMapGenerator:\n"
                                  "  - {name: site, literals: [GREETING=hello]}\n"))
    assert _said(result, "W112") == [] and _said(result, "E810") == []
