"""Helm's own engine behind compiler/runtime/helm.py: charts render in a spawned worker, with the cluster's
Kubernetes version and API versions, a fresh chart handle each time, a deadline and a memory limit; the compile's
own process never loads the engine, and nothing in easel but that module names it."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from compiler.runtime import helm

pytestmark = pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")

ROOT = Path(__file__).resolve().parent.parent


def archive(files: dict[str, str], name: str = "demo") -> bytes:
    """A chart archive as `helm package` lays it out: every file under a folder named after the chart."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


CHART = {
    "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\n",
    "templates/caps.yaml": """apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}-caps, namespace: {{ .Release.Namespace }}}
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  monitors: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  replicas: {{ .Values.replicas | quote }}
""",
}


@pytest.fixture(scope="module")
def engine():
    with helm.Engine(deadline=5.0) as running:
        yield running


def test_a_chart_renders_with_the_values_release_and_what_the_cluster_serves(engine):
    request = helm.RenderRequest(archive(CHART), {"replicas": 3}, "chat", "team-w", "1.30.2",
                                 ("monitoring.coreos.com/v1",))
    rendered = engine.render(request)
    assert rendered.failure is None, rendered.message
    text = rendered.manifests["demo/templates/caps.yaml"]
    assert "name: chat-caps, namespace: team-w" in text
    assert 'kube: "v1.30.2"' in text and 'monitors: "true"' in text and 'replicas: "3"' in text
    assert "helm_python" not in sys.modules  # the engine ran in the worker, never here


def test_each_render_loads_the_chart_afresh(engine):
    """Rendering changes a loaded chart (a subchart a condition turned off does not come back): every render
    here starts from the archive's bytes."""
    files = {**CHART, "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\ndependencies:\n"
             "  - {name: extra, version: 0.1.0, condition: extra.enabled}\n",
             "values.yaml": "extra: {enabled: true}\n",
             "charts/extra/Chart.yaml": "apiVersion: v2\nname: extra\nversion: 0.1.0\n",
             "charts/extra/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"}
    chart = archive(files)
    off = engine.render(helm.RenderRequest(chart, {"extra": {"enabled": False}}))
    on = engine.render(helm.RenderRequest(chart, {"extra": {"enabled": True}}))
    assert not any("extra" in path for path in off.manifests or {})
    assert "demo/charts/extra/templates/cm.yaml" in (on.manifests or {})


@pytest.mark.slow  # waits out a deadline, then starts a second worker
def test_a_runaway_template_is_stopped_at_the_deadline_and_the_next_render_works():
    # ten billion turns of a loop that writes nothing: time, not memory
    runaway = {**CHART, "templates/loop.yaml": "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n"}
    with helm.Engine(deadline=2.0) as engine:
        started = time.monotonic()
        rendered = engine.render(helm.RenderRequest(archive(runaway)))
        assert rendered.failure == "timeout" and rendered.manifests is None, rendered
        assert time.monotonic() - started < 10
        again = engine.render(helm.RenderRequest(archive(CHART)))
        assert again.failure is None and again.manifests


@pytest.mark.slow  # a worker fills its memory until Go aborts it, then a second one starts
def test_a_render_that_exhausts_the_workers_memory_is_an_error_not_a_dead_compile():
    doubling = "{{ $s := \"xxxxxxxx\" }}{{ range until 40 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}{{ len $s }}\n"
    with helm.Engine(deadline=20.0, memory_limit=1536 * 2**20) as engine:
        rendered = engine.render(helm.RenderRequest(archive({**CHART, "templates/big.yaml": doubling})))
        assert rendered.failure == "crash" and "ran out of memory (1536 MiB)" in rendered.message, rendered
        assert engine.render(helm.RenderRequest(archive(CHART))).failure is None


@pytest.mark.parametrize(("data", "failure"), [(b"not a chart", "load"),
                                               (archive({**CHART, "templates/bad.yaml": "{{ .Values.x.y.z }}"}),
                                                "render")],
                         ids=["not-a-chart", "a-template-that-fails"])  # an archive's bytes hold the time it was made
def test_what_is_not_a_chart_or_does_not_render_is_said(engine, data, failure):
    rendered = engine.render(helm.RenderRequest(data))
    assert rendered.failure == failure and rendered.message


def test_a_render_larger_than_easel_reads_is_refused_before_it_crosses_the_pipe():
    chart = {**CHART, "templates/big.yaml": "{{ range until 3000 }}---\napiVersion: v1\nkind: ConfigMap\n"
                                             "metadata: {name: c{{ . }}}\ndata: {x: {{ repeat 500 \"x\" | quote }}}\n"
                                             "{{ end }}"}
    with helm.Engine(deadline=10.0, max_output=2**20) as small:
        rendered = small.render(helm.RenderRequest(archive(chart)))
    assert rendered.failure == "render" and "over the 1.0 MiB easel reads" in rendered.message


def test_a_spawned_worker_does_not_run_easels_command_line_again():
    """A spawned worker imports the parent's main module as __mp_main__: `python -m compiler` must not start a
    second command there."""
    probe = ("import runpy, sys; sys.argv = ['easel', '--version']; "
             "runpy.run_path('compiler/__main__.py', run_name='__mp_main__'); print('not run')")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert run.stdout.strip() == "not run", run.stdout + run.stderr


def test_nothing_in_easel_but_the_adapter_names_the_engine():
    naming = [str(p.relative_to(ROOT)) for p in (ROOT / "compiler").rglob("*.py")
              if helm.ENGINE_MODULE in p.read_text() and p != ROOT / "compiler/runtime/helm.py"]
    assert naming == []
    # and importing easel, its command line included, loads no engine
    probe = "import sys, compiler.cli, compiler.runtime.helm; print('helm_python' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip() == "False"
