"""The local cache (.easel-cache/, cache.py): a compile with it gives the very bytes, lock and messages a compile
without it gives, whatever happened to the cache in between; and it is used (the spies show the work skipped)."""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

import pytest
from builders import copy_example
from conftest import ROOT, easel, tree

from compiler.commands import compiling as workflow
from compiler.runtime import cache

sys.path.insert(0, str(ROOT / "bench"))
import fleet


def _fleet(root: Path, clusters: int = 12, workloads: int = 6, argocd_half: bool = True) -> Path:
    fleet.write_easel_repo(fleet.fleet(clusters, workloads, 7, argocd_half), root)
    return root


def _state(repo: Path) -> dict[str, bytes]:
    """What a compile leaves that counts: the output and the lock (not the cache)."""
    found = {f"output/{p}": b for p, b in tree(repo / "output").items()} if (repo / "output").exists() else {}
    if (repo / "easel.lock").exists():
        found["easel.lock"] = (repo / "easel.lock").read_bytes()
    return found


@pytest.fixture(autouse=True)
def cache_on(monkeypatch):
    """These tests compare the cache with its absence, so they run with it whatever the suite was told."""
    monkeypatch.delenv("EASEL_NO_CACHE", raising=False)


@pytest.fixture
def decided(monkeypatch):
    """Counts the compiles that went through the stages after loading (those the cache did not replay)."""
    calls = []
    real = workflow.compile_loaded

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(workflow, "compile_loaded", spy)
    return calls


def test_a_compile_with_nothing_changed_is_replayed_and_says_the_same(tmp_path, decided):
    repo = _fleet(tmp_path / "repo")
    first = easel("compile", cwd=repo)
    assert first.code == 0, first.text
    assert len(decided) == 1
    second = easel("compile", cwd=repo)
    assert second.code == 0 and len(decided) == 1  # replayed: nothing decided, planned or rendered
    plain = easel("--no-cache", "compile", cwd=repo)
    assert len(decided) == 2
    assert second.out == plain.out and second.err == plain.err
    assert "0 added, 0 changed, 0 removed" in second.out
    assert easel("compile", "--check", cwd=repo).code == 0 and len(decided) == 2
    assert easel("validate", cwd=repo).code == 0 and len(decided) == 3
    again = easel("validate", cwd=repo)
    assert len(decided) == 3 and again.out == easel("--no-cache", "validate", cwd=repo).out


@pytest.mark.parametrize("edit", ["content", "delete", "stray", "same-size"])
def test_the_output_is_checked_before_a_replay(tmp_path, decided, edit):
    repo = _fleet(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    expected = _state(repo)
    target = repo / "output" / sorted(p for p in expected if p.endswith("objects.yaml"))[0][len("output/"):]
    if edit == "content":
        target.write_text(target.read_text() + "# edited\n")
    elif edit == "delete":
        target.unlink()
    elif edit == "stray":
        (target.parent / "stray.yaml").write_text("kind: ConfigMap\n")
    else:  # the same size, another mtime: read back, since the size alone proves nothing
        text = target.read_text()
        target.write_text(text.replace("apiVersion", "apiVersioN", 1))
    assert easel("compile", "--check", cwd=repo).code == 1
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    assert len(decided) == 3  # the stale output made both compile for real
    assert _state(repo) == expected


def test_a_repository_copied_with_its_cache_checks_and_names_its_own_output(tmp_path, decided):
    original = _fleet(tmp_path / "original")
    assert easel("compile", cwd=original).code == 0
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)  # .easel-cache/ too: its record is of the original's output folder
    target = sorted((copy / "output").rglob("objects.yaml"))[0]
    target.write_text(target.read_text() + "# edited\n")
    run = easel("compile", "--check", cwd=copy)
    assert run.code == 1 and "error[E803]" in run.err and str(copy / "output") in run.err, run.text
    run = easel("compile", cwd=copy)
    assert run.code == 0 and run.out.rstrip().endswith(f"1 changed, 0 removed, {len(tree(copy / 'output')) - 1} "
                                                       f"unchanged ({copy / 'output'})"), run.text
    run = easel("compile", cwd=copy)  # now the copy's own record: replayed, and its own folder named
    assert run.code == 0 and f"({copy / 'output'})" in run.out and len(decided) == 3, run.text


def test_an_input_edit_is_compiled_for_real(tmp_path, decided):
    repo = _fleet(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    workload = sorted((repo / "workloads").rglob("*.yaml"))[0]
    workload.write_text(workload.read_text().replace("environment: dev", "environment: prod")
                        .replace("environment: prod", "environment: dev") + "# a comment\n")
    assert easel("compile", cwd=repo).code == 0 and len(decided) == 2
    (repo / "easel.lock").unlink()
    assert easel("compile", cwd=repo).code == 0 and len(decided) == 3


def test_warnings_are_replayed_with_their_positions(tmp_path, decided):
    repo = _fleet(tmp_path / "repo")
    cluster = sorted((repo / "clusters").glob("*.yaml"))[0]
    cluster.write_text(cluster.read_text().replace("  devices:\n", "  devices:\n  - name: odd-0\n    role: worker\n"
                                                   "    facts: {gpus: [{count: 2}]}\n", 1))
    first = easel("compile", cwd=repo)
    assert first.code == 0 and "warning[W101]" in first.text, first.text
    second = easel("compile", cwd=repo)
    assert len(decided) == 1
    assert "warning[W101]" in second.text and f"{cluster.name}:" in second.text
    assert second.text == easel("--no-cache", "compile", cwd=repo).text


def test_a_schema_error_is_reported_every_time(tmp_path):
    repo = _fleet(tmp_path / "repo")
    workload = sorted((repo / "workloads").rglob("*.yaml"))[0]
    workload.write_text(workload.read_text().replace("project:", "projekt:"))
    for _ in range(2):
        run = easel("validate", cwd=repo)
        assert run.code == 1 and "E203" in run.text, run.text


def test_the_cache_ignores_itself_for_git(tmp_path):
    repo = _fleet(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    assert "*" in (repo / ".easel-cache/.gitignore").read_text().splitlines()  # every file, itself included


_CACHE_FILES = (cache.DOCUMENTS, cache.RUNS, cache.MANIFEST)


def _damage(folder: Path, rng: random.Random) -> str:
    """One random harm to one cache entry: what a crash, a full disk or a curious user may leave."""
    name = rng.choice(_CACHE_FILES)
    path = folder / name
    if not path.exists():
        return f"{name}: absent"
    data = path.read_bytes()
    how = rng.choice(["truncate", "flip", "delete", "junk", "header", "swap", "empty-json"])
    if how == "truncate":
        path.write_bytes(data[:rng.randrange(len(data))])
    elif how == "flip":
        at = rng.randrange(len(data))
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:])
    elif how == "delete":
        path.unlink()
    elif how == "junk":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    elif how == "header":  # a valid-looking entry from another build
        head, _, body = data.partition(b"\n")
        path.write_bytes(head.replace(b" 1 ", b" 1 0", 1) + b"\n" + body)
    elif how == "swap":
        other = folder / rng.choice([n for n in _CACHE_FILES if n != name])
        if other.exists():
            path.write_bytes(other.read_bytes())
    else:  # intact framing around a body of the wrong shape
        body = rng.choice([b"[]", b"{}", b'{"compile": 1}', b'{"out": 3, "folders": []}', b"null",
                           b'{"out": "x", "count": 2, "paths": 3}\nabc', b'{"count": -1}\n'])
        path.write_bytes(f"easel-cache {cache.FORMAT} {cache.build()} {cache.content_digest(body)}\n".encode() + body)
    return f"{name}: {how}"


def _edit_inputs(repo: Path, rng: random.Random) -> str:
    workloads = sorted((repo / "workloads").rglob("*.yaml"))
    what = rng.choice(["none", "param", "remove", "comment", "lock"])
    if what == "param":
        path = rng.choice(workloads)
        path.write_text(path.read_text().replace("cpuLimit: 2", "cpuLimit: 8").replace("workers: 1", "workers: 2"))
    elif what == "remove" and len(workloads) > 3:
        rng.choice(workloads).unlink()
    elif what == "comment":
        path = rng.choice(workloads)
        path.write_text(path.read_text() + f"# {rng.random()}\n")
    elif what == "lock" and (repo / "easel.lock").exists():
        (repo / "easel.lock").unlink()
    return what


def test_a_damaged_cache_never_changes_the_output(tmp_path):
    """Corrupt, truncate and delete the cache at random between compiles (and edit the inputs now and then):
    each compile leaves exactly what a compile without a cache leaves from the same inputs."""
    rng = random.Random(2026)
    cached = _fleet(tmp_path / "cached", clusters=5, workloads=4)
    for step in range(int(os.environ.get("EASEL_CACHE_STEPS", "16"))):
        what = _edit_inputs(cached, rng)
        harm = _damage(cached / ".easel-cache", rng) if (cached / ".easel-cache").exists() else "none yet"
        plain = tmp_path / f"plain-{step}"
        shutil.copytree(cached, plain, ignore=shutil.ignore_patterns(".easel-cache"))
        with_cache = easel("compile", cwd=cached)
        without = easel("--no-cache", "compile", cwd=plain)
        said = (with_cache.code, with_cache.out.replace(str(cached), "REPO"), with_cache.err)
        assert said == (without.code, without.out.replace(str(plain), "REPO"), without.err), \
            f"step {step}: {what}, {harm}"
        assert _state(cached) == _state(plain), f"step {step}: {what}, {harm}"
        shutil.rmtree(plain)


def test_the_example_compiles_the_same_with_and_without_the_cache(tmp_path):
    copies = []
    for name in ("cached", "plain"):
        copies.append(copy_example(tmp_path / name))
    cached, plain = copies
    for _ in range(2):
        run, expected = easel("compile", cwd=cached), easel("--no-cache", "compile", cwd=plain)
        assert (run.code, run.out.replace(str(cached), "REPO")) == (expected.code,
                                                                    expected.out.replace(str(plain), "REPO"))
        assert _state(cached) == _state(plain)
    assert tree(cached / "output") == tree(ROOT / "output")
