"""Shared helpers of the migration tests: applying, psql, catalog snapshots."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from tenant_migrator import database, embedded, migrations

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = REPO / "database" / "migrations"
M011 = MIGRATIONS_DIR / "011_tenants_registry.sql"
M012 = MIGRATIONS_DIR / "012_tenant_config.sql"
COMPAT = REPO / "tenant_migrator" / "sql" / "supabase_compat.sql"

NEW_012_COLUMNS = {
    "tenant_config",
    "timezone",
    "currency",
    "primary_email",
    "gcp_project_id",
    "gcp_dataset",
    "config_source",
    "suspended_at",
    "suspended_reason",
}


def all_files() -> tuple[migrations.Migration, ...]:
    """The tool's own migrations (what `migrate` runs with no --migrations-dir)."""
    return migrations.tool_migrations()


def only(*versions: str) -> list[migrations.Migration]:
    return [m for m in all_files() if m.version in versions]


def apply(url: str, files, **options) -> list[migrations.Applied]:
    async def go():
        async with database.connection(url) as conn:
            return await migrations.apply_pending(conn, files, **options)

    return asyncio.run(go())


def execute_file(url: str, path: Path) -> None:
    """Run a whole SQL file in one batch, the way the Supabase SQL Editor does."""

    async def go():
        async with database.connection(url) as conn:
            await conn.execute(path.read_text())

    asyncio.run(go())


def psql() -> str:
    return shutil.which("psql") or str(embedded._bin("psql"))


def psql_file(url: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [psql(), url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the catalog snapshot ---------------------------------------------------------------

_SNAPSHOT_QUERIES = {
    "columns": """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid) AS default, col_description(c.oid, a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.oid = 'public.tenants'::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""",
    "constraints": """
        SELECT conname, contype, pg_get_constraintdef(oid) AS def
        FROM pg_constraint WHERE conrelid = 'public.tenants'::regclass ORDER BY conname""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename = 'tenants' ORDER BY indexname""",
    "policies": """
        SELECT policyname, permissive, roles::text[] AS roles, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = 'public' AND tablename = 'tenants'
        ORDER BY policyname""",
    "triggers": """
        SELECT tgname, pg_get_triggerdef(oid) AS def, tgenabled
        FROM pg_trigger WHERE tgrelid = 'public.tenants'::regclass AND NOT tgisinternal
        ORDER BY tgname""",
    "table": """
        SELECT relrowsecurity, relforcerowsecurity, relacl::text[] AS acl,
               obj_description(oid, 'pg_class') AS comment
        FROM pg_class WHERE oid = 'public.tenants'::regclass""",
    "trigger_function": """
        SELECT pg_get_functiondef('public.update_tenants_updated_at()'::regprocedure) AS def""",
}


def catalog_snapshot(pg, url: str) -> dict[str, list[dict]]:
    return {name: pg.fetch(url, sql) for name, sql in _SNAPSHOT_QUERIES.items()}


def rows_snapshot(pg, url: str) -> list[dict]:
    return pg.fetch(url, "SELECT * FROM tenants ORDER BY id")


PLATFORM_MIGRATIONS = Path(__file__).resolve().parent / "fixtures" / "platform_migrations"


def ledger(pg, url: str) -> dict[str, dict]:
    """Our ledger by key: {name: {scope, version, checksum, how}}."""
    rows = pg.fetch(
        url, f"SELECT scope, name, version, checksum, how FROM {migrations.LEDGER_TABLE}"
    )
    return {r["name"]: r for r in rows}


def supabase_versions(pg, url: str) -> list[str]:
    if not pg.fetchval(url, "SELECT to_regclass('supabase_migrations.schema_migrations')"):
        return []
    rows = pg.fetch(url, "SELECT version FROM supabase_migrations.schema_migrations")
    return sorted(r["version"] for r in rows)
