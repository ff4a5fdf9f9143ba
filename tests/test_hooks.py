"""The pre-commit hooks of .pre-commit-hooks.yaml, through `pre-commit try-repo` against a config repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, copy_init_repo, easel, git

PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))


@pytest.mark.slow  # pre-commit try-repo pip-installs easel into a fresh environment: about 20 s
@pytest.mark.skipif(not Path(PRE_COMMIT).exists(), reason="pre-commit is not installed (pip install '.[test]')")
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="try-repo needs easel's own git repository")
def test_the_hooks_pass_on_a_good_repository_and_catch_stale_output_and_lock(tmp_path):
    repo = copy_init_repo(tmp_path / "config")
    assert easel("compile", cwd=repo).code == 0
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a config repository")
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}

    def run_hooks(*options: str):  # without options: on the files staged, as `git commit` runs them
        return subprocess.run([PRE_COMMIT, "try-repo", str(ROOT), *options], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)

    good = run_hooks("--all-files")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "easel validate" in good.stdout and "easel compile --check" in good.stdout
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("hello, world", "hello, stale"))
    git(repo, "commit", "-qam", "output not compiled")
    stale = run_hooks("--all-files")
    assert stale.returncode == 1
    assert "error[E803]" in stale.stdout
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    # A commit that touches easel.lock only (a hand-edited lock: the recorded digest of a profile) runs both hooks.
    lock = repo / "easel.lock"
    text = lock.read_text()
    digit = text.index("sha256:") + len("sha256:")
    lock.write_text(text[:digit] + ("1" if text[digit] == "0" else "0") + text[digit + 1:])
    git(repo, "add", "easel.lock")
    edited = run_hooks()
    assert edited.returncode == 1, edited.stdout + edited.stderr
    assert "Skipped" not in edited.stdout
    assert edited.stdout.count("error[E504]") == 2, edited.stdout
