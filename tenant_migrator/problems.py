"""Problems found in client files: one shape for loader, validator and secrets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    # Worth saying, nothing to fix (a schema default written for a missing field).
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth saying) about one client file.

    ``json_path`` is an RFC 6901 pointer into the document (``/email/smtp/port``),
    ``""`` for the whole document; a key shaped like a secret (or over 60 characters)
    is ``(key not shown)`` in it. ``line``/``column`` are 1-based, None when unknown.
    ``message`` never contains a secret value.
    """

    path: Path
    message: str
    json_path: str = ""
    line: int | None = None
    column: int | None = None
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        # The one place every problem passes: a key pasted from a secret never
        # shows in a path, whichever report prints it (the messages hide it too).
        if self.json_path:
            masked = _masked(self.json_path)
            if masked != self.json_path:
                object.__setattr__(self, "json_path", masked)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        loc = str(self.path)
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def format(self) -> str:
        """``file:line:col  path  message`` — the line format `validate` prints."""
        return f"{self.location()}  {self.json_path or '/'}  {self.message}"

    def to_json(self) -> dict:
        return {
            "file": str(self.path),
            "line": self.line,
            "column": self.column,
            "path": self.json_path,
            "message": self.message,
            "severity": self.severity.value,
        }


def problem_order(problem: Problem) -> tuple[int, int, str]:
    """Sort key: the order problems appear in the file (line, column, then JSON path)."""
    return (problem.line or 0, problem.column or 0, problem.json_path)


def sorted_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """In the order they appear in the file."""
    return tuple(sorted(problems, key=problem_order))


# A path segment for a key not shown: shaped like a secret, or longer than 60 characters.
HIDDEN_KEY = "(key not shown)"


@lru_cache(maxsize=8192)
def _masked(pointer: str) -> str:
    # Cached whole: the same paths (/client/currency) recur in every tenant's problems.
    return "/".join(map(_shown_token, pointer.split("/")))


@lru_cache(maxsize=4096)
def _shown_token(token: str) -> str:
    if not token:
        return token
    # Lazy: the secrets package imports this module.
    from tenant_migrator.secretrefs.shapes import shown_key

    return HIDDEN_KEY if shown_key(unescape(token), HIDDEN_KEY) == HIDDEN_KEY else token


# --- RFC 6901 JSON pointers -------------------------------------------------------------
# Here because every module that builds pointers already imports this one.


def escape(key: Any) -> str:
    """RFC 6901 reference token: ``~`` → ``~0``, ``/`` → ``~1``."""
    key = str(key)
    if "~" in key or "/" in key:
        return key.replace("~", "~0").replace("/", "~1")
    return key


def unescape(token: str) -> str:
    """The key an RFC 6901 reference token names: ``~1`` → ``/``, ``~0`` → ``~``."""
    return token.replace("~1", "/").replace("~0", "~")
