"""The machine-readable reports: every `--format json` prints one versioned kind (apiVersion easel.dev/v1alpha1),
held to a snapshot per command, with every field documented in docs/reference/output.md; `--format sarif` is
SARIF 2.1.0 as code scanning reads it.

A snapshot that no longer matches is a change of a public format: look at the difference, and when it is meant,
regenerate with `EASEL_UPDATE_SNAPSHOTS=1 pytest tests/test_reports_json.py` and describe it in output.md.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pygit2
import pytest
from conftest import ROOT, copy_init_repo, easel
from test_git import commit_all

SNAPSHOTS = Path(__file__).parent / "snapshots" / "reports"
OUTPUT_DOC = ROOT / "docs" / "reference" / "output.md"
UPDATE = bool(os.environ.get("EASEL_UPDATE_SNAPSHOTS"))
WORKLOAD = "workloads/demo/hello.yaml"


def _configured(repo: Path) -> Path:
    """The scaffold with its repoURL set, as a user sets it first: without its one warning (W111)."""
    settings = repo / "easel.yaml"
    settings.write_text(settings.read_text().replace("git.example.com", "git.acme.internal"))
    return repo


def _normalized(text: str, replacements: dict[str, str]) -> dict:
    for old, new in replacements.items():
        text = text.replace(old, new)
    return json.loads(text)


def _matches_snapshot(name: str, report: dict) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(report, indent=2) + "\n"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"no snapshot {path.name}: run EASEL_UPDATE_SNAPSHOTS=1 pytest {__file__}"
    assert json.loads(path.read_text()) == report, (
        f"`{name}` no longer prints its snapshot {path}: if the change is meant, regenerate it "
        f"(EASEL_UPDATE_SNAPSHOTS=1) and document it in {OUTPUT_DOC.relative_to(ROOT)}")


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, dict]:
    """Each command's JSON report on the scaffold of `easel init` (small and stable), one after another as a
    platform engineer would run them; and on the example for what the scaffold lacks (GPUs, rollouts)."""
    repo = _configured(copy_init_repo(tmp_path_factory.mktemp("reports") / "repo"))
    handle = pygit2.init_repository(str(repo), initial_head="main")
    found: dict[str, tuple[int, str]] = {}

    def run(name: str, *args: str, cwd: Path = repo) -> None:
        result = easel(*args, "--format", "json", cwd=cwd)
        found[name] = (result.code, result.out)

    run("validate", "validate")
    run("compile", "compile")
    run("compile-check", "compile", "--check")
    base = commit_all(handle, "the scaffold")
    workload = repo / WORKLOAD
    workload.write_text(workload.read_text().replace("hello, world", "hello, fleet"))
    run("diff", "diff", "--base", base)
    run("explain-workload", "explain", "demo/hello")
    run("explain-cluster", "explain", "--cluster", "local")
    run("version", "version")
    run("explain-gpu-workload", "explain", "nlp/support-bot", cwd=ROOT)
    run("explain-gpu-cluster", "explain", "--cluster", "dc-north-1", cwd=ROOT)
    run("status", "status", cwd=ROOT)
    run("rollout-status", "rollout", "status", cwd=ROOT)
    workload.write_text(workload.read_text().replace("project: demo", "project: dmo"))
    run("validate-errors", "validate")
    run("compile-errors", "compile")
    run("diff-errors", "diff", "--base", base)
    run("explain-errors", "explain", "demo/no-such-workload")  # stopped before a report: a Failure
    replacements = {base: "<base>", json.dumps(str(repo))[1:-1]: "<repo>"}
    reports = {}
    for name, (code, out) in found.items():
        assert out, f"{name}: nothing on standard output"
        report = _normalized(out, replacements)
        if name == "version":
            report["python"] = "<python>"
        reports[name] = {"exit": code, "report": report}
    return reports


KINDS = {"validate": "ValidationReport", "validate-errors": "ValidationReport", "compile": "CompileReport",
         "compile-check": "CompileReport", "compile-errors": "CompileReport", "diff": "Diff", "diff-errors": "Diff",
         "explain-workload": "WorkloadExplanation", "explain-cluster": "ClusterExplanation", "version": "Version",
         "explain-gpu-workload": "WorkloadExplanation", "explain-gpu-cluster": "ClusterExplanation",
         "status": "FleetStatus", "rollout-status": "RolloutStatus", "explain-errors": "Failure"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_json_report_is_a_versioned_kind_and_matches_its_snapshot(reports, name):
    outcome = reports[name]
    report = outcome["report"]
    assert (report["apiVersion"], report["kind"]) == ("easel.dev/v1alpha1", KINDS[name])
    assert outcome["exit"] == (1 if name.endswith("-errors") else 0), outcome
    if "ok" in report:
        assert report["ok"] is (outcome["exit"] == 0)
    _matches_snapshot(name, outcome)


def test_reports_say_what_was_done_and_why_not(reports):
    compiled = reports["compile"]["report"]["summary"]
    assert (compiled["workloads"], compiled["clusters"], compiled["output"], compiled["upToDate"]) == \
        (1, 1, "output", False)
    assert compiled["added"] == compiled["files"] > 0
    assert [c["change"] for c in compiled["changes"]] == ["Placed"]
    assert reports["compile-check"]["report"]["summary"]["upToDate"] is True
    [cluster] = reports["diff"]["report"]["clusters"]
    assert cluster["cluster"] == "local" and cluster["objects"], cluster
    failed = reports["compile-errors"]["report"]
    assert failed["summary"] is None and [d["code"] for d in failed["diagnostics"]] == ["E302"]
    assert failed["diagnostics"][0]["file"] == WORKLOAD
    assert reports["diff-errors"]["report"]["diagnostics"][0]["code"] == "E302"


def _fields(value, prefix: str = "") -> set[str]:
    """The dotted field names of a report (lists by their items: `clusters[].cluster`), free-form maps aside."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if prefix.split(".")[-1] in FREE_FORM:
                continue
            name = f"{prefix}.{key}" if prefix else key
            found.add(name)
            found |= _fields(item, name)
    elif isinstance(value, list):
        for item in value:
            found |= _fields(item, f"{prefix}[]")
    return found


# maps whose keys are data (label keys; a parameter's value), not fields
FREE_FORM = {"labels", "value"}


def _documented(kind: str) -> set[str]:
    """The fields the `### kind` section of output.md lists, as `| `field` | ... |` rows."""
    text = OUTPUT_DOC.read_text()
    match = re.search(rf"^### `?{kind}`?\n(.*?)(?=^### |^## |\Z)", text, re.M | re.S)
    assert match, f"{OUTPUT_DOC.name} has no section ### {kind}"
    first_cells = re.findall(r"^\| ([^|]+) \|", match.group(1), re.M)
    return {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}


@pytest.mark.parametrize("kind", sorted(set(KINDS.values())))
def test_every_field_of_every_report_is_documented(reports, kind):
    seen: set[str] = set()
    for name, outcome in reports.items():
        if KINDS[name] == kind:
            seen |= _fields(outcome["report"])
    missing = sorted(seen - _documented(kind) - {"apiVersion", "kind"})
    assert not missing, f"fields of {kind} not described in {OUTPUT_DOC.relative_to(ROOT)}: {missing}"


def test_sarif_is_what_code_scanning_reads(tmp_path):
    sarif_om = pytest.importorskip("sarif_pydantic", reason="sarif-pydantic (the SARIF 2.1.0 object model) is not "
                                   "installed: pip install '.[test]'")
    repo = _configured(copy_init_repo(tmp_path / "repo"))
    clean = easel("validate", "--format", "sarif", cwd=repo)
    assert clean.code == 0 and json.loads(clean.out)["runs"][0]["results"] == []
    workload = repo / WORKLOAD
    workload.write_text(workload.read_text().replace("project: demo", "project: dmo"))
    run = easel("validate", "--format", "sarif", cwd=repo)
    assert run.code == 1, run.text
    log = sarif_om.Sarif.model_validate_json(run.out)  # the standard's object model accepts it
    assert log.version == "2.1.0"
    data = json.loads(run.out)
    [result] = data["runs"][0]["results"]
    driver = data["runs"][0]["tool"]["driver"]
    # what GitHub's code scanning needs: a rule per ruleId, a relative file, a line and column from 1
    assert driver["name"] == "easel" and [r["id"] for r in driver["rules"]] == ["E302"]
    assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"] == "E302"
    assert result["level"] == "error" and "unknown project 'dmo'" in result["message"]["text"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == WORKLOAD and not location["artifactLocation"]["uri"].startswith("/")
    line, column = location["region"]["startLine"], location["region"]["startColumn"]
    assert workload.read_text().splitlines()[line - 1][column - 1:].startswith("dmo")


def test_warnings_reach_every_report_and_build_keeps_them_off_standard_output(tmp_path):
    """A repository with only a warning (W101: a device GPU of unknown product): exit 0 everywhere, and the
    warning in the SARIF run, in the Diff report, and on build's standard error."""
    repo = _configured(copy_init_repo(tmp_path / "repo"))
    handle = pygit2.init_repository(str(repo), initial_head="main")
    base = commit_all(handle, "the scaffold")
    cluster = repo / "clusters" / "local.yaml"
    cluster.write_text(cluster.read_text() + "    - name: odd-gpu\n      role: worker\n"
                       "      facts: {gpus: [{count: 2}]}\n")
    sarif = easel("compile", "--format", "sarif", cwd=repo)
    assert sarif.code == 0, sarif.text
    [result] = json.loads(sarif.out)["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("W101", "warning")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "clusters/local.yaml"
    diff = easel("diff", "--base", base, "--format", "json", cwd=repo)
    assert diff.code == 0 and [d["code"] for d in json.loads(diff.out)["diagnostics"]] == ["W101"], diff.text
    built = easel("build", "local", cwd=repo)
    assert built.code == 0 and "warning[W101]" in built.err and "W101" not in built.out, built.text
    assert easel("diff", "--base", base, "--name-only", "--format", "json", cwd=repo).code == 2
