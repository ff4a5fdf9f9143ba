"""Shared test helpers: run the real CLI (in process, as the console script runs it), build small config
repositories from inline files."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import ROOT
from click.testing import CliRunner

from compiler.cli import main

SHARED = ROOT.parent / "shared"
CRDS = SHARED / "crds"  # the upstream Flux, Argo CD, OCM and KubeVela CRDs the conformance tests read
CRDS_ABSENT = (f"the upstream CRD schemas are not in {CRDS}: copy them there from their repositories, as README.md's "
               "Development section lists them (CRD schemas for the conformance tests)")
INIT_REPO = ROOT / "compiler" / "commands" / "init_repo"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


_RUNNER = CliRunner()


def easel(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
          input: str | None = None) -> Run:
    """Run the `easel` command line in this process, exactly as the console script does (its `main`, with
    its handling of internal errors), in cwd, and capture what it prints and its exit status."""
    overrides = {"EASEL_DEBUG": None, **(env or {})}
    with contextlib.chdir(cwd or os.getcwd()), _RUNNER.isolation(input=input, env=overrides) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return Run(code, out.getvalue().decode(), err.getvalue().decode())


def easel_process(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None) -> Run:
    """Run `python -m compiler` as a separate process: for what only a new process shows (PYTHONHASHSEED,
    the module entry point)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("EASEL_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def write_files(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def copy_init_repo(root: Path) -> Path:
    """The small working repository `easel init` writes, as a base for scenario tests."""
    for source in INIT_REPO.rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            target = root / source.relative_to(INIT_REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return root


def git(repo: Path, *args: str) -> str:
    """Run git in repo, committing as a test author; what it prints."""
    return subprocess.run(["git", "-c", "user.name=Easel Test", "-c", "user.email=test@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root, by relative path: to compare output folders byte for byte."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_init_repo(tmp_path / "repo")
