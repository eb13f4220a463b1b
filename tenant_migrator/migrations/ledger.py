"""Our history table: which migrations ran, with which checksum, when, by whom.

``tenant_migrator.migration_ledger`` is keyed by (scope, name): a tool migration by
its name (``tenant_config``), a project file by its stem (``011_add_columns``), so
a platform's own ``012_login_background.sql`` can never be mistaken for our
``tenant_config``.

The previous tool version kept ``tenant_migrator.schema_migrations``, keyed by the
bare number. It is still read (so a database migrated by that version is
recognised); ``migrate`` copies its rows here and drops it, in the migrate
transaction (see ``upgrade``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenant_migrator.migrations.files import TOOL_NAMES, Kind, Migration

if TYPE_CHECKING:
    import asyncpg

SCHEMA = "tenant_migrator"
LEDGER_TABLE = f"{SCHEMA}.migration_ledger"
OLD_LEDGER_TABLE = f"{SCHEMA}.schema_migrations"

# How an entry came to be: run by us; marked by `repair` or `baseline`; found in
# the catalog ("applied outside the tool"); copied from the previous version's ledger.
HOWS = ("migrate", "repair", "baseline", "satisfied", "upgraded")

CREATE_LEDGER_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
    scope text NOT NULL CHECK (scope IN ('tool', 'project')),
    name text NOT NULL,
    version text,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL,
    execution_ms integer,
    how text NOT NULL CHECK (how IN {HOWS!r}),
    PRIMARY KEY (scope, name)
);
COMMENT ON TABLE {LEDGER_TABLE} IS
    'tenant-migrator: each migration it applied or recorded (tool migrations by name, '
    'project files by file stem), with checksum, time and author';
"""

LEDGER_EXISTS_SQL = "SELECT to_regclass($1) IS NOT NULL"

READ_LEDGER_SQL = f"""
SELECT scope, name, version, checksum, applied_at, applied_by, execution_ms, how
FROM {LEDGER_TABLE}
"""

READ_OLD_LEDGER_SQL = f"""
SELECT version, name, checksum, applied_at, applied_by, execution_ms
FROM {OLD_LEDGER_TABLE}
"""

RECORD_SQL = f"""
INSERT INTO {LEDGER_TABLE} (scope, name, version, checksum, applied_at, applied_by,
                            execution_ms, how)
VALUES ($1, $2, $3, $4, coalesce($5, now()),
        coalesce($6, current_user || ' (' || $7 || ')'), $8, $9)
ON CONFLICT (scope, name) DO UPDATE SET
    version = excluded.version, checksum = excluded.checksum,
    applied_at = excluded.applied_at, applied_by = excluded.applied_by,
    execution_ms = excluded.execution_ms, how = excluded.how
"""

DELETE_SQL = f"DELETE FROM {LEDGER_TABLE} WHERE scope = $1 AND name = $2"

DROP_OLD_LEDGER_SQL = f"DROP TABLE {OLD_LEDGER_TABLE}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger row. ``old`` marks a row still only in the previous version's table."""

    scope: Kind
    name: str
    version: str | None
    checksum: str
    applied_at: datetime | None
    applied_by: str | None
    execution_ms: int | None
    how: str
    old: bool = False
    old_name: str | None = None  # the name column of the previous version's row


Ledger = Mapping[tuple[Kind, str], Entry]


def _from_old_row(row: Mapping) -> Entry:
    """A row of the previous version's ledger, as an entry of ours: the tool's own
    011/012/013 become their names, anything else a project file's stem."""
    version, name = row["version"], row["name"] or ""
    if name in TOOL_NAMES:
        scope, key = Kind.TOOL, name
    else:
        scope, key = Kind.PROJECT, f"{version}_{name}" if name else version
    return Entry(
        scope=scope,
        name=key,
        version=version,
        checksum=row["checksum"],
        applied_at=row["applied_at"],
        applied_by=row["applied_by"],
        execution_ms=row["execution_ms"],
        how="upgraded",
        old=True,
        old_name=row["name"],
    )


def entries(
    rows: Iterable[Mapping[str, Any]], old_rows: Iterable[Mapping[str, Any]] = ()
) -> dict[tuple[Kind, str], Entry]:
    """Every entry, ours first, then the previous version's rows we do not have yet
    (rows as ``READ_LEDGER_SQL`` and ``READ_OLD_LEDGER_SQL`` select them, as JSON)."""
    found: dict[tuple[Kind, str], Entry] = {}
    for row in rows:
        entry = Entry(
            **{**row, "scope": Kind(row["scope"]), "applied_at": _timestamp(row["applied_at"])}
        )
        found[(entry.scope, entry.name)] = entry
    for row in old_rows:
        entry = _from_old_row({**row, "applied_at": _timestamp(row["applied_at"])})
        found.setdefault((entry.scope, entry.name), entry)
    return found


def _timestamp(value: str | None) -> datetime | None:
    # jsonb renders timestamptz in the session's time zone; asyncpg gave UTC.
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


async def create(conn: asyncpg.Connection, *, exists: bool | None = None) -> None:
    """``exists``: whether the caller just found the ledger there (saves a query)."""
    if exists is None:
        exists = await conn.fetchval(LEDGER_EXISTS_SQL, LEDGER_TABLE)
    if not exists:
        await conn.execute(CREATE_LEDGER_SQL)


async def record(
    conn: asyncpg.Connection,
    migration: Migration,
    *,
    how: str,
    os_user: str,
    execution_ms: int | None = None,
) -> None:
    await conn.execute(
        RECORD_SQL,
        migration.kind.value,
        migration.key,
        migration.version,
        migration.checksum,
        None,
        None,
        os_user,
        execution_ms,
        how,
    )


async def forget(conn: asyncpg.Connection, scope: Kind, name: str) -> None:
    await conn.execute(DELETE_SQL, scope.value, name)


async def upgrade(
    conn: asyncpg.Connection, entries: Iterable[Entry], *, exists: bool | None = None
) -> list[Entry]:
    """Copy the previous version's rows into our ledger and drop its table.
    Call inside the migrate transaction, after ``create``. Returns the rows copied.
    ``exists``: whether the caller just found the previous version's table there."""
    old = [e for e in entries if e.old]
    if exists is None:
        exists = await conn.fetchval(LEDGER_EXISTS_SQL, OLD_LEDGER_TABLE)
    if not exists:
        return []
    for e in old:
        await conn.execute(
            RECORD_SQL,
            e.scope.value,
            e.name,
            e.version,
            e.checksum,
            e.applied_at,
            e.applied_by,
            "",
            e.execution_ms,
            "upgraded",
        )
    await conn.execute(DROP_OLD_LEDGER_SQL)
    return old
