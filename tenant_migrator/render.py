"""Terminal output shared by the commands: one stderr console, errors, notices."""

from __future__ import annotations

import atexit
import io
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TextIO

from rich.console import Console

from tenant_migrator.errors import MigratorError


@cache
def stderr() -> Console:
    return Console(stderr=True, highlight=False)


@cache
def stdout() -> Console:
    if sys.stdout.isatty():
        return Console(highlight=False)
    # A pipe or a file: no table cell padded out with trailing spaces.
    return Console(file=_TrimmedLines(sys.stdout), highlight=False)


def reset() -> None:
    """Forget the consoles, so the next ones write to the current ``sys.stdout`` and
    ``sys.stderr`` (one command run in-process after another: ``cli.main``)."""
    finish()
    stdout.cache_clear()
    stderr.cache_clear()


def finish() -> None:
    """Write out an unfinished last line held back by the trimming of a pipe."""
    if stdout.cache_info().currsize:
        file = stdout().file
        if isinstance(file, _TrimmedLines):
            file.close_line()


class _TrimmedLines(io.TextIOBase):
    """Writes through to ``out`` with every line's trailing whitespace removed (an
    unfinished line waits for its end, or for the end of the process)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.pending = ""
        atexit.register(self.close_line)

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        if lines:
            self.out.write("".join(line.rstrip() + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def close_line(self) -> None:
        if getattr(self.out, "closed", False):
            return  # an in-process run's captured output, gone by the time of atexit
        if self.pending:
            self.out.write(self.pending)
            self.pending = ""
        self.out.flush()

    def isatty(self) -> bool:
        return False


def print_error(err: MigratorError) -> None:
    """``err`` in the report's words (``report/errors.py``: a blocked tenant's drifted
    values too, redacted), on stderr."""
    from tenant_migrator.report.errors import error_text

    # markup=False: the message may quote user input with [brackets].
    console = stderr()
    console.print(
        f"error: {error_text(err)}",
        style="bold red",
        markup=False,
        soft_wrap=not console.is_terminal,
    )


_quiet = False


def set_quiet(quiet: bool) -> None:
    """``-q``: notices are dropped from here on; errors are not."""
    global _quiet
    _quiet = quiet


def notice(message: str) -> None:
    if _quiet:
        return
    console = stderr()
    # On a terminal, wrapped between words to its width (a terminal would cut the
    # line mid-word); in a pipe or a log, one line per notice.
    console.print(message, style="dim", markup=False, soft_wrap=not console.is_terminal)


def write_report(output: Path | None, write: Callable[[TextIO], object]) -> None:
    """``write`` the report to stdout, or to ``output`` (UTF-8)."""
    if output is None:
        write(sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8") as out:
            write(out)
    except OSError as err:
        raise MigratorError(f"cannot write {output}: {err.strerror or err}") from None
