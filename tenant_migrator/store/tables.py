"""The vocabulary every part of ``store`` shares: table names, the drift snapshot
in SQL, and what a write or a rollback does to a row (``RowAction``)."""

from __future__ import annotations

from enum import StrEnum

from tenant_migrator.planning import SNAPSHOT_COLUMNS
from tenant_migrator.record import OWNED_COLUMNS

TENANTS = "tenants"  # unqualified, exactly as migrations 011/012 create it
# Every column an import writes on each update, in this order.
WRITTEN_COLUMNS: tuple[str, ...] = (*OWNED_COLUMNS, "tenant_config", "config_source")
RUNS = "tenant_migrator.import_runs"
RUN_TENANTS = "tenant_migrator.import_run_tenants"


class RowAction(StrEnum):
    """What a run did (or a rollback will do) to one tenant's row.

    One vocabulary for both sides: ``import_run_tenants.action`` holds ``create``,
    ``update`` or ``delete`` (a rollback deleting a row its run created); a
    rollback's plan says ``restore`` (previous values back over the row), ``delete``
    or ``recreate`` (the row is gone since: the previous row comes back whole).
    The values are the strings the history table and the JSON reports have always
    held.
    """

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RESTORE = "restore"
    RECREATE = "recreate"


def snapshot_sql(alias: str) -> str:
    """The jsonb object the drift hash covers, built from row ``alias``."""
    pairs = ", ".join(f"'{c}', {alias}.{c}" for c in SNAPSHOT_COLUMNS)
    return f"jsonb_build_object({pairs}, 'tenant_config', {alias}.tenant_config)"


def hash_sql(alias: str) -> str:
    return f"md5({snapshot_sql(alias)}::text)"


def rolled_back_by_sql(alias: str) -> str:
    """The ids of the runs that rolled back run ``alias``, oldest first (an array)."""
    return f"ARRAY(SELECT rb.id FROM {RUNS} rb WHERE rb.rollback_of = {alias}.id ORDER BY rb.id)"
