"""Helm's own engine, behind one door. The engine is `helm-python-sdk` (import `helm_python`, a ctypes binding over
Helm's Go SDK), pinned exactly in the `helm` extra of pyproject.toml. As measured, it hangs in a forked child,
races when a loaded chart is used from several threads, changes a loaded chart when it renders (a subchart a
condition turned off does not come back), has no timeout, and aborts the whole process from Go when memory runs
out. So here:

- the engine is never imported in easel's own process: renders run in worker processes started with the
  `spawn` method (named, never the platform's default), lazily, on the first render;
- each render loads the chart afresh from its archive's bytes (a fresh handle), renders once and frees it;
- each render has a deadline: a worker that does not answer in time is killed and the render is an error, as is
  a worker that dies (Go's abort under the worker's memory limit, a crash), never a hang of the compile;
- the Kubernetes version and API versions a render sees go through the engine's private render options (its
  public `render` has no such arguments); tests/test_helm_engine.py fails if that call changes.

Call `close()` (or use the engine as a context manager) before easel forks: no worker may be alive across a
fork.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

ENGINE_MODULE = "helm_python"
DISTRIBUTION = "helm-python-sdk"
DEADLINE = 20.0  # seconds a render may take
MEMORY_LIMIT = 2 * 2**30  # bytes of address space a worker may map (Go needs about 1 GiB to start)
MAX_OUTPUT = 100 * 2**20  # bytes of manifests a render may give (Helm's own limit on a chart, unpacked)


@dataclass(frozen=True)
class RenderRequest:
    """One render: the chart archive as published (`.tgz` bytes), the values easel gives it, and what the cluster
    it is rendered for tells templates (`.Release`, `.Capabilities`)."""
    archive: bytes
    values: Mapping[str, Any] = field(default_factory=dict)
    release: str = "release"
    namespace: str = "default"
    kube_version: str | None = None  # "1.30.2"; None: the engine's default
    api_versions: tuple[str, ...] = ()  # group/version (or group/version/Kind) the cluster serves besides built-ins


@dataclass(frozen=True)
class Rendered:
    """What a render gave: the manifests by template path, or why there are none. failure: "render" (the chart or
    its values), "load" (not a chart archive), "timeout", "crash" (the worker died), "unavailable" (no engine)."""
    manifests: dict[str, str] | None = None
    failure: str | None = None
    message: str = ""


def available() -> bool:
    """Whether the engine is installed (found, not imported)."""
    return importlib.util.find_spec(ENGINE_MODULE) is not None


def version() -> str | None:
    """The installed engine's version (from its package's metadata, without importing it)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


class Engine:
    """Renders charts in one spawned worker process at a time, started on the first render."""

    def __init__(self, deadline: float | None = None, memory_limit: int | None = MEMORY_LIMIT,
                 max_output: int = MAX_OUTPUT):
        self.deadline = DEADLINE if deadline is None else deadline
        self.memory_limit, self.max_output = memory_limit, max_output
        self._context = multiprocessing.get_context("spawn")
        self._worker: Any = None
        self._connection: Connection | None = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, request: RenderRequest) -> Rendered:
        if not available():
            return Rendered(failure="unavailable", message=f"the chart engine ({ENGINE_MODULE}) is not installed")
        connection = self._started()
        try:
            connection.send(request)
            if not connection.poll(self.deadline):
                self.close()
                return Rendered(failure="timeout", message=f"the chart did not render within {self.deadline:g} s")
            answer = connection.recv()
        except (EOFError, OSError):
            return self._died()
        kind, payload = answer
        if kind == "ok":
            return Rendered(manifests=payload)
        return Rendered(failure=kind, message=payload)

    def _died(self) -> Rendered:
        worker = self._worker
        if worker is not None:
            worker.join(1.0)
        code = worker.exitcode if worker is not None else None
        self.close()
        if code == -signal.SIGABRT:  # how Go ends a process that cannot get memory
            limit = f" ({self.memory_limit // 2**20} MiB)" if self.memory_limit else ""
            return Rendered(failure="crash", message=f"the chart engine ran out of memory{limit} rendering it")
        return Rendered(failure="crash", message=f"the chart engine stopped (exit status {code}) rendering it")

    def close(self) -> None:
        """Stop the worker, if one runs (it is started again on the next render)."""
        if self._connection is not None:
            self._connection.close()
        if self._worker is not None and self._worker.pid is not None:  # started (a failed start has no process)
            self._worker.kill()
            self._worker.join()
        self._worker, self._connection = None, None

    def _started(self) -> Connection:
        if self._connection is None or self._worker is None or not self._worker.is_alive():
            self.close()
            mine, theirs = self._context.Pipe()
            self._worker = self._context.Process(target=_serve, args=(theirs, self.memory_limit, self.max_output),
                                                 daemon=True, name="easel-helm")
            self._worker.start()
            theirs.close()
            self._connection = mine
        return self._connection


# --- in the worker process ---------------------------------------------------------------------------------------

def _serve(connection: Connection, memory_limit: int | None, max_output: int = MAX_OUTPUT) -> None:
    """The worker's loop: one request in, one answer out, until the pipe closes. Go's own report of a crash (a
    dump of every goroutine) is not for easel's users: the worker's standard error goes nowhere."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    if memory_limit is not None:
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        except (ImportError, ValueError, OSError):
            pass  # a platform without address-space limits: the deadline still holds
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        connection.send(_render(request, max_output))


def _render(request: RenderRequest, max_output: int = MAX_OUTPUT) -> tuple[str, Any]:
    import helm_python
    from helm_python import _native

    try:
        chart = helm_python.Chart.load_archive(request.archive)
    except helm_python.HelmError as problem:
        return ("load", str(problem))
    options: dict[str, Any] = {"name": request.release, "namespace": request.namespace, "is_install": True}
    if request.kube_version:
        options["kube_version"] = "v" + request.kube_version.removeprefix("v")
    if request.api_versions:
        options["api_versions"] = list(request.api_versions)
    try:
        # the public Chart.render takes no Kubernetes version: the engine's own render options do
        rendered = _native.call_string("helm_render", chart._raw(), json.dumps(dict(request.values)),
                                       json.dumps(options))
        if len(rendered) > max_output:  # before it crosses the pipe, and before easel parses it
            too_large = (f"the chart renders {len(rendered) / 2**20:.1f} MiB of manifests, over the "
                         f"{max_output / 2**20:.1f} MiB easel reads")
            return ("render", too_large)
        return ("ok", json.loads(rendered))
    except helm_python.HelmError as problem:
        return ("render", str(problem))
    finally:
        chart.close()
