#!/usr/bin/env python3
"""easel benchmark: one run, side by side, on a synthetic fleet (see README.md).

    python bench/run.py [--clusters 1000] [--workloads 20] [--repeat 1] [--skip-easel] [--skip-kapitan]

Legs: (a) easel full compile into an empty output dir, (b) easel recompile with nothing changed, (e) easel
validate and (f) easel compile after one Workload edit, (c) `kapitan compile` of the same fleet as a Kapitan
project, (d) bare file writes of the same tree. Each command's wall time, largest process and all its processes'
memory together (measure.py). Prints a table and the ratios against the targets; reported, never asserted.
"""

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fleet as fleetgen  # noqa: E402
import kapitan_fleet  # noqa: E402
from measure import INTERVAL  # noqa: E402

GENERATED = {"easel.yaml", "profiles", "environments", "clusters", "workloads"}


def measure(argv, cwd, log):
    """Run argv in cwd under measure.py, in a fresh interpreter (so that its RUSAGE_CHILDREN is this command's):
    {"rc", "wall" (s), "rss_kib" (the largest process), "pss_kib" (the peak of all its processes' PSS summed),
    "pss_at_peak_kib" (each process's then), "processes"}; output goes to log."""
    try:
        out = subprocess.run([sys.executable, os.path.join(HERE, "measure.py"), cwd, log, *argv],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)
    except (subprocess.CalledProcessError, ValueError) as e:  # e.g. the command does not exist
        return {"rc": -1, "wall": 0.0, "rss_kib": 0, "error": str(getattr(e, "stderr", e)).strip()}


def best(runs):
    """The fastest successful run; the failed one if any failed (a failure is what to report)."""
    failed = [r for r in runs if r["rc"] != 0]
    return failed[0] if failed else min(runs, key=lambda r: r["wall"])


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def why(res, log):
    """What to show for a failed run: the wrapper's own error, else the end of the command's output."""
    err = (res.get("error") or "").strip()
    return err.splitlines()[-1] if err else tail(log)


def tree(root):
    """[(relpath, size)] of every file under root, sorted: what the bare leg reproduces."""
    out = []
    for d, _, files in os.walk(root):
        out += [(os.path.relpath(os.path.join(d, f), root), os.path.getsize(os.path.join(d, f))) for f in files]
    return sorted(out)


def synthetic_tree(model):
    """Fallback when neither compiler produced output: Kapitan's layout with typical sizes."""
    out = []
    for cname, _, _ in model["clusters"]:
        out.append((f"clusters/{cname}/kustomization.yaml", 80 + 45 * len(model["workloads"])))
        out.append((f"clusters/{cname}/sources.yaml", 900))
        out += [(f"clusters/{cname}/releases/{w}/helmrelease.yaml", 1300) for w, _, _ in model["workloads"]]
    return out


def clean_repo(repo):
    """Back to the generated inputs only: no output/, no easel.lock, no caches, so compiles are cold."""
    for name in os.listdir(repo):
        if name not in GENERATED:
            path = os.path.join(repo, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)


def easel_command(arg):
    if arg:
        return shlex.split(arg)
    for cand in (shutil.which("easel"), os.path.join(ROOT, ".venv", "bin", "easel")):
        if cand and os.access(cand, os.X_OK):
            return [cand]
    return None


def edit_one_workload(repo, step):
    """Change one Workload file as a person would: a parameter of the first notebook (its CPU limit), so the
    output of that workload changes on every cluster it runs on."""
    folder = os.path.join(repo, "workloads")
    paths = sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files)
    for path in paths:
        with open(path) as f:
            text = f.read()
        if "cpuLimit:" in text:
            head, _, rest = text.partition("cpuLimit:")
            value, _, tail = rest.lstrip().partition("\n")
            with open(path, "w") as f:
                f.write(f"{head}cpuLimit: {(int(value) % 16) + 1 + step % 2}\n{tail}")
            return
    with open(paths[0], "a") as f:
        f.write(f"# edited {step}\n")


EASEL_LEGS = ("full", "nothing changed", "validate, one workload changed", "compile, one workload changed")


def run_easel(args, repo, work):
    """The easel legs: {leg: result}, the files the full compile wrote ([(path, size)], for the bare leg), and a
    note when one failed (the legs after it do not run)."""
    cmd = easel_command(args.easel)
    if cmd is None:
        return {}, None, "easel CLI not found (pip install -e . in the repo's venv, or pass --easel CMD)"
    compile_argv = cmd + ["-C", repo, "compile"]
    validate_argv = cmd + ["-C", repo, "validate"]
    log = os.path.join(work, "easel.log")
    runs = {leg: [] for leg in EASEL_LEGS}
    written = None
    for step in range(args.repeat):
        clean_repo(repo)
        plan = [("full", compile_argv), ("nothing changed", compile_argv), ("edit", None),
                ("validate, one workload changed", validate_argv), ("compile, one workload changed", compile_argv)]
        for leg, argv in plan:
            if argv is None:
                edit_one_workload(repo, step)
                continue
            res = measure(argv, repo, log)
            res["printed"] = os.path.getsize(log)
            runs[leg].append(res)
            if res["rc"] != 0:
                return ({k: best(v) for k, v in runs.items() if v}, written,
                        f"easel {leg} failed (exit {res['rc']}):\n" + why(res, log))
            if leg == "full" and written is None:  # the tree of a full compile, before the edit changes it
                written = tree(os.path.join(repo, "output"))
    return {k: best(v) for k, v in runs.items()}, written, None


def kapitan_python(arg):
    path = arg or os.path.join(HERE, ".kapitan-venv", "bin", "python")
    return path if os.access(path, os.X_OK) else None


def run_kapitan(args, model, work):
    """Leg (c): `python -m kapitan compile` from Kapitan's own venv. Returns (result, note)."""
    py = kapitan_python(args.kapitan_python)
    if py is None:
        return None, "Kapitan venv not found: see bench/README.md (or pass --kapitan-python PATH)"
    proj = os.path.join(work, "kapitan")
    kapitan_fleet.write_kapitan_project(model, proj)
    argv = [py, "-m", "kapitan", "compile", *args.kapitan_arg]
    log = os.path.join(work, "kapitan.log")
    runs = []
    for _ in range(args.repeat):
        shutil.rmtree(os.path.join(proj, "compiled"), ignore_errors=True)
        runs.append(measure(argv, proj, log))
        if runs[-1]["rc"] != 0:
            return runs[-1], f"kapitan compile failed (exit {runs[-1]['rc']}):\n{why(runs[-1], log)}"
    return best(runs), None


def run_bare(files, work, repeat):
    """Leg (d): the floor: a plain loop writing the same files (paths and sizes) into a fresh dir."""
    payload = memoryview(b"x" * max((s for _, s in files), default=0))
    walls = []
    for i in range(repeat):
        root = os.path.join(work, f"bare-{i}")
        made = set()
        t0 = time.perf_counter()
        for rel, size in files:
            path = os.path.join(root, rel)
            d = os.path.dirname(path)
            if d not in made:
                os.makedirs(d, exist_ok=True)
                made.add(d)
            with open(path, "wb") as f:
                f.write(payload[:size])
        walls.append(time.perf_counter() - t0)
        shutil.rmtree(root)
    return {"rc": 0, "wall": min(walls), "cpu": None, "rss_kib": 0}


def fmt_row(name, res, files=None):
    if res is None or res["rc"] != 0:
        word = "not run" if res is None else "failed"
        return f"  {name:<38} {word:>8} {'-':>7} {'-':>8} {'-':>12} {'-':>8} {'-':>8}"
    cpu = f"{res['cpu']:.2f}" if res.get("cpu") is not None else "n/a"
    rss = f"{res['rss_kib'] / 1024:.0f}" if res["rss_kib"] else "n/a"
    pss = res.get("pss_kib")
    pss = f"{pss / 1024:.0f} ({len(res['pss_at_peak_kib'])})" if pss else "n/a"
    nfiles = f"{len(files)}" if files is not None else ""
    size = f"{sum(s for _, s in files) / 2**20:.1f}" if files is not None else ""
    return f"  {name:<38} {res['wall']:>8.2f} {cpu:>7} {rss:>8} {pss:>12} {nfiles:>8} {size:>8}"


def ratio_line(label, num, den, target, ok):
    if not num or not den or num["rc"] != 0 or den["rc"] != 0:
        return f"  {label:<30} {'n/a':>8}   target {target}"
    r = num["wall"] / den["wall"]
    return f"  {label:<30} {r:>8.2f}   target {target:<7} {'meets' if ok(r) else 'MISSES'}"


def report(args, legs, kap, bare, easel_files, kap_files, files, mirror):
    """The table of legs, then the ratios and the memory against their targets."""
    full, rec = legs.get("full"), legs.get("nothing changed")
    validate, edited = legs.get("validate, one workload changed"), legs.get("compile, one workload changed")
    n, m = args.clusters, args.workloads
    print(f"\neasel benchmark: {n} clusters x {m} workloads = {n * m} placements"
          f"  (best of {args.repeat}; {os.cpu_count()} CPUs; Python {platform.python_version()})\n")
    print(f"  {'leg':<38} {'wall s':>8} {'CPU s':>7} {'RSS MiB':>8} {'PSS sum MiB':>12} {'files':>8} {'MiB out':>8}")
    print(fmt_row("(a) easel compile, full", full, easel_files))
    print(fmt_row("(b) easel compile, nothing changed", rec, easel_files if rec else None))
    print(fmt_row("(e) easel validate, 1 workload edited", validate))
    print(fmt_row("(f) easel compile, 1 workload edited", edited))
    print(fmt_row("(c) kapitan compile", kap, kap_files))
    print(fmt_row("(d) bare file writes", bare, files))
    print(f"\n  (d) writes the same paths and sizes as {mirror}, in-process (no interpreter start, no logic).")
    print("  CPU s: user + system time of all the command's processes (steadier than wall time on a shared machine).")
    print("  RSS MiB: the largest single process (ru_maxrss of the children).")
    print(f"  PSS sum MiB: the peak, over samples every {INTERVAL * 1000:.0f} ms, of the proportional set sizes"
          " of all the command's processes summed (how many there were then).")
    printed = {leg: r.get("printed", 0) for leg, r in legs.items() if r}
    if printed:
        print("  bytes printed: " + ", ".join(f"{leg} {size:,}" for leg, size in printed.items()))
    print()
    print(ratio_line("kapitan / easel", kap, full, ">= 3", lambda r: r >= 3))
    print(ratio_line("easel full / bare", full, bare, "<= 1.2", lambda r: r <= 1.2))
    print(ratio_line("nothing changed / full", rec, full, "<= 0.10", lambda r: r <= 0.10))
    print(ratio_line("validate, 1 edited / full", validate, full, "<= 0.15", lambda r: r <= 0.15))
    print(ratio_line("compile, 1 edited / full", edited, full, "<= 0.15", lambda r: r <= 0.15))
    done = [r for r in legs.values() if r and r["rc"] == 0]
    for label, key in (("largest process (RSS MiB)", "rss_kib"), ("all processes (PSS sum MiB)", "pss_kib")):
        known = [r[key] for r in done if r.get(key)]
        if known:
            mib = max(known) / 1024
            print(f"  {label:<30} {mib:>8.0f}   target < 1024  {'meets' if mib < 1024 else 'MISSES'}  (any leg)")
        else:
            print(f"  {label:<30} {'n/a':>8}   target < 1024")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--workloads", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="runs per leg; the best is reported")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--argocd-half", action="store_true", help="every other cluster uses Argo CD")
    ap.add_argument("--skip-easel", action="store_true")
    ap.add_argument("--skip-kapitan", action="store_true")
    ap.add_argument("--easel", help="easel command (default: `easel` on PATH, else .venv/bin/easel)")
    ap.add_argument("--kapitan-python", help="python of Kapitan's venv (default bench/.kapitan-venv/bin/python)")
    ap.add_argument("--kapitan-arg", action="append", default=[],
                    help="extra argument to `kapitan compile`, repeatable (e.g. --kapitan-arg=-p1)")
    ap.add_argument("--workdir", default=os.path.join(HERE, ".work"), help="where temp dirs go")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    args = ap.parse_args(argv)
    if args.clusters < 1 or args.workloads < 1 or args.repeat < 1:
        ap.error("--clusters, --workloads and --repeat must be at least 1")

    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="run-", dir=args.workdir)
    notes = []
    try:
        model = fleetgen.fleet(args.clusters, args.workloads, args.seed, args.argocd_half)
        repo = os.path.join(work, "easel-repo")
        fleetgen.write_easel_repo(model, repo)

        legs, easel_files = {}, None
        if args.skip_easel:
            notes.append("easel: skipped (--skip-easel)")
        else:
            legs, easel_files, note = run_easel(args, repo, work)
            if note:
                notes.append(note)

        kap = None
        if args.skip_kapitan:
            notes.append("kapitan: skipped (--skip-kapitan)")
        else:
            kap, note = run_kapitan(args, model, work)
            if note:
                notes.append(note)

        # The bare leg writes exactly what easel wrote; before easel exists, what Kapitan wrote.
        kap_out = os.path.join(work, "kapitan", "compiled")
        kap_files = tree(kap_out) if kap and kap["rc"] == 0 else None
        if easel_files:
            files, mirror = easel_files, "easel's output"
        elif kap_files:
            files, mirror = kap_files, "Kapitan's output"
        else:
            files, mirror = synthetic_tree(model), "a synthetic estimate"
        bare = run_bare(files, work, args.repeat)

        report(args, legs, kap, bare, easel_files, kap_files, files, mirror)
        for note in notes:
            print("\nnote: " + note.replace("\n", "\n      "))
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
