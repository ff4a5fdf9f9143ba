"""Half of a large job in a second process, where the system can fork: for the two walks over thousands of
files that dominate a fleet-scale run (parsing the inputs; checking the output against the cache's manifest).

The child inherits everything (no arguments to send), does its share, sends back its answer through a pipe
(pickled: it is our own process) and exits at once, running nothing else. The parent does the other share
meanwhile and then collects the answer; a child that failed answers None, and the caller does that share itself.
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Callable

AVAILABLE = hasattr(os, "fork")


class Share:
    """The child's share of a job, under way."""

    def __init__(self, work: Callable[[], Any]):
        self.reader, writer = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                os.close(self.reader)
                with os.fdopen(writer, "wb") as pipe:
                    pickle.dump(work(), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            finally:
                os._exit(0)
        os.close(writer)

    def result(self) -> Any | None:
        """The child's answer; None when it gave none (it died, ran out of memory, or failed)."""
        try:
            with os.fdopen(self.reader, "rb") as pipe:
                return pickle.load(pipe)
        except (EOFError, pickle.UnpicklingError, MemoryError, OSError):
            return None
        finally:
            os.waitpid(self.pid, 0)
