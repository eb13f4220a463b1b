"""``--format json`` of the writing commands: ``import`` and ``sync``
(``import.schema.json``), ``rollback`` (``rollback.schema.json``), ``migrate``
(``migrate.schema.json``). Stable: keys are only ever added (``format_version`` 1).

Never a value: tenants, actions, paths, counts; a rollback's changes are paths only.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tenant_migrator.planning import Action

if TYPE_CHECKING:
    from tenant_migrator.destination import Destination
    from tenant_migrator.migrations import MigrateOutcome
    from tenant_migrator.outcomes import ImportOutcome, RollbackOutcome

FORMAT_VERSION = 1


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def import_json(
    outcome: ImportOutcome, command: str, destination: Destination | None
) -> dict[str, Any]:
    plan = outcome.plan
    counts = plan.summary()
    return {
        "format_version": FORMAT_VERSION,
        "command": command,
        "ok": not outcome.skipped,
        "run_id": outcome.run_id,
        "duration_s": round(outcome.duration_s, 3),
        "target": destination.to_json() if destination is not None else None,
        "summary": {
            "created": outcome.count("create"),
            "updated": outcome.count("update"),
            "unchanged": counts[Action.UNCHANGED.value],
            "skipped": len(outcome.skipped),
            "left_alone": len(outcome.left_alone),
            "orphaned": counts[Action.ORPHANED.value],
            "secrets_referenced": plan.secrets_referenced,
        },
        "written": [{"id": t, "action": a} for t, a in sorted(outcome.written.items())],
        "skipped": list(outcome.skipped),
        "left_alone": list(outcome.left_alone),
        "orphaned": [t.id for t in plan.by_action(Action.ORPHANED)],
        "migrations_applied": list(outcome.migrations_applied),
        "literals_kept_out_of_history": [f.to_json() for f in outcome.scrubbed],
    }


def render_import(outcome: ImportOutcome, command: str, destination: Destination | None) -> str:
    return _dump(import_json(outcome, command, destination))


def rollback_json(
    outcome: RollbackOutcome, destination: Destination | None, *, would_refuse: bool
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "ok": not would_refuse,
        "dry_run": outcome.dry_run,
        "would_refuse": would_refuse,
        "run_id": outcome.run_id,
        "new_run_id": outcome.new_run_id,
        "target": destination.to_json() if destination is not None else None,
        "entries": [
            {
                "tenant": e.tenant_id,
                "action": e.action.value,
                "changed_since": e.changed_since,
                "paths": [c.path for c in e.changes],
            }
            for e in outcome.entries
        ],
        "literals_kept_out_of_history": [f.to_json() for f in outcome.scrubbed],
    }


def render_rollback(
    outcome: RollbackOutcome, destination: Destination | None, *, would_refuse: bool
) -> str:
    return _dump(rollback_json(outcome, destination, would_refuse=would_refuse))


def migrate_json(outcome: MigrateOutcome, destination: Destination | None) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "dry_run": outcome.dry_run,
        "target": destination.to_json() if destination is not None else None,
        "pending": [m.label for m in outcome.pending],
        "applied": [
            {"name": a.migration.label, "duration_ms": a.duration_ms, "warnings": list(a.warnings)}
            for a in outcome.applied
        ],
        "satisfied": [m.label for m in outcome.satisfied],
        "upgraded": [e.name for e in outcome.upgraded],
        "removed_cli_rows": [r.version for r in outcome.removed_cli_rows],
        "compat_created": outcome.needs_compat,
    }


def render_migrate(outcome: MigrateOutcome, destination: Destination | None) -> str:
    return _dump(migrate_json(outcome, destination))
