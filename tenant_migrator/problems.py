"""Problems found in client files: one shape for loader, validator and secrets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth saying) about one client file.

    ``json_path`` is an RFC 6901 pointer into the document (``/email/smtp/port``),
    ``""`` for the whole document. ``line``/``column`` are 1-based, None when unknown.
    ``message`` never contains a secret value.
    """

    path: Path
    message: str
    json_path: str = ""
    line: int | None = None
    column: int | None = None
    severity: Severity = Severity.ERROR

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
