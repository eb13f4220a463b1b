"""The database side of plan, import, sync, rollback, history and export.

Reading: every selected row in ONE query. The records go along as parameters and
the database compares each row with its record (jsonb equality, the same test
the write's ``IS DISTINCT FROM`` makes); only rows that differ come back, with
their values and their drift hash: the md5 of a jsonb object of the owned
columns, config_source and tenant_config, computed in SQL from the row as
stored (jsonb's text form is canonical, so Python's representation of the same
values cannot fake a difference), next to the drift baseline from the run
history (migration 013).

Writing (``PlanWriter``): inside the caller's one transaction under the tool's
advisory lock (the one ``migrate`` takes, so imports also serialize with
migrations), where the rows were read and the plan made. Planned tenants are
COPYed into a temp table as their batches come, and every few hundred rows ONE
set-based ``INSERT … ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT FROM`` writes
them and, in the same statement, their history rows; it refuses any row whose hash
is no longer the one planned against (someone edited it between our read and our
write), which aborts the run. Nothing is written per tenant. The batching itself
(what is planned when, and when a run must roll back) is ``streaming.py``'s.
"""

from __future__ import annotations

import functools
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenant_migrator import __version__
from tenant_migrator.errors import DriftError, MigratorError, UsageError
from tenant_migrator.planning import (
    SNAPSHOT_COLUMNS,
    Change,
    CurrentRow,
    ImportState,
    Plan,
    TenantPlan,
    build_plan,
    diff_snapshots,
    nul_pointer,
)
from tenant_migrator.record import CONFIG_SOURCE, OWNED_COLUMNS, TenantRecord

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.database import Target
    from tenant_migrator.migrations import Migration
    from tenant_migrator.pipeline import LoadResult
    from tenant_migrator.settings import Settings

TENANTS = "tenants"  # unqualified, exactly as migrations 011/012 create it
# Every column an import writes on each update, in this order.
WRITTEN_COLUMNS: tuple[str, ...] = (*OWNED_COLUMNS, "tenant_config", "config_source")
RUNS = "tenant_migrator.import_runs"
RUN_TENANTS = "tenant_migrator.import_run_tenants"


def snapshot_sql(alias: str) -> str:
    """The jsonb object the drift hash covers, built from row ``alias``."""
    pairs = ", ".join(f"'{c}', {alias}.{c}" for c in SNAPSHOT_COLUMNS)
    return f"jsonb_build_object({pairs}, 'tenant_config', {alias}.tenant_config)"


def hash_sql(alias: str) -> str:
    return f"md5({snapshot_sql(alias)}::text)"


# --- what exists ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schema:
    """What the database has so far (a plan must work before 011/012/013 are applied)."""

    tenants: bool
    columns: frozenset[str]
    history: bool
    has_rows: bool = True

    @property
    def complete(self) -> bool:
        needed = {*SNAPSHOT_COLUMNS, "tenant_config"}
        return self.tenants and needed <= self.columns


async def read_schema(conn: asyncpg.Connection) -> Schema:
    row = await conn.fetchrow(
        """
        SELECT to_regclass($1) IS NOT NULL AS tenants,
               to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL AS history,
               coalesce((SELECT array_agg(attname::text) FROM pg_attribute
                         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped),
                        '{}') AS columns
        """,
        TENANTS,
        RUNS,
        RUN_TENANTS,
    )
    has_rows = row["tenants"] and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {TENANTS})")
    return Schema(row["tenants"], frozenset(row["columns"]), row["history"], has_rows)


# --- reading rows -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payload:
    """One record as the database receives it: owned columns as text, and
    tenant_config serialized once (for the comparison in ``read_rows`` and the COPY)."""

    columns: tuple[str | None, ...]
    config: str


def payloads(load_result: LoadResult) -> dict[str, Payload]:
    """Payloads of every valid record in ``load_result``, by tenant id.

    A record holding a NUL character is left out: jsonb cannot parse it, so it
    would fail the comparison query for everyone; the plan marks it invalid.
    """
    out = {}
    for result in load_result.results:
        if result.record is not None:
            payload = payload_of(result.record)
            if "\\u0000" in payload.config and nul_pointer(result.record.tenant_config):
                continue
            out[result.record.id] = payload
    return out


def payload_of(record: TenantRecord) -> Payload:
    return Payload(
        tuple(_column_text(getattr(record, c)) for c in OWNED_COLUMNS),
        # The record keeps exactly this text (record.config_json): decoding it to
        # encode it again cost 0.375 s at 10,000 tenants.
        record.config_json,
    )


def _column_text(value: Any) -> str | None:
    return None if value is None else str(value)


@functools.cache
def _rows_sql(schema: Schema, where: str) -> str:
    proposed = ", ".join(
        [f"r.{c}" for c in OWNED_COLUMNS] + ["r.tenant_config::jsonb", f"'{CONFIG_SOURCE}'"]
    )
    # The database compares each row with its record (jsonb equality: what the
    # write's IS DISTINCT FROM will see), and only rows that differ come back
    # whole: a 10,000-tenant plan with 1 % changed ships and parses 100 documents,
    # not 10,000. The OFFSET 0 fences stop PostgreSQL from inlining the
    # subqueries, which would evaluate each expression once per use.
    baseline = (
        f"""
        LEFT JOIN LATERAL (
            SELECT h.baseline_run, h.baseline_hash FROM {RUN_TENANTS} h
            WHERE h.tenant_id = c.id AND NOT c.same ORDER BY h.run_id DESC LIMIT 1
        ) b ON true"""
        if schema.history
        else " CROSS JOIN (SELECT NULL::bigint AS baseline_run, NULL::text AS baseline_hash) b"
    )
    baseline_values = (
        f"""CASE WHEN b.baseline_hash IS DISTINCT FROM md5(c.snap) THEN
                   (SELECT w.written::text FROM {RUN_TENANTS} w
                    WHERE w.run_id = b.baseline_run AND w.tenant_id = c.id)
               END"""
        if schema.history
        else "NULL"
    )
    unnest = ", ".join(f"${i}::text[]" for i in range(1, len(OWNED_COLUMNS) + 3))
    return f"""
        WITH r AS (
            SELECT * FROM unnest({unnest}) AS r(id, {", ".join(OWNED_COLUMNS)}, tenant_config)
        )
        SELECT c.id, c.same, c.snap, md5(c.snap) AS hash, b.baseline_run, b.baseline_hash,
               {baseline_values} AS baseline
        FROM (
            SELECT x.id, x.same,
                   CASE WHEN x.same THEN NULL ELSE {snapshot_sql("x")}::text END AS snap
            FROM (
                SELECT t.id, {", ".join(f"t.{c}" for c in WRITTEN_COLUMNS)},
                       r.id IS NOT NULL
                       AND ({", ".join(f"t.{c}" for c in WRITTEN_COLUMNS)}) IS NOT DISTINCT FROM
                           ({proposed}) AS same
                FROM {TENANTS} t LEFT JOIN r ON r.id = t.id
                {where}
                OFFSET 0
            ) x
            OFFSET 0
        ) c{baseline}
        """


async def read_rows(
    conn: asyncpg.Connection,
    schema: Schema,
    only: Sequence[str] | None = None,
    proposed: Mapping[str, Payload] | None = None,
) -> tuple[dict[str, CurrentRow], dict[str, ImportState]]:
    """The selected rows (all when ``only`` is None) and their import state, in one query.

    Rows equal to their ``proposed`` payload come back as ``matches`` without
    their values; the others with their values and drift hash.
    """
    if not schema.tenants:
        return {}, {}
    if not schema.complete:
        return await _read_partial_rows(conn, schema, only), {}

    proposed = proposed or {}
    ids = list(proposed)
    arrays = [ids, *([p.columns[i] for p in proposed.values()] for i in range(len(OWNED_COLUMNS)))]
    arrays.append([p.config for p in proposed.values()])
    where = ""
    if only is not None:
        arrays.append(list(only))
        where = f"WHERE t.id = ANY(${len(arrays)}::text[])"
    rows = await conn.fetch(_rows_sql(schema, where), *arrays)

    current: dict[str, CurrentRow] = {}
    states: dict[str, ImportState] = {}
    for r in rows:
        if r["same"]:
            current[r["id"]] = CurrentRow(r["id"], None, None, matches=True)
            continue
        current[r["id"]] = CurrentRow(r["id"], json.loads(r["snap"]), r["hash"])
        if r["baseline_hash"] is not None:
            baseline = json.loads(r["baseline"]) if r["baseline"] else None
            states[r["id"]] = ImportState(r["baseline_run"], r["baseline_hash"], baseline)
    return current, states


async def _read_partial_rows(
    conn: asyncpg.Connection, schema: Schema, only: Sequence[str] | None
) -> dict[str, CurrentRow]:
    # Before 012: read what is there; missing columns read as NULL, and no hash
    # (nothing can have been imported by this tool yet).
    where = "WHERE t.id = ANY($1::text[])" if only is not None else ""
    select = ", ".join(
        f"'{c}', t.{c}" if c in schema.columns else f"'{c}', NULL"
        for c in (*SNAPSHOT_COLUMNS, "tenant_config")
    )
    rows = await conn.fetch(
        f"SELECT t.id, jsonb_build_object({select})::text AS snap FROM {TENANTS} t {where}",
        *([list(only)] if only is not None else []),
    )
    return {r["id"]: CurrentRow(r["id"], json.loads(r["snap"]), None) for r in rows}


async def read_orphans(
    conn: asyncpg.Connection, schema: Schema, loaded: Sequence[str]
) -> list[CurrentRow]:
    """Rows whose id is not in ``loaded``, each with its config_source (the only
    part of the snapshot an orphan's plan reads) and drift hash."""
    if not schema.complete:
        known = set(loaded)
        partial = await _read_partial_rows(conn, schema, None)
        return [row for tenant_id, row in sorted(partial.items()) if tenant_id not in known]
    rows = await conn.fetch(
        f"""
        SELECT t.id, t.config_source, {hash_sql("t")} AS hash
        FROM {TENANTS} t LEFT JOIN unnest($1::text[]) AS l(id) ON l.id = t.id
        WHERE l.id IS NULL
        ORDER BY t.id
        """,
        list(loaded),
    )
    return [CurrentRow(r["id"], {"config_source": r["config_source"]}, r["hash"]) for r in rows]


async def make_plan(
    conn: asyncpg.Connection,
    load_result: LoadResult,
    only: Sequence[str] | None,
    pending: Sequence[str] = (),
    *,
    force: bool = False,
    proposed: Mapping[str, Payload] | None = None,
) -> Plan:
    """Read the rows and build the plan. ``proposed``: ``payloads(load_result)`` when
    the caller has it already (import reuses it for the COPY)."""
    schema = await read_schema(conn)
    if proposed is None:
        # An empty table has nothing to compare with: skip serializing (plan only).
        proposed = payloads(load_result) if schema.has_rows else {}
    rows, states = await read_rows(conn, schema, only, proposed) if schema.has_rows else ({}, {})
    return build_plan(load_result, rows, states, pending, force=force, serialized=configs(proposed))


def configs(proposed: Mapping[str, Payload]) -> dict[str, str]:
    return {tenant_id: p.config for tenant_id, p in proposed.items()}


# --- entry points -----------------------------------------------------------------------


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[tuple[asyncpg.Connection, Target]]:
    from tenant_migrator import database

    target = database.resolve_target(settings)
    async with database.connection(target) as conn, database_errors(target):
        yield conn, target


def database_errors(target: Target) -> AbstractAsyncContextManager[None]:
    """A server error as one clear line; the transaction was rolled back."""
    from tenant_migrator import database

    return database.server_errors(
        target, outcome="nothing was written (the transaction was rolled back)"
    )


def migration_files(settings: Settings) -> tuple[Migration, ...]:
    from tenant_migrator import migrations

    return migrations.load_project_migrations(settings.project_dir)


async def plan(
    settings: Settings,
    load_result: LoadResult,
    only: Sequence[str] | None,
    *,
    force: bool = False,
) -> Plan:
    """The plan for ``load_result``: reads only, in one read-only transaction.
    ``force``: plan blocked tenants as the updates ``import --force`` would make."""
    from tenant_migrator import migrations

    files = migration_files(settings)
    async with (
        connected(settings) as (conn, _),
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        pending = [m.label for m in await migrations.pending(conn, files)]
        return await make_plan(conn, load_result, only, pending, force=force)


# --- runs -------------------------------------------------------------------------------


async def start_run(
    conn: asyncpg.Connection,
    command: str,
    started_at: datetime,
    *,
    forced: bool = False,
    rollback_of: int | None = None,
) -> int:
    from tenant_migrator import migrations

    return await conn.fetchval(
        f"""
        INSERT INTO {RUNS} (command, started_at, os_user, hostname, forced, rollback_of)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
        """,
        command,
        started_at,
        migrations.os_user(),
        socket.gethostname(),
        forced,
        rollback_of,
    )


async def finish_run(
    conn: asyncpg.Connection,
    run_id: int,
    summary: Mapping[str, Any],
    *,
    forced: bool | None = None,
) -> None:
    """``forced``: whether the run overwrote database edits, when only known at the end."""
    # The client's clock, like started_at: a run's duration must not depend on
    # the skew between this machine and the server.
    await conn.execute(
        f"""
        UPDATE {RUNS} SET finished_at = $3, summary = $2::text::jsonb,
                          forced = coalesce($4, forced)
        WHERE id = $1
        """,
        run_id,
        json.dumps(summary),
        datetime.now().astimezone(),
        forced,
    )


# --- writing ----------------------------------------------------------------------------

_INCOMING_COLUMNS = ("id", *OWNED_COLUMNS, "tenant_config", "expected_hash")


@functools.cache
def _write_sql() -> str:
    """The upsert of everything in ``tm_incoming``, and its history rows ($1: the run)."""
    assign = ",\n            ".join(f"{c} = excluded.{c}" for c in WRITTEN_COLUMNS)
    current = ", ".join(f"t.{c}" for c in WRITTEN_COLUMNS)
    proposed = ", ".join(f"excluded.{c}" for c in WRITTEN_COLUMNS)
    return f"""
    WITH prev AS (
        -- A subquery per incoming row, not a join: the planner, misled by the
        -- statistics of a table that was empty when the run began, would walk
        -- every row of tenants at each flush to find the few hundred incoming ones.
        SELECT i.id, (SELECT to_jsonb(t) FROM {TENANTS} t WHERE t.id = i.id) AS previous
        FROM tm_incoming i
    ), w AS (
        INSERT INTO {TENANTS} AS t
            (id, {", ".join(OWNED_COLUMNS)}, tenant_config, config_source,
             admin_email, support_email)
        SELECT i.id, {", ".join(f"i.{c}" for c in OWNED_COLUMNS)}, i.tenant_config::jsonb,
               '{CONFIG_SOURCE}', i.primary_email, i.primary_email
        FROM tm_incoming i
        ORDER BY i.id  -- one lock order for every writer: no deadlocks
        ON CONFLICT (id) DO UPDATE SET
            {assign}
        WHERE ({current}) IS DISTINCT FROM ({proposed})
          -- The row must still be the one we planned against.
          AND {hash_sql("t")} IS NOT DISTINCT FROM
              (SELECT i.expected_hash FROM tm_incoming i WHERE i.id = excluded.id)
        RETURNING t.id, (t.xmax = 0) AS inserted, {snapshot_sql("t")} AS written
    ), h AS (
        SELECT w.id, CASE WHEN w.inserted THEN 'create' ELSE 'update' END AS action,
               prev.previous, w.written, md5(w.written::text) AS hash
        FROM w LEFT JOIN prev ON prev.id = w.id
    )
    INSERT INTO {RUN_TENANTS}
        (run_id, tenant_id, action, previous, written, new_hash, baseline_run, baseline_hash)
    SELECT $1, id, action, previous, written, hash, $1, hash FROM h
    RETURNING tenant_id, action
    """


# Rows per upsert statement. Each statement costs ~10 ms on top of its rows (the
# temp table emptied, the statement planned again, the round trips), so batches
# of 100 rows spent 1.3 s more of the server's time on 10,000 tenants than one
# statement; larger ones leave a longer last write that overlaps nothing.
FLUSH_ROWS = 500


class PlanWriter:
    """Writes planned creates and updates, and their history, a batch at a time,
    inside the caller's transaction (the one that holds the lock and made the plan).

    Batches are COPYed into the temp table ``tm_incoming`` as they come, and every
    ``FLUSH_ROWS`` ONE set-based statement upserts them and records, for each row
    written, the values it replaced and the hash of what it wrote; then the table
    is emptied. The run row is created by ``start_run`` at the first write: a run
    that writes nothing records nothing. Tenants that may still turn out invalid
    once every file is read can wait in ``tm_deferred`` (``defer``) until
    ``write_deferred``.
    """

    def __init__(
        self,
        conn: asyncpg.Connection,
        start_run: Callable[[], Awaitable[int]],
    ) -> None:
        self.conn = conn
        self.run_id: int | None = None
        self.written: dict[str, str] = {}  # tenant → create/update
        self._start_run = start_run
        self._started = False
        self._staged = 0

    async def _start(self) -> None:
        # tm_incoming holds each document for a moment only: compressing it (pglz,
        # where the server has no lz4: the embedded one) is wasted work. Rows up to
        # a page stay inline, uncompressed.
        if self._started:
            return
        self._started = True
        await _prefer_lz4(self.conn)
        await self.conn.execute(
            """
            CREATE TEMP TABLE tm_incoming (
                id text PRIMARY KEY, name text, short_name text, timezone text, currency text,
                primary_email text, gcp_project_id text, gcp_dataset text,
                tenant_config text, expected_hash text
            ) WITH (toast_tuple_target = 8160) ON COMMIT DROP;
            ALTER TABLE tm_incoming ALTER COLUMN tenant_config SET STORAGE EXTERNAL;
            CREATE TEMP TABLE tm_deferred (LIKE tm_incoming INCLUDING INDEXES INCLUDING STORAGE)
                WITH (toast_tuple_target = 8160) ON COMMIT DROP;
            """
        )

    async def add(
        self,
        todo: Sequence[TenantPlan],
        proposed: Mapping[str, Payload] | None = None,
        *,
        flush: bool = False,
    ) -> None:
        """Stage ``todo`` (creates and updates) for writing; writes once
        ``FLUSH_ROWS`` are staged, or at once with ``flush``. ``proposed``: the
        payloads the plan was made with (saves serializing again).

        Raises ``DriftError`` when a row changed since it was planned: the caller's
        transaction must then roll back (all or nothing).
        """
        if not todo:
            return
        await self._start()
        await self._copy("tm_incoming", todo, proposed or {})
        self._staged += len(todo)
        if flush or self._staged >= FLUSH_ROWS:
            await self.flush()

    async def flush(self) -> None:
        """Write everything staged."""
        if self._staged:
            staged, self._staged = self._staged, 0
            await self._write_incoming(staged)

    async def defer(
        self, todo: Sequence[TenantPlan], proposed: Mapping[str, Payload] | None = None
    ) -> None:
        """Keep ``todo`` aside (in the database, not in memory) for ``write_deferred``."""
        if todo:
            await self._start()
            await self._copy("tm_deferred", todo, proposed or {})

    async def write_deferred(self, leave_out: Iterable[str] = ()) -> None:
        """Write what ``defer`` kept, except the tenants in ``leave_out``, and
        everything still staged."""
        await self.flush()
        if not self._started:
            return
        count = await self.conn.fetchval(
            """
            WITH moved AS (
                INSERT INTO tm_incoming SELECT * FROM tm_deferred
                WHERE NOT (id = ANY($1::text[])) RETURNING 1
            ) SELECT count(*) FROM moved
            """,
            list(leave_out),
        )
        await self.conn.execute("TRUNCATE tm_deferred")
        self._staged = count
        await self.flush()

    async def _copy(
        self, table: str, todo: Sequence[TenantPlan], proposed: Mapping[str, Payload]
    ) -> None:
        await self.conn.copy_records_to_table(
            table, records=_incoming_records(todo, proposed), columns=list(_INCOMING_COLUMNS)
        )

    async def _write_incoming(self, expected: int) -> None:
        if self.run_id is None:
            self.run_id = await self._start_run()
        rows = await self.conn.fetch(_write_sql(), self.run_id)
        if len(rows) != expected:
            ids = {r["tenant_id"] for r in rows}
            planned = {r["id"] for r in await self.conn.fetch("SELECT id FROM tm_incoming")}
            missing = sorted(planned - ids)
            # Raising rolls the whole transaction back: all or nothing.
            raise DriftError(
                f"{len(missing)} tenant(s) changed in the database while this run was "
                f"writing: {', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}; "
                "nothing was written. Run the command again to see the new plan."
            )
        # A new file for the next batch; emptying it with DELETE would leave every
        # batch's dead rows for the next one's scans to wade through.
        await self.conn.execute("TRUNCATE tm_incoming")
        self.written.update((r["tenant_id"], r["action"]) for r in rows)


async def write_plan(
    conn: asyncpg.Connection,
    the_plan: Plan,
    run_id: int,
    proposed: Mapping[str, Payload] | None = None,
) -> dict[str, str]:
    """Write the plan's creates and updates and their history (run ``run_id``) in
    one go. Call inside the transaction that holds the lock and built the plan.
    Returns tenant → action.
    """

    async def the_run() -> int:
        return run_id

    writer = PlanWriter(conn, the_run)
    await writer.add(the_plan.to_write, proposed)
    await writer.flush()
    return writer.written


async def _prefer_lz4(conn: asyncpg.Connection) -> None:
    # tenant_config and the history's copies are TOASTed (2-4 KB each); lz4
    # compresses them several times faster than the default pglz (measured: a
    # 10,000-tenant write 0.7-1 s faster). Only for this transaction, and only where
    # the server was built with lz4 (PostgreSQL 14+; pg_settings lists it).
    available = await conn.fetchval(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    if available:
        await conn.execute("SET LOCAL default_toast_compression = 'lz4'")


def _incoming_records(
    todo: Iterable[TenantPlan], proposed: Mapping[str, Payload]
) -> Iterable[tuple]:
    for tenant in todo:
        payload = proposed.get(tenant.id) or payload_of(tenant.record)
        yield (tenant.id, *payload.columns, payload.config, tenant.expected_hash)


# --- history ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    command: str
    started_at: datetime
    finished_at: datetime
    db_user: str
    os_user: str | None
    hostname: str | None
    forced: bool
    rollback_of: int | None
    rolled_back_by: tuple[int, ...]
    summary: Mapping[str, Any]
    tenants: int  # how many tenants the run wrote
    tenant_action: str | None = None  # with a TENANT filter: what the run did to it

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "db_user": self.db_user,
            "os_user": self.os_user,
            "hostname": self.hostname,
            "forced": self.forced,
            "rollback_of": self.rollback_of,
            "rolled_back_by": list(self.rolled_back_by),
            "tenants": self.tenants,
            "tenant_action": self.tenant_action,
            "summary": dict(self.summary),
        }


async def list_runs(
    settings: Settings, tenant: str | None = None, limit: int = 50
) -> list[RunInfo] | None:
    """Newest first; None when the history tables do not exist yet (013 not applied)."""
    async with connected(settings) as (conn, _), conn.transaction(readonly=True):
        if not (await read_schema(conn)).history:
            return None
        rows = await conn.fetch(
            f"""
                SELECT r.*, r.summary::text AS summary_text,
                       (SELECT count(*) FROM {RUN_TENANTS} h WHERE h.run_id = r.id) AS tenants,
                       (SELECT h.action FROM {RUN_TENANTS} h
                        WHERE h.run_id = r.id AND h.tenant_id = $1) AS tenant_action,
                       ARRAY(SELECT rb.id FROM {RUNS} rb WHERE rb.rollback_of = r.id
                             ORDER BY rb.id) AS rolled_back_by
                FROM {RUNS} r
                WHERE $1::text IS NULL OR EXISTS (
                    SELECT 1 FROM {RUN_TENANTS} h WHERE h.run_id = r.id AND h.tenant_id = $1)
                ORDER BY r.id DESC
                LIMIT $2
                """,
            tenant,
            limit,
        )
    return [
        RunInfo(
            id=r["id"],
            command=r["command"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            db_user=r["db_user"],
            os_user=r["os_user"],
            hostname=r["hostname"],
            forced=r["forced"],
            rollback_of=r["rollback_of"],
            rolled_back_by=tuple(r["rolled_back_by"]),
            summary=json.loads(r["summary_text"]),
            tenants=r["tenants"],
            tenant_action=r["tenant_action"],
        )
        for r in rows
    ]


# --- rollback ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollbackEntry:
    """What rolling back one tenant of a run does."""

    tenant_id: str
    action: str  # "restore", "delete" (the run created it) or "recreate" (row gone since)
    changes: tuple[Change, ...]  # current row → restored row (owned values only)
    changed_since: str | None = None  # why the row is not as the run left it, if it is not


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    run_id: int
    entries: tuple[RollbackEntry, ...]
    new_run_id: int | None = None  # None for a dry run
    dry_run: bool = False


async def rollback(
    settings: Settings, run_id: int, *, force: bool = False, dry_run: bool = False
) -> RollbackOutcome:
    """Restore exactly what run ``run_id`` replaced: previous values back, rows it
    created deleted. Refuses when those rows changed since the run, unless ``force``.
    The rollback is itself a recorded run (so it can be rolled back in turn)."""
    from tenant_migrator import migrations

    started_at = datetime.now().astimezone()
    async with connected(settings) as (conn, _), conn.transaction():
        await migrations.lock(conn)
        schema = await read_schema(conn)
        if not schema.history or not schema.complete:
            raise MigratorError("no run history in this database (migration 013 is not applied)")
        run = await conn.fetchrow(f"SELECT id, command FROM {RUNS} WHERE id = $1", run_id)
        if run is None:
            raise UsageError(f"no run {run_id}; `tenant-migrator history` lists the runs")
        entries = await _rollback_entries(conn, run_id)
        changed = [e for e in entries if e.changed_since]
        if changed and not force and not dry_run:
            raise DriftError(
                f"cannot roll back run {run_id}: {len(changed)} tenant(s) changed since:\n"
                + "\n".join(f"  {e.tenant_id}: {e.changed_since}" for e in changed)
                + "\nNothing was written. Pass --force to restore run "
                f"{run_id}'s previous values over those changes."
            )
        if dry_run:
            return RollbackOutcome(run_id, entries, dry_run=True)
        new_run = await start_run(
            conn, "rollback", started_at, forced=bool(changed), rollback_of=run_id
        )
        done = await _apply_rollback(conn, run_id, new_run)
        await finish_run(
            conn,
            new_run,
            {
                "rollback_of": run_id,
                "restored": sum(1 for a in done.values() if a == "update"),
                "deleted": sum(1 for a in done.values() if a == "delete"),
                "recreated": sum(1 for a in done.values() if a == "create"),
                "forced_over": [e.tenant_id for e in changed],
                "tool_version": __version__,
            },
        )
    return RollbackOutcome(run_id, entries, new_run_id=new_run)


async def _rollback_entries(conn: asyncpg.Connection, run_id: int) -> tuple[RollbackEntry, ...]:
    rows = await conn.fetch(
        f"""
        SELECT h.tenant_id, h.action, h.new_hash,
               h.previous IS NULL AS created,
               (SELECT {snapshot_sql("p")}::text
                FROM jsonb_populate_record(NULL::{TENANTS}, h.previous) p) AS previous_snap,
               cur.snap AS current_snap, md5(cur.snap) AS current_hash,
               (SELECT max(l.run_id) FROM {RUN_TENANTS} l
                WHERE l.tenant_id = h.tenant_id AND l.run_id > h.run_id) AS later_run
        FROM {RUN_TENANTS} h
        LEFT JOIN LATERAL (
            SELECT {snapshot_sql("t")}::text AS snap FROM {TENANTS} t WHERE t.id = h.tenant_id
        ) cur ON true
        WHERE h.run_id = $1
        ORDER BY h.tenant_id
        """,
        run_id,
    )
    entries = []
    for r in rows:
        current = json.loads(r["current_snap"]) if r["current_snap"] else None
        previous = json.loads(r["previous_snap"]) if r["previous_snap"] else None
        changed_since = None
        if r["current_hash"] != r["new_hash"]:
            if r["later_run"] is not None:
                changed_since = f"written again by run {r['later_run']}"
            elif current is None:
                changed_since = "deleted from the table"
            else:
                changed_since = "edited in the database"
        if r["created"]:
            action = "delete"
            changes = diff_snapshots(current, {}) if current else ()
        elif current is None:
            action = "recreate"
            changes = diff_snapshots({}, previous)
        else:
            action = "restore"
            changes = diff_snapshots(current, previous)
        entries.append(RollbackEntry(r["tenant_id"], action, changes, changed_since))
    return tuple(entries)


async def _apply_rollback(conn: asyncpg.Connection, run_id: int, new_run: int) -> dict[str, str]:
    assign = ", ".join(f"{c} = src.{c}" for c in WRITTEN_COLUMNS)
    await conn.execute(
        "CREATE TEMP TABLE tm_done (tenant_id text PRIMARY KEY, action text, previous jsonb, "
        "written jsonb) ON COMMIT DROP"
    )
    # Rows the run created: delete them (that is what "before the run" was).
    await conn.execute(
        f"""
        WITH d AS (
            DELETE FROM {TENANTS} t USING {RUN_TENANTS} h
            WHERE h.run_id = $1 AND h.previous IS NULL AND t.id = h.tenant_id
            RETURNING t.id, to_jsonb(t) AS previous
        )
        INSERT INTO tm_done SELECT id, 'delete', previous, NULL FROM d
        """,
        run_id,
    )
    # Rows the run changed: put back the owned values it replaced. Columns the tool
    # does not own (status, plan, quotas …) keep whatever they are now.
    await conn.execute(
        f"""
        WITH src AS (
            SELECT p.* FROM {RUN_TENANTS} h,
                 LATERAL jsonb_populate_record(NULL::{TENANTS}, h.previous) p
            WHERE h.run_id = $1 AND h.previous IS NOT NULL
        ), old AS (
            SELECT t.id, to_jsonb(t) AS previous FROM {TENANTS} t JOIN src ON src.id = t.id
        ), u AS (
            UPDATE {TENANTS} t SET {assign} FROM src WHERE t.id = src.id
            RETURNING t.id, {snapshot_sql("t")} AS written
        )
        INSERT INTO tm_done SELECT u.id, 'update', old.previous, u.written
        FROM u JOIN old ON old.id = u.id
        """,
        run_id,
    )
    # Rows the run changed that are gone now (deleted since; only with --force):
    # the whole previous row comes back.
    await conn.execute(
        f"""
        WITH i AS (
            INSERT INTO {TENANTS}
            SELECT p.* FROM {RUN_TENANTS} h,
                 LATERAL jsonb_populate_record(NULL::{TENANTS}, h.previous) p
            WHERE h.run_id = $1 AND h.previous IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {TENANTS} t WHERE t.id = h.tenant_id)
            RETURNING {TENANTS}.id, {snapshot_sql(TENANTS)} AS written
        )
        INSERT INTO tm_done SELECT id, 'create', NULL, written FROM i
        """,
        run_id,
    )
    # The drift baseline goes back to what it was before the rolled-back run, so
    # a row that was blocked then is blocked again.
    rows = await conn.fetch(
        f"""
        INSERT INTO {RUN_TENANTS}
            (run_id, tenant_id, action, previous, written, new_hash, baseline_run, baseline_hash)
        SELECT $2, d.tenant_id, d.action, d.previous, d.written, md5(d.written::text),
               prior.baseline_run, prior.baseline_hash
        FROM tm_done d
        LEFT JOIN LATERAL (
            SELECT p.baseline_run, p.baseline_hash FROM {RUN_TENANTS} p
            WHERE p.tenant_id = d.tenant_id AND p.run_id < $1
            ORDER BY p.run_id DESC LIMIT 1
        ) prior ON true
        RETURNING tenant_id, action
        """,
        run_id,
        new_run,
    )
    return {r["tenant_id"]: r["action"] for r in rows}


# --- export -----------------------------------------------------------------------------


async def read_snapshot(settings: Settings, tenant_id: str) -> dict[str, Any]:
    """One tenant's owned columns and tenant_config, for export."""
    import difflib

    async with connected(settings) as (conn, _), conn.transaction(readonly=True):
        schema = await read_schema(conn)
        if not schema.complete:
            raise MigratorError(
                "the tenants table has no tenant_config yet (migration 012 is not applied); "
                "nothing to export"
            )
        rows, _states = await read_rows(conn, schema, [tenant_id])
        if tenant_id in rows:
            return dict(rows[tenant_id].snapshot)
        ids = [r["id"] for r in await conn.fetch(f"SELECT id FROM {TENANTS}")]
    close = difflib.get_close_matches(tenant_id, ids, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"no tenant {tenant_id!r} in the tenants table{hint}")
