"""What the database has so far: a plan must work before 011/012/013 are applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenant_migrator.database import fetch_json
from tenant_migrator.planning import SNAPSHOT_COLUMNS
from tenant_migrator.store.tables import RUN_TENANTS, RUNS, TENANTS

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True, slots=True)
class Schema:
    """What the database has so far (a plan must work before 011/012/013 are applied)."""

    tenants: bool
    columns: frozenset[str]
    history: bool
    has_rows: bool = True
    # Our history holds at least one tenant: a row missing from the table may then
    # be one deleted in the database since we wrote it (its plan must know).
    has_history_rows: bool = False
    # Migration 014 is applied: the history records what each run sent and in
    # which transaction, so a large read can first ask which rows are untouched.
    fingerprints: bool = False

    @property
    def worth_reading(self) -> bool:
        """Whether a plan has anything to read: rows, or baselines of rows gone since."""
        return self.has_rows or self.has_history_rows

    @property
    def complete(self) -> bool:
        needed = {*SNAPSHOT_COLUMNS, "tenant_config"}
        return self.tenants and needed <= self.columns


HAS_ROWS_SQL = f"EXISTS (SELECT 1 FROM {TENANTS})"
HAS_HISTORY_ROWS_SQL = f"EXISTS (SELECT 1 FROM {RUN_TENANTS})"


def _schema_sql(holds: bool) -> str:
    """What exists (database.fetch_json: one round trip; the names are constants).
    ``holds``: also whether the tables hold rows, for when they are known to exist
    (a table that does not exist cannot be named in a statement at all)."""
    rows = f", 'has_rows', {HAS_ROWS_SQL}, 'has_history_rows', {HAS_HISTORY_ROWS_SQL}"
    return f"""
    jsonb_build_object(
        'tenants', to_regclass('{TENANTS}') IS NOT NULL,
        'history', to_regclass('{RUNS}') IS NOT NULL AND to_regclass('{RUN_TENANTS}') IS NOT NULL,
        'columns', coalesce((SELECT jsonb_agg(attname::text) FROM pg_attribute
                             WHERE attrelid = to_regclass('{TENANTS}') AND attnum > 0
                               AND NOT attisdropped), '[]'),
        'fingerprints', {_has_column_sql(RUNS, "xact_id")}
                        AND {_has_column_sql(RUNS, "cluster_id")}
                        AND {_has_column_sql(RUN_TENANTS, "sent_sha256")}{rows if holds else ""})
    """


def _has_column_sql(table: str, column: str) -> str:
    return f"""EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('{table}')
                       AND attname = '{column}' AND NOT attisdropped)"""


READ_SCHEMA_SQL = _schema_sql(holds=False)
# When the tool's migrations are known to be applied, the tables exist: what
# they hold is read in the same statement.
READ_MIGRATED_SCHEMA_SQL = _schema_sql(holds=True)


def _rows_sql(tenants: bool, history: bool) -> str:
    """Whether the tables that exist hold rows (a table that does not exist cannot
    be named in a statement: a second one, built for what the first found)."""
    has_rows = HAS_ROWS_SQL if tenants else "false"
    has_history_rows = HAS_HISTORY_ROWS_SQL if history else "false"
    return f"jsonb_build_array({has_rows}, {has_history_rows})"


async def read_schema(conn: asyncpg.Connection, *, migrated: bool = False) -> Schema:
    """Two round trips (one when there is no table yet, or, with ``migrated``, when
    the caller just found no tool migration pending: the tables are there)."""
    if migrated:
        found = await fetch_json(conn, READ_MIGRATED_SCHEMA_SQL)
        return Schema(
            found["tenants"],
            frozenset(found["columns"]),
            found["history"],
            found["has_rows"],
            found["has_history_rows"],
            found["fingerprints"],
        )
    found = await fetch_json(conn, READ_SCHEMA_SQL)
    tenants, history = found["tenants"], found["history"]
    has_rows = has_history_rows = False
    if tenants or history:
        has_rows, has_history_rows = await fetch_json(conn, _rows_sql(tenants, history))
    return Schema(
        tenants,
        frozenset(found["columns"]),
        history,
        has_rows,
        has_history_rows,
        found["fingerprints"],
    )
