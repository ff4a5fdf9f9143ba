"""An in-house chart (a folder of the config repository with a Chart.yaml) is packed in memory as Helm lays an
archive out, the same bytes for the same files, never through a link; Helm's own engine renders the archive."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from compiler.load.charts import MAX_FILE, ChartFolderError, pack
from compiler.load.source import DirectorySource, MemorySource
from compiler.runtime import helm

CHART = {
    "charts/site/Chart.yaml": "apiVersion: v2\nname: site\nversion: 0.2.0\n",
    "charts/site/values.yaml": "greeting: hello\n",
    "charts/site/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}}\n"
                                     "data: {greeting: {{ .Values.greeting | quote }}}\n",
}


def _write(root, files: dict[str, str], order=sorted) -> None:
    for path in order(files):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[path])


def test_a_folder_is_packed_as_helm_lays_out_an_archive_the_same_bytes_whatever_the_disk(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    _write(first, CHART)
    _write(second, CHART, order=lambda f: sorted(f, reverse=True))
    os.utime(second / "charts/site/values.yaml", (1, 1))
    name, data = pack(DirectorySource(first), "charts/site")
    assert name == "site" and pack(DirectorySource(second), "charts/site")[1] == data
    assert pack(MemorySource(CHART), "charts/site")[1] == data
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["site/Chart.yaml", "site/templates/cm.yaml", "site/values.yaml"]
        assert {m.mtime for m in tar.getmembers()} == {0}


@pytest.mark.skipif(not helm.available(), reason="helm-python-sdk (the `helm` extra) is not installed")
def test_the_packed_chart_renders_with_helms_engine():
    with helm.Engine(deadline=10.0) as engine:
        rendered = engine.render(helm.RenderRequest(pack(MemorySource(CHART), "charts/site")[1], {"greeting": "hi"},
                                                    "w-site", "team-w"))
    assert rendered.failure is None, rendered.message
    assert 'greeting: "hi"' in rendered.manifests["site/templates/cm.yaml"]


def test_a_link_inside_the_folder_is_refused(tmp_path):
    _write(tmp_path, CHART)
    (tmp_path / "secret.txt").write_text("not for the chart")
    os.symlink(tmp_path / "secret.txt", tmp_path / "charts/site/templates/leak.yaml")
    with pytest.raises(ChartFolderError, match=r"leak\.yaml is a symbolic link"):
        pack(DirectorySource(tmp_path), "charts/site")


@pytest.mark.parametrize(("files", "said"), [
    ({"charts/site/values.yaml": "a: 1\n"}, "no Chart.yaml"),
    ({**CHART, "charts/site/Chart.yaml": "apiVersion: v2\nname: ../x\nversion: 0.1.0\n"}, "is not a chart name"),
    ({**CHART, "charts/site/Chart.yaml": "name: [unclosed\n"}, "is not YAML"),
    ({**CHART, "charts/site/big.bin": "x" * (MAX_FILE + 1)}, "is over 5 MiB"),
])
def test_what_is_not_a_chart_folder_is_said(files, said):
    with pytest.raises(ChartFolderError, match=said):
        pack(MemorySource(files), "charts/site")
