"""Progress while files are read: counts on a terminal, a line now and then elsewhere.

On a terminal (stderr), a transient Rich line: spinner, what is happening with its
counts, time elapsed; gone when done. Without a terminal (CI logs, pipes) nothing
can be redrawn, and minutes of silence look like a hang, so a plain line at most
every ``interval`` seconds, as terraform's "Still creating… [10s elapsed]":

    still validating… 1,200/3,000 files [10s elapsed]

The interval comes from ``TENANT_MIGRATOR_PROGRESS_INTERVAL`` (seconds; default
10): 0 gives a line at every update (each batch of files), which is how a test
sees the lines without waiting for real time. The lines are notices: ``-q``
drops them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tenant_migrator import render

INTERVAL_ENV = "TENANT_MIGRATOR_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 10.0

Phase = Callable[[str], None]


def interval_s() -> float:
    value = os.environ.get(INTERVAL_ENV, "")
    try:
        return max(0.0, float(value)) if value else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


def files_done(doing: str) -> Callable[[int, int], str]:
    """``(done, total)`` → "validating… 1,200/3,000 files"."""
    return lambda done, total: f"{doing}… {done:,}/{total:,} files"


@contextmanager
def phases(label: str, *, clock: Callable[[], float] = time.monotonic) -> Iterator[Phase]:
    """A callback taking what is happening now (with its counts), shown as above."""
    console = render.stderr()
    if console.is_terminal:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(label, total=None)
            yield lambda phase: progress.update(task, description=phase)
        return
    yield _Lines(interval_s(), clock).phase


class _Lines:
    """One line per ``interval`` at most, for a log: the latest phase when it is due."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last = self.started

    def phase(self, text: str) -> None:
        now = self.clock()
        if now - self.last < self.interval:
            return
        self.last = now
        render.notice(f"still {text} [{now - self.started:.0f}s elapsed]")
