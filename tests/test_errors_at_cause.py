"""Errors at the cause: each diagnostic points at the input that caused it, with a note at the symptom when they
differ, and a look-up that fails says why.

Each case starts from the small working repository of `easel init` (the `repo` fixture), changed a few lines as
the cases of test_bad_input.py are, and reads the file at the printed `file:line:column` to show what it points at.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import easel
from test_bad_input import build, gpu_repo


def _point(repo: Path, where: str) -> str:
    """The text of the file from a printed `file:line:column` on."""
    file, line, column = where.split(":")
    return (repo / file).read_text().splitlines()[int(line) - 1][int(column) - 1:]


def _reported(run, code: str) -> tuple[str, list[str], str | None]:
    """The `file:line:column` of the first `code` diagnostic printed, its notes' lines and its hint."""
    lines = run.err.splitlines()
    start = next(i for i, line in enumerate(lines) if f"[{code}]:" in line)
    where = lines[start].split(": ")[0]
    notes, hint = [], None
    for line in lines[start + 1:]:
        if line.startswith("  note: "):
            notes.append(line.removeprefix("  note: "))
        elif line.startswith("  hint: "):
            hint = line.removeprefix("  hint: ")
        elif not line.startswith("    "):
            break
    return where, notes, hint


def _note_at(notes: list[str], text: str) -> str:
    """The `file:line:column` of the note whose message holds text."""
    found = next((n for n in notes if text in n), None)
    assert found is not None, f"no note with {text!r} in {notes}"
    return re.match(r"[^:]+:\d+:\d+", found).group(0)  # type: ignore[union-attr]


# --- E601: the hint says where its notes are ------------------------------------------------------------------

def test_unplaceable_workload_hint_refers_to_the_notes_printed_above_it(repo: Path):
    build(repo, gpu_repo(gpus=8))  # no device has 8 GPUs
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    lines = run.err.splitlines()
    start = next(i for i, line in enumerate(lines) if "error[E601]" in line)
    block = lines[start + 1:start + 5]
    assert [line.split(":")[0] for line in block] == ["  note"] * 3 + ["  hint"], run.text
    assert "the notes above say why each cluster was passed over" in block[3], run.text
    assert "below" not in block[3], run.text
    assert _point(repo, _reported(run, "E601")[0]).startswith("dev"), run.text  # spec.environment's value
