"""Reading rows for a plan: every selected row in ONE query.

The records go along as parameters and the database compares each row with its
record (jsonb equality, the same test the write's ``IS DISTINCT FROM`` makes);
only rows that differ come back, with their values and their drift hash: the md5
of a jsonb object of the owned columns, config_source and tenant_config, computed
in SQL from the row as stored (jsonb's text form is canonical, so Python's
representation of the same values cannot fake a difference), next to the drift
baseline from the run history (migration 013).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenant_migrator.database import fetch_json, text_array
from tenant_migrator.planning import (
    SNAPSHOT_COLUMNS,
    CurrentRow,
    ImportState,
    Plan,
    build_plan,
    nul_pointer,
)
from tenant_migrator.record import CONFIG_SOURCE, OWNED_COLUMNS, TenantRecord
from tenant_migrator.store.schema import Schema, read_schema
from tenant_migrator.store.session import connected, migration_files
from tenant_migrator.store.tables import (
    RUN_TENANTS,
    RUNS,
    TENANTS,
    WRITTEN_COLUMNS,
    hash_sql,
    snapshot_sql,
)

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.pipeline import LoadResult
    from tenant_migrator.settings import Settings


@dataclass(frozen=True, slots=True)
class Payload:
    """One record as the database receives it: owned columns as text, and
    tenant_config serialized once (for the comparison in ``read_rows`` and the
    write), with its fingerprint (``fingerprint``), which the write records."""

    columns: tuple[str | None, ...]
    config: str
    sha256: str

    @classmethod
    def of(cls, columns: tuple[str | None, ...], config: str) -> Payload:
        return cls(columns, config, fingerprint(columns, config))


# Bumped whenever what a payload holds changes (its columns, their order, the
# config's serialization): an old fingerprint then matches nothing, and every
# row is compared in full once.
FINGERPRINT_VERSION = "tenant-migrator payload 1"


def fingerprint(columns: Sequence[str | None], config: str) -> str:
    """The SHA-256 (hex) of a payload: each value length-prefixed (``-`` for
    NULL), so no two payloads share a text."""
    parts = [FINGERPRINT_VERSION, CONFIG_SOURCE]
    parts.extend("-" if value is None else f"{len(value)}:{value}" for value in columns)
    parts.append(f"{len(config)}:{config}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


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
    return Payload.of(
        tuple(_column_text(getattr(record, c)) for c in OWNED_COLUMNS),
        # The record keeps exactly this text (record.config_json): decoding it to
        # encode it again cost 0.375 s at 10,000 tenants.
        record.config_json,
    )


def _column_text(value: Any) -> str | None:
    return None if value is None else str(value)


def configs(proposed: Mapping[str, Payload]) -> dict[str, str]:
    return {tenant_id: p.config for tenant_id, p in proposed.items()}


def _rows_sql(history: bool, filtered: bool, previous: bool = False) -> str:
    """The comparison read, with the markers ``/*proposed*/`` (the proposed ids,
    owned columns and tenant_configs: a relation ``r``) and ``/*only*/`` (the
    selected ids, when filtered) for ``read_rows`` to fill in. ``previous``: also
    each differing row whole (``to_jsonb``), for the writer's literal scan."""
    whole = (
        f"CASE WHEN NOT q.same THEN (SELECT to_jsonb(p) FROM {TENANTS} p WHERE p.id = q.id) END"
        if previous
        else "NULL"
    )
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
        if history
        else " CROSS JOIN (SELECT NULL::bigint AS baseline_run, NULL::text AS baseline_hash) b"
    )
    baseline_values = (
        f"""CASE WHEN b.baseline_hash IS DISTINCT FROM md5(c.snap) THEN
                   (SELECT w.written::text FROM {RUN_TENANTS} w
                    WHERE w.run_id = b.baseline_run AND w.tenant_id = c.id)
               END"""
        if history
        else "NULL"
    )
    where = "WHERE t.id = ANY(/*only*/)" if filtered else ""
    return f"""
        WITH r AS MATERIALIZED (/*proposed*/)
        SELECT coalesce(jsonb_agg(jsonb_build_array(
                   q.id, q.same, q.snap, q.hash, q.baseline_run, q.baseline_hash, q.baseline,
                   {whole}
               )), '[]')
        FROM (
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
        ) q
        """


# The comparison read, by (history tables exist, filtered to selected ids,
# differing rows also whole).
READ_ROWS_SQL: Mapping[tuple[bool, bool, bool], str] = {
    (history, filtered, previous): _rows_sql(history, filtered, previous)
    for history in (False, True)
    for filtered in (False, True)
    for previous in (False, True)
}

_PROPOSED_COLUMNS = ("id", *OWNED_COLUMNS, "tenant_config")


def proposed_sql(proposed: Mapping[str, Payload]) -> str:
    """The proposed rows as a relation: one text[] literal per column, unnested."""
    columns = [
        list(proposed),
        *([p.columns[i] for p in proposed.values()] for i in range(len(OWNED_COLUMNS))),
        [p.config for p in proposed.values()],
    ]
    arrays = ", ".join(text_array(column) for column in columns)
    return f"SELECT * FROM unnest({arrays}) AS r({', '.join(_PROPOSED_COLUMNS)})"


async def read_rows(
    conn: asyncpg.Connection,
    schema: Schema,
    only: Sequence[str] | None = None,
    proposed: Mapping[str, Payload] | None = None,
) -> tuple[dict[str, CurrentRow], dict[str, ImportState]]:
    """The selected rows and their import state: see ``read_rows_whole``."""
    current, states, _ = await read_rows_whole(conn, schema, only, proposed, whole=False)
    return current, states


async def read_rows_whole(
    conn: asyncpg.Connection,
    schema: Schema,
    only: Sequence[str] | None = None,
    proposed: Mapping[str, Payload] | None = None,
    *,
    whole: bool = True,
) -> tuple[dict[str, CurrentRow], dict[str, ImportState], dict[str, dict[str, Any]]]:
    """The selected rows (all when ``only`` is None) and their import state, in one
    query and one round trip (the records travel in its text, quoted by
    ``database.literal``: no prepare, the same behind a transaction pooler).

    Rows equal to their ``proposed`` payload come back as ``matches`` without
    their values; the others with their values and drift hash, and (``whole``)
    each as ``to_jsonb`` of the row: what an import's history records as its
    previous values, which the writer scans for literal secrets without a read
    of its own.
    """
    if not schema.tenants:
        return {}, {}, {}
    if not schema.complete:
        return await _read_partial_rows(conn, schema, only), {}, {}
    if only is not None and _checks_untouched_first(schema, proposed):
        answer = await fetch_json(conn, untouched_sql(only, proposed))
        return await _after_untouched(conn, schema, proposed, answer, whole)
    rows = await fetch_json(conn, _rows_statement(schema, only, proposed, whole))
    return await _compared(conn, schema, only, proposed, rows)


async def read_rows_and_orphans(
    conn: asyncpg.Connection,
    schema: Schema,
    only: Sequence[str],
    proposed: Mapping[str, Payload],
    loaded: Sequence[str],
    *,
    whole: bool = True,
) -> tuple[
    dict[str, CurrentRow], dict[str, ImportState], dict[str, dict[str, Any]], list[CurrentRow]
]:
    """``read_rows_whole`` of the ``only`` rows and ``read_orphans`` of every
    ``loaded`` id in one statement: the last comparison read of a whole-project run
    brings the orphans along (one round trip less; a remote database is 20–200 ms
    away). Needs a complete schema (the caller asks ``read_orphans`` otherwise)."""
    assert schema.complete
    untouched_first = _checks_untouched_first(schema, proposed)
    read = (
        untouched_sql(only, proposed)
        if untouched_first
        else _rows_statement(schema, only, proposed, whole)
    )
    answer, orphans = await fetch_json(
        conn, f"jsonb_build_array(({read}), ({read_orphans_sql(loaded)}))"
    )
    if untouched_first:
        current, states, rows_whole = await _after_untouched(conn, schema, proposed, answer, whole)
    else:
        current, states, rows_whole = await _compared(conn, schema, only, proposed, answer)
    return current, states, rows_whole, _orphans_parsed(orphans)


# From this many proposed tenants a read first asks which rows are untouched since
# the run that wrote them (ids and fingerprints: about 100 bytes a tenant), then
# compares only the others in full (a second statement, when there are any). Below
# it, the documents go at once: one round trip (a sync of one tenant stays one).
UNTOUCHED_FIRST_FROM = 100
# A run at least this many transactions back may share its 32-bit xmin with a
# later writer (PostgreSQL's own wrap-around horizon).
_XID_HORIZON = 2**31


def _checks_untouched_first(schema: Schema, proposed: Mapping[str, Payload] | None) -> bool:
    return (
        schema.fingerprints
        and schema.has_history_rows
        and len(proposed or ()) >= UNTOUCHED_FIRST_FROM
    )


def untouched_sql(only: Sequence[str], proposed: Mapping[str, Payload]) -> str:
    """Of the ``only`` rows: ``[untouched ids, the other ids with a row, gone]``.

    Untouched: the tenant's latest history row records the fingerprint proposed
    now, and the row's ``xmin`` is still that run's transaction: on this cluster
    (a dump restored elsewhere numbers transactions afresh), fewer than 2^31
    transactions ago (a later writer cannot then share its 32-bit id; PostgreSQL
    keeps every live id within that horizon too, so an older transaction still
    running cannot either). Every change to a row gives it a new ``xmin``, so
    nothing changed such a row since that run wrote exactly this payload: it
    equals the proposal without being read. Gone: what ``read_gone`` says of the
    ids with no row (in the same statement).
    """
    ids = list(only)
    sent = [proposed[i].sha256 if i in proposed else None for i in ids]
    return f"""
    WITH r AS MATERIALIZED (
        SELECT * FROM unnest({text_array(ids)}, {text_array(sent)}) AS r(id, sent)
    ), here AS MATERIALIZED (
        SELECT (pg_control_system()).system_identifier AS cluster_id,
               pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xact
    ), c AS MATERIALIZED (
        SELECT t.id,
               coalesce(l.sent_sha256 = r.sent
                        AND l.cluster_id = here.cluster_id
                        AND t.xmin::text::bigint = l.xact_id % 4294967296
                        AND here.next_xact - l.xact_id BETWEEN 1 AND {_XID_HORIZON - 1},
                        false) AS untouched
        FROM r JOIN {TENANTS} t ON t.id = r.id CROSS JOIN here
        LEFT JOIN LATERAL (
            SELECT h.sent_sha256, u.xact_id, u.cluster_id
            FROM {RUN_TENANTS} h JOIN {RUNS} u ON u.id = h.run_id
            WHERE h.tenant_id = r.id AND r.sent IS NOT NULL
            ORDER BY h.run_id DESC LIMIT 1
        ) l ON true
    )
    SELECT jsonb_build_array(
        coalesce((SELECT jsonb_agg(c.id) FROM c WHERE c.untouched), '[]'),
        coalesce((SELECT jsonb_agg(c.id) FROM c WHERE NOT c.untouched), '[]'),
        (SELECT coalesce(jsonb_agg(jsonb_build_array(
                    r.id, g.baseline_run, g.baseline_hash)), '[]')
         FROM r CROSS JOIN LATERAL (
             SELECT h.baseline_run, h.baseline_hash FROM {RUN_TENANTS} h
             WHERE h.tenant_id = r.id ORDER BY h.run_id DESC LIMIT 1
         ) g
         WHERE NOT EXISTS (SELECT 1 FROM {TENANTS} t WHERE t.id = r.id)))
    """


async def _after_untouched(
    conn: asyncpg.Connection,
    schema: Schema,
    proposed: Mapping[str, Payload],
    answer: Sequence[Any],
    whole: bool,
) -> tuple[dict[str, CurrentRow], dict[str, ImportState], dict[str, dict[str, Any]]]:
    """``untouched_sql``'s answer made whole: the untouched rows match, the others
    are compared in full (``_rows_statement``: one more statement, only if any)."""
    untouched, touched, gone = answer
    current: dict[str, CurrentRow] = {
        tenant_id: CurrentRow(tenant_id, None, None, matches=True) for tenant_id in untouched
    }
    states = _gone_states(gone)
    rows_whole: dict[str, dict[str, Any]] = {}
    if touched:
        compared = {i: proposed[i] for i in touched if i in proposed}
        rows = await fetch_json(conn, _rows_statement(schema, touched, compared, whole))
        more_rows, more_states, rows_whole = await _compared(conn, schema, touched, compared, rows)
        current.update(more_rows)
        states.update(more_states)
    return current, states, rows_whole


def _rows_statement(
    schema: Schema, only: Sequence[str] | None, proposed: Mapping[str, Payload] | None, whole: bool
) -> str:
    sql = READ_ROWS_SQL[schema.history, only is not None, whole].replace(
        "/*proposed*/", proposed_sql(proposed or {})
    )
    return sql.replace("/*only*/", text_array(only)) if only is not None else sql


async def _compared(
    conn: asyncpg.Connection,
    schema: Schema,
    only: Sequence[str] | None,
    proposed: Mapping[str, Payload] | None,
    rows: Sequence[Sequence[Any]],
) -> tuple[dict[str, CurrentRow], dict[str, ImportState], dict[str, dict[str, Any]]]:
    """The comparison read's answer as rows, import states and rows whole; for the
    wanted ids with no row, when our history has rows, ``read_gone`` (one query)."""
    current: dict[str, CurrentRow] = {}
    states: dict[str, ImportState] = {}
    rows_whole: dict[str, dict[str, Any]] = {}
    for tenant_id, same, snap, hash_, baseline_run, baseline_hash, baseline, row in rows:
        if same:
            current[tenant_id] = CurrentRow(tenant_id, None, None, matches=True)
            continue
        current[tenant_id] = CurrentRow(tenant_id, json.loads(snap), hash_)
        if row is not None:
            rows_whole[tenant_id] = row
        if baseline_hash is not None:
            document = json.loads(baseline) if baseline else None
            states[tenant_id] = ImportState(baseline_run, baseline_hash, document)
    if schema.has_history_rows:
        wanted = only if only is not None else list(proposed or {})
        if missing := [tenant_id for tenant_id in wanted if tenant_id not in current]:
            states.update(await read_gone(conn, missing))
    return current, states, rows_whole


# Ids with no row in tenants. Each one's latest history row, when that row
# still holds a drift baseline (a rollback of its create puts back "none").
def read_gone_sql(missing: Sequence[str]) -> str:
    return f"""
    SELECT coalesce(jsonb_agg(jsonb_build_array(g.tenant_id, g.baseline_run, g.baseline_hash)),
                    '[]')
    FROM (
        SELECT DISTINCT ON (h.tenant_id) h.tenant_id, h.baseline_run, h.baseline_hash
        FROM {RUN_TENANTS} h
        WHERE h.tenant_id = ANY({text_array(missing)})
        ORDER BY h.tenant_id, h.run_id DESC
    ) g
    """


async def read_gone(conn: asyncpg.Connection, missing: Sequence[str]) -> dict[str, ImportState]:
    """Of ``missing`` (ids without a row), those our history says we wrote and that
    nothing of ours removed since: deleted in the database (the plan blocks them)."""
    return _gone_states(await fetch_json(conn, read_gone_sql(missing)))


def _gone_states(rows: Sequence[Sequence[Any]]) -> dict[str, ImportState]:
    """``[id, baseline_run, baseline_hash]`` rows as states: those still holding a
    baseline (a rollback of its create puts back "none")."""
    return {
        tenant_id: ImportState(baseline_run, baseline_hash)
        for tenant_id, baseline_run, baseline_hash in rows
        if baseline_hash is not None
    }


def partial_rows_sql(columns: frozenset[str], filtered: bool) -> str:
    """Before 012: read what is there; missing columns read as NULL ($1: the ids)."""
    where = "WHERE t.id = ANY($1::text[])" if filtered else ""
    select = ", ".join(
        f"'{c}', t.{c}" if c in columns else f"'{c}', NULL"
        for c in (*SNAPSHOT_COLUMNS, "tenant_config")
    )
    return f"SELECT t.id, jsonb_build_object({select})::text AS snap FROM {TENANTS} t {where}"


async def _read_partial_rows(
    conn: asyncpg.Connection, schema: Schema, only: Sequence[str] | None
) -> dict[str, CurrentRow]:
    # No hash: nothing can have been imported by this tool yet.
    rows = await conn.fetch(
        partial_rows_sql(schema.columns, only is not None),
        *([list(only)] if only is not None else []),
    )
    return {r["id"]: CurrentRow(r["id"], json.loads(r["snap"]), None) for r in rows}


def read_orphans_sql(loaded: Sequence[str]) -> str:
    """Rows whose id is not among ``loaded``, as one jsonb array."""
    return f"""
    SELECT coalesce(jsonb_agg(jsonb_build_array(o.id, o.config_source, o.hash) ORDER BY o.id),
                    '[]')
    FROM (
        SELECT t.id, t.config_source, {hash_sql("t")} AS hash
        FROM {TENANTS} t LEFT JOIN unnest({text_array(loaded)}) AS l(id) ON l.id = t.id
        WHERE l.id IS NULL
    ) o
    """


async def read_orphans(
    conn: asyncpg.Connection, schema: Schema, loaded: Sequence[str]
) -> list[CurrentRow]:
    """Rows whose id is not in ``loaded``, each with its config_source (the only
    part of the snapshot an orphan's plan reads) and drift hash. One round trip."""
    if not schema.complete:
        known = set(loaded)
        partial = await _read_partial_rows(conn, schema, None)
        return [row for tenant_id, row in sorted(partial.items()) if tenant_id not in known]
    return _orphans_parsed(await fetch_json(conn, read_orphans_sql(loaded)))


def _orphans_parsed(rows: Sequence[Sequence[Any]]) -> list[CurrentRow]:
    return [CurrentRow(i, {"config_source": source}, h) for i, source, h in rows]


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
        proposed = payloads(load_result) if schema.worth_reading else {}
    rows, states = (
        await read_rows(conn, schema, only, proposed) if schema.worth_reading else ({}, {})
    )
    return build_plan(load_result, rows, states, pending, force=force, serialized=configs(proposed))


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
