"""Rolling back a run: previous values back, rows it created deleted, rows deleted
since recreated (with --force); itself a recorded run, so it can be undone in turn."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from tenant_migrator import __version__, interruption, literal_scan
from tenant_migrator.drift_errors import RollbackRefused
from tenant_migrator.errors import MigratorError, UsageError
from tenant_migrator.literal_scan import LiteralFinding, scrub_row
from tenant_migrator.outcomes import RollbackEntry, RollbackOutcome  # re-exported
from tenant_migrator.planning import diff_snapshots
from tenant_migrator.store.runs import finish_run, start_run
from tenant_migrator.store.schema import read_schema
from tenant_migrator.store.session import connected
from tenant_migrator.store.tables import (
    RUN_TENANTS,
    RUNS,
    TENANTS,
    WRITTEN_COLUMNS,
    RowAction,
    rolled_back_by_sql,
    snapshot_sql,
)

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.secretrefs import SecretRule
    from tenant_migrator.settings import Settings


# $1: the run, and the runs that already rolled it back (for a refusal to name).
FIND_RUN_SQL = (
    f"SELECT r.id, r.command, {rolled_back_by_sql('r')} AS rolled_back_by "
    f"FROM {RUNS} r WHERE r.id = $1"
)

# $1: the run. Per tenant it wrote: what it wrote, the values before, the row now,
# and the latest later run that wrote it.
ROLLBACK_ENTRIES_SQL = f"""
    SELECT h.tenant_id, h.action, h.new_hash,
           h.previous IS NULL AS created,
           (SELECT {snapshot_sql("p")}::text
            FROM jsonb_populate_record(NULL::{TENANTS}, pv.previous) p) AS previous_snap,
           cur.snap AS current_snap, md5(cur.snap) AS current_hash,
           (SELECT max(l.run_id) FROM {RUN_TENANTS} l
            WHERE l.tenant_id = h.tenant_id AND l.run_id > h.run_id) AS later_run
    FROM {RUN_TENANTS} h
    LEFT JOIN tm_previous pv ON pv.tenant_id = h.tenant_id
    LEFT JOIN LATERAL (
        SELECT {snapshot_sql("t")}::text AS snap FROM {TENANTS} t WHERE t.id = h.tenant_id
    ) cur ON true
    WHERE h.run_id = $1
    ORDER BY h.tenant_id
    """

# What a rollback restores: the run's previous values, with any literal secret in
# them replaced (``_stage_previous``) before they go anywhere. $1: the run.
STAGE_PREVIOUS_SQL = f"""
    CREATE TEMP TABLE tm_previous ON COMMIT DROP AS
    SELECT tenant_id, previous FROM {RUN_TENANTS} WHERE run_id = $1 AND previous IS NOT NULL
    """
READ_STAGED_PREVIOUS_SQL = "SELECT tenant_id, previous::text AS previous FROM tm_previous"
# $1 tenant, $2 the scrubbed values (JSON text).
SCRUB_STAGED_PREVIOUS_SQL = "UPDATE tm_previous SET previous = $2::jsonb WHERE tenant_id = $1"
READ_DONE_PREVIOUS_SQL = (
    "SELECT tenant_id, previous::text AS previous FROM tm_done WHERE previous IS NOT NULL"
)
SCRUB_DONE_PREVIOUS_SQL = "UPDATE tm_done SET previous = $2::jsonb WHERE tenant_id = $1"

CREATE_DONE_SQL = (
    "CREATE TEMP TABLE tm_done (tenant_id text PRIMARY KEY, action text, previous jsonb, "
    "written jsonb) ON COMMIT DROP"
)

# Rows the run created: delete them (that is what "before the run" was). $1: the run.
UNDO_CREATES_SQL = f"""
    WITH d AS (
        DELETE FROM {TENANTS} t USING {RUN_TENANTS} h
        WHERE h.run_id = $1 AND h.previous IS NULL AND t.id = h.tenant_id
        RETURNING t.id, to_jsonb(t) AS previous
    )
    INSERT INTO tm_done SELECT id, '{RowAction.DELETE}', previous, NULL FROM d
    """

# Rows the run changed: put back the owned values it replaced. Columns the tool
# does not own (status, plan, quotas …) keep whatever they are now.
_ASSIGN = ", ".join(f"{c} = src.{c}" for c in WRITTEN_COLUMNS)
RESTORE_UPDATES_SQL = f"""
    WITH src AS (
        SELECT p.* FROM tm_previous pv,
             LATERAL jsonb_populate_record(NULL::{TENANTS}, pv.previous) p
    ), old AS (
        SELECT t.id, to_jsonb(t) AS previous FROM {TENANTS} t JOIN src ON src.id = t.id
    ), u AS (
        UPDATE {TENANTS} t SET {_ASSIGN} FROM src WHERE t.id = src.id
        RETURNING t.id, {snapshot_sql("t")} AS written
    )
    INSERT INTO tm_done SELECT u.id, '{RowAction.UPDATE}', old.previous, u.written
    FROM u JOIN old ON old.id = u.id
    """

# Rows the run changed that are gone now (deleted since; only with --force):
# the whole previous row comes back.
RECREATE_DELETED_SQL = f"""
    WITH i AS (
        INSERT INTO {TENANTS}
        SELECT p.* FROM tm_previous pv,
             LATERAL jsonb_populate_record(NULL::{TENANTS}, pv.previous) p
        WHERE NOT EXISTS (SELECT 1 FROM {TENANTS} t WHERE t.id = pv.tenant_id)
        RETURNING {TENANTS}.id, {snapshot_sql(TENANTS)} AS written
    )
    INSERT INTO tm_done SELECT id, '{RowAction.CREATE}', NULL, written FROM i
    """

# The rollback's own history rows. The drift baseline goes back to what it was
# before the rolled-back run, so a row that was blocked then is blocked again.
# $1: the rolled-back run, $2: the rollback's run.
RECORD_ROLLBACK_SQL = f"""
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
    """


async def rollback(
    settings: Settings, run_id: int, *, force: bool = False, dry_run: bool = False
) -> RollbackOutcome:
    """Restore exactly what run ``run_id`` replaced: previous values back, rows it
    created deleted. Refuses when those rows changed since the run, unless ``force``
    (``RollbackRefused``: those rows, and the runs that already rolled it back).
    The rollback is itself a recorded run (so it can be rolled back in turn)."""
    from tenant_migrator import migrations

    interruption.reset()  # what this rollback commits (see streaming.import_tenants)
    started_at = datetime.now().astimezone()
    async with connected(settings) as (conn, _), conn.transaction():
        await migrations.lock(conn)
        schema = await read_schema(conn)
        if not schema.history or not schema.complete:
            raise MigratorError("no run history in this database (migration 013 is not applied)")
        run = await conn.fetchrow(FIND_RUN_SQL, run_id)
        if run is None:
            raise UsageError(f"no run {run_id}; `tenant-migrator history` lists the runs")
        rules = literal_scan.project_rules(settings)
        scrubbed = await _stage_previous(conn, run_id, rules)
        entries = await _rollback_entries(conn, run_id)
        changed = [e for e in entries if e.changed_since]
        if changed and not force and not dry_run:
            # A run already rolled back has every row changed since: say which run
            # undid it rather than suggest --force.
            raise RollbackRefused(run_id, changed, run["rolled_back_by"])
        if dry_run:
            return RollbackOutcome(run_id, entries, dry_run=True, scrubbed=scrubbed)
        new_run = await start_run(
            conn, "rollback", started_at, forced=bool(changed), rollback_of=run_id
        )
        done, replaced = await _apply_rollback(conn, run_id, new_run, rules)
        scrubbed += replaced
        await finish_run(
            conn,
            new_run,
            {
                "rollback_of": run_id,
                "restored": sum(1 for a in done.values() if a == RowAction.UPDATE),
                "deleted": sum(1 for a in done.values() if a == RowAction.DELETE),
                "recreated": sum(1 for a in done.values() if a == RowAction.CREATE),
                "forced_over": [e.tenant_id for e in changed],
                "literals_kept_out_of_history": [f.to_json() for f in scrubbed],
                "tool_version": __version__,
            },
        )
        interruption.committing(f"rollback run {new_run}")
    interruption.committed(f"rollback run {new_run} was committed")
    return RollbackOutcome(run_id, entries, new_run_id=new_run, scrubbed=scrubbed)


async def _scrub_table(
    conn: asyncpg.Connection,
    read_sql: str,
    update_sql: str,
    rules: Mapping[str, SecretRule],
) -> tuple[LiteralFinding, ...]:
    """Replace, in a temp table of (tenant_id, previous), every literal secret by
    what extraction makes of it. Returns what was found."""
    findings: list[LiteralFinding] = []
    updates = []
    for r in await conn.fetch(read_sql):
        scrubbed = scrub_row(json.loads(r["previous"]), r["tenant_id"], rules)
        if scrubbed.changed:
            findings.extend(scrubbed.findings)
            updates.append((r["tenant_id"], json.dumps(scrubbed.row)))
    if updates:
        await conn.executemany(update_sql, updates)
    return tuple(findings)


async def _stage_previous(
    conn: asyncpg.Connection, run_id: int, rules: Mapping[str, SecretRule]
) -> tuple[LiteralFinding, ...]:
    """The run's previous values into ``tm_previous``, literal secrets replaced (a
    history written before the tool scrubbed it may hold some): never restored."""
    await conn.execute(STAGE_PREVIOUS_SQL, run_id)
    return await _scrub_table(conn, READ_STAGED_PREVIOUS_SQL, SCRUB_STAGED_PREVIOUS_SQL, rules)


async def _rollback_entries(conn: asyncpg.Connection, run_id: int) -> tuple[RollbackEntry, ...]:
    rows = await conn.fetch(ROLLBACK_ENTRIES_SQL, run_id)
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
            action = RowAction.DELETE
            changes = diff_snapshots(current, {}) if current else ()
        elif current is None:
            action = RowAction.RECREATE
            changes = diff_snapshots({}, previous)
        else:
            action = RowAction.RESTORE
            changes = diff_snapshots(current, previous)
        entries.append(RollbackEntry(r["tenant_id"], action, changes, changed_since))
    return tuple(entries)


async def _apply_rollback(
    conn: asyncpg.Connection, run_id: int, new_run: int, rules: Mapping[str, SecretRule]
) -> tuple[dict[str, str], tuple[LiteralFinding, ...]]:
    """Undo the run; returns tenant → what was done, and the literal secrets the
    replaced rows held (their history gets the references instead)."""
    await conn.execute(CREATE_DONE_SQL)
    await conn.execute(UNDO_CREATES_SQL, run_id)
    await conn.execute(RESTORE_UPDATES_SQL)
    await conn.execute(RECREATE_DELETED_SQL)
    replaced = await _scrub_table(conn, READ_DONE_PREVIOUS_SQL, SCRUB_DONE_PREVIOUS_SQL, rules)
    rows = await conn.fetch(RECORD_ROLLBACK_SQL, run_id, new_run)
    return {r["tenant_id"]: r["action"] for r in rows}, replaced
