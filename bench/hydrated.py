#!/usr/bin/env python3
"""easel benchmark, hydrated: a compile that writes the charts' rendered objects next to one that writes a
HelmRelease per chart, on the same fleet (see README.md).

    python bench/hydrated.py [--clusters 1000] [--workloads 20] [--repeat 1] [--easel-path DIR] [--workdir DIR]

Two repositories of the same `--charts` fleet (fleet.py: the test charts' archives packed and pinned), one as
fleet.py writes it (`gitops.render` unset: helmrelease) and one with `--render hydrated` (the only difference:
`render: hydrated` in easel.yaml's gitops). Legs, each `easel compile` under measure.py on a fresh copy:

  (a) helmrelease, cold: no output/, easel.lock with its `charts:` pins only, no .easel-cache/ (charts.py's leg
      (a): every distinct render goes to Helm's engine, to prove the HelmReleases);
  (b) hydrated, cold: the same, in the hydrated repository (the renders are what is written);
  (c) hydrated, renders cached: (b) again with .easel-cache/ emptied of everything but the render-*.json files
      (b) left, output/ removed, easel.lock reset (charts.py's leg (b));
  (d) hydrated, nothing changed, not replayed: right after (c), output/, easel.lock and the cache in place, only
      the run entry (.easel-cache/runs.json) deleted (charts.py's leg (b2)).

A hydrated leg that fails is reported (its time, and easel's first error and last line, verbatim) and the legs
that need its output are skipped.

easel runs from the source tree --easel-path (a folder holding `compiler/`; default: this checkout) through
timed_engine.py (charts.py's runner: each call to Helm's engine timed, nothing else changed).

Prints wall, CPU, the largest process and the peak of all processes' PSS summed; the files the compile wrote
(added + changed, from its summary line), the files in output/ and their size; the ratios (b)/(a), (c)/(a),
(d)/(a) of wall and CPU time; the distinct renders and the engine's calls. Reported, never asserted.
"""

import os
import platform
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fleet as fleetgen  # noqa: E402
import run as runner  # noqa: E402

import charts as chartbench  # noqa: E402

LEGS = ("(a) helmrelease, cold", "(b) hydrated, cold", "(c) hydrated, renders cached",
        "(d) hydrated, output kept, no replay")
SUMMARY = re.compile(r"(\d+) added, (\d+) changed, (\d+) removed, (\d+) unchanged")


def written(log):
    """Files the compile wrote (added + changed) and removed, from its summary line; None when it printed none."""
    with open(log, errors="replace") as f:
        found = SUMMARY.findall(f.read())
    if not found:
        return None
    added, changed, removed, _ = (int(x) for x in found[-1])
    return added + changed, removed


def failure(log):
    """A failed compile's first error and its last line, verbatim."""
    with open(log, errors="replace") as f:
        lines = f.read().splitlines()
    first = next((line for line in lines if "error[" in line), "")
    errors = len([line for line in lines if "error[" in line])
    codes = sorted({m for line in lines for m in re.findall(r"error\[(E\d+)\]", line)})
    return (f"{errors} error line(s) ({', '.join(codes) or 'no code'}); the first:\n    {first}\n"
            f"  last line: {lines[-1] if lines else ''}")


def main(argv=None):
    args = chartbench.parsed_arguments(argv, __doc__.split("\n\n")[0], "/dev/shm/easel-bench"
                                       if os.path.isdir("/dev/shm") else os.path.join(HERE, ".work"))

    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="hydrated-", dir=args.workdir)
    load = os.getloadavg()
    try:
        models = {render: fleetgen.fleet(args.clusters, args.workloads, args.seed, charts="pinned", render=render)
                  for render in fleetgen.RENDERS}
        repos = {render: os.path.join(work, render) for render in fleetgen.RENDERS}
        for render, model in models.items():
            fleetgen.write_easel_repo(model, repos[render])
        lock = fleetgen.lock_text(models["hydrated"])
        log, calls_log = os.path.join(work, "easel.log"), os.path.join(work, "engine.log")
        runs = {leg: [] for leg in LEGS}
        failed, renders = {}, {}

        def leg(name, repo):
            res = chartbench.timed_compile(args.easel_path, repo, log, calls_log)
            res["written"] = written(log)
            res["tree"] = runner.tree(os.path.join(repo, "output"))
            runs[name].append(res)
            if res["rc"] != 0:
                failed.setdefault(name, (res, failure(log) if res["rc"] > 0 else runner.why(res, log)))
            return res["rc"] == 0

        hr, hy = repos["helmrelease"], repos["hydrated"]
        for _ in range(args.repeat):  # the legs interleaved, so that the machine's drift touches each alike
            chartbench.reset(hr, lock)
            leg(LEGS[0], hr)
            renders[LEGS[0]] = chartbench.renders(hr)
            chartbench.reset(hy, lock)
            if not leg(LEGS[1], hy):
                continue
            renders[LEGS[1]] = chartbench.renders(hy)
            chartbench.reset(hy, lock, keep_renders=True)
            if not leg(LEGS[2], hy):
                continue
            chartbench.forget_run(hy)
            leg(LEGS[3], hy)
        report(args, runs, failed, renders)
        print(chartbench.load_line(load))
    finally:
        if args.keep:
            print(f"\nkept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(args, runs, failed, renders):
    n, m = args.clusters, args.workloads
    legs = {name: runner.best(rs) if rs else None for name, rs in runs.items()}
    print(f"\neasel benchmark, hydrated: {n} clusters x {m} workloads = {n * m} placements"
          f"  (best of {args.repeat}; {os.cpu_count()} CPUs; Python {platform.python_version()})\n")
    print(f"  {'leg':<38} {'wall s':>8} {'CPU s':>7} {'RSS MiB':>8} {'PSS sum MiB':>12} {'written':>8}"
          f" {'files':>8} {'MiB out':>8}")
    for name, res in legs.items():
        row = runner.fmt_row(name, res, res["tree"] if res and res["rc"] == 0 else None)
        done = res["written"] if res and res["rc"] == 0 and res["written"] else None
        head, tail = row[:2 + 38 + 9 + 8 + 9 + 13], row[2 + 38 + 9 + 8 + 9 + 13:]
        print(f"{head} {done[0] if done else '-':>8}{tail}")
    print()
    a = legs[LEGS[0]]
    for name in LEGS[1:]:
        res = legs[name]
        if a and res and a["rc"] == 0 and res["rc"] == 0:
            print(f"  {name[:3]} / (a)   wall {res['wall'] / a['wall']:>6.2f}   CPU {res['cpu'] / a['cpu']:>6.2f}"
                  f"   PSS sum {res['pss_kib'] / a['pss_kib'] if a.get('pss_kib') and res.get('pss_kib') else 0:>6.2f}")
        else:
            print(f"  {name[:3]} / (a)   n/a ({'failed' if res else 'not run'})")
    print()
    for name, count in renders.items():
        print(f"  distinct renders (render-*.json after {name[:3]}): {count}")
    for name, res in legs.items():
        if res:
            print(chartbench.engine_line(name, res.get("calls")))
    for name, (res, why) in failed.items():
        print(f"\n  {name} FAILED (exit {res['rc']}) after {res['wall']:.2f} s wall, {res.get('cpu') or 0:.2f} s CPU,"
              f" {res['pss_kib'] / 1024 if res.get('pss_kib') else 0:.0f} MiB PSS sum: {why}")
    print("\n  written: the files the compile added or changed (its summary line); files / MiB out: all of output/.")
    print("  CPU s: user + system time of all the command's processes (the engine's workers included).")
    print("  PSS sum MiB: the peak of all the command's processes' PSS summed (how many there were then).")


if __name__ == "__main__":
    main()
