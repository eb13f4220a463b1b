"""Terminal output shared by the commands: one stderr console, errors, notices."""

from __future__ import annotations

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
    return Console(highlight=False)


def print_error(err: MigratorError) -> None:
    # markup=False: the message may quote user input with [brackets].
    stderr().print(f"error: {err}", style="bold red", markup=False, soft_wrap=True)


def notice(message: str) -> None:
    stderr().print(message, style="dim", markup=False, soft_wrap=True)


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
