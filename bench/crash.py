"""Crash and concurrency campaign: SIGKILL `easel compile` at random moments of a large compile, and run
compiles two at a time; after each, check what any easel command would see. Prints counts, asserts nothing.

    python bench/crash.py [--clusters 300] [--workloads 20] [--kills 50] [--pairs 10] [--seed 7] [--work DIR]

After each kill: `easel validate` must exit 0 (it completes or undoes the interrupted write first), no staging
folder or journal may be left, and output/ with easel.lock must be one compile's: either the old pair or the new
one (`easel compile --check` tells which). Pairs: two `easel compile` at once on one repository must both
succeed (the second waits for the first) and leave the tree `--check` finds current.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def easel(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=repo, capture_output=True, text=True)


def snapshot(repo: Path) -> tuple:
    files = {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted((repo / "output").rglob("*"))
             if p.is_file()}
    return tuple(sorted(files.items())), (repo / "easel.lock").read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=300)
    parser.add_argument("--workloads", type=int, default=20)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", default=None, help="a folder to work in (a RAM disk is fastest)")
    options = parser.parse_args()
    work = Path(options.work or tempfile.mkdtemp(prefix="easel-crash-"))
    repo = work / "fleet"
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.run([sys.executable, str(HERE / "fleet.py"), str(repo), "--clusters", str(options.clusters),
                    "--workloads", str(options.workloads)], check=True, capture_output=True)
    started = time.monotonic()
    assert easel(repo, "compile").returncode == 0
    full = time.monotonic() - started
    rng = random.Random(options.seed)
    outcomes = {"old": 0, "new": 0, "mixed": 0, "left-behind": 0, "validate-failed": 0, "recovered-message": 0}
    for kill in range(options.kills):
        # each round changes what every cluster's files say (the sync interval), so that the write phase is long
        settings = repo / "easel.yaml"
        text = settings.read_text()
        settings.write_text(text.replace("interval: 10m", "interval: 11m") if "interval: 10m" in text
                            else text.replace("interval: 11m", "interval: 10m"))
        before = snapshot(repo)
        process = subprocess.Popen([sys.executable, "-m", "compiler", "compile"], cwd=repo,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3 * full, 1.3 * full))  # before, during and after the write phase
        process.send_signal(signal.SIGKILL)
        process.wait()
        validate = easel(repo, "validate")
        if validate.returncode != 0:
            outcomes["validate-failed"] += 1
        if "interrupted easel run" in validate.stderr:
            outcomes["recovered-message"] += 1
        if list((repo / "output").glob(".easel-staging-*")) or (repo / ".easel-cache" / "journal.json").exists():
            outcomes["left-behind"] += 1
        after = snapshot(repo)
        current = easel(repo, "compile", "--check").returncode == 0
        if current:
            outcomes["new"] += 1
        elif after == before:
            outcomes["old"] += 1
        else:
            outcomes["mixed"] += 1
        if not current:
            easel(repo, "compile")
    print(f"{options.kills} kills of a compile of {options.clusters} clusters x {options.workloads} workloads "
          f"(a full compile takes {full:.1f} s):")
    for name, count in outcomes.items():
        print(f"  {name:18} {count}")
    pairs_ok = 0
    for pair in range(options.pairs):
        settings = repo / "easel.yaml"
        text = settings.read_text()
        settings.write_text(text.replace("interval: 10m", "interval: 11m") if "interval: 10m" in text
                            else text.replace("interval: 11m", "interval: 10m"))
        first = subprocess.Popen([sys.executable, "-m", "compiler", "compile"], cwd=repo,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        second = subprocess.Popen([sys.executable, "-m", "compiler", "compile"], cwd=repo,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        codes = (first.wait(), second.wait())
        if codes == (0, 0) and easel(repo, "compile", "--check").returncode == 0:
            pairs_ok += 1
    print(f"{options.pairs} pairs of concurrent compiles: {pairs_ok} both succeeded and left a current tree")


if __name__ == "__main__":
    main()
