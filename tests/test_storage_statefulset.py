"""The storage trait on a StatefulSet: a claim template (one claim per replica) and the mount on the container,
no shared claim; on a Deployment, the shared PersistentVolumeClaim as before. A StatefulSet with claim templates
of its own is not overwritten (E413); a chart's StatefulSet gets the claim template only as the `target`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from builders import gpu_cluster
from k8s_schemas import validate_builtin
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

STORAGE = "\n        - {type: storage, properties: {size: 10Gi, mountPath: /data, storageClass: fast}}"


def _workload(kind: str, name: str, extra: str = "") -> str:
    service = "\n    serviceName: db" if kind == "StatefulSet" else ""
    return f"""
- apiVersion: apps/v1
  kind: {kind}
  metadata: {{name: {name}}}
  spec:{service}
    selector: {{matchLabels: {{app: {name}}}}}
    template:
      metadata: {{labels: {{app: {name}}}}}
      spec: {{containers: [{{name: {name}, image: registry.example.com/{name}:1}}]}}{extra}"""


def _files(objects: str, traits: str = STORAGE) -> dict[str, str]:
    indented = "\n".join(" " * 10 + line for line in objects.strip().splitlines())
    return {**TEAM_IN_DEV, **gpu_cluster(), **one_component_app(f"""    - name: db
      type: manifests
      properties:
        objects:
{indented}
      traits:{traits}""")}


FOLDER = "clusters/c/workloads/team/w/db"


def _objects(result) -> dict[str, dict]:
    return {o["kind"]: o for o in yaml.safe_load_all(result.files[f"{FOLDER}/objects.yaml"])}


def _ok(result) -> None:
    assert codes(result) == [], [d.text for d in result.diagnostics]


def test_a_statefulset_gets_a_claim_template_and_the_mount_not_a_shared_claim():
    result = compile_files(_files(_workload("StatefulSet", "db")))
    _ok(result)
    objects = _objects(result)
    assert set(objects) == {"StatefulSet"}  # no PersistentVolumeClaim: each replica gets its own
    statefulset = objects["StatefulSet"]
    assert statefulset["spec"]["volumeClaimTemplates"] == [{"metadata": {"name": "data"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "fast"}}]
    pod = statefulset["spec"]["template"]["spec"]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert "volumes" not in pod  # the claim template is the volume
    assert validate_builtin(statefulset) == []


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_the_statefulsets_folder_builds_with_kustomize(tmp_path: Path):
    result = compile_files(_files(_workload("StatefulSet", "db")))
    for path, text in result.files.items():
        if path.startswith(FOLDER + "/"):
            (tmp_path / Path(path).name).write_text(text)
    built = subprocess.run(["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    [statefulset] = list(yaml.safe_load_all(built.stdout))
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_a_deployment_keeps_its_shared_claim_beside_a_statefulsets_claim_template():
    result = compile_files(_files(_workload("Deployment", "web") + _workload("StatefulSet", "db")))
    _ok(result)
    objects = _objects(result)
    claim = objects["PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "w-db-data"
    web = objects["Deployment"]["spec"]["template"]["spec"]
    assert web["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "w-db-data"}}]
    assert "volumeClaimTemplates" not in objects["Deployment"]["spec"]
    assert objects["StatefulSet"]["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    for obj in objects.values():
        assert validate_builtin(obj) == [], obj["kind"]


def test_storage_on_a_component_without_a_deployment_or_statefulset_is_an_error():
    job = """
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {a: b}"""
    result = compile_files(_files(job))
    assert codes(result) == ["E409"]
    assert "applies to Deployment or StatefulSet" in next(d.message for d in result.diagnostics if d.is_error)


def test_a_statefulset_with_claim_templates_of_its_own_is_not_overwritten():
    own = """
    volumeClaimTemplates:
      - metadata: {name: wal}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}"""
    result = compile_files(_files(_workload("StatefulSet", "db", own)))
    assert codes(result) == ["E413"]
    problem = next(d for d in result.diagnostics if d.is_error)
    assert "would replace its own volumeClaimTemplates (wal)" in problem.message


def _chart(target: str) -> dict[str, str]:
    return {**TEAM_IN_DEV, **gpu_cluster(), **one_component_app(f"""    - name: db
      type: helm-chart
      properties:
        repository: charts
        chart: postgres
        version: 1.0.0
        container: postgres{target}
      traits:{STORAGE}""")}


def _release(result) -> str:
    return next(text for path, text in result.files.items() if path.startswith(FOLDER) and "HelmRelease" in text)


def test_a_charts_statefulset_target_gets_the_claim_template_and_no_shared_claim():
    result = compile_files(_chart("\n        target: {kind: StatefulSet, name: db}"))
    _ok(result)
    release = _release(result)
    assert "volumeClaimTemplates" in release and "PersistentVolumeClaim" not in release
    assert not any("PersistentVolumeClaim" in text for path, text in result.files.items() if path.startswith(FOLDER))


def test_a_charts_deployment_target_keeps_the_shared_claim_and_no_claim_template():
    result = compile_files(_chart("\n        target: {kind: Deployment, name: db}"))
    _ok(result)
    assert "volumeClaimTemplates" not in _release(result)
    assert any("kind: PersistentVolumeClaim" in text for path, text in result.files.items() if path.startswith(FOLDER))
