"""The run row: started at a run's first write, finished with its summary.

Both statements also exist as text with their values written in
(``database.literal``), for the import's round-trip budget: the start goes
inside the first write's statement, the finish with the COMMIT.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenant_migrator.database import literal
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


@dataclass(frozen=True, slots=True)
class RunStart:
    """A run row still to be created, by the first write that needs it."""

    command: str
    started_at: datetime
    forced: bool = False

    def insert_sql(self) -> str:
        """``START_RUN_SQL`` with the values written in (``RETURNING id``)."""
        from tenant_migrator import migrations

        values = ", ".join(
            [
                literal(self.command),
                f"{literal(self.started_at.isoformat())}::timestamptz",
                literal(migrations.os_user()),
                literal(socket.gethostname()),
                literal(self.forced),
                "NULL",
            ]
        )
        return (
            f"INSERT INTO {RUNS} (command, started_at, os_user, hostname, forced, rollback_of) "
            f"VALUES ({values}) RETURNING id"
        )


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


def finish_run_sql(run_id: int, summary: Mapping[str, Any], *, forced: bool | None = None) -> str:
    """``FINISH_RUN_SQL`` with the values written in: sent with the COMMIT."""
    # The client's clock, like started_at: a run's duration must not depend on
    # the skew between this machine and the server.
    finished_at = literal(datetime.now().astimezone().isoformat())
    return (
        f"UPDATE {RUNS} SET finished_at = {finished_at}::timestamptz, "
        f"summary = {literal(json.dumps(summary))}::jsonb, "
        f"forced = coalesce({literal(forced)}::boolean, forced) WHERE id = {literal(run_id)}"
    )


async def finish_run(
    conn: asyncpg.Connection,
    run_id: int,
    summary: Mapping[str, Any],
    *,
    forced: bool | None = None,
) -> None:
    """``forced``: whether the run overwrote database edits, when only known at the end."""
    await conn.execute(
        FINISH_RUN_SQL, run_id, json.dumps(summary), datetime.now().astimezone(), forced
    )
