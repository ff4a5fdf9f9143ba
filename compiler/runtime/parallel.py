"""Half of a large job in a second process, where the system can fork: for the two walks over thousands of
files that dominate a fleet-scale run (parsing the inputs; checking the output against the cache's manifest).

The child inherits everything (no arguments to send), does its share, sends back its answer through a pipe
(pickled: it is our own process) and exits at once, running nothing else. The parent does the other share
meanwhile and then collects the answer; a child that failed answers None, and the caller does that share itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from compiler.runtime import progress

T = TypeVar("T")

AVAILABLE = hasattr(os, "fork")


def while_parent_lives(items: Iterable[T]) -> Iterator[T]:
    """items, in a child; the child exits as soon as its parent is gone (killed): it must not go on writing for
    nobody (and it holds the repository's lock, inherited, until it exits)."""
    parent = os.getppid()
    for item in items:
        if os.getppid() != parent:
            os._exit(1)
        yield item


class Share:
    """The child's share of a job, under way."""

    def __init__(self, work: Callable[[], Any]):
        self.reader, writer = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                progress.silence()
                os.close(self.reader)
                with os.fdopen(writer, "wb") as pipe:
                    pickle.dump(work(), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            finally:
                os._exit(0)
        os.close(writer)

    def cancel(self) -> None:
        """Stop the child, if it still runs, and forget its answer."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            os.close(self.reader)
            os.waitpid(self.pid, 0)
            self.pid = 0

    def result(self) -> Any | None:
        """The child's answer; None when it gave none (it died, ran out of memory, or failed)."""
        try:
            with os.fdopen(self.reader, "rb") as pipe:
                return pickle.load(pipe)
        except (EOFError, pickle.UnpicklingError, MemoryError, OSError):
            return None
        finally:
            os.waitpid(self.pid, 0)
            self.pid = 0
