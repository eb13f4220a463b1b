"""Where things are: the project directory and the database the user asked for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    project_dir: Path
    # None means "not given": database.resolve_target() then looks at libpq's
    # PGHOST/PGDATABASE and otherwise falls back to the embedded server.
    database_url: str | None = None
    # The project's own migrations folder, run by `migrate` only when given
    # (--migrations-dir, or the project settings); relative to project_dir.
    migrations_dir: Path | None = None

    @property
    def clients_dir(self) -> Path:
        return self.project_dir / "clients"

    @property
    def schema_path(self) -> Path:
        return self.project_dir / "config" / "schema.json"

    @property
    def state_dir(self) -> Path:
        """Git-ignored working state (the embedded server's data lives here)."""
        return self.project_dir / ".tenant-migrator"
