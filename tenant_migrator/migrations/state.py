"""Each migration's state, from what three witnesses say: our ledger, the catalog and
the Supabase CLI's history.

Tool migrations: the catalog decides whether one is needed. When the database
holds what it creates, it is ``applied`` (our ledger or the CLI ran it) or
``satisfied`` (found in the database, applied outside the tool). Otherwise it is
``pending`` and ``migrate`` runs it (each creates only what is absent), unless
``repair`` marked it applied on purpose.

Project files: only our ledger knows them (by file stem): ``applied``, ``pending``,
or ``modified`` when the file's checksum differs from the one recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from tenant_migrator.database import fetch_json
from tenant_migrator.migrations import catalog as catalog_
from tenant_migrator.migrations import ledger as ledger_
from tenant_migrator.migrations import supabase_cli
from tenant_migrator.migrations.files import Kind, Migration

if TYPE_CHECKING:
    import asyncpg


class State(StrEnum):
    APPLIED = "applied"
    SATISFIED = "satisfied"
    PENDING = "pending"
    MODIFIED = "modified"


class Source(StrEnum):
    """Where a state was learned."""

    LEDGER = "ledger"
    CATALOG = "catalog"
    SUPABASE_CLI = "supabase-cli"


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything the states are decided from, read in one transaction."""

    ledger: Mapping[tuple[Kind, str], ledger_.Entry]
    catalog: catalog_.Catalog
    cli_history: tuple[supabase_cli.CliRow, ...]
    # Read in the same statement, for migrate's first step: whether our ledger and
    # the previous version's exist, and whether plain PostgreSQL needs the compat
    # shim (no auth schema).
    has_ledger: bool = False
    has_old_ledger: bool = False
    needs_compat: bool = False

    @property
    def cli_applied(self) -> frozenset[str]:
        return supabase_cli.applied_by_cli(self.cli_history)


# What exists, and the catalog: one round trip (database.fetch_json).
PRESENT_SQL = f"""
jsonb_build_object(
    'ledger', to_regclass('{ledger_.LEDGER_TABLE}') IS NOT NULL,
    'old_ledger', to_regclass('{ledger_.OLD_LEDGER_TABLE}') IS NOT NULL,
    'cli', to_regclass('{supabase_cli.SUPABASE_TABLE}') IS NOT NULL,
    'needs_compat', to_regnamespace('auth') IS NULL,
    'catalog', {catalog_.CATALOG_SQL})
"""

_HISTORIES = (
    ("ledger", ledger_.READ_LEDGER_SQL),
    ("old_ledger", ledger_.READ_OLD_LEDGER_SQL),
    ("cli", supabase_cli.READ_HISTORY_SQL),
)


def histories_sql(present: Mapping[str, bool]) -> str | None:
    """The rows of every history table that exists, as one jsonb object of
    arrays (None: there is none). A table that does not exist cannot be named
    in a statement at all, hence two statements, not one."""
    parts = [
        f"'{key}', (SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM ({sql}) r)"
        for key, sql in _HISTORIES
        if present[key]
    ]
    return f"jsonb_build_object({', '.join(parts)})" if parts else None


async def observe(conn: asyncpg.Connection) -> Observed:
    """Reads only; works on a database that has nothing yet. Two round trips."""
    present = await fetch_json(conn, PRESENT_SQL)
    sql = histories_sql(present)
    rows = {} if sql is None else await fetch_json(conn, sql)
    return Observed(
        ledger_.entries(rows.get("ledger", ()), rows.get("old_ledger", ())),
        catalog_.Catalog.from_json(present["catalog"]),
        supabase_cli.history(rows.get("cli", ())),
        has_ledger=present["ledger"],
        has_old_ledger=present["old_ledger"],
        needs_compat=present["needs_compat"],
    )


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """One line of ``migrate status``."""

    migration: Migration
    state: State
    source: Source
    applied_at: datetime | None = None
    applied_by: str | None = None
    recorded_checksum: str | None = None
    missing: tuple[str, ...] = ()  # tool migrations: what the catalog lacks

    @property
    def version(self) -> str:
        return self.migration.version

    @property
    def name(self) -> str:
        return self.migration.key

    @property
    def needs_running(self) -> bool:
        return self.state is State.PENDING

    @property
    def needs_recording(self) -> bool:
        """Satisfied in the catalog, not yet in the ledger: ``migrate`` records it."""
        return self.state is State.SATISFIED and self.source is Source.CATALOG


def decide(migration: Migration, observed: Observed) -> MigrationStatus:
    entry = observed.ledger.get((migration.kind, migration.key))
    if migration.kind is Kind.PROJECT:
        return _decide_project(migration, entry)
    missing = catalog_.missing(migration.name, observed.catalog)
    when = {} if entry is None else {"applied_at": entry.applied_at, "applied_by": entry.applied_by}
    recorded = None if entry is None else entry.checksum
    if entry is not None and entry.how == "repair":
        # Marked applied on purpose: the user's word over the catalog's.
        return MigrationStatus(migration, State.APPLIED, Source.LEDGER, **when,
                               recorded_checksum=recorded, missing=missing)  # fmt: skip
    if missing:
        return MigrationStatus(migration, State.PENDING, Source.CATALOG, missing=missing)
    if entry is not None:
        state = State.SATISFIED if entry.how == "satisfied" else State.APPLIED
        return MigrationStatus(migration, state, Source.LEDGER, **when, recorded_checksum=recorded)
    if migration.name in observed.cli_applied:
        return MigrationStatus(migration, State.APPLIED, Source.SUPABASE_CLI)
    return MigrationStatus(migration, State.SATISFIED, Source.CATALOG)


def _decide_project(migration: Migration, entry: ledger_.Entry | None) -> MigrationStatus:
    if entry is None:
        return MigrationStatus(migration, State.PENDING, Source.LEDGER)
    state = State.APPLIED if migration.matches_checksum(entry.checksum) else State.MODIFIED
    return MigrationStatus(
        migration,
        state,
        Source.LEDGER,
        applied_at=entry.applied_at,
        applied_by=entry.applied_by,
        recorded_checksum=entry.checksum,
    )


def statuses(migrations: Sequence[Migration], observed: Observed) -> list[MigrationStatus]:
    return [decide(m, observed) for m in migrations]
