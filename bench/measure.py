#!/usr/bin/env python3
"""Runs one command and measures it: wall time, CPU time (user + system, all its processes), the largest single
process (ru_maxrss), and the memory of all its processes together, sampled.

    python bench/measure.py CWD LOG ARGV...   ->  one JSON line on stdout

run.py starts this in a fresh interpreter for each leg, so that RUSAGE_CHILDREN holds that command's processes
only (ru_maxrss is the largest single descendant, in KiB on Linux). The command's output goes to LOG.

The memory of all processes together is the sum of their proportional set sizes (`Pss:` in
/proc/PID/smaps_rollup): a page shared by two processes (after a fork, until one of them writes to it) counts
half in each, so the sum is what the command as a whole holds. A thread samples the command's process tree every
INTERVAL seconds while the main thread waits for it (so the wall time is not rounded to a sample); the peak of
the sum is reported, with the per-process values at that moment. Linux only; elsewhere the PSS fields are null.
"""

import json
import os
import resource
import subprocess
import sys
import threading
import time

INTERVAL = 0.05  # seconds between samples


def descendants(root: int) -> list[int]:
    """root and every process below it, from the parent ids in /proc/*/stat (children of any thread)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])  # after "pid (comm) state"
        parents.setdefault(ppid, []).append(int(name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += parents.get(pid, [])
    return found


def pss_kib(pid: int) -> int:
    """The process's proportional set size in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the summed PSS of a process tree until stopped; keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.stopped = pid, threading.Event()
        self.peak, self.at_peak, self.samples, self.most_processes = 0, [], 0, 0

    def run(self) -> None:
        while not self.stopped.is_set():
            values = [pss_kib(pid) for pid in descendants(self.pid)]
            self.samples += 1
            self.most_processes = max(self.most_processes, sum(1 for v in values if v))
            if sum(values) > self.peak:
                self.peak, self.at_peak = sum(values), sorted((v for v in values if v), reverse=True)
            self.stopped.wait(INTERVAL)


def main() -> None:
    cwd, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    sampling = os.path.exists("/proc/self/smaps_rollup")
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        sampler = Sampler(process.pid)
        if sampling:
            sampler.start()
        rc = process.wait()
        wall = time.perf_counter() - t0
        sampler.stopped.set()
        if sampling:
            sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"rc": rc, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss,
                      "pss_kib": sampler.peak if sampling else None,
                      "pss_at_peak_kib": sampler.at_peak if sampling else None,
                      "processes": sampler.most_processes if sampling else None,
                      "samples": sampler.samples}))


if __name__ == "__main__":
    main()
