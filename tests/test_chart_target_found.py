"""A chart's target and container found in the chart itself (issue 28): a helm-chart component whose traits must
reach containers, and which names no `target` or `container`, gets them from its chart as Helm's own engine
renders it (the archive easel.lock pins, the values as resolved), where exactly one pod object and container fit;
where several fit, the error lists them; without the archive, the error says what to write, as before."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from builders import gpu_cluster
from conftest import easel
from helm_servers import pack_folder
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app
from test_gpu_dra import _cluster

from compiler.runtime import helm

ENGINE = pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")

CHART = Path(__file__).resolve().parent / "helm_charts" / "one-server"
GPU = "[{type: gpu, properties: {count: 1, product: A}}]"


def _repository(values: str = "{}", properties: str = "", traits: str = GPU, pin: bool = True) -> dict:
    """A workload `team/w` whose profile runs the one-server chart (archive and pin as `easel charts pull` leaves
    them, unless pin is false: then neither) on cluster `c`."""
    name, version, data = pack_folder(CHART)
    component = f"""    - name: server
      type: helm-chart
      properties: {{repository: charts, chart: {name}, version: {version}, values: {values}{properties}}}
      traits: {traits}"""
    lock = "apiVersion: easel.dev/v1alpha1\nkind: Lock\n"
    files: dict = {**TEAM_IN_DEV, **one_component_app(component), **gpu_cluster("c"), "easel.lock": lock}
    if pin:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        files[f"charts/charts/{name}-{version}.tgz"] = data
        files["easel.lock"] = lock + f"charts:\n  charts/{name} {version}: {digest}\n"
    return files


def _written(root: Path, files: dict) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def _messages(result, code: str) -> list[str]:
    return [d.message for d in result.diagnostics if d.code == code]


@ENGINE
def test_a_chart_with_one_deployment_needs_no_target_its_gpu_goes_to_its_container_and_explain_says_so(tmp_path):
    root = _written(tmp_path, _repository())
    assert easel("compile", cwd=root).code == 0
    built = easel("build", "c", cwd=root)
    assert built.code == 0, built.err
    [release] = [o for o in yaml.safe_load_all(built.out) if o and o.get("kind") == "HelmRelease"]
    [patch] = release["spec"]["postRenderers"][0]["kustomize"]["patches"]
    assert patch["target"] == {"kind": "Deployment", "name": "w-server-server"}
    [container] = yaml.safe_load(patch["patch"])["spec"]["template"]["spec"]["containers"]
    assert container == {"name": "server", "resources": {"limits": {"nvidia.com/gpu": 1}}}
    explained = easel("explain", "team/w", cwd=root)
    assert "target Deployment 'w-server-server', container 'server' (found in the rendered chart)" in explained.out
    found = json.loads(easel("explain", "team/w", "--format", "json", cwd=root).out)
    [component] = found["components"] if "components" in found else found["resolved"]["components"]
    assert component["found"] == {"kind": "Deployment", "name": "w-server-server", "container": "server",
                                  "foundInRenderedChart": ["target", "container"]}


@ENGINE
def test_a_chart_with_two_deployments_fails_naming_both_with_their_containers():
    result = compile_files(_repository(values="{worker: {enabled: true}, proxy: {enabled: true}}"))
    assert codes(result) == ["E416"]
    [message] = _messages(result, "E416")
    assert "trait 'gpu' of chart component 'server'" in message
    assert message.endswith("Deployment 'w-server-server' (server, proxy); Deployment 'w-server-worker' (worker)")
    [problem] = [d for d in result.diagnostics if d.code == "E416"]
    assert "`target:" in (problem.hint or "") and "`container:" in (problem.hint or "")


@ENGINE
def test_one_deployment_with_two_containers_fails_naming_them():
    result = compile_files(_repository(values="{proxy: {enabled: true}}"))
    assert codes(result) == ["E416"]
    assert _messages(result, "E416")[0].endswith("Deployment 'w-server-server' (server, proxy)")
    # the author names the container: the object is found by it
    named = compile_files(_repository(values="{proxy: {enabled: true}}", properties=", container: proxy"))
    assert codes(named) == []
    [component] = named.resolutions.workload("team/w", "1.0.0").components
    assert component.found is not None and component.found.found == ("target",)
    assert (component.external.target.kind, component.external.target.name) == ("Deployment", "w-server-server")


@ENGINE
def test_a_container_the_author_names_finds_the_one_deployment_that_runs_it():
    result = compile_files(_repository(values="{worker: {enabled: true}}", properties=", container: worker"))
    assert codes(result) == []
    [component] = result.resolutions.workload("team/w", "1.0.0").components
    assert component.found is not None and component.found.name == "w-server-worker"


def test_without_the_archive_it_is_the_error_it_was_with_a_hint_to_pull_the_chart():
    result = compile_files(_repository(pin=False))
    assert codes(result) == ["E411"]
    [problem] = [d for d in result.diagnostics if d.code == "E411"]
    assert "easel cannot see them" in problem.message and "easel charts pull" in (problem.hint or "")


def test_without_helms_engine_it_is_the_error_it_was(monkeypatch):
    monkeypatch.setattr(helm, "available", lambda: False)
    result = compile_files(_repository())
    assert codes(result) == ["E411"]


@ENGINE
def test_a_published_version_no_workload_runs_is_looked_at_as_a_workloads_is():
    files = _repository()
    files["workloads/w.yaml"] = files["workloads/w.yaml"].replace("profile: {name: app}",
                                                                  'profile: {name: app, version: "1.0.0"}')
    newer = files["profiles/app.yaml"].replace("version: 1.0.0", "version: 1.1.0")
    assert codes(compile_files({**files, "profiles/app-1.1.0.yaml": newer})) == []  # found there too, and proven
    several = newer.replace("values: {}", "values: {worker: {enabled: true}}")
    result = compile_files({**files, "profiles/app-1.1.0.yaml": several})
    [problem] = [d for d in result.diagnostics if d.code == "E416"]
    assert problem.location.file == "profiles/app-1.1.0.yaml" and "published version app 1.1.0" in str(problem.subject)
    # the stand-in workload is named after the profile: so are its chart's objects
    assert problem.message.endswith("Deployment 'app-server-server' (server); Deployment 'app-server-worker' (worker)")


@ENGINE
def test_under_argo_cd_the_wrapper_patches_the_target_found():
    files = {**_repository(),
             **_cluster("c", ["{name: p-1, facts: {gpus: [{product: A, memory: 80Gi, count: 8}]}}"], engine="argocd")}
    result = compile_files(files)  # the fidelity check reads the wrapper's patches
    assert codes(result) == [], [d.text for d in result.diagnostics]
    wrapper = yaml.safe_load(result.files["clusters/c/workloads/team/w/server/kustomization.yaml"])
    [entry] = [p for p in wrapper["patches"] if p["target"].get("name")]
    assert entry["target"] == {"kind": "Deployment", "name": "w-server-server"}
    [container] = yaml.safe_load(entry["patch"])["spec"]["template"]["spec"]["containers"]
    assert container == {"name": "server", "resources": {"limits": {"nvidia.com/gpu": 1}}}


@ENGINE
def test_a_target_written_without_container_gets_its_one_container(tmp_path):
    root = _written(tmp_path, _repository(properties=', target: {kind: Deployment, name: ".*-server"}'))
    assert easel("compile", cwd=root).code == 0
    explained = easel("explain", "team/w", cwd=root).out
    assert "target Deployment '.*-server', container 'server' (the container found in the rendered chart)" in explained
