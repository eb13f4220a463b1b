"""Where things are: the project directory, its settings, the database asked for,
and the database this invocation talks to once that is resolved (``Target``).

Plain values only. Reading the project's settings file (``[tool.tenant-migrator]``
in pyproject.toml, or tenant-migrator.toml) is ``project.py``'s job; what it found
is carried here, already checked, with every path resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

DEFAULT_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Tenant ids or fnmatch globs the tool leaves alone (``exclude``), and the file
    that lists them (named in every message about an excluded tenant)."""

    patterns: tuple[str, ...] = ()
    source: str | None = None  # e.g. "/p/pyproject.toml [tool.tenant-migrator]"

    def match(self, tenant_id: str) -> str | None:
        """The first pattern ``tenant_id`` matches, or None when it is not excluded."""
        for pattern in self.patterns:
            if fnmatchcase(tenant_id, pattern):
                return pattern
        return None

    def __bool__(self) -> bool:
        return bool(self.patterns)


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """What the project's settings file says (all None/empty: no file, or no key).

    Paths are absolute (resolved against the project directory) and known to exist.
    """

    source: Path | None = None  # the settings file read, if any
    exclude: Exclusion = field(default_factory=Exclusion)
    clients_dir: Path | None = None
    schema: Path | None = None
    migrations_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect, as ``database.resolve_target`` decided it.

    ``url`` is None when libpq's environment variables describe the server.
    ``embedded`` is True for the project's local embedded server. The URL may
    hold a password: ``database.display`` is what may be shown.
    """

    url: str | None
    embedded: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    project_dir: Path
    # None means "not given": database.resolve_target() then looks at libpq's
    # PGHOST/PGDATABASE and otherwise falls back to the embedded server.
    database_url: str | None = None
    # The project's own migrations folder (settings file `migrations_dir`, or an
    # option); None: the tool's own migrations only.
    migrations_dir: Path | None = None
    project: ProjectSettings = field(default_factory=ProjectSettings)
    # Where the library's notices go (the embedded server started …): the CLI
    # renders them (and -q drops them); None: nowhere. Never a secret in one.
    notify: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    # The database this invocation talks to, once resolved: the CLI resolves it once
    # (``dataclasses.replace``) and hands these settings to the library, which then
    # never resolves it again (nor starts or announces the embedded server twice).
    # None: each entry point resolves it (``database.target_of``).
    target: Target | None = field(default=None, repr=False)

    @property
    def clients_dir(self) -> Path:
        return self.project.clients_dir or self.project_dir / "clients"

    @property
    def schema_path(self) -> Path:
        return self.project.schema or self.project_dir / "config" / "schema.json"

    @property
    def exclude(self) -> Exclusion:
        return self.project.exclude

    @property
    def state_dir(self) -> Path:
        """Git-ignored working state (the embedded server's data lives here)."""
        return self.project_dir / ".tenant-migrator"
