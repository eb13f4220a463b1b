"""The database side of plan, import, sync, rollback, history and export.

One module per concern; this package re-exports what the rest of the tool uses:

* ``tables``   table names, the drift snapshot in SQL, ``RowAction``;
* ``schema``   what the database has so far (``Schema``, ``read_schema``);
* ``session``  connecting for an entry point, server errors as one line;
* ``rows``     reading rows for a plan in one comparison query, ``make_plan``, ``plan``;
* ``writer``   ``PlanWriter``: one set-based upsert per thousand rows (one round
  trip), history rows and the run row in the same statement;
* ``runs``     the run row (``start_run``, ``finish_run``, ``RunStart``, ``finish_run_sql``);
* ``history``  listing runs (``RunInfo``, ``list_runs``);
* ``rollback`` undoing a run (``RollbackEntry``, ``RollbackOutcome``, ``rollback``);
* ``snapshot`` one tenant as stored, for export (``read_snapshot``).

Every SQL statement is a named constant beside the code that runs it.
"""

from __future__ import annotations

from tenant_migrator.store.history import RunInfo, list_runs
from tenant_migrator.store.rollback import RollbackEntry, RollbackOutcome, rollback
from tenant_migrator.store.rows import (
    Payload,
    configs,
    make_plan,
    payload_of,
    payloads,
    plan,
    read_orphans,
    read_rows,
    read_rows_and_orphans,
    read_rows_whole,
)
from tenant_migrator.store.runs import RunStart, finish_run, finish_run_sql, start_run
from tenant_migrator.store.schema import Schema, read_schema
from tenant_migrator.store.session import connected, database_errors, migration_files
from tenant_migrator.store.snapshot import read_snapshot
from tenant_migrator.store.tables import (
    RUN_TENANTS,
    RUNS,
    TENANTS,
    WRITTEN_COLUMNS,
    RowAction,
    hash_sql,
    snapshot_sql,
)
from tenant_migrator.store.writer import FLUSH_ROWS, WRITER_PRELUDE_SQL, PlanWriter, write_plan

__all__ = [
    "FLUSH_ROWS",
    "RUNS",
    "RUN_TENANTS",
    "TENANTS",
    "WRITER_PRELUDE_SQL",
    "WRITTEN_COLUMNS",
    "Payload",
    "PlanWriter",
    "RollbackEntry",
    "RollbackOutcome",
    "RowAction",
    "RunInfo",
    "RunStart",
    "Schema",
    "configs",
    "connected",
    "database_errors",
    "finish_run",
    "finish_run_sql",
    "hash_sql",
    "list_runs",
    "make_plan",
    "migration_files",
    "payload_of",
    "payloads",
    "plan",
    "read_orphans",
    "read_rows",
    "read_rows_and_orphans",
    "read_rows_whole",
    "read_schema",
    "read_snapshot",
    "rollback",
    "snapshot_sql",
    "start_run",
    "write_plan",
]
