"""Reviewed plans: ``plan --format json --output FILE`` carries what ``import --plan
FILE`` needs to apply exactly that plan, or nothing.

The plan JSON's ``review`` key (added; the rest of the plan is unchanged) holds:

* ``tool_version`` — a different version may build other rows from the same files;
* ``target`` — host, port, database (and user) the plan was made against;
* ``selection`` — the tenants named (null: the whole project);
* ``schema`` — the schema file and its sha256;
* ``pending_migrations`` — what the import would apply first;
* ``tenants`` — per tenant with a client file: its ``action``, the ``file`` and its
  ``file_sha256``, the ``row_hash`` (the drift hash of the row the plan was made
  against: the md5 the database computes of the owned columns, config_source and
  tenant_config, see ``store.tables``; null for no row, or a row found equal to its
  file without fetching it) and ``record_sha256`` (of the row the import would write).

``import --plan`` checks, in this order, and refuses (exit 1, naming each file,
tenant or version that differs, nothing written) at the first step that fails:

1. before connecting: the tool version, the target, the schema file's and every
   client file's sha256 (a file added, removed or edited since);
2. before migrating: the pending migrations are the plan's;
3. inside the import's transaction, batch by batch *before* each batch is written:
   every tenant's action, row hash and record fingerprint are the plan's (a row
   edited in the database since, or a file edited during the run); at the end,
   every planned tenant was seen and every file still has its sha256.

So the import writes the plan's creates and updates with the very values reviewed,
into rows that are as they were when it was reviewed. A refusal in step 3 rolls the
transaction back (migrations of step 2, which the plan listed, stay applied).

The confirmation prompt uses the same checks with the plan it has just shown.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_migrator import __version__
from tenant_migrator.destination import Destination
from tenant_migrator.errors import MigratorError, UsageError

if TYPE_CHECKING:
    from tenant_migrator.planning import Plan, TenantPlan
    from tenant_migrator.record import TenantRecord
    from tenant_migrator.settings import Settings

REVIEW_VERSION = 1
# What a refusal lists at most; the rest are counted.
_LISTED = 20


class PlanChanged(MigratorError):
    """Something changed since the reviewed plan was made; nothing was written."""


@dataclass(frozen=True, slots=True)
class Expected:
    """One tenant as the reviewed plan saw it."""

    action: str
    file: str | None
    file_sha256: str | None
    row_hash: str | None
    record_sha256: str | None


@dataclass(frozen=True, slots=True)
class ReviewedPlan:
    source: str  # where it came from, for messages
    tool_version: str
    target: Destination | None
    selection: tuple[str, ...] | None
    schema_file: str | None
    schema_sha256: str | None
    pending_migrations: tuple[str, ...]
    tenants: Mapping[str, Expected]

    @property
    def writes(self) -> int:
        return sum(1 for e in self.tenants.values() if e.action in ("create", "update"))


# --- fingerprints --------------------------------------------------------------------------


def file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def record_sha256(record: TenantRecord) -> str:
    """Of exactly what a write stores: the owned columns and tenant_config's text."""
    from tenant_migrator.record import OWNED_COLUMNS

    columns = [getattr(record, c) for c in OWNED_COLUMNS]
    text = json.dumps([record.id, [None if v is None else str(v) for v in columns]])
    return hashlib.sha256((text + "\n" + record.config_json).encode("utf-8")).hexdigest()


def _loaded_sha256(tenant: TenantPlan) -> str | None:
    """Of the file as the plan loaded it; read again only when loading did not
    get as far as hashing it (an unreadable file stays None)."""
    if tenant.source_sha256 is not None or tenant.path is None:
        return tenant.source_sha256
    return file_sha256(tenant.path)


def _relative(path: Path | None, project_dir: Path) -> str | None:
    if path is None:
        return None
    # Files found under the project (all of them, but for a path given on the
    # command line): a prefix, without relpath's normalising (7 µs a file).
    inside = f"{project_dir}{os.sep}"
    text = str(path)
    if text.startswith(inside) and f"{os.sep}.." not in text:
        return text[len(inside) :]
    try:
        return os.path.relpath(path, project_dir)
    except ValueError:  # another drive (Windows)
        return str(path)


# --- writing ---------------------------------------------------------------------------------


def review_json(
    plan: Plan, settings: Settings, destination: Destination, only: Sequence[str] | None
) -> dict[str, Any]:
    """The plan JSON's ``review`` key for ``plan`` (made with every record kept)."""
    from tenant_migrator.planning import Action

    tenants: dict[str, Any] = {}
    for tenant in plan.tenants:
        if tenant.action is Action.ORPHANED:
            continue
        tenants[tenant.id] = {
            "action": tenant.action.value,
            "file": _relative(tenant.path, settings.project_dir),
            "file_sha256": _loaded_sha256(tenant),
            "row_hash": tenant.expected_hash,
            "record_sha256": record_sha256(tenant.record) if tenant.record else None,
        }
    schema = settings.schema_path
    return {
        "format_version": REVIEW_VERSION,
        "tool_version": __version__,
        "target": destination.to_json(),
        "selection": list(only) if only is not None else None,
        "schema": {
            "file": _relative(schema, settings.project_dir),
            "sha256": file_sha256(schema) if schema.is_file() else None,
        },
        "pending_migrations": list(plan.pending_migrations),
        "tenants": tenants,
    }


# --- reading ---------------------------------------------------------------------------------


def parse(review: Any, source: str) -> ReviewedPlan:
    """A ``review`` object back into a ``ReviewedPlan``; ``UsageError`` when it is not one."""

    def bad(what: str) -> UsageError:
        return UsageError(
            f"{source}: {what}; pass a file written by "
            "`tenant-migrator plan --format json --output FILE`"
        )

    if not isinstance(review, dict):
        raise bad("no 'review' key (a plan from an older version, or not a plan file)")
    tenants = review.get("tenants")
    schema = review.get("schema")
    if not isinstance(tenants, dict) or not isinstance(schema, dict):
        raise bad("'review' has no 'tenants' or 'schema' object")
    expected = {}
    for tenant_id, data in tenants.items():
        if not isinstance(data, dict) or not isinstance(data.get("action"), str):
            raise bad(f"review.tenants.{tenant_id} is not a tenant entry")
        expected[tenant_id] = Expected(
            data["action"],
            data.get("file"),
            data.get("file_sha256"),
            data.get("row_hash"),
            data.get("record_sha256"),
        )
    selection = review.get("selection")
    return ReviewedPlan(
        source=source,
        tool_version=str(review.get("tool_version")),
        target=Destination.from_json(review.get("target")),
        selection=tuple(selection) if isinstance(selection, list) else None,
        schema_file=schema.get("file"),
        schema_sha256=schema.get("sha256"),
        pending_migrations=tuple(review.get("pending_migrations") or ()),
        tenants=expected,
    )


def load(path: Path) -> ReviewedPlan:
    """The reviewed plan in ``path`` (``-``: stdin)."""
    import sys

    source = "stdin" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text("utf-8")
    except OSError as err:
        raise UsageError(f"cannot read the plan file {source}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{source} is not a UTF-8 JSON plan file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(
            f"{source}:{err.lineno}:{err.colno}: not JSON ({err.msg}); pass a file written by "
            "`tenant-migrator plan --format json --output FILE`"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{source}: not a plan (the top level is not an object)")
    return parse(data.get("review"), source)


def from_plan(
    plan: Plan, settings: Settings, destination: Destination, only: Sequence[str] | None
) -> ReviewedPlan:
    """The plan just shown (the confirmation prompt's), as a reviewed plan."""
    return parse(review_json(plan, settings, destination, only), "the confirmed plan")


# --- checking --------------------------------------------------------------------------------


def _refuse(reviewed: ReviewedPlan, changes: Sequence[str], after: str = "") -> PlanChanged:
    listed = [f"  {c}" for c in changes[:_LISTED]]
    if len(changes) > _LISTED:
        listed.append(f"  … and {len(changes) - _LISTED} more")
    return PlanChanged(
        f"{reviewed.source} no longer applies; nothing was written{after}:\n"
        + "\n".join(listed)
        + "\nMake a new plan (`tenant-migrator plan --format json --output FILE`), review it, "
        "and import that."
    )


def file_changes(reviewed: ReviewedPlan, settings: Settings) -> list[str]:
    """Every client file (and the schema) whose sha256 is not the plan's."""
    changes = []
    if reviewed.schema_file is not None:
        now = file_sha256(settings.project_dir / reviewed.schema_file)
        if now != reviewed.schema_sha256:
            changes.append(f"{reviewed.schema_file} changed since the plan")
    for tenant_id, expected in sorted(reviewed.tenants.items()):
        if expected.file is None:
            continue
        now = file_sha256(settings.project_dir / expected.file)
        if now is None:
            changes.append(f"{expected.file} ({tenant_id}) was removed since the plan")
        elif now != expected.file_sha256:
            changes.append(f"{expected.file} ({tenant_id}) changed since the plan")
    return changes


def check_before(reviewed: ReviewedPlan, settings: Settings, destination: Destination) -> None:
    """Step 1: what can be checked without the database."""
    changes = []
    if reviewed.tool_version != __version__:
        changes.append(
            f"the plan was made by tenant-migrator {reviewed.tool_version}, this is {__version__}"
        )
    if reviewed.target is None or not reviewed.target.same_database(destination):
        made_for = reviewed.target.describe() if reviewed.target else "an unknown database"
        changes.append(f"the plan was made for {made_for}, not {destination.describe()}")
    changes += file_changes(reviewed, settings)
    if changes:
        raise _refuse(reviewed, changes)


class Verifier:
    """Steps 2 and 3, called by the import (``ImportOptions.review``)."""

    def __init__(self, reviewed: ReviewedPlan, settings: Settings) -> None:
        self.reviewed = reviewed
        self.settings = settings
        self.seen: set[str] = set()
        self.migrated: tuple[str, ...] = ()

    def check_migrations(self, pending: Sequence[str]) -> None:
        if tuple(pending) != self.reviewed.pending_migrations:
            planned = ", ".join(self.reviewed.pending_migrations) or "none"
            raise _refuse(
                self.reviewed,
                [f"pending migrations are {', '.join(pending) or 'none'}, the plan's: {planned}"],
            )
        self.migrated = tuple(pending)

    def check_batch(self, tenants: Sequence[TenantPlan]) -> None:
        """Before a batch is written: each tenant as the plan saw it."""
        changes = []
        for tenant in tenants:
            self.seen.add(tenant.id)
            if (change := self._change(tenant)) is not None:
                changes.append(change)
        if changes:
            raise self._refusal(changes)

    def _change(self, tenant: TenantPlan) -> str | None:
        from tenant_migrator.planning import Action

        if tenant.action is Action.ORPHANED:
            return None
        expected = self.reviewed.tenants.get(tenant.id)
        if expected is None:
            return f"tenant {tenant.id}: its client file is new since the plan"
        fingerprint = record_sha256(tenant.record) if tenant.record is not None else None
        if tenant.action.value != expected.action or tenant.expected_hash != expected.row_hash:
            return (
                f"tenant {tenant.id}: its row changed in the database since the plan "
                f"(planned: {expected.action}, now: {tenant.action.value})"
            )
        if tenant.writes and fingerprint != expected.record_sha256:
            where = expected.file or "its client file"
            return f"tenant {tenant.id}: {where} changed since the plan"
        return None

    def check_done(self) -> None:
        """After the last batch, before the commit."""
        missing = sorted(set(self.reviewed.tenants) - self.seen)
        changes = [f"tenant {t}: its client file was removed since the plan" for t in missing]
        changes += file_changes(self.reviewed, self.settings)
        if changes:
            raise self._refusal(changes)

    def _refusal(self, changes: Sequence[str]) -> PlanChanged:
        after = (
            f" (the plan's migrations {', '.join(self.migrated)} were applied first)"
            if self.migrated
            else ""
        )
        return _refuse(self.reviewed, changes, after)
