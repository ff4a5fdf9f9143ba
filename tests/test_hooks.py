"""The pre-commit hooks of .pre-commit-hooks.yaml, through `pre-commit try-repo` against a config repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, copy_init_repo, easel

PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Easel Test", "-c", "user.email=test@example.com", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.mark.skipif(not Path(PRE_COMMIT).exists(), reason="pre-commit is not installed (pip install '.[test]')")
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="try-repo needs easel's own git repository")
def test_the_hooks_pass_on_a_good_repository_and_catch_stale_output(tmp_path):
    repo = copy_init_repo(tmp_path / "config")
    assert easel("compile", cwd=repo).code == 0
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "a config repository")
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}

    def run_hooks():
        return subprocess.run([PRE_COMMIT, "try-repo", str(ROOT), "--all-files"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)

    good = run_hooks()
    assert good.returncode == 0, good.stdout + good.stderr
    assert "easel validate" in good.stdout and "easel compile --check" in good.stdout
    workload = repo / "workloads/demo/hello.yaml"
    workload.write_text(workload.read_text().replace("hello, world", "hello, stale"))
    _git(repo, "commit", "-qam", "output not compiled")
    stale = run_hooks()
    assert stale.returncode == 1
    assert "error[E803]" in stale.stdout
