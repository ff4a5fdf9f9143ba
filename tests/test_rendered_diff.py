"""`easel diff` shows the objects a chart renders (issue 28, rendered diff): a chart bump or a values change is
seen on the Deployment the chart renders, marked with the chart, the chart-label and checksum noise folded."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pygit2
import pytest
from builders import gpu_cluster
from conftest import easel
from scenario import TEAM_IN_DEV, one_component_app
from test_git import commit_all

from compiler.load.charts import pack
from compiler.load.source import DirectorySource, MemorySource
from compiler.pipeline import compile_repository
from compiler.reports.rendered import folded, rendered
from compiler.runtime import helm

CHART = Path(__file__).resolve().parent / "helm_charts" / "llm-serving"
ENV_LINE = '          image: "{{ .Values.engine.image.repository }}:{{ .Values.engine.image.tag }}"\n'
NEW_ENV = ENV_LINE + "          env:\n            - {name: VLLM_LOGGING_LEVEL, value: DEBUG}\n"

needs_helm = pytest.mark.skipif(not helm.available(), reason="Helm's engine (the `helm` extra, helm-python-sdk) is "
                                "not installed: charts are not rendered, so `easel diff` shows no chart objects")


def _packed(version: str, with_env: bool = False, engine_tag: str = "v0.8.5") -> bytes:
    """tests/helm_charts/llm-serving packed as the given version; with_env: its engine gets an env variable;
    engine_tag: the engine image's tag its values.yaml gives."""
    files = {f"llm-serving/{path.relative_to(CHART).as_posix()}": path.read_bytes()
             for path in sorted(CHART.rglob("*")) if path.is_file()}
    meta, template = "llm-serving/Chart.yaml", "llm-serving/templates/engine-deployment.yaml"
    files[meta] = re.sub(rb"(?m)^version: .*$", f"version: {version}".encode(), files[meta], count=1)
    if with_env:
        assert ENV_LINE.encode() in files[template]
        files[template] = files[template].replace(ENV_LINE.encode(), NEW_ENV.encode())
    values = "llm-serving/values.yaml"
    assert b"    tag: v0.8.5\n" in files[values]
    files[values] = files[values].replace(b"    tag: v0.8.5\n", f"    tag: {engine_tag}\n".encode(), 1)
    return pack(MemorySource(files), "llm-serving")[1]


def _write(root: Path, version: str, model: str = "m", with_env: bool = False, engine_tag: str = "v0.8.5",
           argocd: bool = False, pinned: bool = True) -> None:
    """A repository running llm-serving `version` (its archive pinned) with the engine's model `model`."""
    data = _packed(version, with_env, engine_tag)
    component = f"""    - name: llm
      type: helm-chart
      properties: {{repository: charts, chart: llm-serving, version: {version},
                   target: {{kind: Deployment, name: ".*-engine"}}, container: engine, values: {{engine: {{model: {model}}}}}}}
      traits: [{{type: gpu, properties: {{count: 1, product: A}}}}]"""
    files: dict[str, str | bytes] = {
        **TEAM_IN_DEV, **one_component_app(component), **gpu_cluster("c"),
        f"charts/charts/llm-serving-{version}.tgz": data,
        "easel.lock": "apiVersion: easel.dev/v1alpha1\nkind: Lock\ncharts:\n"
                      f"  charts/llm-serving {version}: sha256:{hashlib.sha256(data).hexdigest()}\n"}
    if argocd:
        files["clusters/c.yaml"] = str(files["clusters/c.yaml"]).replace("spec:\n", "spec:\n  gitops: {engine: argocd}\n")
    if not pinned:  # no archive, no pin: the chart is named but easel cannot render it
        del files[f"charts/charts/llm-serving-{version}.tgz"]
        files["easel.lock"] = "apiVersion: easel.dev/v1alpha1\nkind: Lock\n"
    for old in (root / "charts").rglob("*.tgz"):
        old.unlink()
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def _repository(tmp_path: Path, argocd: bool = False) -> tuple[Path, str]:
    """A committed repository on llm-serving 0.3.0, compiled; its base commit."""
    root = tmp_path / "repo"
    _write(root, "0.3.0", argocd=argocd)
    handle = pygit2.init_repository(str(root), initial_head="main")
    compiled = easel("compile", cwd=root)
    assert compiled.code == 0, compiled.out + compiled.err
    return root, commit_all(handle, "llm-serving 0.3.0")


def _changes(root: Path, base: str) -> dict:
    run = easel("diff", "--base", base, "--format", "json", cwd=root)
    assert run.code == 0, run.out + run.err
    return json.loads(run.out)


@needs_helm
def test_a_chart_bump_shows_the_rendered_deployment_with_its_new_env_variable(tmp_path):
    root, base = _repository(tmp_path)
    _write(root, "0.3.1", with_env=True)
    assert easel("compile", cwd=root).code == 0
    report = _changes(root, base)
    assert report["unrendered"] == []
    [cluster] = report["clusters"]
    charted = {(o["kind"], o["name"]): o for o in cluster["objects"] if o["chart"] == "llm-serving"}
    engine = charted[("Deployment", "team-w/w-llm-engine")]
    assert engine["change"] == "changed"
    assert "+        - name: VLLM_LOGGING_LEVEL" in engine["diff"] and "+          value: DEBUG" in engine["diff"]
    # only the engine changes: the version labels every object carries are folded
    assert set(charted) == {("Deployment", "team-w/w-llm-engine")}
    assert "helm.sh/chart" not in engine["diff"] and "app.kubernetes.io/version" not in engine["diff"]
    # the HelmRelease that names the version changes as before, marked as no chart's
    assert any(o["kind"] == "HelmRelease" and o["chart"] is None for o in cluster["objects"])
    text = easel("diff", "--base", base, cwd=root).out
    assert "~ Deployment team-w/w-llm-engine (chart llm-serving)" in text
    assert "+          value: DEBUG" in text
    markdown = easel("diff", "--base", base, "--format", "markdown", cwd=root).out
    assert "**changed** `Deployment` `team-w/w-llm-engine` (chart `llm-serving`)" in markdown


@needs_helm
def test_on_argocd_a_chart_bump_shows_the_rendered_deployment_too(tmp_path):
    root, base = _repository(tmp_path, argocd=True)
    _write(root, "0.3.1", with_env=True, argocd=True)
    assert easel("compile", cwd=root).code == 0
    [cluster] = _changes(root, base)["clusters"]
    charted = {(o["kind"], o["name"]): o for o in cluster["objects"] if o["chart"] == "llm-serving"}
    assert set(charted) == {("Deployment", "team-w/w-llm-engine")}
    assert "+          value: DEBUG" in charted[("Deployment", "team-w/w-llm-engine")]["diff"]


@needs_helm
def test_a_chart_easel_lock_pins_no_archive_of_is_said_not_rendered_once(tmp_path):
    root, base = _repository(tmp_path)
    _write(root, "0.3.1", pinned=False)
    compiled = easel("compile", cwd=root)
    assert compiled.code == 0, compiled.out + compiled.err
    report = _changes(root, base)
    assert report["unrendered"] == ["chart not rendered: easel.lock pins no archive of llm-serving 0.3.1"]
    assert all(o["chart"] is None for c in report["clusters"] for o in c["objects"])


@needs_helm
def test_a_chart_bump_that_changes_the_engines_image_shows_it(tmp_path):
    root, base = _repository(tmp_path)
    _write(root, "0.3.1", engine_tag="v0.9.0")
    assert easel("compile", cwd=root).code == 0
    [cluster] = _changes(root, base)["clusters"]
    charted = {(o["kind"], o["name"]): o for o in cluster["objects"] if o["chart"] == "llm-serving"}
    assert set(charted) == {("Deployment", "team-w/w-llm-engine")}
    diff = charted[("Deployment", "team-w/w-llm-engine")]["diff"]
    assert "-        image: vllm/vllm-openai:v0.8.5" in diff and "+        image: vllm/vllm-openai:v0.9.0" in diff


@needs_helm
def test_the_diff_reads_the_renders_the_compile_made_and_starts_no_engine(tmp_path, monkeypatch):
    root, _ = _repository(tmp_path)
    result = compile_repository(DirectorySource(root))
    assert result.files is not None

    def no_engine(self, request):
        raise AssertionError("the diff asked Helm's engine for a render the proof made already")

    monkeypatch.setattr(helm.Engine, "render", no_engine)
    found = rendered(result)
    assert found.unrendered == []
    assert ("Deployment", "team-w/w-llm-engine") in found.objects["c"]
    assert found.objects["c"][("Deployment", "team-w/w-llm-engine")][0] == "llm-serving"


@needs_helm
def test_a_values_change_shows_the_rendered_object_change(tmp_path):
    root, base = _repository(tmp_path)
    _write(root, "0.3.0", model="other-model")
    assert easel("compile", cwd=root).code == 0
    [cluster] = _changes(root, base)["clusters"]
    charted = {(o["kind"], o["name"]): o for o in cluster["objects"] if o["chart"] == "llm-serving"}
    # the engine serves the model and the router routes to it: both change, nothing else the chart renders does
    assert set(charted) == {("Deployment", "team-w/w-llm-engine"), ("Deployment", "team-w/w-llm-router")}
    for changed in charted.values():
        assert changed["change"] == "changed"
        assert "-        - m\n" in changed["diff"] and "+        - other-model\n" in changed["diff"]


def test_without_helms_engine_the_diff_says_once_that_charts_are_not_rendered(tmp_path, monkeypatch):
    root, base = _repository(tmp_path)
    monkeypatch.setattr(helm, "available", lambda: False)  # as where the `helm` extra is not installed
    _write(root, "0.3.0", model="other-model")
    assert easel("compile", cwd=root).code == 0
    report = _changes(root, base)
    assert report["unrendered"] == ["chart not rendered: Helm's engine is not installed"]
    assert all(o["chart"] is None for c in report["clusters"] for o in c["objects"])


def test_chart_label_version_and_checksum_noise_is_folded_everywhere():
    obj = {"kind": "Deployment",
           "metadata": {"name": "a", "labels": {"helm.sh/chart": "x-1", "app": "a", "app.kubernetes.io/version": "1"}},
           "spec": {"template": {"metadata": {"labels": {"helm.sh/chart": "x-1"},
                                              "annotations": {"checksum/config": "abc", "keep": "me"}}}}}
    assert folded(obj) == {"kind": "Deployment", "metadata": {"name": "a", "labels": {"app": "a"}},
                           "spec": {"template": {"metadata": {"annotations": {"keep": "me"}}}}}
    assert obj["metadata"]["labels"]["helm.sh/chart"] == "x-1"  # a copy: the proof's objects are left alone
