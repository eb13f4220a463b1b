"""Applying migrations on a live database: the lock, the timeouts, one at a time.

Concurrency: every transaction that reads or writes history first takes the
transaction-level advisory lock ``ADVISORY_LOCK_KEY``. Transaction-level (not
session-level) because Supabase's transaction pooler may run consecutive
transactions of one client on different server sessions. A second ``migrate``
waits for the first one's transaction, then sees the migration applied and skips it.

A live table: each migration runs with ``lock_timeout`` (default 5 s) so that its
ALTER TABLE waiting behind a long transaction does not hold every new reader of
the table in the queue behind it; on a lock timeout the migration is rolled back
and retried a few times, then the run stops naming the sessions that held locks.
``statement_timeout`` bounds a statement that runs too long. ``RESET ALL`` after
each migration, so a ``SET`` in one file never leaks into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tenant_migrator.errors import MigrationError
from tenant_migrator.migrations import catalog, ledger, supabase_cli
from tenant_migrator.migrations.files import (
    NO_TRANSACTION_DIRECTIVE,
    Kind,
    Migration,
    compat_sql,
)
from tenant_migrator.migrations.state import MigrationStatus, State, observe, statuses
from tenant_migrator.migrations.statements import statement_spans

if TYPE_CHECKING:
    import asyncpg

# Any fixed 64-bit number works; this one is "tenant-m" in ASCII. Shared by every
# tool process on the same database (advisory locks are per database).
ADVISORY_LOCK_KEY = 0x74656E616E742D6D

DEFAULT_LOCK_TIMEOUT_S = 5.0
DEFAULT_STATEMENT_TIMEOUT_S = 300.0
ATTEMPTS = 3

# The key written in (a constant): with no parameter, asyncpg sends the simple
# protocol, one round trip instead of a prepare and an execute.
LOCK_SQL = f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY})"
SESSION_LOCK_SQL = "SELECT pg_advisory_lock($1)"
SESSION_UNLOCK_SQL = "SELECT pg_advisory_unlock($1)"
NEEDS_COMPAT_SQL = "SELECT to_regnamespace('auth') IS NULL"
# is_local = true: SET LOCAL, gone at the end of the migration's transaction.
SET_TIMEOUTS_SQL = (
    "SELECT set_config('lock_timeout', $1, $3), set_config('statement_timeout', $2, $3)"
)
RESET_SQL = "RESET ALL"
# Who holds locks on tables, for the lock-timeout message. Never the query text:
# another session's statement may hold anything, a secret included.
LOCK_HOLDERS_SQL = """
SELECT a.pid, a.usename, a.application_name, a.state,
       extract(epoch FROM now() - coalesce(a.xact_start, a.state_change))::int AS seconds,
       string_agg(DISTINCT l.relation::regclass::text, ', ') AS relations
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relkind IN ('r', 'p', 'm')
                       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                       AND n.nspname NOT LIKE 'pg_toast%')
GROUP BY a.pid, a.usename, a.application_name, a.state, a.xact_start, a.state_change
ORDER BY seconds DESC NULLS LAST
LIMIT 5
"""


@dataclass(frozen=True, slots=True)
class Timeouts:
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S
    attempts: int = ATTEMPTS

    def settings(self) -> tuple[str, str]:
        return f"{int(self.lock_timeout_s * 1000)}ms", f"{int(self.statement_timeout_s * 1000)}ms"


DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True, slots=True)
class Applied:
    migration: Migration
    duration_ms: int
    warnings: tuple[str, ...] = ()  # what the migration reported (a policy left as it was)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the first transaction of ``migrate`` found and recorded."""

    statuses: tuple[MigrationStatus, ...]
    needs_compat: bool
    upgraded: tuple[ledger.Entry, ...] = ()  # rows copied from the previous ledger
    removed_cli_rows: tuple[supabase_cli.CliRow, ...] = ()  # our old rows in the CLI's table

    @property
    def todo(self) -> tuple[Migration, ...]:
        return tuple(s.migration for s in self.statuses if s.needs_running)

    @property
    def satisfied(self) -> tuple[Migration, ...]:
        return tuple(s.migration for s in self.statuses if s.needs_recording)


@dataclass(frozen=True, slots=True)
class RunReport:
    prepared: Prepared
    applied: tuple[Applied, ...] = field(default=())


def os_user() -> str | None:
    """Who runs the tool on this machine, for the history; None when the system
    cannot say (no such uid in a container, say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


async def lock(conn: asyncpg.Connection) -> None:
    """Take the tool's advisory lock until the end of the current transaction."""
    await conn.execute(LOCK_SQL)


class LockedTransaction:
    """``async with LockedTransaction(conn) as tx:`` — a transaction holding the
    tool's advisory lock, begun and locked in ONE round trip (one simple query:
    ``BEGIN; SELECT pg_advisory_xact_lock(…)``, plus ``prelude``: SET LOCALs).
    ``tx.commit_with(sql)``: statements sent with the COMMIT, in the same round
    trip (the run row's summary). Any exception rolls back, as
    ``conn.transaction()`` does."""

    def __init__(self, conn: asyncpg.Connection, prelude: str = "") -> None:
        self.conn = conn
        self.prelude = prelude
        self._tail = ""

    def commit_with(self, sql: str) -> None:
        self._tail = sql

    async def __aenter__(self) -> LockedTransaction:
        try:
            await self.conn.execute(f"BEGIN; {LOCK_SQL}; {self.prelude}")
        except BaseException:
            await self._rollback()  # the BEGIN went through: leave no failed block open
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            try:
                # On an error in the tail the server skips the COMMIT: roll back below.
                await self.conn.execute(f"{self._tail}; COMMIT" if self._tail else "COMMIT")
                return
            except BaseException:
                await self._rollback()
                raise
        await self._rollback()

    async def _rollback(self) -> None:
        if self.conn.is_closed() or not self.conn.is_in_transaction():
            return
        with contextlib.suppress(Exception):
            await self.conn.execute("ROLLBACK")


async def needs_compat(conn: asyncpg.Connection) -> bool:
    return await conn.fetchval(NEEDS_COMPAT_SQL)


def modified_error(modified: Sequence[MigrationStatus]) -> MigrationError:
    lines = [
        f"{s.migration.path}: changed after it was applied (checksum differs from the one "
        f"recorded on {s.applied_at:%Y-%m-%d %H:%M} by {s.applied_by})"
        for s in modified
    ]
    return MigrationError(
        "\n".join(lines)
        + "\nApplied migrations must not be edited: restore the file (git checkout -- FILE) and "
        "put the change in a new migration. If the database really matches the new file, "
        "record that with `tenant-migrator migrate --migrations-dir DIR repair VERSION "
        "--status applied`."
    )


def refuse_modified(found: Sequence[MigrationStatus]) -> None:
    modified = [s for s in found if s.state is State.MODIFIED]
    if modified:
        raise modified_error(modified)


async def pending(conn: asyncpg.Connection, migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations ``apply_pending`` would run now. Raises ``MigrationError`` when an
    applied project file was modified. Reads only (plan calls it read-only)."""
    found = statuses(migrations, await observe(conn))
    refuse_modified(found)
    return [s.migration for s in found if s.needs_running]


async def prepare(
    conn: asyncpg.Connection,
    migrations: Sequence[Migration],
    *,
    supabase_dir: Path | None = None,
    write: bool = True,
) -> Prepared:
    """The first step of ``migrate``, inside a transaction holding the lock: on plain
    PostgreSQL the Supabase roles and ``auth.role()``; our ledger (upgraded from the
    previous version's, removing from the CLI's table the rows that version wrote
    there without a file); tool migrations found satisfied in the catalog recorded as
    such. ``write=False`` (dry run): only find out what that would do."""
    observed = await observe(conn)
    compat = observed.needs_compat
    found = statuses(migrations, observed)
    refuse_modified(found)
    old = [e for e in observed.ledger.values() if e.old]
    local = supabase_cli.local_versions(supabase_dir)
    stale = supabase_cli.rows_we_wrote(observed.cli_history, old, local)
    prepared = Prepared(tuple(found), compat, tuple(old), tuple(stale))
    if not write:
        return prepared
    if compat:
        await conn.execute(compat_sql())
    await ledger.create(conn, exists=observed.has_ledger)
    await ledger.upgrade(conn, old, exists=observed.has_old_ledger)
    await supabase_cli.remove_rows(conn, stale)
    for migration in prepared.satisfied:
        await ledger.record(conn, migration, how="satisfied", os_user=os_user() or "unknown")
    return prepared


async def apply_pending(
    conn: asyncpg.Connection,
    migrations: Sequence[Migration],
    *,
    on_applied: Callable[[Applied], None] | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    supabase_dir: Path | None = None,
) -> list[Applied]:
    """Apply every pending migration in order, each in its own transaction (a project
    file marked no-transaction statement by statement). See ``run``."""
    report = await run(
        conn, migrations, on_applied=on_applied, timeouts=timeouts, supabase_dir=supabase_dir
    )
    return list(report.applied)


async def run(
    conn: asyncpg.Connection,
    migrations: Sequence[Migration],
    *,
    on_applied: Callable[[Applied], None] | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    supabase_dir: Path | None = None,
) -> RunReport:
    """Refuses (``MigrationError``, nothing run) when an applied project file was
    modified. A failing migration is rolled back and raises ``MigrationError``
    naming the file and the statement; the ones before it stay applied."""
    async with LockedTransaction(conn):
        prepared = await prepare(conn, migrations, supabase_dir=supabase_dir)

    done: list[Applied] = []
    for migration in prepared.todo:
        applied = await _apply_with_retries(conn, migration, timeouts)
        if applied is None:
            continue  # another process applied it while we waited for the lock
        done.append(applied)
        if on_applied is not None:
            on_applied(applied)
    return RunReport(prepared, tuple(done))


class _LockTimeout(Exception):
    pass


async def _apply_with_retries(
    conn: asyncpg.Connection, migration: Migration, timeouts: Timeouts
) -> Applied | None:
    for attempt in range(1, timeouts.attempts + 1):
        try:
            if migration.transactional:
                return await _apply_in_transaction(conn, migration, timeouts)
            return await _apply_outside_transaction(conn, migration, timeouts)
        except _LockTimeout:
            if attempt == timeouts.attempts:
                raise MigrationError(await _lock_message(conn, migration, timeouts)) from None
            # Let the sessions queued behind our lock request through, then try again.
            await asyncio.sleep(min(0.2 * attempt, 1.0))
        finally:
            await conn.execute(RESET_SQL)
    return None  # unreachable: the last attempt returns or raises


async def _current(conn: asyncpg.Connection, migration: Migration) -> MigrationStatus:
    (found,) = statuses([migration], await observe(conn))
    return found


async def _apply_in_transaction(
    conn: asyncpg.Connection, migration: Migration, timeouts: Timeouts
) -> Applied | None:
    started = time.perf_counter()
    async with conn.transaction():
        # The advisory lock first, without lock_timeout: waiting for another migrate
        # is fine; waiting on a table behind a reader is what the timeout bounds.
        await lock(conn)
        current = await _current(conn, migration)
        if current.state is State.MODIFIED:
            raise modified_error([current])
        if not current.needs_running:
            return None
        await conn.execute(SET_TIMEOUTS_SQL, *timeouts.settings(), True)
        warnings = await _execute(conn, migration)
        if migration.kind is Kind.TOOL:
            await _check_satisfied(conn, migration)
        elapsed = int((time.perf_counter() - started) * 1000)
        await ledger.record(
            conn, migration, how="migrate", os_user=os_user() or "unknown", execution_ms=elapsed
        )
    return Applied(migration, elapsed, warnings)


async def _apply_outside_transaction(
    conn: asyncpg.Connection, migration: Migration, timeouts: Timeouts
) -> Applied | None:
    """A file marked ``-- tenant-migrator: no-transaction``: statement by statement,
    each committed on its own (CREATE INDEX CONCURRENTLY), under the session-level
    advisory lock (it spans several transactions)."""
    started = time.perf_counter()
    await conn.execute(SESSION_LOCK_SQL, ADVISORY_LOCK_KEY)
    try:
        current = await _current(conn, migration)
        if current.state is State.MODIFIED:
            raise modified_error([current])
        if not current.needs_running:
            return None
        await conn.execute(SET_TIMEOUTS_SQL, *timeouts.settings(), False)
        warnings = await _execute(conn, migration)
        elapsed = int((time.perf_counter() - started) * 1000)
        async with conn.transaction():
            await ledger.record(
                conn,
                migration,
                how="migrate",
                os_user=os_user() or "unknown",
                execution_ms=elapsed,
            )
    finally:
        await conn.execute(SESSION_UNLOCK_SQL, ADVISORY_LOCK_KEY)
    return Applied(migration, elapsed, warnings)


async def _check_satisfied(conn: asyncpg.Connection, migration: Migration) -> None:
    """A tool migration that ran must leave what the catalog check looks for, or
    every later run would run it again."""
    lacking = catalog.missing(migration.name, await catalog.read(conn))
    if lacking:
        raise MigrationError(
            f"{migration.label}: ran, but the database still lacks {', '.join(lacking)} "
            "(an existing object of the same name with another shape?). It was rolled back; "
            "see `tenant-migrator migrate status`."
        )


async def _execute(conn: asyncpg.Connection, migration: Migration) -> tuple[str, ...]:
    """Run the file statement by statement (as psql -f sends them), so a failure
    names its line; returns the WARNINGs it raised (a policy left as it was)."""
    import asyncpg

    warnings: list[str] = []

    def listen(_conn: object, message: asyncpg.PostgresLogMessage) -> None:
        if getattr(message, "severity", "") == "WARNING":
            warnings.append(message.message)

    conn.add_log_listener(listen)
    try:
        for offset, statement in statement_spans(migration.sql):
            try:
                await conn.execute(statement)
            except asyncpg.exceptions.LockNotAvailableError:
                raise _LockTimeout() from None
            except asyncpg.PostgresError as err:
                raise MigrationError(describe_failure(migration, offset, err)) from None
    finally:
        conn.remove_log_listener(listen)
    return tuple(warnings)


def describe_failure(migration: Migration, offset: int, err: asyncpg.PostgresError) -> str:
    position = getattr(err, "position", None)
    if position and str(position).isdigit():
        # The server points into the statement (1-based); map that into the file.
        offset += int(position) - 1
    line = migration.sql.count("\n", 0, offset) + 1
    column = offset - (migration.sql.rfind("\n", 0, offset) + 1) + 1
    from tenant_migrator.database import describe_server_error

    hint = f" Hint: {err.hint}" if getattr(err, "hint", None) else ""
    where = f"{migration.path}:{line}:{column}"
    if not migration.transactional:
        return (
            f"{where}: migration {migration.label} failed: {describe_server_error(err)}.{hint} "
            "It runs outside a transaction: the statements before this one stay applied "
            "(a failed CREATE INDEX CONCURRENTLY leaves an INVALID index to drop). "
            "Fix the database or the file, then run migrate again."
        )
    text = (
        f"{where}: migration {migration.label} failed and was rolled back: "
        f"{describe_server_error(err)}.{hint}"
    )
    if migration.uses_concurrently and getattr(err, "sqlstate", None) == "25001":
        return (
            f"{text} CONCURRENTLY cannot run inside a transaction: make the file's first "
            f"line `{NO_TRANSACTION_DIRECTIVE}` to run it statement by statement outside one."
        )
    if migration.kind is Kind.TOOL:
        return f"{text} Nothing of it was applied; this is the tool's own migration."
    return (
        f"{text} Nothing of it was applied by this run. If the file was already run by "
        "hand (the SQL Editor), do not edit it: mark it with `tenant-migrator migrate "
        "--migrations-dir DIR repair VERSION --status applied` (or `baseline VERSION`). "
        "Otherwise fix the file and run migrate again."
    )


async def _lock_message(conn: asyncpg.Connection, migration: Migration, timeouts: Timeouts) -> str:
    holders = await conn.fetch(LOCK_HOLDERS_SQL)
    lines = [
        f"  pid {h['pid']} ({h['usename']}"
        + (f", {h['application_name']}" if h["application_name"] else "")
        + f", {h['state']}"
        + (f" for {h['seconds']} s" if h["seconds"] is not None else "")
        + f") holds a lock on {h['relations']}"
        for h in holders
    ]
    who = (
        "Sessions holding table locks now:\n" + "\n".join(lines)
        if lines
        else "No session holds a table lock any more (it has ended meanwhile)."
    )
    return (
        f"migration {migration.label}: gave up after {timeouts.attempts} attempts: each waited "
        f"{timeouts.lock_timeout_s:g} s (lock_timeout) for a table lock that another session "
        f"holds, typically a transaction left open (idle in transaction). Nothing of it was "
        f"applied (rolled back).\n{who}\n"
        "Commit or end that session (SELECT pg_terminate_backend(PID)), or run migrate at a "
        "quieter moment; --lock-timeout SECONDS waits longer (new readers of the table wait "
        "behind the migration meanwhile)."
    )
