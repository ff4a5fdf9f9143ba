"""One merge, kustomize's: traits give the same object on easel's own objects as `kubectl kustomize` gives when
it applies the same traits' patches to a folder, and the merge keys easel uses are Kubernetes' own."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import merge_keys
import pytest
import yaml
from builders import gpu_cluster
from conftest import easel, write_files

from compiler.kube import merge

OBJECT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1
          ports: [{containerPort: 80, name: http}]
          env: [{name: MODE, value: serve}]
          volumeMounts: [{name: cache, mountPath: /cache}]
      volumes: [{name: cache, emptyDir: {}}]
      tolerations: [{key: own, operator: Exists}]
      nodeSelector: {disk: ssd}
"""

TRAITS = """
        - type: gpu
          properties: {count: 2, product: A}
        - type: resources
          properties: {cpu: "2", memory: 8Gi}
        - type: node-placement
          properties: {nodeSelector: {pool: gpu}, tolerations: [{key: spot, operator: Exists, effect: NoSchedule}]}
        - type: storage
          properties: {size: 10Gi, mountPath: /data}
        - type: security-context
          properties: {runAsNonRoot: true, allowPrivilegeEscalation: false}
        - type: metrics-port
"""

FILES = {
    "easel.yaml": "apiVersion: easel.dev/v1alpha1\nkind: Settings\nspec: {gitops: {engine: argocd}}\n",
    "environments/env.yaml": """
apiVersion: easel.dev/v1alpha1
kind: Project
metadata: {name: team}
spec: {}
---
apiVersion: easel.dev/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {projects: ["*"]}
""",
    **gpu_cluster(),
    "profiles/base/kustomization.yaml": "resources: [deployment.yaml]\n",
    "profiles/base/deployment.yaml": OBJECT.replace("NAME", "app"),
    "profiles/traits.yaml": """
apiVersion: easel.dev/v1alpha1
kind: TraitDefinition
metadata: {name: metrics-port}
spec:
  template: |
    patches:
      - patch: {spec: {template: {spec: {containers: [{name: "*", ports: [{containerPort: 9090, name: metrics}]}]}}}}
""",
    "profiles/app.yaml": f"""
apiVersion: easel.dev/v1alpha1
kind: WorkloadProfile
metadata: {{name: app}}
spec:
  version: 1.0.0
  components:
    - name: own
      type: manifests
      properties:
        objects:
          - {yaml.safe_load(OBJECT.replace("NAME", "app-own"))}
      traits:{TRAITS}
    - name: folder
      type: kustomize
      properties: {{path: profiles/base, target: {{kind: Deployment, name: app}}, container: app}}
      traits:{TRAITS}
""",
    "workloads/w.yaml": """
apiVersion: easel.dev/v1alpha1
kind: Workload
metadata: {name: w}
spec: {project: team, environment: dev, profile: {name: app}}
""",
}


def _kubectl() -> str | None:
    return shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


@pytest.mark.skipif(_kubectl() is None, reason="kubectl is not installed (pip install '.[test]')")
def test_traits_give_the_same_pod_on_easels_objects_as_kustomize_on_a_folder(tmp_path):
    repo = write_files(tmp_path / "repo", FILES)
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    folder = repo / "output/clusters/c/workloads/team/w"
    own = next(d for d in yaml.safe_load_all((folder / "own/objects.yaml").read_text())
               if d["kind"] == "Deployment")
    built = subprocess.run([_kubectl(), "kustomize", str(folder / "folder")], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    by_kustomize = next(d for d in yaml.safe_load_all(built.stdout) if d["kind"] == "Deployment")
    pod, expected = own["spec"]["template"]["spec"], by_kustomize["spec"]["template"]["spec"]
    # the same but for the claim each component's storage trait makes (named after the component)
    assert yaml.safe_dump(pod).replace("w-own-data", "CLAIM") == yaml.safe_dump(expected).replace(
        "w-folder-data", "CLAIM")
    # and what that pod is: the traits' tolerations replace the object's own; ports merge by containerPort
    assert [t["key"] for t in pod["tolerations"]] == ["nvidia.com/gpu", "spot"]
    assert [p["containerPort"] for p in pod["containers"][0]["ports"]] == [9090, 80]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert pod["nodeSelector"] == {"disk": "ssd", "nvidia.com/gpu.product": "A", "pool": "gpu"}


def test_the_merge_table_is_what_the_kubernetes_schemas_say():
    committed = merge_keys.TABLE.read_text()
    version = yaml.safe_load(committed)["kubernetes"]
    if version not in merge_keys.schema_versions():
        pytest.skip(f"kubernetes-validate no longer ships {version}: regenerate with `python tests/merge_keys.py`")
    assert committed == merge_keys.table_text(version), "regenerate with `python tests/merge_keys.py`"


NULL_PATCH = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "p"},
              "spec": {"template": {"spec": {"containers": [
                  {"name": "app", "resources": {"limits": {"nvidia.com/gpu": None}, "claims": [{"name": "gpu"}]}}]}}}}


@pytest.mark.skipif(_kubectl() is None, reason="kubectl is not installed (pip install '.[test]')")
@pytest.mark.parametrize("limits", [None, {"nvidia.com/gpu": 2, "cpu": "1"}])
def test_a_patchs_null_deletes_as_kustomize_deletes_whether_or_not_the_key_is_there(tmp_path, limits):
    """The DRA gpu patch deletes the device plugin's GPUs with null: where the container has none, kustomize
    leaves an empty `limits`, never a null the API server would refuse."""
    base = yaml.safe_load(OBJECT.replace("NAME", "x"))
    if limits is not None:
        base["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": limits}
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": ["d.yaml"], "patches": [{"target": {"kind": "Deployment"}, "patch": yaml.safe_dump(NULL_PATCH)}]}))
    built = subprocess.run([_kubectl(), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    by_kustomize = yaml.safe_load(built.stdout)["spec"]["template"]["spec"]["containers"][0]["resources"]
    ours = merge.apply_literally(base, NULL_PATCH)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert ours == by_kustomize and None not in ours["limits"].values()
