"""What the ``migrate`` commands call: connect to a target, do one job, say what
happened. Reading commands (``status``, ``--dry-run``, ``--sql``, ``emit``) run in a
read-only transaction, so they cannot write even by accident."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tenant_migrator.errors import MigrationError, UsageError
from tenant_migrator.migrations import ledger, runner, supabase_cli
from tenant_migrator.migrations.files import Kind, Migration, compat_sql
from tenant_migrator.migrations.state import MigrationStatus, State, observe, statuses

if TYPE_CHECKING:
    from tenant_migrator.database import Target


@dataclass(frozen=True, slots=True)
class MigrateOutcome:
    """What ``migrate`` did (or, with dry_run, would do)."""

    pending: tuple[Migration, ...]  # pending before the run
    applied: tuple[runner.Applied, ...]  # empty for a dry run
    needs_compat: bool  # plain PostgreSQL: the Supabase roles/auth.role() are (to be) created
    dry_run: bool
    satisfied: tuple[Migration, ...] = ()  # found in the database, (to be) recorded
    upgraded: tuple[ledger.Entry, ...] = ()  # rows of the previous version's ledger
    removed_cli_rows: tuple[supabase_cli.CliRow, ...] = ()


def _database_errors(target: Target | str | None) -> AbstractAsyncContextManager[None]:
    """A server error outside a migration's own SQL (no privilege to create the
    history schema, connection lost) as one clear line instead of a traceback."""
    from tenant_migrator import database

    return database.server_errors(target, MigrationError)


def _connection(target: Target | str | None) -> AbstractAsyncContextManager:
    from tenant_migrator import database

    return database.connection(target)


async def migrate_target(
    target: Target | str | None,
    files: Sequence[Migration],
    *,
    dry_run: bool = False,
    on_applied: Callable[[runner.Applied], None] | None = None,
    timeouts: runner.Timeouts = runner.DEFAULT_TIMEOUTS,
    supabase_dir: Path | None = None,
) -> MigrateOutcome:
    """Connect to ``target`` and apply the pending ``files`` (or, dry run, only list them)."""
    async with _connection(target) as conn, _database_errors(target):
        if dry_run:
            async with conn.transaction(readonly=True):
                prepared = await runner.prepare(conn, files, supabase_dir=supabase_dir, write=False)
            return _outcome(prepared, (), dry_run=True)
        report = await runner.run(
            conn, files, on_applied=on_applied, timeouts=timeouts, supabase_dir=supabase_dir
        )
        return _outcome(report.prepared, report.applied, dry_run=False)


def _outcome(
    prepared: runner.Prepared, applied: tuple[runner.Applied, ...], *, dry_run: bool
) -> MigrateOutcome:
    return MigrateOutcome(
        pending=prepared.todo,
        applied=applied,
        needs_compat=prepared.needs_compat,
        dry_run=dry_run,
        satisfied=prepared.satisfied,
        upgraded=prepared.upgraded,
        removed_cli_rows=prepared.removed_cli_rows,
    )


async def status_target(
    target: Target | str | None, files: Sequence[Migration]
) -> list[MigrationStatus]:
    """Every migration with its state and where that was learned. Reads only."""
    async with (
        _connection(target) as conn,
        _database_errors(target),
        conn.transaction(readonly=True),
    ):
        return statuses(files, await observe(conn))


async def sql_script(target: Target | str | None, files: Sequence[Migration]) -> str:
    """The pending migrations as one script for the SQL Editor; writes nothing.
    Empty when nothing is pending."""
    async with (
        _connection(target) as conn,
        _database_errors(target),
        conn.transaction(readonly=True),
    ):
        found = statuses(files, await observe(conn))
        runner.refuse_modified(found)
        compat = await runner.needs_compat(conn)
    todo = [s.migration for s in found if s.needs_running]
    if not todo:
        return ""
    parts = [
        "-- Pending migrations, printed by `tenant-migrator migrate --sql`.\n"
        "-- Paste into the Supabase SQL Editor (or psql -v ON_ERROR_STOP=1 -f). The tool\n"
        "-- records nothing now: its next `migrate` finds them in the database and records\n"
        "-- them as satisfied (tool migrations) -- project files: `migrate repair`.\n"
    ]
    if compat:
        parts.append(
            "-- This database has no `auth` schema (plain PostgreSQL, not Supabase): the\n"
            "-- Supabase roles and auth.role() that 011 needs come first.\n" + compat_sql()
        )
    for m in todo:
        body = m.sql.replace("\r\n", "\n").replace("\r", "\n").rstrip() + "\n"
        if m.transactional:
            parts.append(f"-- === {m.label} ===\nBEGIN;\n{body}COMMIT;\n")
        else:
            parts.append(f"-- === {m.label} (outside a transaction) ===\n{body}")
    return "\n".join(parts)


async def emit_target(
    target: Target | str | None,
    files: Sequence[Migration],
    directory: Path,
    *,
    now: datetime | None = None,
) -> list[tuple[Path, Migration]]:
    """Write each pending tool migration into the Supabase CLI's ``directory``; none
    for one already emitted there or already satisfied. Reads the database only."""
    async with (
        _connection(target) as conn,
        _database_errors(target),
        conn.transaction(readonly=True),
    ):
        found = statuses([m for m in files if m.kind is Kind.TOOL], await observe(conn))
    emitted = supabase_cli.already_emitted(directory)
    todo = [s.migration for s in found if s.needs_running and s.migration.name not in emitted]
    planned = supabase_cli.emit_paths(todo, directory, now or datetime.now(UTC))
    if planned:
        directory.mkdir(parents=True, exist_ok=True)
    for path, migration in planned:
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(supabase_cli.emitted_text(migration))
    return planned


def _select(files: Sequence[Migration], wanted: str) -> list[Migration]:
    """The migrations ``wanted`` names: a tool migration's name; a project file's
    stem or file name; or a number (every project file with it, or, with no project
    folder given, the tool migration with it)."""
    by_key = [m for m in files if wanted in (m.key, m.path.name, m.label)]
    if by_key:
        return by_key
    if wanted.isdigit():
        project = [m for m in files if m.kind is Kind.PROJECT and m.number == int(wanted)]
        if project:
            return project
        return [m for m in files if m.kind is Kind.TOOL and m.number == int(wanted)]
    return []


def _unknown(wanted: Sequence[str], files: Sequence[Migration]) -> str:
    known = ", ".join(dict.fromkeys(m.key for m in files)) or "none"
    return f"no migration {', '.join(map(repr, wanted))} (known: {known})"


async def repair_target(
    target: Target | str | None,
    files: Sequence[Migration],
    versions: Sequence[str] | str,
    *,
    applied: bool,
) -> list[str]:
    """Mark migrations applied (records the file's current checksum; runs no SQL) or
    reverted (forgets them) in our ledger, all in one transaction. Returns the keys."""
    if isinstance(versions, str):
        versions = [versions]
    chosen: list[Migration] = []
    unknown = []
    for wanted in versions:
        found = _select(files, wanted)
        if not found:
            unknown.append(wanted)
        chosen += [m for m in found if m not in chosen]
    if unknown:
        raise UsageError(_unknown(unknown, files))
    async with _connection(target) as conn, _database_errors(target), conn.transaction():
        await runner.lock(conn)
        await ledger.create(conn)
        observed = await observe(conn)
        await ledger.upgrade(conn, [e for e in observed.ledger.values() if e.old])
        for m in chosen:
            if applied:
                await ledger.record(conn, m, how="repair", os_user=runner.os_user() or "unknown")
            else:
                await ledger.forget(conn, m.kind, m.key)
    return [m.key for m in chosen]


async def baseline_target(
    target: Target | str | None, files: Sequence[Migration], version: str
) -> list[str]:
    """Mark every project file numbered up to ``version`` applied without running it
    (files already recorded are left as they are). Returns the keys marked."""
    if not version.isdigit():
        raise UsageError(f"baseline VERSION must be a number, not {version!r}")
    chosen = [m for m in files if m.kind is Kind.PROJECT and m.number <= int(version)]
    if not chosen:
        raise UsageError(f"no project migration numbered {version} or lower")
    async with _connection(target) as conn, _database_errors(target), conn.transaction():
        await runner.lock(conn)
        await ledger.create(conn)
        found = statuses(chosen, await observe(conn))
        todo = [s.migration for s in found if s.state is State.PENDING]
        for m in todo:
            await ledger.record(conn, m, how="baseline", os_user=runner.os_user() or "unknown")
    return [m.key for m in todo]
