"""easel's GitHub Actions workflows (its own CI and the example for config repositories): zizmor and actionlint
find nothing, they are valid against the workflow schema, they keep the hardening the README promises, and the
example's push job opens and updates a pull request with the rendered change (run here against a local
origin, with a stand-in for the `gh` client, which talks to GitHub)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_init_repo, easel, git

EXAMPLE = ROOT / "docs" / "config-repo-workflow.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + [EXAMPLE]
HOOKS = ROOT / ".pre-commit-hooks.yaml"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(?:#\s*(\S+))?\s*$")
VERSION = re.compile(r"^v\d+(\.\d+){0,2}$")


def _tool(name: str) -> str:
    """The command installed with the test extras (beside this Python), else one on PATH; skip without it."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install '.[test]'")
    return found


def _run(*command: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # Offline and without a GitHub token: what they report must not depend on either.
    clean = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    return subprocess.run(command, cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


def _relative(paths) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", ()):
            yield job_id, step


def test_zizmor_finds_nothing():
    zizmor = _tool("zizmor")
    found = _run(zizmor, "--offline", "--no-progress", "--format", "json", *_relative(WORKFLOWS + [HOOKS]))
    assert json.loads(found.stdout) == [], found.stdout
    assert found.returncode == 0, found.stderr


def test_actionlint_finds_nothing():
    actionlint = _tool("actionlint")
    found = _run(actionlint, "-format", "{{json .}}", *_relative(WORKFLOWS))
    assert found.returncode == 0 and json.loads(found.stdout or "[]") == [], found.stdout + found.stderr


def test_the_workflows_are_valid_against_the_github_workflow_schema():
    check_jsonschema = _tool("check-jsonschema")
    checked = _run(check_jsonschema, "--builtin-schema", "vendor.github-workflows", *_relative(WORKFLOWS))
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_least_privilege_a_timeout_and_no_expression_in_scripts(path):
    workflow = _load(path)
    assert workflow["permissions"] in ({}, {"contents": "read"}), "the workflow grants nothing by default"
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int) and job["timeout-minutes"] > 0, job_id
        assert isinstance(job.get("permissions"), dict) and job["permissions"], f"{job_id} says what it needs"
        assert set(job["permissions"].values()) <= {"read", "write"}, job_id
    for job_id, step in _steps(workflow):
        assert "${{" not in step.get("run", ""), f"{job_id}: pass expressions to scripts through env"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{job_id}: the checkout keeps no token"


def test_every_action_is_pinned_by_commit_with_its_version_beside_it():
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        uses = [step["uses"] for _, step in _steps(_load(path)) if "uses" in step]
        lines = [m.groups() for m in map(USES_LINE.match, path.read_text().splitlines()) if m]
        assert [ref for ref, _ in lines] == uses, path
        for ref, version in lines:
            assert PINNED.match(ref), f"{path.name}: {ref} is not pinned by a full commit id"
            assert version and VERSION.match(version), f"{path.name}: {ref} has no `# vX.Y.Z` comment"
            action, commit = ref.split("@")
            pins.setdefault(action, set()).add((commit, version))
    assert {action: len(seen) for action, seen in pins.items()} == dict.fromkeys(pins, 1), \
        f"one commit and version per action across the workflows: {pins}"


def test_the_example_checks_a_pull_request_and_comments_the_diff():
    jobs = _load(EXAMPLE)["jobs"]
    check = jobs["check"]
    assert check["if"] == "github.event_name == 'pull_request'"
    commands = [step["run"].split(" >")[0] for step in check["steps"] if step.get("run", "").startswith("easel ")]
    # the chart archives first (fetched where not committed): the proof renders them
    assert commands == ["easel charts pull", "easel validate --format github",
                        "easel compile --check --locked --format github",
                        'easel diff --base "origin/$BASE_REF" --format markdown', "easel report --out report"]
    comment = next(step for step in check["steps"] if "sticky-pull-request-comment" in step.get("uses", ""))
    assert comment["with"] == {"path": "diff.md"}
    for job in jobs.values():
        upload = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
        assert upload["with"]["path"] == "report/"
    assert check["permissions"] == {"contents": "read", "pull-requests": "write"}


def _gh_stand_in(folder: Path) -> Path:
    """A `gh` that writes down what it is asked and answers `pr list` with the open pull request, if any."""
    folder.mkdir()
    gh = folder / "gh"
    gh.write_text('#!/bin/sh\necho "$*" >> "$GH_LOG"\n'
                  'if [ "$1 $2" = "pr list" ] && [ -f "$GH_OPEN" ]; then cat "$GH_OPEN"; fi\n')
    gh.chmod(0o755)
    return folder


@pytest.mark.slow  # the step runs the console script as processes, four times over
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_example_push_job_opens_then_updates_a_pull_request_with_the_rendered_change(tmp_path):
    workflow = _load(EXAMPLE)
    job = workflow["jobs"]["propose"]
    assert job["if"] == "github.event_name == 'push'"
    step = next(s for s in job["steps"] if s.get("name", "").startswith("Open or update the pull request"))
    rendered, proposal = workflow["env"]["RENDERED"], workflow["env"]["PROPOSAL"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}

    config = copy_init_repo(tmp_path / "config")
    assert easel("compile", cwd=config).code == 0
    git(config, "init", "-q", "-b", "main")
    git(config, "add", "-A")
    git(config, "commit", "-qm", "a config repository")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(config), str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    gh_log, gh_open = tmp_path / "gh.log", tmp_path / "gh-open"
    path = f"{_gh_stand_in(tmp_path / 'bin')}:{Path(sys.executable).parent}:/usr/bin:/bin"

    said = ["hello, world"]  # the example workload's message

    def push_to_main(message: str, text: str | None = None):  # what a merge to main does, then the job
        if text is not None:
            workload = work / "workloads/demo/hello.yaml"
            workload.write_text(workload.read_text().replace(said[0], text))
            said[0] = text
            assert easel("compile", cwd=work).code == 0
            git(work, "commit", "-qam", message)
            git(work, "push", "-q", "origin", "main")
        gh_log.write_text("")
        env = {**workflow["env"], **step["env"], "GH_TOKEN": "stand-in", "GH_LOG": str(gh_log),
               "GH_OPEN": str(gh_open), "GITHUB_SHA": git(work, "rev-parse", "HEAD").strip(), "PATH": path}
        ran = _run("bash", "-e", "-c", step["run"], cwd=work, env=env)  # as GitHub runs a step: bash -e
        assert ran.returncode == 0, ran.stdout + ran.stderr
        return env["GITHUB_SHA"], gh_log.read_text().splitlines()

    first, asked = push_to_main("a config repository")
    assert f"Easel-Source: {first}" in git(origin, "log", "-1", "--format=%B", rendered)
    assert git(origin, "ls-tree", "-r", "--name-only", rendered).split() == \
        git(work, "ls-files", "output").split(), "the first run creates the branch with output/ alone"
    assert not any(line.startswith("pr ") and "list" not in line for line in asked)

    second, asked = push_to_main("say hello, proposal", "hello, proposal")
    assert git(origin, "rev-parse", f"{proposal}~1") == git(origin, "rev-parse", rendered), \
        "the proposal is one commit on top of what the clusters run"
    assert f"pr create --base {rendered} --head {proposal} --title easel: rendered output of {second[:12]} " \
           "--body-file proposal.md" in asked
    body = (work / "proposal.md").read_text()
    assert f"easel diff: `{first[:12]}`" in body and "+          value: hello, proposal" in body

    gh_open.write_text("7\n")
    third, asked = push_to_main("say hello, again", "hello, again")
    assert f"pr edit 7 --title easel: rendered output of {third[:12]} --body-file proposal.md" in asked
    assert "+          value: hello, again" in (work / "proposal.md").read_text()

    _, asked = push_to_main("say hello, world", "hello, world")  # back to what the clusters run
    assert any(line.startswith("pr close 7 --delete-branch") for line in asked), asked
