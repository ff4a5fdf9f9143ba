"""output/ and easel.lock change as a unit (transaction.py): a compile stopped at any point of its write leaves
nothing mixed that any easel command could see, and the next command completes or undoes it and says so; two
easel runs on one repository take turns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from builders import cluster_file
from conftest import ROOT, copy_init_repo, easel, tree, write_files
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.write import transaction

NEW_CLUSTERS = {path: text for i in range(3) for path, text in cluster_file(f"extra-{i}", "{tier: dev}").items()}


class Killed(BaseException):
    """Stands for SIGKILL: nothing of easel's handles it, no cleanup runs."""


def _state(repo) -> tuple[dict[str, bytes], bytes]:
    return tree(repo / "output"), (repo / "easel.lock").read_bytes()


def _compiled_states(tmp_path):
    """A repository compiled once (the old state), and what the next compile, with three more clusters, writes
    (the new state, made in a copy)."""
    repo = copy_init_repo(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    old = _state(repo)
    write_files(repo, NEW_CLUSTERS)
    twin = copy_init_repo(tmp_path / "twin")
    write_files(twin, NEW_CLUSTERS)
    assert easel("compile", cwd=twin).code == 0
    return repo, old, _state(twin)


def _kill_after(monkeypatch, steps: int, *names: str) -> None:
    """Make the write die (as if killed) at its steps-th file operation."""
    count = {"n": 0}
    for name in names:
        real = getattr(os, name)

        def dying(*args, _real=real, **kwargs):
            count["n"] += 1
            if count["n"] > steps:
                raise Killed()
            return _real(*args, **kwargs)
        monkeypatch.setattr(os, name, dying)


@settings(max_examples=12, deadline=None)
@given(steps=st.integers(0, 60))
def test_a_compile_killed_at_any_point_of_its_write_is_completed_or_undone_by_the_next_command(tmp_path_factory,
                                                                                              steps):
    tmp_path = tmp_path_factory.mktemp("killed")
    repo, old, new = _compiled_states(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        _kill_after(patch, steps, "replace", "rename", "unlink", "mkdir", "makedirs")
        try:
            easel("compile", cwd=repo)
        except Killed:
            pass
    run = easel("compile", "--check", cwd=repo)  # any command: it finds the interrupted write first
    state = _state(repo)
    assert state in (old, new), "output/ and easel.lock are from different compiles, or mixed"
    if (repo / ".easel-cache" / "journal.json").exists():
        pytest.fail("the journal outlived the next command")
    if state == new:
        assert run.code == 0, run.text
    else:
        assert run.code == 1 and "is not up to date" in run.err
    assert not [p for p in (repo / "output").iterdir() if p.name.startswith(".easel-staging")]


def test_the_next_command_says_what_it_completed_or_undid(tmp_path):
    repo, old, new = _compiled_states(tmp_path)
    with pytest.MonkeyPatch.context() as patch:  # dies after the commit, while moving files into place
        real = transaction.apply
        patch.setattr(transaction, "apply", lambda entry: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            easel("compile", cwd=repo)
        del real
    run = easel("validate", cwd=repo)
    assert run.code == 0 and "completed a write of" in run.err and "that an interrupted easel run had " \
                                                                    "committed" in run.err
    assert _state(repo) == new
    write_files(repo, cluster_file("extra-3", "{tier: dev}"))
    with pytest.MonkeyPatch.context() as patch:  # dies while staging: nothing was touched
        patch.setattr(transaction, "commit", lambda *a, **k: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            easel("compile", cwd=repo)
    run = easel("status", cwd=repo)
    assert run.code == 0 and "undid a write that an interrupted easel run had not committed" in run.err
    assert _state(repo) == new


def test_two_easel_runs_take_turns_and_no_wait_fails_clearly(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    held, release = threading.Event(), threading.Event()

    def other_run():
        with transaction.exclusive(repo):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=other_run)
    thread.start()
    held.wait(5)
    try:
        run = easel("--no-wait", "compile", cwd=repo)
        assert run.code == 1 and "error[E905]: another easel run holds this repository" in run.err, run.text
        threading.Timer(0.3, release.set).start()
        started = time.monotonic()
        run = easel("compile", cwd=repo)
        assert run.code == 0 and "waiting for another easel run on this repository" in run.err, run.text
        assert time.monotonic() - started >= 0.25
    finally:
        release.set()
        thread.join()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.slow  # starts and kills real easel processes
def test_sigkill_during_a_real_compile_never_leaves_a_mixed_state(tmp_path):
    """The real thing, a few times: easel in its own process, killed at a random moment of a compile."""
    fleet = tmp_path / "fleet"
    subprocess.run([sys.executable, str(ROOT / "bench" / "fleet.py"), str(fleet), "--clusters", "30",
                    "--workloads", "6"], check=True, capture_output=True)
    assert easel("compile", cwd=fleet).code == 0
    old = _state(fleet)
    write_files(fleet, {path: text for i in range(3) for path, text in cluster_file(f"zz-{i}", "{tier: dev}").items()})
    seen = set()
    for delay in (0.45, 0.7):  # about when a compile of this fleet starts writing
        process = subprocess.Popen([sys.executable, "-m", "compiler", "compile"], cwd=fleet,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert easel("validate", cwd=fleet).code == 0  # recovers, whatever the moment
        state = _state(fleet)
        check = easel("compile", "--check", cwd=fleet)
        seen.add("new" if check.code == 0 else "old")
        if check.code == 0:
            break
        assert state[1] == old[1] or check.code == 1
    assert easel("compile", cwd=fleet).code == 0 and easel("compile", "--check", cwd=fleet).code == 0
    assert seen
