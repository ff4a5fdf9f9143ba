"""The project's own reference docs: generated ones are current, and every link of the README and the docs
leads to a file of the repository (a clone has nothing outside it)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from compiler.cli import reference

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_the_command_line_reference_is_generated_from_the_commands_and_current():
    committed = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert committed == reference.markdown(), \
        "docs/reference/cli.md is stale: python -m compiler.cli.reference > docs/reference/cli.md"
    for command in ("validate", "compile", "build", "diff", "explain", "status", "rollout advance", "version",
                    "completion"):
        assert f"### `easel {command}`" in committed or f"#### `easel {command}`" in committed, command


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_leads_to_a_file_of_the_repository(doc):
    prose = re.sub(r"`[^`\n]*`", "", doc.read_text())  # code (patterns such as `([a-z])`) holds no links
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert path.exists(), f"{doc.name} links to a missing file: {target}"
