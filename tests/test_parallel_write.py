"""A fleet's first compile renders and writes every other cluster in a second process: the same tree, byte for
byte, the same summary and cache record as one process gives; and a second process that fails leaves nothing
behind (the previous output and lock as they were)."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ROOT, easel

from compiler import write
from compiler.commands import replay
from compiler.runtime import parallel

sys.path.insert(0, str(ROOT / "bench"))
import fleet

pytestmark = pytest.mark.skipif(not parallel.AVAILABLE, reason="the system cannot fork: one process writes")


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(24, 3, 5, True), repo)  # flux and argocd clusters
    return repo


def test_two_lanes_write_exactly_what_one_does(repo, monkeypatch, tmp_path):
    monkeypatch.setattr(write, "LANE_MIN", 10**9)
    alone = easel("--no-cache", "compile", cwd=repo)
    assert alone.code == 0, alone.text
    expected = _tree(repo / "output")
    (tmp_path / "lock").write_bytes((repo / "easel.lock").read_bytes())
    os.remove(repo / "easel.lock")
    write.shutil.rmtree(repo / "output")

    monkeypatch.setattr(write, "LANE_MIN", 2)
    monkeypatch.setattr(write.Digests, "KEPT", 3)  # and what was digested is forgotten all the time
    shared = easel("compile", cwd=repo)
    assert shared.code == 0, shared.text
    assert shared.out == alone.out
    assert _tree(repo / "output") == expected and len(expected) > 100
    assert (repo / "easel.lock").read_bytes() == (tmp_path / "lock").read_bytes()
    assert not [p for p in (repo / "output").iterdir() if p.name.startswith(write.STAGING_PREFIX)]
    # the manifest both lanes recorded is right: the next compile is replayed, and a changed file is seen
    again = easel("compile", cwd=repo)
    assert again.code == 0 and "0 added, 0 changed, 0 removed" in again.out, again.text
    first = next(iter(sorted(p for p in (repo / "output" / "clusters").rglob("*.yaml"))))
    first.write_text(first.read_text() + "# edited\n")
    repaired = easel("compile", cwd=repo)
    assert "1 changed" in repaired.out, repaired.text
    assert _tree(repo / "output") == expected


def test_a_second_process_that_fails_changes_nothing(repo, monkeypatch):
    monkeypatch.setattr(write, "LANE_MIN", 2)
    monkeypatch.setattr(parallel.pickle, "dump", lambda *args, **kwargs: None)  # the child says nothing
    failed = easel("compile", cwd=repo)
    assert failed.code == 1
    assert "E802" in failed.err and "the previous output is unchanged" in failed.err, failed.err
    assert not (repo / "output").exists() or not [p for p in (repo / "output").rglob("*") if p.is_file()]
    assert not (repo / "easel.lock").exists()


@pytest.fixture
def compiled(repo, monkeypatch):
    monkeypatch.setattr(replay, "EARLY_LISTING_FILES", 1)
    first = easel("compile", cwd=repo)
    assert first.code == 0, first.text
    return repo


def _edit_a_workload(repo):
    workload = sorted((repo / "workloads").rglob("*.yaml"))[0]
    workload.write_text(workload.read_text() + "# edited\n")


def _clean(repo, tmp_path):
    """The tree a compile from scratch gives for the repository as it is now."""
    copy = tmp_path / "copy"
    write.shutil.copytree(repo, copy, ignore=write.shutil.ignore_patterns("output", ".easel-cache"))
    assert easel("--no-cache", "compile", cwd=copy).code == 0
    return _tree(copy / "output")


def test_the_output_walked_early_sees_what_changed_in_it_meanwhile(compiled, tmp_path, monkeypatch):
    repo = compiled
    walks = []
    real = write.listing
    monkeypatch.setattr(write, "listing", lambda *args: walks.append(args) or real(*args))
    out = repo / "output"
    files = sorted(p for p in (out / "clusters").rglob("*.yaml"))
    files[0].write_text(files[0].read_text() + "# by hand\n")  # changed
    files[1].unlink()  # gone
    (files[2].parent / "stray.yaml").write_text("kind: ConfigMap\n")  # not easel's
    _edit_a_workload(repo)  # so that the compile is not replayed
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    assert "1 added, 1 changed, 1 removed" in run.out, run.out
    assert not walks  # this process did not walk the output: the second one did    assert _tree(out) == _clean(repo, tmp_path)
    (files[3].parent / "link.yaml").symlink_to(files[3])
    _edit_a_workload(repo)
    refused = easel("compile", cwd=repo)
    assert refused.code == 1 and "E802" in refused.err and "symbolic link" in refused.err, refused.text


def test_a_compile_that_stops_before_writing_lets_the_walk_go(compiled):
    repo = compiled
    workload = sorted((repo / "workloads").rglob("*.yaml"))[0]
    text = workload.read_text()
    workload.write_text("kind: Workload\nmetadata: {name: x\n")
    failed = easel("compile", cwd=repo)
    assert failed.code == 1 and "E101" in failed.err, failed.text
    workload.write_text(text + "# edited\n")
    again = easel("--no-wait", "compile", cwd=repo)  # the lock is free: nothing of the first run holds it
    assert again.code == 0, again.text


def test_without_an_answer_from_the_walk_the_compile_walks_itself(compiled, monkeypatch, tmp_path):
    repo = compiled
    monkeypatch.setattr(parallel.pickle, "dump", lambda *args, **kwargs: None)
    files = sorted(p for p in (repo / "output" / "clusters").rglob("*.yaml"))
    files[0].write_text(files[0].read_text() + "# by hand\n")
    _edit_a_workload(repo)
    run = easel("compile", cwd=repo)
    assert run.code == 0 and "1 changed" in run.out, run.text
    assert _tree(repo / "output") == _clean(repo, tmp_path)
