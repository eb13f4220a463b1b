"""What the database already holds: whether each tool migration is satisfied.

A production database built by hand (the platform's own 011 and 014 pasted into
the SQL Editor) has our tables and columns without any history of ours. The
ledger cannot know that; the catalog can. So whether a tool migration is needed is
decided here, from the columns, the ``config_source`` CHECK, the GIN index and our
run tables, never from a version number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg

TENANTS = "public.tenants"
RUNS = "tenant_migrator.import_runs"
RUN_TENANTS = "tenant_migrator.import_run_tenants"

# The columns each migration creates (011, 012 on tenants; 013's two tables; 014's
# two columns, below).
TENANTS_REGISTRY_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "short_name",
    "status",
    "plan",
    "created_at",
    "created_by",
    "updated_at",
    "deleted_at",
    "admin_email",
    "support_email",
    "max_users",
    "max_monthly_quotes",
    "max_storage_gb",
    "features_enabled",
)
TENANT_CONFIG_COLUMNS: tuple[str, ...] = (
    "tenant_config",
    "timezone",
    "currency",
    "primary_email",
    "gcp_project_id",
    "gcp_dataset",
    "config_source",
    "suspended_at",
    "suspended_reason",
)
RUNS_COLUMNS: tuple[str, ...] = (
    "id",
    "command",
    "started_at",
    "finished_at",
    "db_user",
    "os_user",
    "hostname",
    "forced",
    "rollback_of",
    "summary",
)
RUN_TENANTS_COLUMNS: tuple[str, ...] = (
    "run_id",
    "tenant_id",
    "action",
    "previous",
    "written",
    "new_hash",
    "baseline_run",
    "baseline_hash",
)

# 014's columns on 013's tables.
FINGERPRINT_RUNS_COLUMNS: tuple[str, ...] = ("xact_id", "cluster_id")
FINGERPRINT_COLUMNS: tuple[str, ...] = ("sent_sha256",)


def _columns_sql(table: str) -> str:
    return f"""coalesce((SELECT jsonb_agg(attname::text) FROM pg_attribute
              WHERE attrelid = to_regclass('{table}') AND attnum > 0 AND NOT attisdropped),
             '[]')"""


# A jsonb object (database.fetch_json: one round trip, read-only, cheap; plan runs
# it in its read-only transaction). The table names are the constants above.
CATALOG_SQL = f"""
jsonb_build_object(
    'tenants_columns', {_columns_sql(TENANTS)},
    'runs_columns', {_columns_sql(RUNS)},
    'run_tenants_columns', {_columns_sql(RUN_TENANTS)},
    'config_source_check', EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = to_regclass('{TENANTS}') AND contype = 'c'
          AND pg_get_constraintdef(oid) LIKE '%config_source%'),
    'tenant_config_gin', EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ic.relam
        WHERE i.indrelid = to_regclass('{TENANTS}') AND am.amname = 'gin'
          AND pg_get_indexdef(i.indexrelid) LIKE '%tenant_config%'))
"""


@dataclass(frozen=True, slots=True)
class Catalog:
    """The parts of the catalog the tool's migrations create."""

    tenants_columns: frozenset[str] = frozenset()
    runs_columns: frozenset[str] = frozenset()
    run_tenants_columns: frozenset[str] = frozenset()
    config_source_check: bool = False
    tenant_config_gin: bool = False

    @classmethod
    def from_json(cls, found: Mapping[str, Any]) -> Catalog:
        """From what ``CATALOG_SQL`` selects."""
        return cls(
            tenants_columns=frozenset(found["tenants_columns"]),
            runs_columns=frozenset(found["runs_columns"]),
            run_tenants_columns=frozenset(found["run_tenants_columns"]),
            config_source_check=found["config_source_check"],
            tenant_config_gin=found["tenant_config_gin"],
        )


async def read(conn: asyncpg.Connection) -> Catalog:
    from tenant_migrator.database import fetch_json

    return Catalog.from_json(await fetch_json(conn, CATALOG_SQL))


def _missing_columns(table: str, have: frozenset[str], needed: tuple[str, ...]) -> list[str]:
    if not have:
        return [f"table {table}"]
    return [f"column {table}.{c}" for c in needed if c not in have]


def missing(name: str, catalog: Catalog) -> tuple[str, ...]:
    """What tool migration ``name`` creates that the database lacks; () = satisfied."""
    if name == "tenants_registry":
        return tuple(_missing_columns(TENANTS, catalog.tenants_columns, TENANTS_REGISTRY_COLUMNS))
    if name == "tenant_config":
        if not catalog.tenants_columns:
            return (f"table {TENANTS}",)
        out = _missing_columns(TENANTS, catalog.tenants_columns, TENANT_CONFIG_COLUMNS)
        if not catalog.config_source_check:
            out.append(f"a CHECK on {TENANTS}.config_source")
        if not catalog.tenant_config_gin:
            out.append(f"a GIN index on {TENANTS}.tenant_config")
        return tuple(out)
    if name == "import_history":
        return (
            *_missing_columns(RUNS, catalog.runs_columns, RUNS_COLUMNS),
            *_missing_columns(RUN_TENANTS, catalog.run_tenants_columns, RUN_TENANTS_COLUMNS),
        )
    if name == "import_fingerprints":
        return (
            *_missing_columns(RUNS, catalog.runs_columns, FINGERPRINT_RUNS_COLUMNS),
            *_missing_columns(RUN_TENANTS, catalog.run_tenants_columns, FINGERPRINT_COLUMNS),
        )
    raise ValueError(f"no catalog check for tool migration {name!r}")
