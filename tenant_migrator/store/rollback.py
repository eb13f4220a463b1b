"""Rolling back a run: previous values back, rows it created deleted, rows deleted
since recreated (with --force); itself a recorded run, so it can be undone in turn."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tenant_migrator import __version__
from tenant_migrator.errors import DriftError, MigratorError, UsageError
from tenant_migrator.planning import Change, diff_snapshots
from tenant_migrator.store.runs import finish_run, start_run
from tenant_migrator.store.schema import read_schema
from tenant_migrator.store.session import connected
from tenant_migrator.store.tables import (
    RUN_TENANTS,
    RUNS,
    TENANTS,
    WRITTEN_COLUMNS,
    RowAction,
    snapshot_sql,
)

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.settings import Settings


@dataclass(frozen=True, slots=True)
class RollbackEntry:
    """What rolling back one tenant of a run does."""

    tenant_id: str
    # RESTORE, DELETE (the run created it) or RECREATE (row gone since)
    action: RowAction
    changes: tuple[Change, ...]  # current row → restored row (owned values only)
    changed_since: str | None = None  # why the row is not as the run left it, if it is not


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    run_id: int
    entries: tuple[RollbackEntry, ...]
    new_run_id: int | None = None  # None for a dry run
    dry_run: bool = False


# $1: the run.
FIND_RUN_SQL = f"SELECT id, command FROM {RUNS} WHERE id = $1"

# $1: the run. Per tenant it wrote: what it wrote, the values before, the row now,
# and the latest later run that wrote it.
ROLLBACK_ENTRIES_SQL = f"""
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
    """

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
# does not own (status, plan, quotas …) keep whatever they are now. $1: the run.
_ASSIGN = ", ".join(f"{c} = src.{c}" for c in WRITTEN_COLUMNS)
RESTORE_UPDATES_SQL = f"""
    WITH src AS (
        SELECT p.* FROM {RUN_TENANTS} h,
             LATERAL jsonb_populate_record(NULL::{TENANTS}, h.previous) p
        WHERE h.run_id = $1 AND h.previous IS NOT NULL
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
# the whole previous row comes back. $1: the run.
RECREATE_DELETED_SQL = f"""
    WITH i AS (
        INSERT INTO {TENANTS}
        SELECT p.* FROM {RUN_TENANTS} h,
             LATERAL jsonb_populate_record(NULL::{TENANTS}, h.previous) p
        WHERE h.run_id = $1 AND h.previous IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {TENANTS} t WHERE t.id = h.tenant_id)
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
    created deleted. Refuses when those rows changed since the run, unless ``force``.
    The rollback is itself a recorded run (so it can be rolled back in turn)."""
    from tenant_migrator import migrations

    started_at = datetime.now().astimezone()
    async with connected(settings) as (conn, _), conn.transaction():
        await migrations.lock(conn)
        schema = await read_schema(conn)
        if not schema.history or not schema.complete:
            raise MigratorError("no run history in this database (migration 013 is not applied)")
        run = await conn.fetchrow(FIND_RUN_SQL, run_id)
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
                "restored": sum(1 for a in done.values() if a == RowAction.UPDATE),
                "deleted": sum(1 for a in done.values() if a == RowAction.DELETE),
                "recreated": sum(1 for a in done.values() if a == RowAction.CREATE),
                "forced_over": [e.tenant_id for e in changed],
                "tool_version": __version__,
            },
        )
    return RollbackOutcome(run_id, entries, new_run_id=new_run)


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


async def _apply_rollback(conn: asyncpg.Connection, run_id: int, new_run: int) -> dict[str, str]:
    await conn.execute(CREATE_DONE_SQL)
    await conn.execute(UNDO_CREATES_SQL, run_id)
    await conn.execute(RESTORE_UPDATES_SQL, run_id)
    await conn.execute(RECREATE_DELETED_SQL, run_id)
    rows = await conn.fetch(RECORD_ROLLBACK_SQL, run_id, new_run)
    return {r["tenant_id"]: r["action"] for r in rows}
