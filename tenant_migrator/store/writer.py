"""Writing planned tenants batch by batch (``PlanWriter``), with their history.

Inside the caller's one transaction under the tool's advisory lock (the one
``migrate`` takes, so imports also serialize with migrations), where the rows were
read and the plan made. Planned tenants are COPYed into a temp table as their
batches come, and every few hundred rows ONE set-based ``INSERT … ON CONFLICT …
DO UPDATE … WHERE … IS DISTINCT FROM`` writes them and, in the same statement,
their history rows; it refuses any row whose hash is no longer the one planned
against (someone edited it between our read and our write), which aborts the run.
Nothing is written per tenant. The batching itself (what is planned when, and when
a run must roll back) is ``streaming.py``'s.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tenant_migrator.errors import DriftError
from tenant_migrator.literal_scan import LiteralFinding, scrub_row
from tenant_migrator.planning import Plan, TenantPlan
from tenant_migrator.record import CONFIG_SOURCE, OWNED_COLUMNS
from tenant_migrator.store.rows import Payload, payload_of
from tenant_migrator.store.tables import (
    RUN_TENANTS,
    TENANTS,
    WRITTEN_COLUMNS,
    RowAction,
    hash_sql,
    snapshot_sql,
)

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.secretrefs import SecretRule

# What the COPY sends per planned tenant, in this order: every column is text.
INCOMING_COLUMNS: tuple[str, ...] = ("id", *OWNED_COLUMNS, "tenant_config", "expected_hash")


def _temp_tables_sql() -> str:
    # tm_incoming holds each document for a moment only: compressing it (pglz,
    # where the server has no lz4: the embedded one) is wasted work. Rows up to
    # a page stay inline, uncompressed.
    columns = ", ".join(
        f"{c} text PRIMARY KEY" if c == "id" else f"{c} text" for c in INCOMING_COLUMNS
    )
    return f"""
        CREATE TEMP TABLE tm_incoming ({columns})
            WITH (toast_tuple_target = 8160) ON COMMIT DROP;
        ALTER TABLE tm_incoming ALTER COLUMN tenant_config SET STORAGE EXTERNAL;
        CREATE TEMP TABLE tm_deferred (LIKE tm_incoming INCLUDING INDEXES INCLUDING STORAGE)
            WITH (toast_tuple_target = 8160) ON COMMIT DROP;
        CREATE TEMP TABLE tm_patch (id text PRIMARY KEY, patch jsonb) ON COMMIT DROP;
        """


# The staging tables, generated from INCOMING_COLUMNS (one list, not two copies).
CREATE_TEMP_TABLES_SQL = _temp_tables_sql()


def _write_sql(patched: bool) -> str:
    """The upsert of everything in ``tm_incoming``, and its history rows ($1: the run).

    ``patched``: the previous values recorded in history are the row's with
    ``tm_patch``'s keys over it (the literal secrets ``scrub_row`` found there,
    replaced by what extraction makes of them): a literal never reaches history.
    """
    previous = f"(SELECT to_jsonb(t) FROM {TENANTS} t WHERE t.id = i.id)"
    if patched:
        previous += " || coalesce((SELECT p.patch FROM tm_patch p WHERE p.id = i.id), '{}')"
    assign = ",\n            ".join(f"{c} = excluded.{c}" for c in WRITTEN_COLUMNS)
    current = ", ".join(f"t.{c}" for c in WRITTEN_COLUMNS)
    proposed = ", ".join(f"excluded.{c}" for c in WRITTEN_COLUMNS)
    return f"""
    WITH prev AS (
        -- A subquery per incoming row, not a join: the planner, misled by the
        -- statistics of a table that was empty when the run began, would walk
        -- every row of tenants at each flush to find the few hundred incoming ones.
        SELECT i.id, {previous} AS previous
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
        SELECT w.id,
               CASE WHEN w.inserted THEN '{RowAction.CREATE}' ELSE '{RowAction.UPDATE}' END
                   AS action,
               prev.previous, w.written, md5(w.written::text) AS hash
        FROM w LEFT JOIN prev ON prev.id = w.id
    )
    INSERT INTO {RUN_TENANTS}
        (run_id, tenant_id, action, previous, written, new_hash, baseline_run, baseline_hash)
    SELECT $1, id, action, previous, written, hash, $1, hash FROM h
    RETURNING tenant_id, action
    """


WRITE_SQL = _write_sql(patched=False)
WRITE_PATCHED_SQL = _write_sql(patched=True)

# The current values of the staged rows that exist (updates), to look for literal
# secrets before they become history. A subquery per row, as in the upsert.
STAGED_PREVIOUS_SQL = f"""
    SELECT i.id, (SELECT to_jsonb(t)::text FROM {TENANTS} t WHERE t.id = i.id) AS previous
    FROM tm_incoming i
    WHERE i.expected_hash IS NOT NULL
    """
TRUNCATE_PATCH_SQL = "TRUNCATE tm_patch"

# $1: the tenants left out (shared-secret conflicts).
MOVE_DEFERRED_SQL = """
    WITH moved AS (
        INSERT INTO tm_incoming SELECT * FROM tm_deferred
        WHERE NOT (id = ANY($1::text[])) RETURNING 1
    ) SELECT count(*) FROM moved
    """
STAGED_IDS_SQL = "SELECT id FROM tm_incoming"
TRUNCATE_INCOMING_SQL = "TRUNCATE tm_incoming"
TRUNCATE_DEFERRED_SQL = "TRUNCATE tm_deferred"
HAS_LZ4_SQL = (
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)
PREFER_LZ4_SQL = "SET LOCAL default_toast_compression = 'lz4'"

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
        rules: Mapping[str, SecretRule] | None = None,
    ) -> None:
        self.conn = conn
        self.run_id: int | None = None
        self.written: dict[str, str] = {}  # tenant → create/update
        # Literal secrets found in rows this run replaced: history got their
        # references instead (the report names each; never a value).
        self.scrubbed: list[LiteralFinding] = []
        self._rules = rules  # the schema's x-secret rules (None: the baseline ones)
        self._start_run = start_run
        self._started = False
        self._staged = 0
        # Staged (or deferred) tenants planned against an existing row: only those
        # have previous values to look at. Creates skip the look entirely.
        self._staged_existing = 0
        self._deferred_existing = 0

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        await _prefer_lz4(self.conn)
        await self.conn.execute(CREATE_TEMP_TABLES_SQL)

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
        self._staged_existing += _existing(todo)
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
            self._deferred_existing += _existing(todo)

    async def write_deferred(self, leave_out: Iterable[str] = ()) -> None:
        """Write what ``defer`` kept, except the tenants in ``leave_out``, and
        everything still staged."""
        await self.flush()
        if not self._started:
            return
        count = await self.conn.fetchval(MOVE_DEFERRED_SQL, list(leave_out))
        await self.conn.execute(TRUNCATE_DEFERRED_SQL)
        self._staged = count
        self._staged_existing, self._deferred_existing = self._deferred_existing, 0
        await self.flush()

    async def _copy(
        self, table: str, todo: Sequence[TenantPlan], proposed: Mapping[str, Payload]
    ) -> None:
        await self.conn.copy_records_to_table(
            table, records=_incoming_records(todo, proposed), columns=list(INCOMING_COLUMNS)
        )

    async def _write_incoming(self, expected: int) -> None:
        if self.run_id is None:
            self.run_id = await self._start_run()
        patched = await self._scrub_previous() if self._staged_existing else False
        self._staged_existing = 0
        rows = await self.conn.fetch(WRITE_PATCHED_SQL if patched else WRITE_SQL, self.run_id)
        if len(rows) != expected:
            ids = {r["tenant_id"] for r in rows}
            planned = {r["id"] for r in await self.conn.fetch(STAGED_IDS_SQL)}
            missing = sorted(planned - ids)
            # Raising rolls the whole transaction back: all or nothing.
            raise DriftError(
                f"{len(missing)} tenant(s) changed in the database while this run was "
                f"writing: {', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}; "
                "nothing was written. Run the command again to see the new plan."
            )
        # A new file for the next batch; emptying it with DELETE would leave every
        # batch's dead rows for the next one's scans to wade through.
        await self.conn.execute(TRUNCATE_INCOMING_SQL)
        if patched:
            await self.conn.execute(TRUNCATE_PATCH_SQL)
        self.written.update((r["tenant_id"], r["action"]) for r in rows)

    async def _scrub_previous(self) -> bool:
        """Look for literal secrets in the rows about to be replaced; stage a patch
        (into ``tm_patch``) for each row holding one. True when any was staged."""
        patches = []
        for r in await self.conn.fetch(STAGED_PREVIOUS_SQL):
            if r["previous"] is None:
                continue
            row = json.loads(r["previous"])
            scrubbed = scrub_row(row, r["id"], self._rules)
            if scrubbed.changed:
                self.scrubbed.extend(scrubbed.findings)
                patches.append((r["id"], json.dumps(_patch(row, scrubbed.row))))
        if patches:
            await self.conn.copy_records_to_table(
                "tm_patch", records=patches, columns=["id", "patch"]
            )
        return bool(patches)


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
    if await conn.fetchval(HAS_LZ4_SQL):
        await conn.execute(PREFER_LZ4_SQL)


def _existing(todo: Iterable[TenantPlan]) -> int:
    return sum(1 for tenant in todo if tenant.expected_hash is not None)


def _patch(row: Mapping[str, Any], scrubbed: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys ``scrubbed`` changed (a dropped one becomes null)."""
    return {k: scrubbed.get(k) for k in row if scrubbed.get(k) != row[k]}


def _incoming_records(
    todo: Iterable[TenantPlan], proposed: Mapping[str, Payload]
) -> Iterable[tuple]:
    for tenant in todo:
        payload = proposed.get(tenant.id) or payload_of(tenant.record)
        yield (tenant.id, *payload.columns, payload.config, tenant.expected_hash)
