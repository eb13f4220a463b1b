"""Migration files, their history in the database, and applying the pending ones.

Files: ``NNN_name.sql``; the version is the leading digits, kept as written
("011"), and files run in numeric version order. They come from
``<project-dir>/database/migrations`` when that directory exists, otherwise from
the copy bundled in the wheel, otherwise from the source checkout (editable
install).

History lives in two tables:

- ``supabase_migrations.schema_migrations (version, statements, name)`` — the
  table the Supabase CLI reads and writes, so ``supabase migration list`` and we
  agree. A version is *applied* exactly when it has a row here.
- ``tenant_migrator.schema_migrations`` — our ledger: the file's SHA-256 checksum,
  when and by whom it was applied. A file whose checksum differs from the
  ledger's is *modified*, and ``migrate`` refuses to run until the file is
  restored (or the history is repaired).

Concurrency: every transaction that reads or writes history first takes the
transaction-level advisory lock ``ADVISORY_LOCK_KEY``. Transaction-level (not
session-level) because Supabase's transaction pooler may run consecutive
transactions of one client on different server sessions. A second ``migrate``
waits for the first one's transaction, then sees the migration applied and
skips it.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from tenant_migrator.errors import MigrationError, UsageError

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.database import Target

# Any fixed 64-bit number works; this one is "tenant-m" in ASCII. Shared by every
# tool process on the same database (advisory locks are per database).
ADVISORY_LOCK_KEY = 0x74656E616E742D6D

LEDGER_SCHEMA = "tenant_migrator"
LEDGER_TABLE = f"{LEDGER_SCHEMA}.schema_migrations"
SUPABASE_TABLE = "supabase_migrations.schema_migrations"

_FILE_RE = re.compile(r"^(?P<version>\d+)_?(?P<name>.*)\.sql$")
_SOURCE_CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "database" / "migrations"


class State(StrEnum):
    APPLIED = "applied"
    PENDING = "pending"
    MODIFIED = "modified"


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: str
    name: str
    path: Path
    sql: str = field(repr=False)
    checksum: str = ""  # sha256 hex of the file's bytes

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def statements(self) -> list[str]:
        return split_statements(self.sql)


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """One line of ``migrate status``. ``migration`` is None for a version that is
    recorded as applied but has no file here (applied from another checkout)."""

    version: str
    name: str
    state: State
    applied_at: datetime | None
    applied_by: str | None
    migration: Migration | None


# --- files ------------------------------------------------------------------------------


def migrations_dir(project_dir: Path) -> Path:
    """Where the migration files are (see the module docstring for the order)."""
    project = project_dir / "database" / "migrations"
    if project.is_dir():
        return project
    bundled = resources.files("tenant_migrator") / "_bundled_migrations"
    if bundled.is_dir():
        return Path(str(bundled))
    return _SOURCE_CHECKOUT_DIR


def compat_sql() -> str:
    return (resources.files("tenant_migrator") / "sql" / "supabase_compat.sql").read_text(
        encoding="utf-8"
    )


def load_migrations(directory: Path) -> tuple[Migration, ...]:
    """Every ``NNN_name.sql`` in ``directory``, in version order.

    Two files with the same version number are an error: which one ran would be
    an accident of sorting.
    """
    if not directory.is_dir():
        raise MigrationError(f"migration directory {directory} does not exist")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            continue
        raw = path.read_bytes()
        try:
            sql = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise MigrationError(
                f"{path}: not UTF-8 text ({err.reason} at byte {err.start})"
            ) from None
        number = int(match["version"])
        if number in found:
            raise MigrationError(
                f"{path}: version {match['version']} is also used by {found[number].path.name}; "
                "give each migration its own number"
            )
        found[number] = Migration(
            version=match["version"],
            name=match["name"],
            path=path,
            sql=sql,
            checksum=hashlib.sha256(raw).hexdigest(),
        )
    return tuple(found[n] for n in sorted(found))


def load_project_migrations(project_dir: Path) -> tuple[Migration, ...]:
    return load_migrations(migrations_dir(project_dir))


# --- splitting SQL ----------------------------------------------------------------------

_DOLLAR_TAG_RE = re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")
_IDENT_CHAR_RE = re.compile(r"[A-Za-z0-9_$\x80-\uffff]")


def split_statements(sql: str) -> list[str]:
    """Split a SQL script at top-level semicolons, like psql does.

    Semicolons inside 'strings' (also E'…' with backslash escapes), "identifiers",
    $tag$ dollar quotes $tag$, -- line comments and /* nested */ block comments do
    not split. Comments before a statement and statements that are only comments
    are dropped; the others are returned trimmed, without the final semicolon.
    """
    return [statement for _, statement in statement_spans(sql)]


def statement_spans(sql: str) -> list[tuple[int, str]]:
    """``split_statements`` with each statement's offset in ``sql``."""
    statements: list[tuple[int, str]] = []
    start: int | None = None  # where the current statement's first code character is
    i = 0
    n = len(sql)

    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if ch == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            continue
        if ch == ";":
            if start is not None:
                statements.append((start, sql[start:i].rstrip()))
            start = None
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        if start is None:
            start = i
        if ch == "'":
            # E'...' strings treat backslash as an escape; plain ones do not.
            prefix_e = i > 0 and sql[i - 1] in "eE"
            escapes = prefix_e and (i < 2 or not _IDENT_CHAR_RE.match(sql[i - 2]))
            i = _skip_quoted(sql, i, "'", backslash_escapes=escapes)
        elif ch == '"':
            i = _skip_quoted(sql, i, '"', backslash_escapes=False)
        elif ch == "$" and (i == 0 or not _IDENT_CHAR_RE.match(sql[i - 1])):
            match = _DOLLAR_TAG_RE.match(sql, i)
            if match:
                tag = match.group(0)
                end = sql.find(tag, match.end())
                i = n if end < 0 else end + len(tag)
            else:
                i += 1
        else:
            i += 1

    if start is not None:
        statements.append((start, sql[start:].rstrip()))
    return statements


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    n = len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _skip_quoted(sql: str, i: int, quote: str, *, backslash_escapes: bool) -> int:
    i += 1
    n = len(sql)
    while i < n:
        ch = sql[i]
        if backslash_escapes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and sql[i + 1] == quote:  # doubled quote: an escaped quote
                i += 2
                continue
            return i + 1
        i += 1
    return n


# --- history tables ---------------------------------------------------------------------

_HISTORY_DDL = f"""
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS {SUPABASE_TABLE} (
    version text PRIMARY KEY,
    statements text[],
    name text
);
CREATE SCHEMA IF NOT EXISTS {LEDGER_SCHEMA};
CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL,
    execution_ms integer,
    how text NOT NULL DEFAULT 'migrate' CHECK (how IN ('migrate', 'repair'))
);
COMMENT ON TABLE {LEDGER_TABLE} IS
    'tenant-migrator: checksum, time and author of each applied migration '
    '(the Supabase CLI''s supabase_migrations.schema_migrations says which are applied)';
"""


async def lock(conn: asyncpg.Connection) -> None:
    """Take the tool's advisory lock until the end of the current transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_KEY)


async def _history_exists(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
            SUPABASE_TABLE,
            LEDGER_TABLE,
        )
    )


async def _needs_compat(conn: asyncpg.Connection) -> bool:
    return await conn.fetchval("SELECT to_regnamespace('auth') IS NULL")


async def prepare(conn: asyncpg.Connection) -> bool:
    """Create the history tables and, on plain PostgreSQL (no ``auth`` schema), the
    Supabase roles and ``auth.role()``. Call inside a transaction holding the lock.
    Returns True when the compat SQL ran."""
    compat = await _needs_compat(conn)
    if compat:
        await conn.execute(compat_sql())
    if not await _history_exists(conn):
        await conn.execute(_HISTORY_DDL)
    return compat


@dataclass(frozen=True, slots=True)
class _Recorded:
    version: str
    name: str | None
    in_supabase: bool
    checksum: str | None
    applied_at: datetime | None
    applied_by: str | None


async def _recorded(conn: asyncpg.Connection) -> dict[str, _Recorded]:
    """History by version, merged from both tables; {} when there is none yet."""
    if not await _history_exists(conn):
        return {}
    rows = await conn.fetch(
        f"""
        SELECT coalesce(s.version, l.version) AS version,
               coalesce(s.name, l.name) AS name,
               s.version IS NOT NULL AS in_supabase,
               l.checksum, l.applied_at, l.applied_by
        FROM {SUPABASE_TABLE} s
        FULL JOIN {LEDGER_TABLE} l ON l.version = s.version
        """
    )
    return {r["version"]: _Recorded(**dict(r)) for r in rows}


def _find(recorded: dict[str, _Recorded], version: str) -> _Recorded | None:
    # "11" and "011" are the same migration; the Supabase CLI keeps the file's text.
    if version in recorded:
        return recorded[version]
    return next((rec for key, rec in recorded.items() if _same_number(key, version)), None)


def _state(migration: Migration, rec: _Recorded | None) -> State:
    if rec is None or not rec.in_supabase:
        return State.PENDING
    if rec.checksum is not None and rec.checksum != migration.checksum:
        return State.MODIFIED
    return State.APPLIED


def _statuses(
    migrations: Sequence[Migration], recorded: dict[str, _Recorded]
) -> list[MigrationStatus]:
    out: list[MigrationStatus] = []
    seen: set[str] = set()
    for m in migrations:
        rec = _find(recorded, m.version)
        if rec is not None:
            seen.add(rec.version)
        state = _state(m, rec)
        applied = state is not State.PENDING
        out.append(
            MigrationStatus(
                version=m.version,
                name=m.name,
                state=state,
                applied_at=rec.applied_at if rec and applied else None,
                applied_by=rec.applied_by if rec and applied else None,
                migration=m,
            )
        )
    for version, rec in recorded.items():
        if version not in seen and rec.in_supabase:
            out.append(
                MigrationStatus(
                    version=version,
                    name=rec.name or "",
                    state=State.APPLIED,
                    applied_at=rec.applied_at,
                    applied_by=rec.applied_by,
                    migration=None,
                )
            )
    return sorted(out, key=lambda s: (int(s.version) if s.version.isdigit() else 0, s.version))


async def status(
    conn: asyncpg.Connection, migrations: Sequence[Migration]
) -> list[MigrationStatus]:
    """Every migration with its state. Reads only; works before any history exists."""
    return _statuses(migrations, await _recorded(conn))


def _modified_error(modified: Iterable[MigrationStatus]) -> MigrationError:
    lines = [
        f"{s.migration.path if s.migration else s.version}: changed after it was applied "
        f"(checksum differs from the one recorded on {s.applied_at:%Y-%m-%d %H:%M} "
        f"by {s.applied_by})"
        for s in modified
    ]
    return MigrationError(
        "\n".join(lines)
        + "\nApplied migrations must not be edited: restore the file (git checkout -- FILE) and "
        "put the change in a new migration. If the database really matches the new file, "
        "record that with `tenant-migrator migrate repair VERSION --status applied`."
    )


async def pending(conn: asyncpg.Connection, migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations ``apply_pending`` would run now. Raises ``MigrationError`` when an
    applied migration's file was modified. Reads only."""
    statuses = await status(conn, migrations)
    modified = [s for s in statuses if s.state is State.MODIFIED]
    if modified:
        raise _modified_error(modified)
    return [s.migration for s in statuses if s.state is State.PENDING and s.migration]


def os_user() -> str | None:
    """Who runs the tool on this machine, for the history; None when the system
    cannot say (no such uid in a container, say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


async def _record(
    conn: asyncpg.Connection, migration: Migration, *, how: str, execution_ms: int | None
) -> None:
    await conn.execute(
        f"""
        INSERT INTO {SUPABASE_TABLE} (version, statements, name) VALUES ($1, $2, $3)
        ON CONFLICT (version) DO UPDATE SET statements = excluded.statements, name = excluded.name
        """,
        migration.version,
        migration.statements,
        migration.name,
    )
    await conn.execute(
        f"""
        INSERT INTO {LEDGER_TABLE} (version, name, checksum, applied_at, applied_by,
                                    execution_ms, how)
        VALUES ($1, $2, $3, now(), current_user || ' (' || $4 || ')', $5, $6)
        ON CONFLICT (version) DO UPDATE SET
            name = excluded.name, checksum = excluded.checksum,
            applied_at = excluded.applied_at, applied_by = excluded.applied_by,
            execution_ms = excluded.execution_ms, how = excluded.how
        """,
        migration.version,
        migration.name,
        migration.checksum,
        os_user() or "unknown",
        execution_ms,
        how,
    )


@dataclass(frozen=True, slots=True)
class Applied:
    migration: Migration
    duration_ms: int


async def apply_pending(
    conn: asyncpg.Connection,
    migrations: Sequence[Migration],
    *,
    on_applied: Callable[[Applied], None] | None = None,
) -> list[Applied]:
    """Apply every pending migration in version order, each in its own transaction.

    Refuses (``MigrationError``, nothing run) when an applied migration's file was
    modified. A failing migration is rolled back and raises ``MigrationError``
    naming the file and the statement; the ones before it stay applied.
    Safe to run concurrently: see the module docstring.
    """
    async with conn.transaction():
        await lock(conn)
        await prepare(conn)
        # Checked before anything runs, so a modified file means nothing is applied.
        todo = await pending(conn, migrations)

    done: list[Applied] = []
    for migration in todo:
        started = time.perf_counter()
        async with conn.transaction():
            await lock(conn)
            # Another process may have applied it while we waited for the lock.
            recorded = await _recorded(conn)
            state = _state(migration, _find(recorded, migration.version))
            if state is State.MODIFIED:
                raise _modified_error(
                    [s for s in _statuses([migration], recorded) if s.state is State.MODIFIED]
                )
            if state is State.APPLIED:
                continue
            await _execute(conn, migration)
            elapsed = int((time.perf_counter() - started) * 1000)
            await _record(conn, migration, how="migrate", execution_ms=elapsed)
        applied = Applied(migration=migration, duration_ms=elapsed)
        done.append(applied)
        if on_applied is not None:
            on_applied(applied)
    return done


async def _execute(conn: asyncpg.Connection, migration: Migration) -> None:
    import asyncpg

    # Statement by statement, as psql -f sends them, so a failure names its line.
    for offset, statement in statement_spans(migration.sql):
        try:
            await conn.execute(statement)
        except asyncpg.PostgresError as err:
            raise MigrationError(_describe_failure(migration, offset, err)) from None


def _describe_failure(migration: Migration, offset: int, err: asyncpg.PostgresError) -> str:
    position = getattr(err, "position", None)
    if position and str(position).isdigit():
        # The server points into the statement (1-based); map that into the file.
        offset += int(position) - 1
    line = migration.sql.count("\n", 0, offset) + 1
    column = offset - (migration.sql.rfind("\n", 0, offset) + 1) + 1
    from tenant_migrator.database import describe_server_error

    hint = f" Hint: {err.hint}" if getattr(err, "hint", None) else ""
    return (
        f"{migration.path}:{line}:{column}: migration {migration.version} failed and was "
        f"rolled back: {describe_server_error(err)}.{hint} "
        "Fix the file (it was never applied, so editing it is fine) and run migrate again."
    )


# --- repair -----------------------------------------------------------------------------


async def repair(
    conn: asyncpg.Connection, migrations: Sequence[Migration], version: str, applied: bool
) -> str:
    """Mark ``version`` applied or reverted in both history tables; runs no migration SQL.

    Marking applied records the file's current checksum (this is also how a
    modified file is accepted). Returns the version as recorded.
    """
    async with conn.transaction():
        await lock(conn)
        await prepare(conn)
        migration = next(
            (m for m in migrations if m.version == version or _same_number(m.version, version)),
            None,
        )
        if applied:
            if migration is None:
                raise UsageError(_unknown_version(version, migrations))
            await _record(conn, migration, how="repair", execution_ms=None)
            return migration.version
        rec = _find(await _recorded(conn), version)
        target = rec.version if rec else migration.version if migration else None
        if target is None:
            raise UsageError(_unknown_version(version, migrations))
        await conn.execute(f"DELETE FROM {SUPABASE_TABLE} WHERE version = $1", target)
        await conn.execute(f"DELETE FROM {LEDGER_TABLE} WHERE version = $1", target)
        return target


def _same_number(a: str, b: str) -> bool:
    return a.isdigit() and b.isdigit() and int(a) == int(b)


def _unknown_version(version: str, migrations: Sequence[Migration]) -> str:
    known = ", ".join(m.version for m in migrations) or "none"
    return f"no migration with version {version!r} (known: {known})"


# --- entry points taking a target (what the CLI calls) ----------------------------------


@dataclass(frozen=True, slots=True)
class MigrateOutcome:
    """What ``migrate`` did (or, with dry_run, would do)."""

    pending: tuple[Migration, ...]  # pending before the run
    applied: tuple[Applied, ...]  # empty for a dry run
    needs_compat: bool  # plain PostgreSQL: the Supabase roles/auth.role() are (to be) created
    dry_run: bool


async def migrate_target(
    target: Target | str | None,
    files: Sequence[Migration],
    *,
    dry_run: bool = False,
    on_applied: Callable[[Applied], None] | None = None,
) -> MigrateOutcome:
    """Connect to ``target`` and apply the pending ``files`` (or, dry run, only list them)."""
    from tenant_migrator import database

    async with database.connection(target) as conn, _database_errors(target):
        if dry_run:
            # A read-only transaction: a dry run cannot write even by accident.
            async with conn.transaction(readonly=True):
                compat = await _needs_compat(conn)
                todo = await pending(conn, files)
            return MigrateOutcome(tuple(todo), (), compat, True)
        compat = await _needs_compat(conn)
        todo = await pending(conn, files)
        applied = await apply_pending(conn, files, on_applied=on_applied)
        return MigrateOutcome(tuple(todo), tuple(applied), compat, False)


async def status_target(
    target: Target | str | None, files: Sequence[Migration]
) -> list[MigrationStatus]:
    from tenant_migrator import database

    async with database.connection(target) as conn, _database_errors(target):
        return await status(conn, files)


async def repair_target(
    target: Target | str | None, files: Sequence[Migration], version: str, *, applied: bool
) -> str:
    from tenant_migrator import database

    async with database.connection(target) as conn, _database_errors(target):
        return await repair(conn, files, version, applied)


def _database_errors(target: Target | str | None) -> AbstractAsyncContextManager[None]:
    """A server error outside a migration's own SQL (no privilege to create the
    history schema, connection lost) as one clear line instead of a traceback."""
    from tenant_migrator import database

    return database.server_errors(target, MigrationError)
