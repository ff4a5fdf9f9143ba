"""A progress bar on the terminal for a compile that takes a while (rich): shown on standard error only when
it is a terminal, and only once a run has gone on for about two seconds, so quick runs and piped output stay
exactly as they were. The stages say where they are (`phase`, `advance`); without `shown` those are no-ops.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # rich is imported only once a bar is shown
    from rich.progress import Progress, TaskID

DELAY = 2.0  # seconds before a bar appears


class _Bar:
    def __init__(self, stream: IO[str], delay: float):
        self.stream, self.delay = stream, delay
        self.began = time.monotonic()
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.name: str = ""
        self.total: int | None = None
        self.done = 0

    def phase(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done = name, total, 0
        self._show(refresh=True)

    def advance(self, count: int) -> None:
        self.done += count
        if self.progress is not None or time.monotonic() - self.began >= self.delay:
            self._show()

    def _show(self, refresh: bool = False) -> None:
        if self.progress is None:
            if time.monotonic() - self.began < self.delay:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            console = Console(file=self.stream, force_terminal=True)
            bar = Progress(TextColumn("easel: {task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=console, transient=True)
            bar.start()
            self.progress, self.task = bar, bar.add_task(self.name, total=self.total)
        if self.task is not None:
            self.progress.update(self.task, description=self.name, total=self.total, completed=self.done,
                                 refresh=refresh)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


_BAR: _Bar | None = None


@contextlib.contextmanager
def shown(stream: IO[str] | None = None, delay: float = DELAY, force: bool = False) -> Iterator[None]:
    """Report progress on stream (standard error) for the block, when it is a terminal (or force)."""
    global _BAR
    stream = stream or sys.stderr
    if not (force or (hasattr(stream, "isatty") and stream.isatty())):
        yield
        return
    _BAR = _Bar(stream, delay)
    try:
        yield
    finally:
        _BAR.close()
        _BAR = None


def silence() -> None:
    """No bar from this process (a forked helper: its parent draws it)."""
    global _BAR
    _BAR = None


def phase(name: str, total: int | None = None) -> None:
    if _BAR is not None:
        _BAR.phase(name, total)


def advance(count: int = 1) -> None:
    if _BAR is not None:
        _BAR.advance(count)
