"""The refusals a plan or an import settles once every file is read: a problem
outside any tenant, invalid tenants, rows that are not ours to overwrite. Each
names every tenant concerned, not just the first, and says what to do."""

from __future__ import annotations

from collections.abc import Sequence

from tenant_migrator.errors import DriftError, MigratorError
from tenant_migrator.planning import BlockedReason, Change, Op, TenantPlan, blocked_words
from tenant_migrator.problems import Problem
from tenant_migrator.redaction import redact_change, short_value


def refuse_invalid(
    invalid: Sequence[tuple[str, Sequence[Problem]]],
    problems: Sequence[Problem],
    *,
    skip_invalid: bool,
) -> None:
    """Refuse the whole run on a problem outside any tenant, or an invalid tenant
    (unless --skip-invalid)."""
    broken = [p for p in problems if p.is_error]
    if broken:
        raise MigratorError(
            "cannot import:\n"
            + "\n".join(p.format() for p in broken)
            + "\nNothing was written. Fix the problem above and run again."
        )
    if invalid and not skip_invalid:
        lines = [p.format() for _, errors in invalid for p in errors]
        raise MigratorError(
            f"{len(invalid)} tenant(s) invalid ({', '.join(t for t, _ in invalid)}); "
            "nothing was written:\n"
            + "\n".join(lines)
            + "\nFix them (`tenant-migrator validate` shows every problem), or pass "
            "--skip-invalid to import the valid tenants only."
        )


# A database-owned tenant's refusal lists at most this many of the paths --force
# would remove (the keys only the database has).
_REMOVES_LISTED = 10


def check_blocked(blocked: Sequence[TenantPlan]) -> None:
    """Refuse the whole run when a row is not ours to overwrite: edited in the
    database since our last import, owned by the database (never imported), or
    deleted in the database since our last import. Every such tenant is named."""
    if not blocked:
        return
    lines = []
    for tenant in blocked:
        lines.append(f"{tenant.id}: {blocked_words(tenant)}:")
        if tenant.reason is BlockedReason.DATABASE_OWNED:
            removes = [c.path for c in tenant.changes if c.op is Op.REMOVE]
            lines += [f"    --force would remove {p}" for p in removes[:_REMOVES_LISTED]]
            if len(removes) > _REMOVES_LISTED:
                lines.append(f"    … and {len(removes) - _REMOVES_LISTED} more")
            lines.append(f"    --force would write {len(tenant.changes)} change(s) in all")
        elif tenant.reason is BlockedReason.DELETED:
            lines.append("    --force would create it again from its client file")
        else:
            lines += [f"    {_describe(c)}" for c in tenant.drift] or ["    (values unavailable)"]
    raise DriftError(
        f"{len(blocked)} tenant(s) changed in the database after our last import, or never "
        "imported by this tool; nothing was written:\n"
        + "\n".join(lines)
        + "\nKeep the database version (export it back to YAML with `tenant-migrator export "
        "TENANT`), or overwrite it with --force (the overwritten values go into history)."
    )


def _describe(change: Change) -> str:
    c = redact_change(change)
    old, new = short_value(c.old), short_value(c.new)
    return f"{c.op.value} {c.path}: {old} (last import) → {new} (database)"
