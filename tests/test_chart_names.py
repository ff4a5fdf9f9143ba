"""A chart's name and version from input are what a repository serves, never a path: archives will be stored and
looked up by them (SPEC §6, charts). `chart: ../../x` and `version: 1.0/../../x` are errors located at the field,
through the command line as a user meets them."""

from __future__ import annotations

import pytest
from conftest import easel, write_files
from test_trait_reach import _chart_files


@pytest.mark.parametrize(("field", "value", "said"), [
    ("chart", "../../x", "is not a chart name"),
    ("chart", "vllm/stack", "is not a chart name"),
    ("chart", ".hidden", "is not a chart name"),
    ("version", "1.0/../../x", "is not a chart version"),
    ("version", "latest", "is not a chart version"),
])
def test_a_chart_name_or_version_that_is_not_one_is_refused_where_it_is_written(tmp_path, field, value, said):
    files = _chart_files("", " []")
    old = {"chart": "chart: vllm-stack", "version": "version: 0.1.9"}[field]
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace(old, f"{field}: {value!r}")
    write_files(tmp_path, files)
    for command in ("validate", "compile"):
        run = easel(command, cwd=tmp_path)
        assert run.code == 1, run.text
        assert "error[E407]" in run.err and "profiles/app.yaml:9:" in run.err and said in run.err, run.err
        assert f"properties.{field}" in run.err
        assert "hint: write the chart's name" in run.err or "hint: pin one version" in run.err
        assert "Traceback" not in run.text
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("version", ["0.1.9", "v24.9.0", "1.0.0-rc.1+build.5"])
def test_chart_versions_as_repositories_publish_them_are_taken(tmp_path, version):
    files = _chart_files("", " []")
    files["profiles/app.yaml"] = files["profiles/app.yaml"].replace("version: 0.1.9", f"version: {version}")
    write_files(tmp_path, files)
    run = easel("compile", cwd=tmp_path)
    assert run.code == 0, run.text
