"""Input past easel's limits (README.md, Limits) is refused with a located error, before it is parsed: YAML
nested more than 100 deep, NaN and infinities where a number is read, files past 16 MiB or 10,000 documents,
input folders past 1,000,000 documents. Each case once ended in E999, a crash, or a parse of minutes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import copy_init_repo, easel

from compiler.load import limits

HELLO = "profiles/hello/1.0.0.yaml"
WORKLOAD = "workloads/demo/hello.yaml"
CLUSTER = "clusters/local.yaml"
ENV = "environments/dev.yaml"
GPUS = "memory: 32Gi, gpus: [{{product: a100, count: 2, memory: 80Gi}}]}}"


def _validate(tmp_path: Path, path: str, old: str, new: str):
    repo = copy_init_repo(tmp_path)
    file = repo / path
    text = file.read_text()
    assert old in text, f"{old!r} is not in {path}"
    file.write_text(text.replace(old, new, 1))
    return easel("validate", cwd=repo)


def _errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if "error[" in line]


@pytest.mark.parametrize("path, old, new, where", [
    (CLUSTER, "labels: {tier: dev}", "labels: {tier: dev}\n  x: " + "[" * 3000 + "]" * 3000, f"{CLUSTER}:7:104"),
    (HELLO, "description: A small web service", "description: " + "[" * 200 + "]" * 200, f"{HELLO}:6:114"),
    (CLUSTER, "labels: {tier: dev}", "labels: {tier: dev}\n  x:\n" + "  - " * 150 + "end", f"{CLUSTER}:8:"),
    (WORKLOAD, "message: hello, world", "message: " + "{a: " * 500 + "1" + "}" * 500, f"{WORKLOAD}:11:"),
], ids=["3,000 nested flow lists", "200 nested lists in a profile", "150 nested block lists",
        "500 nested flow mappings"])
def test_deep_nesting_is_refused_where_it_goes_past_the_limit(tmp_path, path, old, new, where):
    run = _validate(tmp_path, path, old, new)
    assert run.code == 1, run.text
    errors = _errors(run.text)
    assert errors and errors[0].startswith(where), run.text
    assert "error[E111]: lists and mappings nest more than 100 deep here" in errors[0], run.text
    assert "E999" not in run.text and "Traceback" not in run.text


def test_nesting_within_the_limit_is_read(tmp_path):
    """98 lists in `metadata` (100 deep, with the document's mapping and metadata's) are read: the schema, not the
    depth check, says what is wrong with them."""
    run = _validate(tmp_path, HELLO, "description: A small web service", "description: " + "[" * 98 + "]" * 98)
    assert "E111" not in run.text, run.text
    assert f"{HELLO}:6:16: error[E205]: metadata.description must be a string, not a list" in run.text


def test_the_depth_check_never_builds_the_tree():
    """30,000 nested lists crash PyYAML's C composer (a segmentation fault): they are refused before it runs."""
    assert limits.too_deep("a: 1\n---\nx: " + "[" * 30_000 + "]" * 30_000) == (3, 103, 1)
    assert limits.too_deep("x: " + "[" * 99 + "]" * 99) is None


PLACES = {
    # name: (path, text to replace, replacement with {v} for the value, where, code when infinite, words)
    "trait memory": (HELLO, "memory: 64Mi", "memory: {v}", f"{HELLO}:24:43", "E407", "is not a Kubernetes quantity"),
    "gpu trait count": (HELLO, "memory: 64Mi}", "memory: 64Mi}}\n        - type: gpu\n          properties: {{count: {v}}}",
                        f"{HELLO}:26:", "E407", "must be an integer"),
    "replicas parameter": (WORKLOAD, "message: hello, world", "replicas: {v}", f"{WORKLOAD}:11:15", "E", "integer"),
    "replicas default": (HELLO, "default: 1}", "default: {v}}}", f"{HELLO}:12:52", "E404", "must be an integer"),
    "cluster memory": (CLUSTER, "memory: 32Gi", "memory: {v}", f"{CLUSTER}:14:53", "E209",
                       "is not a Kubernetes quantity"),
    "cluster gpu count": (CLUSTER, "memory: 32Gi}", GPUS.replace("count: 2", "count: {v}"), f"{CLUSTER}:14:89",
                          "E205", "must be an integer"),
    "cluster gpu memory": (CLUSTER, "memory: 32Gi}", GPUS.replace("memory: 80Gi", "memory: {v}"),
                           f"{CLUSTER}:14:100", "E209", "is not a Kubernetes quantity"),
    "project quota": (ENV, "quota: {gpus: 0}", "quota: {{gpus: {v}}}", f"{ENV}:6:17", "E205", "must be an integer"),
}


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "+.Inf"])
@pytest.mark.parametrize("place", list(PLACES))
def test_nan_and_infinities_are_located_errors(tmp_path, place, value):
    path, old, new, where, code, words = PLACES[place]
    run = _validate(tmp_path, path, old, new.format(v=value))
    assert run.code == 1, run.text
    assert "E999" not in run.text and "Traceback" not in run.text, run.text
    errors = _errors(run.text)
    assert errors and errors[0].startswith(where), run.text
    if "nan" in value.lower():
        assert f"error[E101]: '{value}' is not a number (NaN)" in errors[0], run.text
    else:
        assert f"error[{code}" in errors[0] and words in errors[0], run.text


def test_a_quoted_nan_is_a_string(tmp_path):
    run = _validate(tmp_path, WORKLOAD, "message: hello, world", "message: '.nan'")
    assert run.code == 0, run.text


def test_a_file_past_16_mib_is_refused_unread(tmp_path):
    repo = copy_init_repo(tmp_path)
    (repo / "profiles/big.yaml").write_bytes(b"# " + b"x" * limits.MAX_FILE_BYTES + b"\n")
    run = easel("validate", cwd=repo)
    assert run.code == 1, run.text
    assert ("profiles/big.yaml:1:1: error[E111]: more than 16 MiB in one file: this one holds "
            f"{limits.MAX_FILE_BYTES + 3:,} bytes") in run.text


def test_a_file_of_16_mib_is_read(tmp_path):
    repo = copy_init_repo(tmp_path)
    (repo / "profiles/big.yaml").write_bytes(b"# " + b"x" * (limits.MAX_FILE_BYTES - 3) + b"\n")
    run = easel("validate", cwd=repo)
    assert "E111" not in run.text and "W113" in run.text, run.text


def test_a_file_past_10000_documents_is_refused_at_the_first_one_too_many(tmp_path):
    repo = copy_init_repo(tmp_path)
    profile = (repo / HELLO).read_text()
    (repo / "profiles/many.yaml").write_text("kind: Nothing\n" + "---\nkind: Nothing\n" * limits.MAX_DOCUMENTS)
    run = easel("validate", cwd=repo)
    assert run.code == 1, run.text
    assert ("profiles/many.yaml:20000:1: error[E111]: more than 10,000 documents in one file: this one holds "
            "10,001") in run.text
    assert "E202" not in run.text, "a file past the limit is not parsed"
    assert (repo / HELLO).read_text() == profile


def test_documents_counts_markers_not_dashes():
    assert limits.documents(b"a: 1\n") == 1
    assert limits.documents(b"---\na: 1\n---\nb: 2\n") == 2
    assert limits.documents(b"a: 1\n---\nb: 2\n--- # c\nc: 3\n") == 3
    assert limits.documents(b"a: |\n  ---\n  x\nb: ----\n----\n") == 1


def test_input_folders_past_a_million_documents_are_refused_unparsed(tmp_path):
    repo = copy_init_repo(tmp_path)
    files = limits.MAX_TOTAL_DOCUMENTS // limits.MAX_DOCUMENTS
    for index in range(files + 1):
        (repo / f"profiles/empty-{index:03}.yaml").write_text("---\n" * limits.MAX_DOCUMENTS)
    run = easel("validate", cwd=repo)
    assert run.code == 1, run.text
    errors = _errors(run.text)
    assert len(errors) == 1 and "error[E112]: the input files hold more than 1,000,000 documents together" \
        in errors[0], run.text
    assert "W113" not in run.text, "no file was parsed"
