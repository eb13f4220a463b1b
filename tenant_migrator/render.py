"""Terminal output shared by the commands: one stderr console, errors, notices."""

from __future__ import annotations

from functools import cache

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
