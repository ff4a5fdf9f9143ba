"""A chart easel has not rendered is not proven, and easel says so once per chart component of each profile version
a cluster runs: a warning by default, an error when easel.yaml says `charts.proof: required` (SPEC §1)."""

from __future__ import annotations

from builders import docs, example_files
from scenario import codes

from compiler.load.source import MemorySource
from compiler.pipeline import Request, compile_repository


def _compiled(files: dict[str, str], last_stage: str = "render"):
    return compile_repository(MemorySource(files), Request(last_stage=last_stage))


def test_the_charts_the_example_runs_are_said_to_be_unproven_in_one_warning():
    result = _compiled(example_files())
    assert codes(result) == []
    [unproven] = [d for d in result.diagnostics if d.code == "W107"]  # however many clusters and versions run them
    assert "kuberay/ray-cluster 1.4.2" in unproven.message and "not proven" in unproven.message
    notes = [note.message for note in unproven.notes]
    assert ("chart clearml/clearml 7.14.4 (component 'server' of profile clearml 1.0.0; its archive is not pulled)"
            in notes)
    assert len(notes) == len(set(notes)) and all(note.location.file.startswith("profiles/") for note in unproven.notes)
    assert result.files is not None  # a warning writes


def test_charts_proof_required_makes_an_unproven_chart_an_error_and_nothing_is_written():
    files = example_files()
    files["easel.yaml"] = files["easel.yaml"].rstrip("\n") + "\n  charts: {proof: required}\n"
    for stage in ("render", "prove"):  # compile and validate alike
        result = _compiled(files, stage)
        assert "E816" in codes(result) and "W107" not in {d.code for d in result.diagnostics}
        said = [(d.location.file, d.location.path) for d in result.diagnostics if d.code == "E816"]
        assert len(said) == len(set(said))  # once per chart component of a version, wherever it runs
        problem = next(d for d in result.diagnostics if d.code == "E816")
        assert problem.location.file.startswith("profiles/") and "charts.proof: warn" in (problem.hint or "")
    assert _compiled(files).files is None


def test_a_repository_without_charts_says_nothing_of_them():
    files = {"easel.yaml": docs("kind: Settings\nspec: {charts: {proof: required}}\n")}
    result = _compiled(files)
    assert not [d for d in result.diagnostics if d.code in ("W107", "E816")]
