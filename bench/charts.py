#!/usr/bin/env python3
"""easel benchmark, charts proven: what Helm's engine costs a cold compile (see README.md).

    python bench/charts.py [--clusters 1000] [--workloads 20] [--repeat 1] [--easel-path DIR] [--workdir DIR]

Two repositories of the same fleet (fleet.py): one with the test charts' archives packed and pinned
(`--charts`), one with the same profiles and no archives (`--charts-unpinned`). Legs, each `easel compile`
under measure.py:

  (a) charts proven, cold: no output/, easel.lock with its `charts:` pins only, no .easel-cache/ (every
      distinct render goes to Helm's engine, and is kept in the cache);
  (b) charts proven, renders cached: the same cold compile (output/ removed, easel.lock reset, every entry of
      .easel-cache/ removed but the render-*.json files (a) left), so nothing is replayed or read from the
      cache but the renders;
  (b2) charts proven, nothing changed but the run not replayed: right after (b), output/, easel.lock and the
      cache in place, only the run entry (.easel-cache/runs.json) deleted;
  (c) charts unproven, cold: the repository without archives, as (a) (W107: the charts are taken on trust);
  (d) bare file writes: the tree (a) wrote, written by a plain loop (run.py's leg (d)).

easel runs from the source tree --easel-path (a folder holding `compiler/`; default: this checkout) through
timed_engine.py, which times each call to Helm's engine (a render not in easel's cache) and changes nothing else.

Prints wall, CPU, the largest process and the peak of all processes' PSS summed; the ratios (a)/(d), (b)/(d),
(b)/(c), (a)/(c); the number of distinct renders (the render-*.json files (a) created), the engine's calls (how
many, in how many processes, the first of each process, which starts its worker, apart) and the time per render.
Reported, never asserted.
"""

import argparse
import glob
import os
import platform
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIMED = os.path.join(HERE, "timed_engine.py")
sys.path.insert(0, HERE)
import fleet as fleetgen  # noqa: E402
import run as runner  # noqa: E402

KEPT = runner.GENERATED | {"charts"}  # what fleet.py wrote (easel.lock is written again, as generated)


def reset(repo, lock, keep_renders=False):
    """Back to the generated inputs: easel.lock as generated (the charts' pins, or none), no output/, and no
    .easel-cache/ (but its render-*.json files when keep_renders)."""
    for name in os.listdir(repo):
        path = os.path.join(repo, name)
        if name in KEPT:
            continue
        if name == ".easel-cache" and keep_renders:
            for entry in os.listdir(path):
                if not (entry.startswith("render-") and entry.endswith(".json")):
                    sub = os.path.join(path, entry)
                    shutil.rmtree(sub) if os.path.isdir(sub) and not os.path.islink(sub) else os.remove(sub)
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    if lock:
        with open(os.path.join(repo, "easel.lock"), "w") as f:
            f.write(lock)


def renders(repo):
    return len(glob.glob(os.path.join(repo, ".easel-cache", "render-*.json")))


def engine_calls(path):
    """[(pid, first, wall s)] of the engine's calls timed_engine.py logged."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(int(pid), first == "1", float(wall)) for pid, first, wall in (line.split() for line in f)]


def printed_codes(log):
    """The diagnostic codes a leg printed (W107 says charts were not proven)."""
    with open(log, errors="replace") as f:
        text = f.read()
    return sorted({word.split("[", 1)[1].split("]", 1)[0] for word in text.split() if "[W" in word or "[E" in word})


def timed_compile(easel_path, repo, log, calls_log):
    """`easel -C repo compile` (the `compiler` package under easel_path, through timed_engine.py) under
    measure.py: measure.py's result, with "calls" (the engine's calls, engine_calls) and "codes" (the diagnostic
    codes printed); the command's output goes to log."""
    if os.path.exists(calls_log):
        os.remove(calls_log)
    argv = ["env", f"PYTHONPATH={os.path.abspath(easel_path)}", f"BENCH_RENDER_LOG={calls_log}",
            sys.executable, TIMED, "-C", repo, "compile"]
    res = runner.measure(argv, repo, log)
    res["calls"] = engine_calls(calls_log)
    res["codes"] = printed_codes(log)
    return res


def forget_run(repo):
    """Delete the cache's run entry (.easel-cache/runs.json) only: the next compile finds its output, easel.lock
    and the cache in place but replays nothing (every stage runs)."""
    entry = os.path.join(repo, ".easel-cache", "runs.json")
    if os.path.exists(entry):
        os.remove(entry)


def engine_line(name, calls):
    """A leg's calls to Helm's engine (engine_calls) in one line: how many, in how many processes, the first of
    each process (which starts its worker) apart from the rest."""
    if not calls:
        return f"  {name}: no call to Helm's engine"
    firsts = [w for _, first, w in calls if first]
    rest = [w for _, first, w in calls if not first]
    line = (f"  {name}: {len(calls)} calls to Helm's engine in {len({p for p, _, _ in calls})} process(es),"
            f" {sum(w for _, _, w in calls):.2f} s in all; the first of each (its worker started):"
            f" {', '.join(f'{w * 1000:.0f}' for w in firsts)} ms")
    if rest:
        line += (f"; the others {statistics.median(rest) * 1000:.1f} ms median,"
                 f" {statistics.fmean(rest) * 1000:.1f} ms mean")
    return line


def load_line(before):
    return (f"  load average before {' '.join(f'{x:.2f}' for x in before)}, after"
            f" {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other jobs on the machine slow the wall times)")


LEGS = ("(a) charts proven, cold", "(b) charts proven, renders cached", "(b2) proven, output kept, no replay",
        "(c) charts unproven, cold")


def parsed_arguments(argv, description, workdir):
    """The options charts.py and hydrated.py share (the fleet, the runs, the easel measured, where), checked."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--workloads", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="runs per leg; the best is reported")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--easel-path", default=ROOT,
                    help="the folder holding the `compiler` package to measure (default: this checkout)")
    ap.add_argument("--workdir", default=workdir, help="where temp dirs go")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    args = ap.parse_args(argv)
    if args.clusters < 1 or args.workloads < 1 or args.repeat < 1:
        ap.error("--clusters, --workloads and --repeat must be at least 1")
    if not os.path.isfile(os.path.join(args.easel_path, "compiler", "__main__.py")):
        ap.error(f"{args.easel_path} holds no compiler/ package")
    return args


def main(argv=None):
    args = parsed_arguments(argv, __doc__.split("\n\n")[0], os.path.join(HERE, ".work"))

    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="charts-", dir=args.workdir)
    load = os.getloadavg()
    try:
        pinned = fleetgen.fleet(args.clusters, args.workloads, args.seed, charts="pinned")
        unpinned = fleetgen.fleet(args.clusters, args.workloads, args.seed, charts="unpinned")
        proven, trusted = os.path.join(work, "proven"), os.path.join(work, "unproven")
        fleetgen.write_easel_repo(pinned, proven)
        fleetgen.write_easel_repo(unpinned, trusted)
        lock = fleetgen.lock_text(pinned)
        log = os.path.join(work, "easel.log")
        calls_log = os.path.join(work, "engine.log")
        runs = {leg: [] for leg in LEGS}
        codes, made, written = {}, [], None

        def leg(name, repo):
            res = timed_compile(args.easel_path, repo, log, calls_log)
            runs[name].append(res)
            codes[name] = res["codes"]
            if res["rc"] != 0:
                raise SystemExit(f"{name} failed (exit {res['rc']}):\n{runner.why(res, log)}")

        for _ in range(args.repeat):  # the legs interleaved, so that the machine's drift touches each alike
            reset(trusted, "")
            leg(LEGS[3], trusted)
            reset(proven, lock)
            leg(LEGS[0], proven)
            made.append(renders(proven))
            if written is None:
                written = runner.tree(os.path.join(proven, "output"))
            reset(proven, lock, keep_renders=True)
            leg(LEGS[1], proven)
            forget_run(proven)
            leg(LEGS[2], proven)
        bare = runner.run_bare(written, work, args.repeat)
        legs = {name: runner.best(r) for name, r in runs.items()}
        report(args, legs, bare, written, made, codes)
        if args.repeat > 1:
            walls = {name.split(" ")[0]: ", ".join(f"{r['wall']:.2f}" for r in rs) for name, rs in runs.items()}
            print("  every run's wall s: " + "; ".join(f"{key} {text}" for key, text in walls.items()))
        print(load_line(load))
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(args, legs, bare, written, made, codes):
    n, m = args.clusters, args.workloads
    print(f"\neasel benchmark, charts: {n} clusters x {m} workloads = {n * m} placements"
          f"  (best of {args.repeat}; {os.cpu_count()} CPUs; Python {platform.python_version()})\n")
    print(f"  {'leg':<38} {'wall s':>8} {'CPU s':>7} {'RSS MiB':>8} {'PSS sum MiB':>12} {'files':>8} {'MiB out':>8}")
    for name in LEGS:
        print(runner.fmt_row(name, legs[name]) + (f"   printed {', '.join(codes[name])}" if codes[name] else ""))
    print(runner.fmt_row("(d) bare file writes", bare, written))
    print()
    a, b, c = legs[LEGS[0]], legs[LEGS[1]], legs[LEGS[3]]
    for label, num, den in (("(a) / (d)", a, bare), ("(b) / (d)", b, bare), ("(b) / (c)", b, c), ("(a) / (c)", a, c)):
        print(f"  {label:<12} {num['wall'] / den['wall']:>6.2f}")
    count = made[0] if made else 0
    print(f"\n  distinct renders (render-*.json created by (a)): {count}"
          + ("" if len(set(made)) <= 1 else f" (runs: {made})"))
    for name in LEGS:
        print(engine_line(name, legs[name].get("calls")))
    if count:
        print(f"  (a) - (b) over the distinct renders: {(a['wall'] - b['wall']) / count * 1000:.1f} ms wall,"
              f" {(a['cpu'] - b['cpu']) / count * 1000:.1f} ms CPU per render")
    print("  CPU s: user + system time of all the command's processes (the engine's worker included).")
    print("  PSS sum MiB: the peak of all the command's processes' PSS summed (how many there were then).")


if __name__ == "__main__":
    main()
