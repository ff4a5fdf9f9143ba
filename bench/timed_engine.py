#!/usr/bin/env python3
"""easel's CLI with each call to Helm's engine timed (for bench/charts.py).

    BENCH_RENDER_LOG=FILE python bench/timed_engine.py -C REPO compile

Runs `compiler.cli.main` (the easel found on sys.path: set PYTHONPATH to the tree to measure) after wrapping
`compiler.runtime.helm.Engine.render`, the call made for a render neither this run nor easel's cache has: each
call appends one line to FILE, `<pid> <first> <wall seconds>`, first being 1 when the call started the engine's
worker process (spawned, which imports the engine and starts Go's runtime before it renders). A compile that
forks renders in both processes, each with its own worker: the pids tell them apart. Nothing else changes.
"""

import os
import sys
import time


def main():
    from compiler.cli import main as easel
    from compiler.runtime import helm

    log = os.environ.get("BENCH_RENDER_LOG")
    if log:
        render = helm.Engine.render

        def timed(self, request):
            first = self._worker is None or not self._worker.is_alive()
            t0 = time.perf_counter()
            try:
                return render(self, request)
            finally:
                line = f"{os.getpid()} {int(first)} {time.perf_counter() - t0:.6f}\n".encode()
                fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)

        helm.Engine.render = timed
    easel(sys.argv[1:])


if __name__ == "__main__":  # not when the engine's spawned worker imports this module as __mp_main__
    main()
