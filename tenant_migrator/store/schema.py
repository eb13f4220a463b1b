"""What the database has so far: a plan must work before 011/012/013 are applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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

    @property
    def worth_reading(self) -> bool:
        """Whether a plan has anything to read: rows, or baselines of rows gone since."""
        return self.has_rows or self.has_history_rows

    @property
    def complete(self) -> bool:
        needed = {*SNAPSHOT_COLUMNS, "tenant_config"}
        return self.tenants and needed <= self.columns


# $1 tenants, $2 runs, $3 run tenants.
READ_SCHEMA_SQL = """
    SELECT to_regclass($1) IS NOT NULL AS tenants,
           to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL AS history,
           coalesce((SELECT array_agg(attname::text) FROM pg_attribute
                     WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped),
                    '{}') AS columns
    """
HAS_ROWS_SQL = f"SELECT EXISTS (SELECT 1 FROM {TENANTS})"
HAS_HISTORY_ROWS_SQL = f"SELECT EXISTS (SELECT 1 FROM {RUN_TENANTS})"


async def read_schema(conn: asyncpg.Connection) -> Schema:
    row = await conn.fetchrow(READ_SCHEMA_SQL, TENANTS, RUNS, RUN_TENANTS)
    has_rows = row["tenants"] and await conn.fetchval(HAS_ROWS_SQL)
    history_rows = row["history"] and await conn.fetchval(HAS_HISTORY_ROWS_SQL)
    return Schema(row["tenants"], frozenset(row["columns"]), row["history"], has_rows, history_rows)
