"""What runs hand back: an import or sync, a rollback, the history's runs.

Plain frozen dataclasses the library (``streaming``, ``store``) builds and the
reports (``report/runs.py``, ``report/outcomes.py``) draw, so a report never
imports the code that produced its result. ``streaming`` and ``store`` re-export
them. One client file's result is ``results.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenant_migrator.planning import Action, Change, Plan, TenantPlan

if TYPE_CHECKING:
    from tenant_migrator.literal_scan import LiteralFinding
    from tenant_migrator.store.tables import RowAction


# The report prints one line per written tenant up to this many, then only counts:
# so the import's outcome keeps the changes of that many, no more.
WRITTEN_LINES_UP_TO = 50


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did. ``plan`` holds every selected tenant's action, but never a
    document: changes only for the first ``WRITTEN_LINES_UP_TO`` updates (the report
    draws no more), and of each tenant only the secrets extracted from literals."""

    plan: Plan
    run_id: int | None = None  # None: nothing to write
    written: Mapping[str, str] = field(default_factory=dict)  # tenant → create/update
    migrations_applied: tuple[str, ...] = ()
    duration_s: float = 0.0
    # Literal secrets found in the rows this run replaced: history holds their
    # ${ENV} references instead; the report names each (tenant, path) to rotate.
    scrubbed: tuple[LiteralFinding, ...] = ()

    def count(self, action: str) -> int:
        return sum(1 for a in self.written.values() if a == action)

    @property
    def skipped(self) -> tuple[str, ...]:
        """The invalid tenants --skip-invalid left out."""
        return tuple(t.id for t in self.plan.by_action(Action.INVALID))

    @property
    def left_alone(self) -> tuple[str, ...]:
        """The database-owned and deleted rows a bulk import left as they are."""
        return tuple(t.id for t in self.plan.by_action(Action.BLOCKED) if t.left_alone)

    @property
    def extracted(self) -> tuple[TenantPlan, ...]:
        """The loaded tenants whose literals --secrets-out saves (not the invalid ones)."""
        return tuple(t for t in self.plan.tenants if t.secrets and t.action is not Action.INVALID)


# --- runs: history and rollback (store) ------------------------------------------


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    command: str
    started_at: datetime
    finished_at: datetime
    db_user: str
    os_user: str | None
    hostname: str | None
    forced: bool
    rollback_of: int | None
    rolled_back_by: tuple[int, ...]
    summary: Mapping[str, Any]
    tenants: int  # how many tenants the run wrote
    tenant_action: str | None = None  # with a TENANT filter: what the run did to it

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "db_user": self.db_user,
            "os_user": self.os_user,
            "hostname": self.hostname,
            "forced": self.forced,
            "rollback_of": self.rollback_of,
            "rolled_back_by": list(self.rolled_back_by),
            "tenants": self.tenants,
            "tenant_action": self.tenant_action,
            "summary": dict(self.summary),
        }


@dataclass(frozen=True, slots=True)
class RollbackEntry:
    """What rolling back one tenant of a run does."""

    tenant_id: str
    # RESTORE, DELETE (the run created it) or RECREATE (row gone since)
    action: RowAction
    changes: tuple[Change, ...]  # current row → restored row (owned values only)
    changed_since: str | None = None  # why the row is not as the run left it, if it is not


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    run_id: int
    entries: tuple[RollbackEntry, ...]
    new_run_id: int | None = None  # None for a dry run
    dry_run: bool = False
    # Literal secrets in the values involved (the run's previous values, or the rows
    # the rollback replaces): restored and recorded only as their ${ENV} references.
    scrubbed: tuple[LiteralFinding, ...] = ()
