"""What is true when a run stops half-way (Ctrl-C, the server gone): has anything been
committed?

The writing code says when it commits (``committing`` just before a transaction
ends, ``committed`` once it has); ``outcome()`` turns that into the one line the
user gets instead of a traceback. A process runs one command, so a module-level
record is enough.
"""

from __future__ import annotations

from tenant_migrator.errors import MigratorError

INTERRUPTED_EXIT = 130  # 128 + SIGINT, what shells report for Ctrl-C

_committed: list[str] = []
_committing: list[str] = []


class Interrupted(MigratorError):
    """Ctrl-C: the run was stopped; the message says what was written."""

    exit_code = INTERRUPTED_EXIT


def committing(what: str) -> None:
    """``what`` (e.g. "run 7") is about to be committed."""
    _committing.append(what)


def committed(what: str) -> None:
    """``what`` (e.g. "run 7 was committed") is in the database."""
    _committing.clear()
    _committed.append(what)


def reset() -> None:
    _committed.clear()
    _committing.clear()


def outcome() -> str:
    """What the database holds of this command's work, in words."""
    if _committing:
        return (
            f"{_committing[-1]} may or may not have been committed (it stopped while "
            "committing): `tenant-migrator history` shows whether"
        )
    if _committed:
        return "; ".join(_committed) + "; nothing else was written"
    return "nothing was written"


def interrupted() -> Interrupted:
    return Interrupted(f"interrupted; {outcome()}")
