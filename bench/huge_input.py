"""How fast easel refuses input past its limits (README.md, Limits): a profile file of 100,000 documents and
one of 20,000 (each past the 10,000 a file may hold), written into a copy of `easel init`'s repository on a
RAM disk, then `easel validate` run on it as a user runs it (a new process). Prints the seconds of each run and
what easel said; asserts nothing.

    python bench/huge_input.py [--documents 100000 20000] [--at-limit] [--work DIR]

--at-limit also times a file of exactly 10,000 documents, which easel reads in full: the time a file of that
size costs when it is read, next to the time the larger ones take to be refused.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INIT_REPO = HERE.parent / "compiler" / "commands" / "init_repo"
DOCUMENT = """---
apiVersion: easel.dev/v1alpha1
kind: WorkloadProfile
metadata: {{name: p{index:06}}}
spec: {{version: 1.0.0, components: []}}
"""


def write_repo(root: Path, documents: int) -> Path:
    repo = root / f"repo-{documents}"
    shutil.copytree(INIT_REPO, repo)
    (repo / "profiles" / "huge.yaml").write_text("".join(DOCUMENT.format(index=i) for i in range(documents)))
    return repo


def timed_validate(repo: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "compiler", "--no-cache", "validate"], cwd=repo,
                          capture_output=True, text=True)
    return time.perf_counter() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, nargs="+", default=[100_000, 20_000])
    parser.add_argument("--at-limit", action="store_true", help="also time a file of 10,000 documents, read in full")
    parser.add_argument("--work", help="folder for the repositories (default: a new one on /dev/shm)")
    args = parser.parse_args()
    base = Path(args.work) if args.work else Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    root = Path(tempfile.mkdtemp(prefix="easel-huge-", dir=base))
    try:
        for documents in args.documents + ([10_000] if args.at_limit else []):
            repo = write_repo(root, documents)
            size = (repo / "profiles" / "huge.yaml").stat().st_size
            seconds, done = timed_validate(repo)
            said = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "error[" in line]
            print(f"{documents:>9,} documents ({size / 1e6:.1f} MB): easel validate exited {done.returncode} "
                  f"in {seconds:.2f} s")
            for line in said[:2]:
                print(f"    {line}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
