"""The README's documented examples are what easel does: each fenced block marked `<!-- output of: easel ... -->`
is what that command prints on a copy of the example (a line `...` stands for lines left out), and the
pre-commit configuration it shows runs the hooks of `.pre-commit-hooks.yaml` as they are defined there."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from builders import copy_example
from conftest import CRDS_ABSENT, ROOT, easel

README = (ROOT / "README.md").read_text(encoding="utf-8")
MARKED = re.compile(r"^<!-- output of: (easel [^\n]*?) -->\n```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXAMPLES = [(command, block.splitlines()) for command, block in MARKED.findall(README)]


def fits(expected: list[str], printed: list[str]) -> bool:
    """Whether printed is expected line for line, a line `...` of expected standing for any lines (or none)."""
    if not expected:
        return not printed
    if expected[0].strip() == "...":
        return any(fits(expected[1:], printed[skip:]) for skip in range(len(printed) + 1))
    return bool(printed) and printed[0] == expected[0] and fits(expected[1:], printed[1:])


def test_fits_reads_an_elision_as_any_run_of_lines():
    assert fits(["a", "  ...", "d"], ["a", "b", "c", "d"]) and fits(["a", "...", "b"], ["a", "b"])
    assert not fits(["a", "...", "d"], ["a", "b", "c"]) and not fits(["a", "b"], ["a", "b", "c"])


def test_the_readme_marks_its_output_examples():
    commands = [command for command, _ in EXAMPLES]
    assert "easel explain nlp/support-bot" in commands and "easel rollout status" in commands, commands
    assert README.count("<!-- output of:") == len(EXAMPLES), "a marker not right above a fenced block"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    return copy_example(tmp_path_factory.mktemp("readme") / "example", output=True)


@pytest.mark.parametrize(("command", "expected"), EXAMPLES, ids=[command for command, _ in EXAMPLES])
def test_each_output_example_is_what_easel_prints(example, command, expected):
    run = easel(*shlex.split(command)[1:], cwd=example)
    assert run.code == 0, run.text
    printed = run.out.rstrip("\n").splitlines()
    assert fits(expected, printed), (f"README.md's example of `{command}` is not what it prints:\n"
                                     + "\n".join(printed))


def test_the_pre_commit_configuration_runs_the_hooks_as_defined():
    block = README.split("<!-- the hooks of .pre-commit-hooks.yaml", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    [repo] = yaml.safe_load(block)["repos"]
    assert repo["repo"] == "local"
    defined = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert [hook["id"] for hook in repo["hooks"]] == list(defined)
    for hook in repo["hooks"]:
        wanted = defined[hook["id"]]
        assert (hook["name"], hook["entry"], hook["pass_filenames"], hook["files"]) == \
            (wanted["name"], wanted["entry"], wanted["pass_filenames"], wanted["files"]), hook["id"]
        assert hook["language"] == "system"  # the easel installed, not one pre-commit installs


def test_the_readme_says_where_each_crd_schema_the_tests_read_comes_from():
    from k8s_schemas import CRD_FILES

    listed = re.findall(r"^\| `([a-z]+/[a-z]+\.yaml)` \| [\w./-]+ \| `[^`]+` \|$", README, re.MULTILINE)
    assert sorted(listed) == sorted(set(CRD_FILES.values())), "CRD schemas for the conformance tests"
    assert "CRD schemas for the conformance tests" in CRDS_ABSENT and "README.md" in CRDS_ABSENT
