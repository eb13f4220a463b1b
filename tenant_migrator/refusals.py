"""The refusals a plan or an import settles once every file is read: a problem
outside any tenant, invalid tenants, rows that are not ours to overwrite. Each
names every tenant concerned, not just the first, and says what to do."""

from __future__ import annotations

from collections.abc import Sequence

from tenant_migrator.drift_errors import BlockedTenants
from tenant_migrator.errors import MigratorError
from tenant_migrator.planning import TenantPlan
from tenant_migrator.problems import Problem


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


def check_blocked(blocked: Sequence[TenantPlan]) -> None:
    """Refuse the whole run when a row is not ours to overwrite: edited in the
    database since our last import, owned by the database (never imported), or
    deleted in the database since our last import. Every such tenant is named
    (``BlockedTenants`` carries their plans; the report shows the drifted values)."""
    if blocked:
        raise BlockedTenants(blocked)
