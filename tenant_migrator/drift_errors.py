"""The drift refusals as data: which tenants were blocked, which run could not be
rolled back and why, which rows changed while a run was writing.

Each is a ``DriftError`` carrying what it refused (tuples of frozen dataclasses),
so a caller can act on it without parsing words. Its ``str()`` is a complete
message for a Python-API caller, built from ids, counts, run numbers and paths
only: never a value read from the database (a row may hold a secret an admin
pasted in). The words the CLI shows are ``report/errors.py``'s: for a blocked
tenant the drifted values too, redacted.

Not in ``errors.py``: that sits below every module, and these carry ``planning``'s
``TenantPlan``s (and ``planning`` imports ``errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tenant_migrator.errors import DriftError
from tenant_migrator.planning import BlockedReason, Change, Op, TenantPlan, blocked_words

if TYPE_CHECKING:
    from tenant_migrator.outcomes import RollbackEntry

# A database-owned tenant's refusal lists at most this many of the paths --force
# would remove (the keys only the database has).
REMOVES_LISTED = 10
# A refusal for rows changed while writing names at most this many tenants.
WRITE_CONFLICTS_LISTED = 20


def drifted_path(change: Change) -> str:
    """One drifted change without its values: what ``str()`` says of it."""
    return f"{change.op.value} {change.path}"


class BlockedTenants(DriftError):
    """Rows not ours to overwrite (edited in the database since our last import,
    owned by the database, or deleted since): the whole run refused, without --force.
    ``tenants``: every blocked tenant's plan (its ``drift`` holds the database's
    values: show them redacted)."""

    def __init__(self, tenants: Sequence[TenantPlan]) -> None:
        self.tenants: tuple[TenantPlan, ...] = tuple(tenants)
        super().__init__(self.message(drifted_path))

    def __reduce__(self) -> tuple[type, tuple]:
        # Rebuilt from the data, not the message (a caller may send it to another process).
        return type(self), (self.tenants,)

    def message(self, describe: Callable[[Change], str]) -> str:
        """The refusal, each drifted change in ``describe``'s words (``str()``: its
        path only; the CLI's: its values too, redacted)."""
        lines = []
        for tenant in self.tenants:
            lines.append(f"{tenant.id}: {blocked_words(tenant)}:")
            lines += [f"    {line}" for line in _tenant_lines(tenant, describe)]
        return (
            f"{len(self.tenants)} tenant(s) changed in the database after our last import, or "
            "never imported by this tool; nothing was written:\n"
            + "\n".join(lines)
            + "\nKeep the database version (export it back to YAML with `tenant-migrator "
            "export TENANT`), or overwrite it with --force (the overwritten values go into "
            "history)."
        )


def _tenant_lines(tenant: TenantPlan, describe: Callable[[Change], str]) -> list[str]:
    if tenant.reason is BlockedReason.DATABASE_OWNED:
        removes = [c.path for c in tenant.changes if c.op is Op.REMOVE]
        lines = [f"--force would remove {p}" for p in removes[:REMOVES_LISTED]]
        if len(removes) > REMOVES_LISTED:
            lines.append(f"… and {len(removes) - REMOVES_LISTED} more")
        return [*lines, f"--force would write {len(tenant.changes)} change(s) in all"]
    if tenant.reason is BlockedReason.DELETED:
        return ["--force would create it again from its client file"]
    return [describe(c) for c in tenant.drift] or ["(values unavailable)"]


class RollbackRefused(DriftError):
    """A rollback of run ``run_id`` refused, without --force: ``changed``, the rows
    that changed since that run; ``rolled_back_by``, the runs that already rolled it
    back (found in the same transaction), oldest first. The message holds run
    numbers, tenant ids and why each row differs: no value."""

    def __init__(
        self, run_id: int, changed: Sequence[RollbackEntry], rolled_back_by: Sequence[int] = ()
    ) -> None:
        self.run_id = run_id
        self.changed: tuple[RollbackEntry, ...] = tuple(changed)
        self.rolled_back_by: tuple[int, ...] = tuple(rolled_back_by)
        super().__init__(self._message())

    def __reduce__(self) -> tuple[type, tuple]:
        return type(self), (self.run_id, self.changed, self.rolled_back_by)

    def _message(self) -> str:
        if self.rolled_back_by:
            # Not "pass --force": what the user wants is most likely the rollback's undo.
            by = ", ".join(map(str, self.rolled_back_by))
            return (
                f"run {self.run_id} was already rolled back by run {by}; nothing was written "
                f"(to undo that rollback instead: tenant-migrator rollback "
                f"{self.rolled_back_by[-1]})"
            )
        return (
            f"cannot roll back run {self.run_id}: {len(self.changed)} tenant(s) changed since:\n"
            + "\n".join(f"  {e.tenant_id}: {e.changed_since}" for e in self.changed)
            + f"\nNothing was written. Pass --force to restore run {self.run_id}'s previous "
            "values over those changes."
        )


class ChangedWhileWriting(DriftError):
    """Rows edited in the database between the plan's read and the write (their hash
    no longer the one planned against): the run rolled back. ``tenant_ids``: every
    such tenant, sorted (the message names the first ``WRITE_CONFLICTS_LISTED``)."""

    def __init__(self, tenant_ids: Sequence[str]) -> None:
        self.tenant_ids: tuple[str, ...] = tuple(tenant_ids)
        shown = self.tenant_ids[:WRITE_CONFLICTS_LISTED]
        more = " …" if len(self.tenant_ids) > WRITE_CONFLICTS_LISTED else ""
        super().__init__(
            f"{len(self.tenant_ids)} tenant(s) changed in the database while this run was "
            f"writing: {', '.join(shown)}{more}; nothing was written. Run the command again "
            "to see the new plan."
        )

    def __reduce__(self) -> tuple[type, tuple]:
        return type(self), (self.tenant_ids,)
