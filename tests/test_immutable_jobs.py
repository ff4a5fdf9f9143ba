"""A Job's pod template cannot change in place, so a new profile version that changes a Job's template would
fail to apply: on Flux its layer recreates what it cannot patch (`force: true`), on Argo CD the Job carries
`Force=true,Replace=true` (deleted and created again); a component without a Job is applied as before."""

from __future__ import annotations

import k8s_schemas
import pytest
import yaml
from builders import gpu_cluster
from conftest import CRDS, CRDS_ABSENT
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

JOB = """    - name: migrate
      type: manifests
      properties:
        objects:
          - apiVersion: batch/v1
            kind: Job
            metadata: {name: migrate}
            spec:
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: migrate, image: "busybox:1.36", args: [echo, "{{ params.step }}"]}]"""
CONFIG = """    - name: settings
      type: manifests
      properties: {objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {a: b}}]}"""


def _compiled(component: str, engine: str = "flux", step: str = "one"):
    files = {**TEAM_IN_DEV, **one_component_app(component), **gpu_cluster("c")}
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(
        "spec:\n  version: 1.0.0\n", f"spec:\n  version: 1.0.0\n  parameters: {{step: {{type: string, default: {step}}}}}\n")
    if engine == "argocd":
        files["clusters/c.yaml"] = files["clusters/c.yaml"].replace("spec:\n", "spec:\n  gitops: {engine: argocd}\n")
    result = compile_files(files)
    assert codes(result) == [], [d.message for d in result.diagnostics]
    return result.files


def _layer(files: dict, component: str) -> dict:
    [layer] = [yaml.safe_load(text) for path, text in files.items()
               if path.startswith("clusters/c/flux/layers/") and path.endswith(f"-{component}.yaml")]
    return layer


def test_on_flux_a_layer_with_a_job_recreates_what_it_cannot_patch():
    assert _layer(_compiled(JOB), "migrate")["spec"]["force"] is True
    assert "force" not in _layer(_compiled(CONFIG), "settings")["spec"]


def test_on_argocd_a_job_is_replaced_when_its_template_changes():
    files = _compiled(JOB, "argocd")
    [job] = yaml.safe_load_all(files["clusters/c/workloads/team/w/migrate/objects.yaml"])
    assert job["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Force=true,Replace=true"
    config = _compiled(CONFIG, "argocd")["clusters/c/workloads/team/w/settings/objects.yaml"]
    assert "sync-options" not in config


@pytest.mark.skipif(not CRDS.is_dir(), reason=CRDS_ABSENT)
def test_a_forcing_layer_validates_against_the_upstream_crd():
    assert not k8s_schemas.validate_custom(_layer(_compiled(JOB), "migrate"), CRDS)


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_a_job_changed_by_a_new_version_is_recreated_not_patched(engine):
    path = "clusters/c/workloads/team/w/migrate/objects.yaml"
    before, after = (yaml.safe_load(_compiled(JOB, engine, step)[path]) for step in ("one", "two"))
    # the same Job, another pod template: an update Kubernetes refuses in place ...
    assert before["metadata"]["name"] == after["metadata"]["name"]
    assert before["spec"]["template"] != after["spec"]["template"]
    # ... which the engine applies by recreating it
    if engine == "flux":
        assert _layer(_compiled(JOB, engine, "two"), "migrate")["spec"]["force"] is True
    else:
        assert "Replace=true" in after["metadata"]["annotations"]["argocd.argoproj.io/sync-options"]
