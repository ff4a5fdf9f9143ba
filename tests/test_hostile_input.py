"""Realistic mistakes and hostile input give located errors (file:line:column, a code, a hint), never an
internal error: each case below once ended in a traceback (or E999)."""

from __future__ import annotations

import pytest
from conftest import copy_init_repo, easel

HELLO = "profiles/hello/1.0.0.yaml"
WORKLOAD = "workloads/demo/hello.yaml"
CLUSTER = "clusters/local.yaml"

CASES = {
    # path, text to replace, replacement, (code, where, words)
    "parameter type int": (HELLO, "replicas: {type: integer,", "replicas: {type: int,",
                           ("E206", f"{HELLO}:12:", "int")),
    "!!float on a word": (WORKLOAD, "project: demo", "project: !!float vision",
                          ("E101", f"{WORKLOAD}:7:12", "'vision' is not a number")),
    "!!bool on a word": (WORKLOAD, "project: demo", "project: !!bool maybe",
                         ("E101", f"{WORKLOAD}:7:12", "'maybe' is not a boolean")),
    "!!timestamp on a word": (WORKLOAD, "project: demo", "project: !!timestamp flux",
                              ("E101", f"{WORKLOAD}:7:12", "'flux' is not a date or time")),
    "a 5,000-digit integer": (CLUSTER, "kubernetesVersion", "x: " + "9" * 5000 + "\n  kubernetesVersion",
                              ("E101", f"{CLUSTER}:9:6", "is not an integer")),
    "a number as a label key": (CLUSTER, "labels: {", "labels: {1: x, ",
                                ("E101", f"{CLUSTER}:6:12", "the mapping key '1' is a number, not a string")),
    "true as a key": (CLUSTER, "labels: {", "labels: {true: x, ",
                      ("E101", f"{CLUSTER}:6:12", "the mapping key 'true' is a boolean, not a string")),
    "files: 1": (HELLO, "    - name: web\n      type: webservice", ("    - name: extra\n      type: manifests\n"
                 "      properties: {files: 1}\n    - name: web\n      type: webservice"),
                 ("E407", f"{HELLO}:16:", "files must be a list, not the number 1")),
    "memory: .inf": (HELLO, "memory: 64Mi", "memory: .inf", ("E407", f"{HELLO}:24:", "not a Kubernetes quantity")),
    "range() in a placeholder": (HELLO, '"{{ params.message }}"', '"{{ range(3) }}"',
                                 ("E405", f"{HELLO}:21:", "gives a range")),
    "nan in a placeholder": (HELLO, '"{{ params.message }}"', "\"{{ 'nan'|float }}\"",
                             ("E405", f"{HELLO}:21:", "template failed")),
    "a dict method in a placeholder": (HELLO, '"{{ params.message }}"', '"{{ params.items }}"',
                                       ("E405", f"{HELLO}:21:", "gives a")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_mistake_is_a_located_error(case, tmp_path):
    path, old, new, (code, where, words) = CASES[case]
    repo = copy_init_repo(tmp_path / "repo")
    text = (repo / path).read_text()
    assert old in text
    (repo / path).write_text(text.replace(old, new, 1))
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "Traceback" not in run.text and "E999" not in run.text, run.text
    line = next((line for line in run.err.splitlines() if f"error[{code}]" in line), "")
    assert line.startswith(where) and words in line, run.err
    assert "hint:" in run.err.split(line, 1)[1].splitlines()[0] or code in ("E101", "E407", "E405", "E206"), run.err
    assert not (repo / "output").exists()


def test_a_profile_version_is_written_plainly_or_refused(tmp_path):
    # the finding: ' 1.3.0' was accepted, written to easel.lock, and the lock then refused by the next compile
    repo = copy_init_repo(tmp_path / "repo")
    path = repo / HELLO
    for spelled in ("' 1.0.0'", "v1.0.0", "'1.0.0 '"):
        path.write_text(path.read_text().replace("  version: 1.0.0", f"  version: {spelled}", 1))
        run = easel("compile", cwd=repo)
        assert run.code == 1 and "error[E501]" in run.err and "is not a semantic version" in run.err, run.text
        assert not (repo / "easel.lock").exists()
        path.write_text(path.read_text().replace(f"  version: {spelled}", "  version: 1.0.0", 1))


def test_text_from_input_cannot_pass_for_a_diagnostic_line_or_drive_the_terminal(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    path = repo / WORKLOAD
    path.write_text(path.read_text().replace("spec:\n", 'spec:\n  "bad\\nerror[E101]: fake\\u001b[31m": 1\n', 1))
    run = easel("validate", cwd=repo)
    assert run.code == 1
    lines = run.err.splitlines()
    assert not any(line.startswith("error[E101]") for line in lines), run.err  # the quoted newline is indented
    assert "\x1b" not in run.err and "\\x1b[31m" in run.err


def test_every_error_code_has_a_hint():
    from compiler.diagnostics.codes import CODES
    assert [code for code, entry in CODES.items() if not entry.hint] == []


BOUNDS = {
    "a long string aliased thousands of times": (
        CLUSTER, "  kubernetesVersion", "  x: &s " + "y" * 4000 + "\n  z: [" + ", ".join(["*s"] * 6000) + "]\n"
        "  kubernetesVersion", ("E103", "aliases in this document expand to more than")),
    "a list of big strings repeated": (HELLO, '"{{ params.message }}"', "\"{{ ['a' * 99999] * 99999 }}\"",
                                       ("E406", "repetition too large")),
    "a string doubled by +": (HELLO, '"{{ params.message }}"',
                              ("\"{% set s = 'x' * 90000 %}{{ s + s + s + s + s + s + s + s + s + s + s + s + s + s + s "
                              "+ s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + s + "
                              "s + s + s + s + s + s + s + s }}\""), ("E406", "too large")),
}


@pytest.mark.parametrize("case", sorted(BOUNDS))
def test_unbounded_asks_stop_at_a_bound_that_the_error_names(case, tmp_path):
    path, old, new, (code, words) = BOUNDS[case]
    repo = copy_init_repo(tmp_path / "repo")
    text = (repo / path).read_text()
    assert old in text
    (repo / path).write_text(text.replace(old, new, 1))
    run = easel("compile", cwd=repo)
    assert run.code == 1 and f"error[{code}]" in run.err and words in run.err, run.err[:2000]
    assert len(run.err) < 10_000  # no value quoted in full


def test_twenty_thousand_documents_are_refused_quickly(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    (repo / "clusters/many.yaml").write_text("---\n{}\n" * 20_000)
    run = easel("validate", cwd=repo)
    assert run.code == 1 and "more than 10,000 documents in one file" in run.err, run.err[:500]


def test_a_message_quoting_a_huge_value_is_cut(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    path = repo / WORKLOAD
    path.write_text(path.read_text().replace("project: demo", "project: k" + "k" * 50_000, 1))
    run = easel("validate", cwd=repo)
    assert run.code == 1 and "characters)" in run.err and len(run.err) < 6_000


def test_a_syntax_error_in_one_document_keeps_the_positions_of_the_others(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    path = repo / WORKLOAD
    path.write_text(path.read_text().replace("environment: dev", "enviroment: dev") + "---\nkey: [unclosed\n")
    run = easel("validate", cwd=repo)
    assert run.code == 1
    assert f"{WORKLOAD}:8:3: error[E203]: unknown field 'enviroment'" in run.err, run.err
    assert "error[E101]" in run.err
