"""easel.lock moves first (transaction.py): a lock that cannot be replaced fails the write before anything in
output/ moved, now or when the next command finds the journal; and a staging folder is invisible to Git from
its start, so `git add -A` after a kill at any moment never takes a staged file."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess

import pytest
from builders import cluster_file
from conftest import copy_init_repo, easel, git, tree, write_files

from compiler.diagnostics import Diagnostics
from compiler.diagnostics.errors import CommandError
from compiler.write import STAGING_PREFIX, transaction, write
from compiler.write.files import replace_together

NEW_CLUSTERS = {path: text for i in range(3) for path, text in cluster_file(f"extra-{i}", "{tier: dev}").items()}
KILL_SEAMS = ("replace", "rename", "unlink", "mkdir", "makedirs", "open", "write", "rmdir")


class Killed(BaseException):
    """Stands for SIGKILL: nothing of easel's handles it, no cleanup runs."""


def _state(repo) -> tuple[dict[str, bytes], bytes]:
    return tree(repo / "output"), (repo / "easel.lock").read_bytes()


def _staging_folders(repo) -> list[str]:
    return [p.name for p in (repo / "output").iterdir() if p.name.startswith(STAGING_PREFIX)]


@pytest.fixture
def compiled(tmp_path):
    """A repository compiled once, with three more clusters to compile: its state before that compile."""
    repo = copy_init_repo(tmp_path / "repo")
    assert easel("compile", cwd=repo).code == 0
    old = _state(repo)
    write_files(repo, NEW_CLUSTERS)
    return repo, old


def _lock_cannot_be_replaced(monkeypatch, repo) -> None:
    """Any rename onto easel.lock fails as it does on an immutable file (root ignores permission bits)."""
    real = os.replace
    lock = str(repo / "easel.lock")

    def replace(source, target, *args, **kwargs):
        if os.fspath(target) == lock:
            raise PermissionError(errno.EPERM, "Operation not permitted", os.fspath(source), None, lock)
        return real(source, target, *args, **kwargs)
    monkeypatch.setattr(os, "replace", replace)


def test_a_lock_that_cannot_be_replaced_leaves_the_output_and_the_lock_as_they_were(compiled, monkeypatch):
    repo, old = compiled
    with monkeypatch.context() as patch:
        _lock_cannot_be_replaced(patch, repo)
        run = easel("compile", cwd=repo)
    assert run.code == 1 and f"error[E802]: cannot replace {repo / 'easel.lock'}: Operation not permitted" in run.err
    assert "nothing was written (the output and the lock are as they were)" in run.err, run.err
    assert _state(repo) == old, "part of output/ moved before the lock failed"
    assert not _staging_folders(repo) and not (repo / ".easel-cache" / "journal.json").exists()
    again = easel("compile", cwd=repo)  # the lock replaceable again: the write goes through, whole
    assert again.code == 0, again.text
    assert _state(repo) != old and easel("compile", "--check", cwd=repo).code == 0


def test_an_immutable_lock_file_fails_before_anything_moves(compiled):
    repo, old = compiled
    lock = repo / "easel.lock"
    if subprocess.run(["chattr", "+i", str(lock)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not available here (needs a filesystem and a user that allow it)")
    try:
        run = easel("compile", cwd=repo)
        assert run.code == 1 and f"cannot replace {lock}" in run.err, run.text
        assert _state(repo) == old and not _staging_folders(repo)
        assert easel("validate", cwd=repo).code == 0  # no journal left to trip over
    finally:
        subprocess.run(["chattr", "-i", str(lock)], check=True)
    assert easel("compile", cwd=repo).code == 0 and _state(repo) != old


def test_a_folder_where_the_lock_goes_fails_the_write_with_nothing_moved(tmp_path):
    root = tmp_path / "repo"
    out = root / "output"
    first = Diagnostics()
    assert write(out, {"clusters/a/x.yaml": "a: 1\n"}, first, root) is not None and not first.has_errors
    (root / "easel.lock").mkdir()
    (root / "easel.lock" / "kept").write_text("a file in the folder\n")
    diagnostics = Diagnostics()
    files = {"clusters/a/x.yaml": "a: 2\n", "clusters/b/y.yaml": "b: 1\n"}
    assert write(out, files, diagnostics, root, {root / "easel.lock": "lock: new\n"}) is None
    assert any(d.code == "E802" and "cannot replace" in d.message for d in diagnostics), list(diagnostics)
    assert tree(out) == {"clusters/a/x.yaml": b"a: 1\n"}
    assert (root / "easel.lock" / "kept").read_text() == "a file in the folder\n"
    assert not (root / ".easel-cache" / "journal.json").exists()


def test_a_journal_whose_lock_cannot_be_replaced_is_undone_by_the_next_command(compiled, monkeypatch):
    """Killed after the commit, before anything moved; the lock cannot be replaced when the next command
    completes the write: it undoes it instead, and says so; nothing is left half-applied."""
    repo, old = compiled
    with monkeypatch.context() as patch:
        patch.setattr(transaction, "apply", lambda entry: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            easel("compile", cwd=repo)
    journal = repo / ".easel-cache" / "journal.json"
    assert journal.exists() and '"lock_first": true' in journal.read_text()
    with monkeypatch.context() as patch:
        _lock_cannot_be_replaced(patch, repo)
        run = easel("validate", cwd=repo)
    assert run.code == 0, run.text
    assert "undid a write of" in run.err and "easel.lock cannot be replaced" in run.err, run.err
    assert _state(repo) == old and not journal.exists() and not _staging_folders(repo)


def test_charts_pull_writes_the_lock_first_too(tmp_path):
    root = tmp_path / "repo"
    charts = root / "charts"
    charts.mkdir(parents=True)
    (charts / "old.tgz").write_bytes(b"old")
    (root / "easel.lock").mkdir()
    (root / "easel.lock" / "kept").write_text("x\n")
    with pytest.raises(CommandError) as raised:
        replace_together(root, {charts / "new.tgz": b"new", root / "easel.lock": b"lock\n"}, [charts / "old.tgz"],
                         charts)
    assert raised.value.code == "E802" and "cannot replace" in str(raised.value) and "nothing was changed" in str(
        raised.value)
    assert sorted(p.name for p in charts.iterdir()) == ["old.tgz"]
    assert not (root / ".easel-cache" / "journal.json").exists()


def _kill_after(monkeypatch, steps: int) -> list[int]:
    """Make the write die (as if killed) at its steps-th file operation; how many were done, counted."""
    count = [0]
    for name in KILL_SEAMS:
        real = getattr(os, name)

        def dying(*args, _real=real, **kwargs):
            count[0] += 1
            if count[0] > steps:
                raise Killed()
            return _real(*args, **kwargs)
        monkeypatch.setattr(os, name, dying)
    return count


@pytest.mark.slow  # a kill after each of a compile's file operations, then `git status` each time
@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_after_a_kill_at_any_moment_git_never_sees_a_staging_folder(compiled, tmp_path):
    repo, _ = compiled
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "compiled")
    probe = tmp_path / "probe"
    shutil.copytree(repo, probe)
    with pytest.MonkeyPatch.context() as patch:  # how many file operations the whole compile does
        done = _kill_after(patch, 10**9)
        assert easel("compile", cwd=probe).code == 0
    seen_staging = 0
    for steps in range(done[0] + 1):
        copy = tmp_path / f"at-{steps}"
        shutil.copytree(repo, copy)
        with pytest.MonkeyPatch.context() as patch:
            _kill_after(patch, steps)
            try:
                easel("compile", cwd=copy)
            except Killed:
                pass
        seen_staging += bool(_staging_folders(copy))
        status = git(copy, "status", "--porcelain", "--untracked-files=all", "output/")
        assert STAGING_PREFIX not in status, f"killed after {steps} file operations, git sees:\n{status}"
        git(copy, "add", "-A")
        assert STAGING_PREFIX not in git(copy, "diff", "--cached", "--name-only")
        shutil.rmtree(copy)
    assert seen_staging > 10, "no kill left a staging folder behind: the test tests nothing"


def test_a_staging_folder_on_another_filesystem_still_ignores_itself(tmp_path, monkeypatch):
    """The `.gitignore` is renamed in from easel's own folder; where that cannot be (an output folder on another
    filesystem), it is written in place, and nothing is left behind in easel's folder."""
    root = tmp_path / "repo"
    real = os.rename

    def rename(source, target, *args, **kwargs):
        if os.fspath(target).endswith(".gitignore"):
            raise OSError(errno.EXDEV, "Invalid cross-device link", os.fspath(source), None, os.fspath(target))
        return real(source, target, *args, **kwargs)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(transaction, "commit", lambda *a, **k: (_ for _ in ()).throw(Killed()))
    with pytest.raises(Killed):
        write(root / "output", {"clusters/a/x.yaml": "a: 1\n"}, Diagnostics(), root)
    staged = [p for p in (root / "output").iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert len(staged) == 1 and (staged[0] / ".gitignore").read_text().splitlines()[-1] == "*"
    assert sorted(p.name for p in (root / ".easel-cache").iterdir()) == [".gitignore", "journal.json"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_easels_own_folder_is_never_seen_by_git_even_when_a_kill_leaves_it_half_made(tmp_path):
    """The cache folder is made aside with its .gitignore (`*` first) and renamed in place: a kill can leave only
    an empty folder aside, or one whose .gitignore hides it all, itself included."""
    from compiler.runtime.state import CACHE, make_cache_dir

    git(tmp_path, "init", "-q")
    folder = make_cache_dir(tmp_path)
    assert (folder / ".gitignore").read_text().startswith("*\n")
    (folder / "journal.json").write_text("{}")
    (tmp_path / f"{CACHE}.4242.tmp").mkdir()  # a kill right after the aside folder was made
    (tmp_path / f"{CACHE}.4343.tmp").mkdir()  # a kill as its .gitignore was being written: one byte of it
    (tmp_path / f"{CACHE}.4343.tmp" / ".gitignore").write_text("*")
    assert git(tmp_path, "status", "--porcelain", "--untracked-files=all") == ""
