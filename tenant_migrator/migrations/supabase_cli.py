"""Living next to the Supabase CLI: its history table, its migrations folder.

The CLI keeps ``supabase_migrations.schema_migrations (version, statements, name)``
and matches every row to a file ``<version>_<name>.sql`` of the project's
``supabase/migrations/`` (versions compared as strings). A row without a file
stops ``supabase db push`` ("Remote migration versions not found in local
migrations directory"). So the tool never writes there. Instead:

- ``migrate emit`` writes our pending migrations into that folder as
  ``<UTC yyyymmddhhmmss>_tenant_migrator_<name>.sql``, for ``supabase db push``;
  a CLI row named ``tenant_migrator_<name>`` then means "applied by the CLI";
- the rows the previous tool version wrote (011/012/013 with no file) are
  removed when our ledger is upgraded, unless a file of the folder has that version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_migrator.migrations.files import Migration

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.migrations.ledger import Entry

SUPABASE_TABLE = "supabase_migrations.schema_migrations"
# The CLI's own rule for a migration file's name (pkg/migration/file.go).
CLI_FILE_RE = re.compile(r"^([0-9]+)_(.*)\.sql$")
EMIT_PREFIX = "tenant_migrator_"
_TIMESTAMP = "%Y%m%d%H%M%S"

READ_HISTORY_SQL = f"SELECT version, name FROM {SUPABASE_TABLE}"
DELETE_ROW_SQL = f"DELETE FROM {SUPABASE_TABLE} WHERE version = $1 AND name IS NOT DISTINCT FROM $2"


@dataclass(frozen=True, slots=True)
class CliRow:
    version: str
    name: str | None


def default_dir(project_dir: Path) -> Path:
    return project_dir / "supabase" / "migrations"


def local_versions(directory: Path | None) -> frozenset[str]:
    """The versions the CLI sees in ``directory`` (none when it does not exist)."""
    if directory is None or not directory.is_dir():
        return frozenset()
    return frozenset(
        m[1] for p in directory.iterdir() if p.is_file() and (m := CLI_FILE_RE.match(p.name))
    )


def history(rows: Iterable[Mapping[str, Any]]) -> tuple[CliRow, ...]:
    """The CLI's history rows (as ``READ_HISTORY_SQL`` selects them, as JSON)."""
    return tuple(CliRow(r["version"], r["name"]) for r in rows)


def applied_by_cli(history: Iterable[CliRow]) -> frozenset[str]:
    """Names of the tool migrations the CLI applied from files ``migrate emit`` wrote."""
    return frozenset(
        r.name[len(EMIT_PREFIX) :] for r in history if r.name and r.name.startswith(EMIT_PREFIX)
    )


def rows_we_wrote(
    history: Iterable[CliRow], old_entries: Iterable[Entry], local: frozenset[str]
) -> list[CliRow]:
    """The CLI rows the previous tool version wrote (its ledger has the same version
    and name) that no file of the CLI's folder explains: the ones to remove."""
    ours = {(e.version, e.old_name) for e in old_entries if e.old}
    return [r for r in history if (r.version, r.name) in ours and r.version not in local]


async def remove_rows(conn: asyncpg.Connection, rows: Sequence[CliRow]) -> None:
    for r in rows:
        await conn.execute(DELETE_ROW_SQL, r.version, r.name)


# --- emit -------------------------------------------------------------------------------


def emitted_name(migration: Migration) -> str:
    return f"{EMIT_PREFIX}{migration.name}"


def already_emitted(directory: Path) -> frozenset[str]:
    """Tool migration names that have a file in ``directory`` already."""
    if not directory.is_dir():
        return frozenset()
    out = set()
    for p in directory.iterdir():
        m = CLI_FILE_RE.match(p.name)
        if m and m[2].startswith(EMIT_PREFIX):
            out.add(m[2][len(EMIT_PREFIX) :])
    return frozenset(out)


def emit_paths(
    todo: Sequence[Migration], directory: Path, now: datetime
) -> list[tuple[Path, Migration]]:
    """File names for ``todo``: consecutive UTC timestamps from ``now``, after every
    version already in ``directory`` (``db push`` wants new files last) and never one
    already used."""
    used = local_versions(directory)
    start = now.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    stamps = [v for v in used if len(v) == 14]
    if stamps:
        try:
            latest = datetime.strptime(max(stamps), _TIMESTAMP)
        except ValueError:
            latest = None
        if latest is not None and latest >= start:
            start = latest + timedelta(seconds=1)
    out = []
    stamp = start
    for migration in todo:
        while stamp.strftime(_TIMESTAMP) in used:
            stamp += timedelta(seconds=1)
        version = stamp.strftime(_TIMESTAMP)
        used |= {version}
        out.append((directory / f"{version}_{emitted_name(migration)}.sql", migration))
        stamp += timedelta(seconds=1)
    return out


def emitted_text(migration: Migration) -> str:
    header = (
        f"-- tenant-migrator: the tool's own migration `{migration.name}`, written by\n"
        "-- `tenant-migrator migrate emit` for `supabase db push`. Once the Supabase CLI\n"
        "-- has applied it, `tenant-migrator migrate status` shows it applied (supabase-cli).\n"
        "-- Do not edit: the tool decides what is needed from the catalog.\n\n"
    )
    return header + migration.sql.replace("\r\n", "\n").replace("\r", "\n")
