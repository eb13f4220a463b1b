"""Writing planned tenants batch by batch (``PlanWriter``), with their history.

Inside the caller's one transaction under the tool's advisory lock (the one
``migrate`` takes, so imports also serialize with migrations), where the rows were
read and the plan made. Planned tenants are staged in memory as the text the
database receives (never their documents' objects), and every ``FLUSH_ROWS`` ONE
set-based ``INSERT … ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT FROM`` writes
them and, in the same statement, their history rows; it refuses any row whose
hash is no longer the one planned against (someone edited it between our read and
our write), which aborts the run. Nothing is written per tenant. The batching
itself (what is planned when, and when a run must roll back) is ``streaming.py``'s.

Round trips: each write is ONE (the staged rows travel in the statement's text,
quoted by ``database.literal``, and come back through ``COPY … TO STDOUT``: no
prepare, no temp table, no COPY in, no TRUNCATE; the same through a transaction
pooler); the first write also creates the run row, in the same statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tenant_migrator.database import fetch_json, fetch_json_statement, literal, text_array
from tenant_migrator.drift_errors import ChangedWhileWriting
from tenant_migrator.literal_scan import LiteralFinding, scrub_row
from tenant_migrator.planning import Plan, TenantPlan
from tenant_migrator.record import CONFIG_SOURCE, OWNED_COLUMNS
from tenant_migrator.store.rows import Payload, payload_of
from tenant_migrator.store.runs import RunStart
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

# What is staged per planned tenant, in this order: every column is text.
INCOMING_COLUMNS: tuple[str, ...] = (
    "id",
    *OWNED_COLUMNS,
    "tenant_config",
    "sent_sha256",  # the payload's fingerprint, recorded in the history (migration 014)
    "expected_hash",
)

Staged = tuple[str | None, ...]  # one tenant, in INCOMING_COLUMNS order

# Where the run id comes from in the write: an existing run, or the row the
# statement creates.
_RUN_ID = "(SELECT id FROM run)"


def incoming_sql(rows: Sequence[Staged]) -> str:
    """The staged rows as a relation ``i``: one text[] literal per column, unnested."""
    columns = zip(*rows, strict=True) if rows else [() for _ in INCOMING_COLUMNS]
    arrays = ", ".join(text_array(column) for column in columns)
    return f"SELECT * FROM unnest({arrays}) AS i({', '.join(INCOMING_COLUMNS)})"


def write_sql(incoming: str, run: str, expected: str, patches: str | None) -> str:
    """The upsert of ``incoming`` and its history rows, returning
    ``{"run": id, "written": [[tenant, action], …]}``.

    ``run``: a statement giving the run's ``id`` (an INSERT … RETURNING for the
    first write). ``expected``: a jsonb object, tenant → the hash its row had
    when planned (updates only). ``patches``: a jsonb object, tenant → the keys
    of the previous values to record instead of the row's (the literal secrets
    ``scrub_row`` found there, replaced by what extraction makes of them): a
    literal never reaches history.
    """
    previous = f"(SELECT to_jsonb(t) FROM {TENANTS} t WHERE t.id = i.id)"
    if patches is not None:
        previous += f" || coalesce({patches} -> i.id, '{{}}')"
    assign = ",\n            ".join(f"{c} = excluded.{c}" for c in WRITTEN_COLUMNS)
    current = ", ".join(f"t.{c}" for c in WRITTEN_COLUMNS)
    proposed = ", ".join(f"excluded.{c}" for c in WRITTEN_COLUMNS)
    return f"""
    WITH i AS MATERIALIZED ({incoming}),
    run AS ({run}),
    prev AS (
        -- A subquery per incoming row, not a join: the planner, misled by the
        -- statistics of a table that was empty when the run began, would walk
        -- every row of tenants at each flush to find the few hundred incoming ones.
        SELECT i.id, {previous} AS previous, i.sent_sha256
        FROM i
    ), w AS (
        INSERT INTO {TENANTS} AS t
            (id, {", ".join(OWNED_COLUMNS)}, tenant_config, config_source,
             admin_email, support_email)
        SELECT i.id, {", ".join(f"i.{c}" for c in OWNED_COLUMNS)}, i.tenant_config::jsonb,
               '{CONFIG_SOURCE}', i.primary_email, i.primary_email
        FROM i
        ORDER BY i.id  -- one lock order for every writer: no deadlocks
        ON CONFLICT (id) DO UPDATE SET
            {assign}
        WHERE ({current}) IS DISTINCT FROM ({proposed})
          -- The row must still be the one we planned against (a jsonb object's
          -- key lookup: no scan of the incoming rows per row).
          AND {hash_sql("t")} IS NOT DISTINCT FROM ({expected} ->> excluded.id)
        RETURNING t.id, (t.xmax = 0) AS inserted, {snapshot_sql("t")} AS written
    ), h AS (
        SELECT w.id,
               CASE WHEN w.inserted THEN '{RowAction.CREATE}' ELSE '{RowAction.UPDATE}' END
                   AS action,
               prev.previous, w.written, md5(w.written::text) AS hash, prev.sent_sha256
        FROM w LEFT JOIN prev ON prev.id = w.id
    ), history AS (
        INSERT INTO {RUN_TENANTS}
            (run_id, tenant_id, action, previous, written, new_hash, baseline_run,
             baseline_hash, sent_sha256)
        SELECT {_RUN_ID}, id, action, previous, written, hash, {_RUN_ID}, hash, sent_sha256
        FROM h
        RETURNING tenant_id, action
    )
    SELECT jsonb_build_object(
        'run', {_RUN_ID},
        'written', coalesce((SELECT jsonb_agg(jsonb_build_array(tenant_id, action))
                             FROM history), '[]'))
    """


def _json_literal(value: Any) -> str:
    return f"{literal(json.dumps(value, separators=(',', ':')))}::jsonb"


# The current values of the rows about to be replaced (updates), to look for
# literal secrets before they become history.
def previous_rows_sql(ids: Sequence[str]) -> str:
    return (
        f"(SELECT jsonb_object_agg(t.id, to_jsonb(t)) FROM {TENANTS} t "
        f"WHERE t.id = ANY({text_array(ids)}))"
    )


# Rows per upsert statement. Each statement costs a round trip and ~10 ms of the
# server's time on top of its rows (planned again), so batches of 100 rows spent
# 1.3 s more of the server's time on 10,000 tenants than one statement; larger
# ones leave a longer last write that overlaps nothing, and hold more text.
FLUSH_ROWS = 1000


class PlanWriter:
    """Writes planned creates and updates, and their history, a batch at a time,
    inside the caller's transaction (the one that holds the lock and made the plan).

    Batches are staged (as text) as they come, and every ``FLUSH_ROWS`` ONE
    set-based statement upserts them and records, for each row written, the
    values it replaced and the hash of what it wrote. The run row (``run``: one
    to create, or an existing run's id) is created by the first write: a run that
    writes nothing records nothing. Tenants that may still turn out invalid once
    every file is read wait aside (``defer``) until ``write_deferred``.
    """

    def __init__(
        self,
        conn: asyncpg.Connection,
        run: RunStart | int,
        rules: Mapping[str, SecretRule] | None = None,
    ) -> None:
        self.conn = conn
        self.run_id: int | None = run if isinstance(run, int) else None
        self._run = run
        self.written: dict[str, str] = {}  # tenant → create/update
        # Literal secrets found in rows this run replaced: history got their
        # references instead (the report names each; never a value).
        self.scrubbed: list[LiteralFinding] = []
        self._rules = rules  # the schema's x-secret rules (None: the baseline ones)
        self._staged: list[Staged] = []
        self._deferred: list[Staged] = []
        self._previous: dict[str, Mapping[str, Any]] = {}  # staged updates' rows, as read

    @property
    def staged(self) -> int:
        """How many tenants wait for the next write."""
        return len(self._staged)

    async def add(
        self,
        todo: Sequence[TenantPlan],
        proposed: Mapping[str, Payload] | None = None,
        *,
        flush: bool = False,
        previous: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Stage ``todo`` (creates and updates) for writing; writes once
        ``FLUSH_ROWS`` are staged, or at once with ``flush``. ``proposed``: the
        payloads the plan was made with (saves serializing again). ``previous``:
        the updated rows whole as the plan read them (``read_rows_whole``), to scan
        for literal secrets without reading them again; the write's hash check
        holds them to what is replaced (tenant_config and the owned columns).

        Raises ``ChangedWhileWriting`` (a ``DriftError``) when a row changed since
        it was planned: the caller's transaction must then roll back (all or nothing).
        """
        if not todo:
            return
        self._staged.extend(_staged_rows(todo, proposed or {}))
        self._keep_previous(todo, previous)
        if flush or len(self._staged) >= FLUSH_ROWS:
            await self.flush()

    async def flush(self) -> None:
        """Write everything staged."""
        if self._staged:
            await self._write_incoming(len(self._staged))

    async def defer(
        self,
        todo: Sequence[TenantPlan],
        proposed: Mapping[str, Payload] | None = None,
        previous: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Keep ``todo`` aside (as the text to write, not documents) for ``write_deferred``."""
        self._deferred.extend(_staged_rows(todo, proposed or {}))
        self._keep_previous(todo, previous)

    def _keep_previous(
        self, todo: Sequence[TenantPlan], previous: Mapping[str, Mapping[str, Any]] | None
    ) -> None:
        for tenant in todo:
            if tenant.expected_hash is not None and previous and tenant.id in previous:
                self._previous[tenant.id] = previous[tenant.id]

    async def write_deferred(self, leave_out: Iterable[str] = ()) -> None:
        """Write what ``defer`` kept, except the tenants in ``leave_out``, and
        everything still staged."""
        await self.flush()
        left_out = set(leave_out)
        deferred, self._deferred = self._deferred, []
        self._staged = [row for row in deferred if row[0] not in left_out]
        await self.flush()

    async def _write_incoming(self, expected: int) -> None:
        staged, self._staged = self._staged, []
        updates = {row[0]: row[-1] for row in staged if row[-1] is not None}
        patches = await self._scrub_previous(list(updates)) if updates else None
        run = (
            f"SELECT {literal(self.run_id)}::bigint AS id"
            if self.run_id is not None
            else self._run.insert_sql()  # type: ignore[union-attr]
        )
        sql = write_sql(
            incoming_sql(staged),
            run,
            _json_literal(updates),
            _json_literal(patches) if patches else None,
        )
        result = await fetch_json_statement(self.conn, sql)
        self.run_id = result["run"]
        rows = result["written"]
        if len(rows) != expected:
            missing = sorted({row[0] for row in staged} - {tenant for tenant, _ in rows})
            # Raising rolls the whole transaction back: all or nothing.
            raise ChangedWhileWriting(missing)
        self.written.update((tenant, action) for tenant, action in rows)

    async def _scrub_previous(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Look for literal secrets in the rows about to be replaced: tenant → the
        patch over its previous values (only rows holding one). Rows the plan read
        whole are not read again."""
        patches: dict[str, dict[str, Any]] = {}
        found = {i: self._previous.pop(i) for i in ids if i in self._previous}
        if unread := [i for i in ids if i not in found]:
            found.update(await fetch_json(self.conn, previous_rows_sql(unread)) or {})
        for tenant_id, row in found.items():
            scrubbed = scrub_row(row, tenant_id, self._rules)
            if scrubbed.changed:
                self.scrubbed.extend(scrubbed.findings)
                patches[tenant_id] = _patch(row, scrubbed.row)
        return patches


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
    writer = PlanWriter(conn, run_id)
    await writer.add(the_plan.to_write, proposed)
    await writer.flush()
    return writer.written


# tenant_config and the history's copies are TOASTed (2-4 KB each); lz4
# compresses them several times faster than the default pglz (measured: a
# 10,000-tenant write 0.7-1 s faster). Only for this transaction, and only where
# the server was built with lz4 (PostgreSQL 14+; pg_settings lists it). A
# statement for the prelude of ``migrations.LockedTransaction``: no round trip.
PREFER_LZ4_SQL = (
    "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings "
    "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)
# A write's staged rows are materialized once (``i``) and read three times: a
# thousand 5 KB documents pass the default 4 MB of work_mem and would go to a temp
# file on every write. For this transaction only.
WRITE_WORK_MEM_SQL = "SET LOCAL work_mem = '64MB'"
# What an import's LockedTransaction sends with BEGIN and the lock.
WRITER_PRELUDE_SQL = f"{PREFER_LZ4_SQL}; {WRITE_WORK_MEM_SQL}"


def _staged_rows(todo: Iterable[TenantPlan], proposed: Mapping[str, Payload]) -> list[Staged]:
    rows = []
    for tenant in todo:
        payload = proposed.get(tenant.id) or payload_of(tenant.record)
        rows.append(
            (tenant.id, *payload.columns, payload.config, payload.sha256, tenant.expected_hash)
        )
    return rows


def _patch(row: Mapping[str, Any], scrubbed: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys ``scrubbed`` changed (a dropped one becomes null)."""
    return {k: scrubbed.get(k) for k in row if scrubbed.get(k) != row[k]}
