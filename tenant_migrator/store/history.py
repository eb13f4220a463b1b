"""Listing the runs (``history``): newest first, optionally those that wrote one tenant."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tenant_migrator.outcomes import RunInfo  # re-exported
from tenant_migrator.store.schema import read_schema
from tenant_migrator.store.session import connected
from tenant_migrator.store.tables import RUN_TENANTS, RUNS, rolled_back_by_sql

if TYPE_CHECKING:
    from tenant_migrator.settings import Settings


# $1 the tenant (NULL: every run), $2 the limit.
LIST_RUNS_SQL = f"""
    SELECT r.*, r.summary::text AS summary_text,
           (SELECT count(*) FROM {RUN_TENANTS} h WHERE h.run_id = r.id) AS tenants,
           (SELECT h.action FROM {RUN_TENANTS} h
            WHERE h.run_id = r.id AND h.tenant_id = $1) AS tenant_action,
           {rolled_back_by_sql("r")} AS rolled_back_by
    FROM {RUNS} r
    WHERE $1::text IS NULL OR EXISTS (
        SELECT 1 FROM {RUN_TENANTS} h WHERE h.run_id = r.id AND h.tenant_id = $1)
    ORDER BY r.id DESC
    LIMIT $2
    """


async def list_runs(
    settings: Settings, tenant: str | None = None, limit: int = 50
) -> list[RunInfo] | None:
    """Newest first; None when the history tables do not exist yet (013 not applied)."""
    async with connected(settings) as (conn, _), conn.transaction(readonly=True):
        if not (await read_schema(conn)).history:
            return None
        rows = await conn.fetch(LIST_RUNS_SQL, tenant, limit)
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
