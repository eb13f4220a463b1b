"""The run row: started at a run's first write, finished with its summary."""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenant_migrator.store.tables import RUNS

if TYPE_CHECKING:
    import asyncpg

# $1 command, $2 started_at, $3 os_user, $4 hostname, $5 forced, $6 rollback_of.
START_RUN_SQL = f"""
    INSERT INTO {RUNS} (command, started_at, os_user, hostname, forced, rollback_of)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
    """

# $1 run, $2 summary (JSON text), $3 finished_at, $4 forced (NULL: keep).
FINISH_RUN_SQL = f"""
    UPDATE {RUNS} SET finished_at = $3, summary = $2::text::jsonb,
                      forced = coalesce($4, forced)
    WHERE id = $1
    """


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
        START_RUN_SQL,
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
        FINISH_RUN_SQL, run_id, json.dumps(summary), datetime.now().astimezone(), forced
    )
