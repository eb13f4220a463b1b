"""Migrations: the tool's own schema, a project's explicit folder, and their history.

Rooms, one job each:

- ``files``       migration files: the tool's own (by name), a project folder's
                  (by file stem), checksums, the no-transaction directive;
- ``statements``  splitting SQL into statements as psql does;
- ``catalog``     what the database holds: whether each tool migration is satisfied;
- ``ledger``      our history table (and reading the previous version's);
- ``supabase_cli`` the Supabase CLI's history table and migrations folder, ``emit``;
- ``state``       each migration's state, from ledger, catalog and CLI;
- ``runner``      applying under the advisory lock, with lock/statement timeouts;
- ``commands``    what the ``migrate`` commands call, given a target.

``plan``, ``import`` and ``sync`` only ever deal with the tool's own migrations
(``load_project_migrations``): whatever a project keeps in ``database/migrations/``
never stops or changes them. A project's own folder runs only when named
(``migrate --migrations-dir DIR``).

The names of ``commands`` (the ``migrate`` commands') are imported on first use
(``__getattr__``): ``import`` and ``sync`` only need ``pending`` and the runner.
"""

from __future__ import annotations

from pathlib import Path

from tenant_migrator import _on_first_use
from tenant_migrator.errors import MigrationError
from tenant_migrator.migrations.files import (
    NO_TRANSACTION_DIRECTIVE,
    TOOL_NAMES,
    Kind,
    Migration,
    checksum,
    compat_sql,
    load_migrations,
    tool_migrations,
    tool_migrations_dir,
)
from tenant_migrator.migrations.ledger import LEDGER_TABLE, OLD_LEDGER_TABLE
from tenant_migrator.migrations.runner import (
    ADVISORY_LOCK_KEY,
    DEFAULT_LOCK_TIMEOUT_S,
    DEFAULT_STATEMENT_TIMEOUT_S,
    Applied,
    LockedTransaction,
    Timeouts,
    apply_pending,
    lock,
    os_user,
    pending,
)
from tenant_migrator.migrations.state import MigrationStatus, Source, State
from tenant_migrator.migrations.statements import split_statements, statement_spans
from tenant_migrator.migrations.supabase_cli import SUPABASE_TABLE

__all__ = [
    "ADVISORY_LOCK_KEY",
    "DEFAULT_LOCK_TIMEOUT_S",
    "DEFAULT_STATEMENT_TIMEOUT_S",
    "LEDGER_TABLE",
    "NO_TRANSACTION_DIRECTIVE",
    "OLD_LEDGER_TABLE",
    "SUPABASE_TABLE",
    "TOOL_NAMES",
    "Applied",
    "Kind",
    "LockedTransaction",
    "MigrateOutcome",
    "Migration",
    "MigrationError",
    "MigrationStatus",
    "Source",
    "State",
    "Timeouts",
    "apply_pending",
    "baseline_target",
    "checksum",
    "compat_sql",
    "emit_target",
    "load_migrations",
    "load_project_migrations",
    "lock",
    "migrate_target",
    "os_user",
    "pending",
    "project_migrations",
    "repair_target",
    "split_statements",
    "sql_script",
    "statement_spans",
    "status_target",
    "tool_migrations",
    "tool_migrations_dir",
]


_COMMANDS = frozenset(
    {
        "MigrateOutcome",
        "baseline_target",
        "emit_target",
        "migrate_target",
        "repair_target",
        "sql_script",
        "status_target",
    }
)

__getattr__, __dir__ = _on_first_use(
    globals(), dict.fromkeys(_COMMANDS, "tenant_migrator.migrations.commands")
)


def load_project_migrations(project_dir: Path) -> tuple[Migration, ...]:
    """The migrations ``plan``, ``import`` and ``sync`` apply for a project: the tool's
    own, always. ``project_dir`` is not read: a project's ``database/migrations/``
    (the platform's own files) never enters them."""
    del project_dir
    return tool_migrations()


def project_migrations(migrations_dir: Path | None) -> tuple[Migration, ...]:
    """What ``migrate`` runs: the tool's own, then, when a folder is named, the
    project's files in (number, name) order."""
    tool = tool_migrations()
    return tool if migrations_dir is None else (*tool, *load_migrations(migrations_dir))
