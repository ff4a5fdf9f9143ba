"""The progress bar: on a terminal, for a compile that runs a while; never in piped output."""

from __future__ import annotations

import io
import sys

from conftest import ROOT, easel

from compiler.commands.compiling import Target, compile_and_write
from compiler.load.source import DirectorySource
from compiler.runtime import progress

sys.path.insert(0, str(ROOT / "bench"))
import fleet


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _repo(tmp_path):
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(6, 3, 1, True), repo)
    return repo


def test_a_terminal_sees_the_stages_of_a_long_compile(tmp_path):
    repo = _repo(tmp_path)
    terminal = _Terminal()
    with progress.shown(terminal, delay=0):  # as if the compile had run past the delay
        result, summary = compile_and_write(DirectorySource(repo), Target(repo))
    assert result.ok and summary
    shown = terminal.getvalue()
    for stage in ("reading the inputs", "deciding", "rendering", "writing"):
        assert f"easel: {stage}" in shown, shown
    assert "0/6" in shown  # rendering counts the clusters


def test_a_quick_compile_shows_no_bar_even_on_a_terminal(tmp_path):
    repo = _repo(tmp_path)
    terminal = _Terminal()
    with progress.shown(terminal, delay=600):
        compile_and_write(DirectorySource(repo), Target(repo))
    assert terminal.getvalue() == ""


def test_piped_output_never_has_a_bar(tmp_path):
    repo = _repo(tmp_path)
    run = easel("compile", cwd=repo)
    assert run.code == 0 and "easel: rendering" not in run.text and "\x1b[" not in run.text
