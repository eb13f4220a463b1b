"""Plan: what an import would do to each tenant. Pure: no database, no I/O.

Inputs are the pipeline's ``LoadResult`` (records or problems per client file),
the current rows (read by ``store`` in one query) and the import state (the
hash of what our last write of each tenant left in the row). Output is a
``Plan``: one ``TenantPlan`` per tenant with its action and RFC 6902 changes.

Paths follow RFC 6902/6901: ``/columns/<column>`` for a column,
``/tenant_config/<key>/<key or index>…`` inside the JSONB document, with ``~``
and ``/`` in keys escaped as ``~0`` and ``~1``.

Equality is JSON equality as PostgreSQL's jsonb sees it, except that ``true``
is never equal to ``1`` (Python says it is; the database does not): a change
that only flips a type must show up, or the plan would call a row unchanged
that the write would then rewrite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

# The change vocabulary lives in changes.py; its names are re-exported here, where
# most callers (store, streaming, reports, tests) already look for them.
from tenant_migrator.changes import (  # noqa: F401
    SNAPSHOT_COLUMNS,
    Change,
    DocumentAdd,
    Op,
    apply_changes,
    create_changes,
    diff_json,
    diff_snapshots,
    record_snapshot,
    same,
)
from tenant_migrator.problems import Problem, escape, unescape  # noqa: F401 (re-exported)
from tenant_migrator.record import CONFIG_SOURCE, TenantRecord
from tenant_migrator.results import LoadResult, TenantResult
from tenant_migrator.secretrefs import SecretReference

# Column widths from migrations 011/012. A value that does not fit would make the
# whole transaction fail half-way through a bulk write; catching it here turns
# it into an "invalid" tenant with a clear message instead.
COLUMN_WIDTHS: Mapping[str, int] = {
    "id": 50,
    "name": 255,
    "short_name": 50,
    "timezone": 50,
    "currency": 10,
    "primary_email": 255,
    "gcp_project_id": 100,
    "gcp_dataset": 100,
}

# Where each column comes from in client.yaml (for error messages that point
# the user at the right field).
COLUMN_SOURCES: Mapping[str, str] = {
    "id": "the directory name under clients/",
    "name": "/client/name",
    "short_name": "/client/short_name",
    "timezone": "/client/timezone",
    "currency": "/client/currency",
    "primary_email": "/email/primary",
    "gcp_project_id": "/infrastructure/gcp/project_id",
    "gcp_dataset": "/infrastructure/gcp/dataset",
}


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    INVALID = "invalid"
    BLOCKED = "blocked"
    ORPHANED = "orphaned"


class BlockedReason(StrEnum):
    """Why a tenant is blocked (JSON ``blocked_reason``), or what ``--force`` overrode.

    ``edited``: the row changed in the database since our last import of it (drift).
    ``database-owned``: a ``config_source='database'`` row no run of ours wrote.
    ``deleted``: our history has a baseline for the tenant, and the row is gone.
    """

    EDITED = "edited"
    DATABASE_OWNED = "database-owned"
    DELETED = "deleted"


_LEFT_ALONE = frozenset((BlockedReason.DATABASE_OWNED, BlockedReason.DELETED))


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """A tenants row as the database holds it, reduced to what the tool owns.

    ``snapshot`` has the keys of ``SNAPSHOT_COLUMNS`` plus ``tenant_config`` (a
    column missing because 012 is not applied yet reads as None). ``hash`` is
    the database's md5 of that snapshot (None when it cannot be computed yet).
    ``matches``: the database compared the row with the record and found them
    equal, so neither its values nor its hash were fetched (``snapshot`` is None).
    """

    id: str
    snapshot: Mapping[str, Any] | None
    hash: str | None = None
    matches: bool = False

    @property
    def config_source(self) -> str | None:
        return self.snapshot.get("config_source") if self.snapshot is not None else None


@dataclass(frozen=True, slots=True)
class ImportState:
    """What our last write of a tenant left in its row (the drift baseline).

    ``snapshot`` is only loaded when the row no longer matches ``hash`` (the
    drift diff needs it); it is None otherwise.
    """

    run_id: int
    hash: str
    snapshot: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TenantPlan:
    id: str
    action: Action
    changes: tuple[Change, ...] = ()
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    # Database vs our last import (old = last import, new = database), when the
    # row was edited since; ``drift_run`` is the run that wrote the baseline.
    drift: tuple[Change, ...] = ()
    drift_run: int | None = None
    # The row hash this plan was made against: the write refuses to touch a row
    # that no longer has it (someone changed it between plan and write).
    expected_hash: str | None = None
    record: TenantRecord | None = None
    secrets: tuple[SecretReference, ...] = ()
    path: Path | None = None
    source_sha256: str | None = None  # of the client file as loaded (TenantResult's)
    # Set on a blocked tenant that --force turned into an update (or a create).
    forced: bool = False
    # Why it is blocked (or, with ``forced``, what --force overrode); None otherwise.
    reason: BlockedReason | None = None
    # An orphaned row still marked config_source='yaml': the platform's runtime
    # looks for a file that is not there, so the tenant cannot load at all.
    missing_yaml: bool = False

    @property
    def writes(self) -> bool:
        return self.action in (Action.CREATE, Action.UPDATE)

    @property
    def blocked_reason(self) -> BlockedReason | None:
        """The reason of a blocked tenant (JSON ``blocked_reason``); None when not blocked."""
        return self.reason if self.action is Action.BLOCKED else None

    @property
    def left_alone(self) -> bool:
        """Blocked because the row is the database's (owned by it, or deleted there),
        not because it drifted: a bulk import leaves it and writes the others, where
        an edited row stops the whole run (it was ours, and someone changed it)."""
        return self.action is Action.BLOCKED and self.reason in _LEFT_ALONE


@dataclass(frozen=True, slots=True)
class Plan:
    tenants: tuple[TenantPlan, ...]
    pending_migrations: tuple[str, ...] = ()
    # Problems that belong to no single tenant (e.g. a broken config/schema.json).
    problems: tuple[Problem, ...] = ()

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys((a.value for a in Action), 0)
        for tenant in self.tenants:
            counts[tenant.action.value] += 1
        return counts

    def by_action(self, action: Action) -> tuple[TenantPlan, ...]:
        return tuple(t for t in self.tenants if t.action is action)

    @property
    def to_write(self) -> tuple[TenantPlan, ...]:
        return tuple(t for t in self.tenants if t.writes)

    @property
    def has_errors(self) -> bool:
        return any(p.is_error for p in self.problems) or any(
            t.action is Action.INVALID or (t.action is Action.BLOCKED and not t.left_alone)
            for t in self.tenants
        )

    @property
    def has_changes(self) -> bool:
        return bool(self.pending_migrations) or any(t.writes for t in self.tenants)

    @property
    def secrets_referenced(self) -> int:
        """Literal secrets turned into references by the tenants this plan writes."""
        return sum(
            1 for t in self.tenants if t.writes for s in t.secrets if s.action == "referenced"
        )


# --- building the plan -------------------------------------------------------------------


def build_plan(
    load_result: LoadResult,
    rows: Mapping[str, CurrentRow],
    import_state: Mapping[str, ImportState],
    pending_migrations: Sequence[str] = (),
    *,
    force: bool = False,
    serialized: Mapping[str, str] | None = None,
) -> Plan:
    """Classify every loaded tenant against its row, plus rows no file mentions.

    ``rows`` should hold the rows of exactly the tenants the caller selected
    (all rows for a whole-project plan): a row with no loaded tenant is orphaned.
    ``force`` turns blocked tenants into updates (the drift diff is kept).
    ``serialized``: each record's tenant_config as JSON text, when the caller has
    it already (saves dumping it again to look for NUL characters).
    """
    serialized = serialized or {}
    plans: list[TenantPlan] = []
    seen: set[str] = set()
    for result in load_result.results:
        seen.add(result.tenant_id)
        plans.append(
            plan_tenant(
                result,
                rows.get(result.tenant_id),
                import_state.get(result.tenant_id),
                force=force,
                serialized=serialized.get(result.tenant_id),
            )
        )
    for tenant_id in sorted(set(rows) - seen):
        plans.append(plan_orphan(rows[tenant_id]))
    plans.sort(key=lambda p: p.id)
    return Plan(
        tenants=tuple(plans),
        pending_migrations=tuple(pending_migrations),
        problems=tuple(load_result.problems),
    )


def plan_tenant(
    result: TenantResult,
    row: CurrentRow | None,
    state: ImportState | None,
    *,
    force: bool = False,
    serialized: str | None = None,
) -> TenantPlan:
    """The plan for one tenant that has a client file."""
    common = {
        "id": result.tenant_id,
        "warnings": result.warnings,
        "secrets": result.secrets,
        "path": result.path,
        "source_sha256": result.source_sha256,
    }
    record = result.record
    if record is None or result.errors:
        return TenantPlan(action=Action.INVALID, errors=result.errors, **common)

    if row is None:
        changes = create_changes(record)
    elif row.matches:
        return TenantPlan(action=Action.UNCHANGED, **common)
    else:
        changes = diff_snapshots(row.snapshot or {}, record_snapshot(record))
        if not changes:
            return TenantPlan(action=Action.UNCHANGED, expected_hash=row.hash, **common)

    # Only a row we are about to write can be refused by the database; checking
    # just those keeps a 10,000-tenant plan with 1 % changed cheap.
    if problems := record_problems(record, result.path, serialized):
        return TenantPlan(action=Action.INVALID, errors=problems, **common)
    if row is None:
        if state is None:
            return TenantPlan(action=Action.CREATE, changes=changes, record=record, **common)
        # Our history has a baseline for it, the row is gone: someone deleted it in
        # the database since that run. Re-creating it is --force's call.
        deleted = {"reason": BlockedReason.DELETED, "drift_run": state.run_id}
        if not force:
            return TenantPlan(action=Action.BLOCKED, changes=changes, **deleted, **common)
        return TenantPlan(
            action=Action.CREATE, changes=changes, record=record, forced=True, **deleted, **common
        )

    drift: tuple[Change, ...] = ()
    drift_run = None
    reason = None
    if state is not None and state.hash != row.hash:
        drift_run = state.run_id
        reason = BlockedReason.EDITED
        # Without the baseline values we can still say *that* it drifted.
        drift = diff_snapshots(state.snapshot, row.snapshot or {}) if state.snapshot else ()
    elif state is None and row.config_source == CONFIG_SOURCE:
        # A database-backed row no run of ours wrote (seeded by a migration, written
        # by hand or by another tool): the database owns it. ``changes`` shows what
        # --force would write; keys only the database has are its removes.
        reason = BlockedReason.DATABASE_OWNED
    blocked = reason is not None and not force
    return TenantPlan(
        action=Action.BLOCKED if blocked else Action.UPDATE,
        changes=changes,
        drift=drift,
        drift_run=drift_run,
        expected_hash=row.hash,
        record=None if blocked else record,  # a blocked tenant is never written
        forced=reason is not None and not blocked,
        reason=reason,
        **common,
    )


def blocked_words(tenant: TenantPlan) -> str:
    """Why ``tenant`` is blocked (or what --force overrode), in words."""
    if tenant.reason is BlockedReason.DATABASE_OWNED:
        return "owned by the database, never imported"
    if tenant.reason is BlockedReason.DELETED:
        return f"deleted in the database since run {tenant.drift_run}"
    return f"edited in the database since run {tenant.drift_run}"


def plan_orphan(row: CurrentRow) -> TenantPlan:
    """A row no client file mentions: reported, never deleted."""
    return TenantPlan(
        id=row.id,
        action=Action.ORPHANED,
        expected_hash=row.hash,
        # A pre-012 table has no config_source column; 012 will make such rows 'yaml'.
        missing_yaml=row.config_source in ("yaml", None),
    )


def record_problems(
    record: TenantRecord, path: Path | None, serialized: str | None = None
) -> tuple[Problem, ...]:
    """What the database would reject in an otherwise valid record.

    Checked here so that a bulk write never fails half-way on one bad value.
    ``serialized``: ``record.tenant_config`` as JSON, if the caller has it.
    """
    problems = []
    where = path or Path(record.id)
    for column, width in COLUMN_WIDTHS.items():
        value = record.id if column == "id" else getattr(record, column)
        if isinstance(value, str) and len(value) > width:
            problems.append(
                Problem(
                    path=where,
                    json_path="" if column == "id" else COLUMN_SOURCES[column],
                    message=(
                        f"{len(value)} characters is too long for the column {column} "
                        f"(VARCHAR({width})); shorten {COLUMN_SOURCES[column]}"
                    ),
                )
            )
    if serialized is None:
        # The record keeps exactly this text; no need to decode and encode it again.
        serialized = record.config_json
    # Any NUL shows up in the JSON text as \u0000 (also a literal backslash + "u0000",
    # hence the walk to find it, which also names the field).
    if "\\u0000" in serialized and (pointer := nul_pointer(record.tenant_config, "")):
        problems.append(
            Problem(
                path=where,
                json_path=pointer,
                message=(
                    "this string contains the NUL character (\\0), which PostgreSQL's jsonb "
                    "cannot store; remove it"
                ),
            )
        )
    return tuple(problems)


def nul_pointer(value: Any, pointer: str = "") -> str | None:
    """The JSON pointer of the first string or key holding a NUL character, if any."""
    if type(value) is str:
        return pointer if "\x00" in value else None
    if type(value) is dict:
        for key, child in value.items():
            if "\x00" in key:
                return f"{pointer}/{escape(key)}"
            if (found := nul_pointer(child, f"{pointer}/{escape(key)}")) is not None:
                return found
    elif type(value) is list:
        for i, child in enumerate(value):
            if (found := nul_pointer(child, f"{pointer}/{i}")) is not None:
                return found
    return None
