"""The tool's own exceptions.

Everything the user can cause (bad input, bad URL, refused connection, a drifted
row) is raised as a ``MigratorError``; ``cli.main`` prints it as one clear block on
stderr (in ``report/errors.py``'s words: its message, and a drift refusal's values,
redacted) and exits with ``exit_code``. Anything else is a bug and keeps its
traceback.

Messages must never contain a secret value: build them from paths, names and
references only.
"""

from __future__ import annotations


class MigratorError(Exception):
    """A failure the user can act on. ``str(err)`` is shown as is."""

    exit_code = 1


class UsageError(MigratorError):
    """The command line itself is wrong (unknown tenant, conflicting options)."""

    exit_code = 2


class DatabaseUnavailable(MigratorError):
    """Could not reach or log in to the database."""


class InvalidDatabaseURL(UsageError, DatabaseUnavailable):
    """The database URL is malformed (refused before connecting, never quoted): a
    usage error, exit 2."""


class MigrationError(MigratorError):
    """A migration could not be applied, or its file changed after it was applied."""


class ClientFileError(MigratorError):
    """A client.yaml could not be loaded. Carries the problems found."""

    def __init__(self, problems: list) -> None:  # list[Problem]; avoids an import cycle
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


class DriftError(MigratorError):
    """A row was edited in the database after our last import; refusing without --force.
    Raised as one of ``drift_errors``' subclasses, which carry what was refused."""
