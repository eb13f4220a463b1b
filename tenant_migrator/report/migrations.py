"""The ``migrate`` reports: what ran, what was recorded, ``migrate status``.

``migrate status --format json`` (stable; keys are only ever added): a list, one
object per migration in the order ``migrate`` runs them::

    [{"name": "tenants_registry", "kind": "tool", "state": "satisfied",
      "source": "catalog", "applied_at": null, "checksum": "9f2c…"},
     {"name": "011_add_columns", "kind": "project", "state": "applied",
      "source": "ledger", "applied_at": "2026-01-05T10:00:00+00:00", "checksum": "…"}]

- ``name``: a tool migration's name, or a project file's stem;
- ``state``: ``applied`` | ``satisfied`` (found in the database, applied outside
  the tool) | ``pending`` | ``modified`` (project file changed since recorded);
- ``source``: where the state was learned: ``ledger``, ``catalog``, ``supabase-cli``;
- ``applied_at``: ISO 8601 from our ledger, null when it has no entry;
- ``checksum``: the file's SHA-256 (line endings normalised).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from tenant_migrator.migrations import Applied, MigrateOutcome, MigrationStatus

STATE_STYLES = {
    "applied": "green",
    "satisfied": "cyan",
    "pending": "yellow",
    "modified": "bold red",
}


def status_json(rows: Sequence[MigrationStatus]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "kind": r.migration.kind.value,
            "state": r.state.value,
            "source": r.source.value,
            "applied_at": r.applied_at.isoformat() if r.applied_at else None,
            "checksum": r.migration.checksum,
        }
        for r in rows
    ]


def print_status(console: Console, rows: Sequence[MigrationStatus]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table("migration", "kind", "state", "source", "applied at", box=None, pad_edge=False)
    for r in rows:
        applied_at = f"{r.applied_at:%Y-%m-%d %H:%M:%S %Z}" if r.applied_at else ""
        table.add_row(
            Text(r.migration.label),
            r.migration.kind.value,
            Text(r.state.value, style=STATE_STYLES[r.state.value]),
            r.source.value,
            applied_at,
        )
    console.print(table)
    for r in rows:
        if r.missing and r.state.value == "pending":
            console.print(f"{r.migration.label}: lacks {', '.join(r.missing)}", markup=False)


def applied_line(done: Applied) -> list[str]:
    lines = [f"applied  {done.migration.label}  ({done.duration_ms} ms)"]
    lines += [f"  warning: {w}" for w in done.warnings]
    return lines


def outcome_lines(outcome: MigrateOutcome) -> list[str]:
    """Everything but the per-migration ``applied`` lines (printed as they happen)."""
    would = outcome.dry_run
    lines = []
    if would and outcome.needs_compat:
        lines.append("would create the Supabase roles and auth.role() (plain PostgreSQL)")
    if outcome.upgraded:
        names = ", ".join(e.name for e in outcome.upgraded)
        verb = "would copy" if would else "copied"
        lines.append(
            f"{verb} the previous version's history (tenant_migrator.schema_migrations) into "
            f"tenant_migrator.migration_ledger: {names}"
        )
    for row in outcome.removed_cli_rows:
        verb = "would remove" if would else "removed"
        lines.append(
            f"{verb} version {row.version} ({row.name}) from supabase_migrations.schema_migrations:"
            " the previous version wrote it there with no file in supabase/migrations/"
        )
    for m in outcome.satisfied:
        verb = "would record" if would else "recorded"
        lines.append(
            f"{verb}  {m.label}  as satisfied (found in the database, applied outside the tool)"
        )
    if would:
        lines += [f"would apply  {m.label}" for m in outcome.pending]
        if not outcome.pending:
            lines.append("Nothing to apply: the database is up to date.")
        lines.append("Dry run: nothing was written.")
        return lines
    n = len(outcome.applied)
    if n:
        lines.append(f"{n} migration{'s' if n != 1 else ''} applied; the database is up to date.")
    else:
        lines.append("Nothing to apply: the database is up to date.")
    return lines
