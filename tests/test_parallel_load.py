"""A large load parses half of its files in a second process: the same documents, texts and diagnostics, in the
same order, as one process gives, errors included."""

from __future__ import annotations

import sys

from conftest import ROOT

from compiler import load
from compiler.load.source import MemorySource
from compiler.runtime import parallel

sys.path.insert(0, str(ROOT / "bench"))
import fleet


def _files(tmp_path):
    repo = tmp_path / "repo"
    fleet.write_easel_repo(fleet.fleet(30, 4, 2, True), repo)
    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    files["clusters/broken.yaml"] = b"kind: Cluster\nmetadata: {name: x\n"  # a syntax error
    files["workloads/nlp/twice.yaml"] = b"a: 1\na: 2\n"  # a duplicate key
    files["workloads/nlp/list.yaml"] = b"- not a mapping\n"
    return files


def test_two_processes_parse_exactly_what_one_does(tmp_path, monkeypatch):
    snapshot = load.read(MemorySource(_files(tmp_path)))
    monkeypatch.setattr(load, "PARALLEL_FILES", 10**9)
    alone = load.parse(snapshot)
    monkeypatch.setattr(load, "PARALLEL_FILES", 2)
    shared = load.parse(snapshot)
    assert shared.documents == alone.documents and len(alone.documents) > 30
    assert shared.texts == alone.texts
    assert list(shared.diagnostics) == list(alone.diagnostics)
    assert {d.code for d in alone.diagnostics} >= {"E101", "E102", "E104"}
    assert shared.parsed == alone.parsed


def test_a_child_that_fails_leaves_its_half_to_the_parent(tmp_path, monkeypatch):
    snapshot = load.read(MemorySource(_files(tmp_path)))
    alone = load.parse(snapshot)
    monkeypatch.setattr(load, "PARALLEL_FILES", 2)
    monkeypatch.setattr(parallel.pickle, "dump", lambda *args, **kwargs: None)  # the child says nothing
    shared = load.parse(snapshot)
    assert shared.documents == alone.documents and list(shared.diagnostics) == list(alone.diagnostics)
