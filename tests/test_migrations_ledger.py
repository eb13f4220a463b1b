"""The tool's migrations by name: our ledger, catalog inspection deciding what is
needed, upgrading the previous version's history, the advisory lock, status/repair.

Everything runs against a real PostgreSQL; the CLI flows run the real
`tenant-migrator` in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
from conftest import cli_env
from migrationhelpers import (
    COMPAT,
    M011,
    M012,
    all_files,
    apply,
    catalog_snapshot,
    ledger,
    psql_file,
    supabase_versions,
)

from tenant_migrator import database, migrations

TOOL = list(migrations.TOOL_NAMES)
# What the previous tool version had (its ledger, below, knows no other).
OLD_TOOL = TOOL[:3]
MIGRATE = ("migrate",)

# The previous tool version's history, as it left a database it migrated: the
# CLI's table with bare numbers, and its ledger keyed by number.
OLD_HISTORY_SQL = """
CREATE SCHEMA supabase_migrations;
CREATE TABLE supabase_migrations.schema_migrations (
    version text PRIMARY KEY, statements text[], name text);
CREATE TABLE tenant_migrator.schema_migrations (
    version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL,
    execution_ms integer, how text NOT NULL DEFAULT 'migrate');
INSERT INTO supabase_migrations.schema_migrations (version, statements, name) VALUES
    ('011', '{}', 'tenants_registry'), ('012', '{}', 'tenant_config'),
    ('013', '{}', 'import_history'), ('20240101000000', '{}', 'team_file');
INSERT INTO tenant_migrator.schema_migrations (version, name, checksum, applied_by) VALUES
    ('011', 'tenants_registry', 'old1', 'postgres (ann)'),
    ('012', 'tenant_config', 'old2', 'postgres (ann)'),
    ('013', 'import_history', 'old3', 'postgres (ann)');
"""


def status_json(run_cli, url: str, *extra) -> dict[str, dict]:
    result = run_cli("--database-url", url, "migrate", "status", *extra, "--format", "json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


# --- ledger -----------------------------------------------------------------------------


def test_migrate_records_each_tool_migration_by_name_and_writes_nothing_for_the_cli(
    pg, database_url
):
    # Deliberately changed (issue 10): versions were written into the Supabase CLI's
    # table, which then stopped `supabase db push`.
    applied = apply(database_url, all_files())
    assert [a.migration.label for a in applied] == TOOL
    rows = ledger(pg, database_url)
    assert set(rows) == set(TOOL)
    for m in all_files():
        assert rows[m.name]["checksum"] == m.checksum and rows[m.name]["how"] == "migrate"
        assert rows[m.name]["scope"] == "tool"
    assert pg.fetchval(database_url, "SELECT to_regnamespace('supabase_migrations')") is None
    assert apply(database_url, all_files()) == []


def test_a_database_built_by_hand_is_recorded_as_satisfied_and_nothing_reruns(
    pg, run_cli, database_url
):
    # Someone else's migrations did the job: 011 and 012 pasted into the SQL Editor.
    for path in (COMPAT, M011, M012):
        assert psql_file(database_url, path).returncode == 0
    before = catalog_snapshot(pg, database_url)
    status = status_json(run_cli, database_url)
    assert {n: (r["state"], r["source"]) for n, r in status.items()} == {
        "tenants_registry": ("satisfied", "catalog"),
        "tenant_config": ("satisfied", "catalog"),
        "import_history": ("pending", "catalog"),
        "import_fingerprints": ("pending", "catalog"),
    }
    result = run_cli("--database-url", database_url, "migrate")
    assert result.returncode == 0, result.stderr
    assert "recorded  tenants_registry  as satisfied (found in the database, applied outside" in (
        result.stdout
    )
    assert "applied  import_history" in result.stdout
    assert "applied  import_fingerprints" in result.stdout
    assert "applied  tenants_registry" not in result.stdout
    assert catalog_snapshot(pg, database_url) == before  # nothing of 011/012 re-ran
    rows = ledger(pg, database_url)
    assert rows["tenants_registry"]["how"] == rows["tenant_config"]["how"] == "satisfied"
    after = status_json(run_cli, database_url)
    assert after["tenant_config"]["state"] == "satisfied" and after["tenant_config"]["source"] == (
        "ledger"
    )
    assert after["import_history"]["state"] == "applied"
    assert after["import_history"]["applied_at"] is not None
    assert after["import_history"]["checksum"] == all_files()[2].checksum


def test_a_missing_piece_in_the_catalog_makes_the_migration_pending_again(pg, database_url):
    apply(database_url, all_files())
    pg.execute(database_url, "DROP INDEX idx_tenants_tenant_config")

    async def states():
        async with database.connection(database_url) as conn:
            return [m.label for m in await migrations.pending(conn, all_files())]

    assert asyncio.run(states()) == ["tenant_config"]
    assert [a.migration.label for a in apply(database_url, all_files())] == ["tenant_config"]
    assert asyncio.run(states()) == []


def test_the_previous_versions_history_is_upgraded_and_its_cli_rows_removed(
    pg, run_cli, database_url, tmp_path
):
    apply(database_url, all_files()[: len(OLD_TOOL)])
    pg.execute(database_url, f"DROP TABLE {migrations.LEDGER_TABLE}")
    pg.execute(database_url, OLD_HISTORY_SQL)
    # Before the upgrade, the old ledger is read: what it knows is applied; only
    # the migration the previous version did not have is pending.
    status = status_json(run_cli, database_url)
    assert {n: r["state"] for n, r in status.items()} == {
        **dict.fromkeys(OLD_TOOL, "applied"),
        "import_fingerprints": "pending",
    }

    dry = run_cli("--database-url", database_url, "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would remove version 011 (tenants_registry)" in dry.stdout
    assert supabase_versions(pg, database_url) == ["011", "012", "013", "20240101000000"]

    # A team file in supabase/migrations with version 012 keeps that row: the CLI
    # can match it, so it is not ours to remove.
    project = tmp_path / "project"
    (project / "supabase" / "migrations").mkdir(parents=True)
    (project / "clients").mkdir()  # a project: commands refuse a directory without one
    (project / "supabase" / "migrations" / "012_their_own.sql").write_text("SELECT 1;")
    done = run_cli("--project-dir", project, "--database-url", database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "removed version 011 (tenants_registry) from supabase_migrations" in done.stdout
    assert "removed version 013 (import_history)" in done.stdout
    assert "applied  import_fingerprints" in done.stdout
    assert supabase_versions(pg, database_url) == ["012", "20240101000000"]
    assert pg.fetchval(database_url, "SELECT to_regclass('tenant_migrator.schema_migrations')") is (
        None
    )
    rows = ledger(pg, database_url)
    assert {n: r["how"] for n, r in rows.items()} == {
        **dict.fromkeys(OLD_TOOL, "upgraded"),
        "import_fingerprints": "migrate",
    }
    assert (
        pg.fetchval(
            database_url,
            f"SELECT applied_by FROM {migrations.LEDGER_TABLE} WHERE name = 'tenant_config'",
        )
        == "postgres (ann)"
    )


def test_plan_and_status_read_only_even_with_the_previous_history(pg, run_cli, database_url):
    apply(database_url, all_files())
    pg.execute(database_url, f"DROP TABLE {migrations.LEDGER_TABLE}")
    pg.execute(database_url, OLD_HISTORY_SQL)
    status_json(run_cli, database_url)
    run_cli("--database-url", database_url, "migrate", "--sql")
    # Read-only commands upgraded nothing.
    assert supabase_versions(pg, database_url) == ["011", "012", "013", "20240101000000"]
    assert pg.fetchval(database_url, f"SELECT to_regclass('{migrations.LEDGER_TABLE}')") is None


# --- failures ---------------------------------------------------------------------------


def test_a_failing_project_migration_is_rolled_back_and_named(pg, database_url, tmp_path):
    (tmp_path / "012_broken.sql").write_text(
        "ALTER TABLE tenants ADD COLUMN extra int;\nSELECT 1;\nALTER TABLE nope ADD COLUMN x int;\n"
    )
    files = migrations.project_migrations(tmp_path)
    with pytest.raises(migrations.MigrationError) as err:
        apply(database_url, files)
    message = str(err.value)
    assert "012_broken.sql:3:1: migration 012_broken.sql failed and was rolled back" in message
    assert 'relation "nope" does not exist' in message
    # A project file may have been run by hand: no "editing it is fine".
    assert "editing it is fine" not in message and "--status applied" in message
    columns = {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    assert "extra" not in columns  # the whole file rolled back, not just the failing line
    assert set(ledger(pg, database_url)) == set(TOOL)


def test_a_failure_inside_a_statement_points_at_its_line_and_column(database_url, tmp_path):
    (tmp_path / "001_typo.sql").write_text(
        "CREATE TABLE t (a int);\n-- a comment\nSELECT a,\n       bogus FROM t;\n"
    )
    with pytest.raises(migrations.MigrationError) as err:
        apply(database_url, migrations.load_migrations(tmp_path))
    assert "001_typo.sql:4:8: migration 001_typo.sql failed" in str(err.value)
    assert 'column "bogus" does not exist' in str(err.value)


# --- the CLI ----------------------------------------------------------------------------


def test_cli_migrate_dry_run_then_migrate_then_status(pg, run_cli, database_url):
    dry = run_cli("--database-url", database_url, "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would apply  tenants_registry" in dry.stdout
    assert "would apply  tenant_config" in dry.stdout
    # A dry run writes nothing, not even the history tables.
    assert pg.fetchval(database_url, "SELECT to_regclass('tenants')") is None
    assert pg.fetchval(database_url, "SELECT to_regnamespace('tenant_migrator')") is None

    done = run_cli("--database-url", database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "applied  tenants_registry" in done.stdout
    assert "applied  tenant_config" in done.stdout
    assert "Traceback" not in done.stderr

    again = run_cli("--database-url", database_url, "migrate")
    assert again.returncode == 0 and "Nothing to apply" in again.stdout

    status = run_cli("--database-url", database_url, "migrate", "status")
    assert status.returncode == 0, status.stderr
    lines = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    assert lines["tenants_registry"][1:4] == ["tool", "applied", "ledger"]
    assert lines["tenant_config"][2] == "applied"


def test_concurrent_migrate_one_waits_both_succeed(pg, run_cli, database_url, tmp_path):
    # Hold the tool's lock, start two migrates, see both block on it, then let go:
    # they race for real, with no sleeps deciding the order.
    async def scenario():
        async with database.connection(database_url) as holder:
            await holder.execute("BEGIN")
            await holder.execute("SELECT pg_advisory_xact_lock($1)", migrations.ADVISORY_LOCK_KEY)
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tenant_migrator",
                        "--database-url",
                        database_url,
                        *MIGRATE,
                    ],
                    cwd=tmp_path,
                    env=cli_env(),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            deadline = time.monotonic() + 60
            waiting = 0
            while waiting < 2 and time.monotonic() < deadline:
                waiting = await holder.fetchval(
                    """SELECT count(*) FROM pg_locks
                       WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()
                         AND database = (SELECT oid FROM pg_database
                                         WHERE datname = current_database())"""
                )
                await asyncio.sleep(0.02)
            await holder.execute("COMMIT")
            return waiting, [(*p.communicate(timeout=120), p.returncode) for p in procs]

    waiting, results = asyncio.run(scenario())
    assert waiting == 2
    assert [r[2] for r in results] == [0, 0], [r[1] for r in results]
    applied_lines = [
        line for out, _, _ in results for line in out.splitlines() if line.startswith("applied ")
    ]
    assert sorted(line.split()[1] for line in applied_lines) == sorted(TOOL)
    assert pg.fetchval(database_url, f"SELECT count(*) FROM {migrations.LEDGER_TABLE}") == len(TOOL)


def test_repair_of_a_tool_migration_edits_history_only(pg, run_cli, database_url):
    args = ("--database-url", database_url)
    assert run_cli(*args, "migrate").returncode == 0
    reverted = run_cli(*args, "migrate", "repair", "tenant_config", "--status", "reverted")
    assert reverted.returncode == 0, reverted.stderr
    assert "Marked migration tenant_config as reverted" in reverted.stdout
    assert "tenant_config" in {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    assert "tenant_config" not in ledger(pg, database_url)
    # The catalog still has it all: satisfied, and migrate records it, runs nothing.
    assert status_json(run_cli, database_url)["tenant_config"]["state"] == "satisfied"
    again = run_cli(*args, "migrate")
    assert "recorded  tenant_config  as satisfied" in again.stdout
    assert "applied" not in again.stdout.replace("applied outside", "")

    # The old habit, a bare number, still names the tool migration.
    by_number = run_cli(*args, "migrate", "repair", "013", "--status", "applied")
    assert by_number.returncode == 0 and "import_history as applied" in by_number.stdout
    unknown = run_cli(*args, "migrate", "repair", "777", "nope", "--status", "applied")
    assert unknown.returncode == 2
    assert "no migration '777', 'nope'" in unknown.stderr and "Traceback" not in unknown.stderr


def test_pgbouncer_url_migrates_without_statement_cache(pg, run_cli, database_url):
    # pgbouncer=true is not a server setting: the server would reject it if asyncpg
    # passed it on. Stripped, the URL works, and the pooler mode is used throughout.
    sep = "&" if "?" in database_url else "?"
    result = run_cli("--database-url", f"{database_url}{sep}pgbouncer=true", "migrate")
    assert result.returncode == 0, result.stderr
    assert set(ledger(pg, database_url)) == set(TOOL)


def test_hand_applied_011_migrates_cleanly_and_keeps_its_objects(pg, run_cli, database_url):
    # Production: 011 was pasted into the SQL Editor long ago; tenants exist; no history.
    for path in (COMPAT, M011):
        assert psql_file(database_url, path).returncode == 0
    pg.execute(
        database_url,
        "INSERT INTO tenants (id, name, plan) VALUES ('africastay', 'Africa Stay', 'pro')",
    )
    before = catalog_snapshot(pg, database_url)

    result = run_cli("--database-url", database_url, "migrate")
    assert result.returncode == 0, result.stderr
    row = pg.fetchrow(database_url, "SELECT plan, config_source FROM tenants")
    assert row == {"plan": "pro", "config_source": "yaml"}
    after = catalog_snapshot(pg, database_url)
    assert after["policies"] == before["policies"]
    assert after["triggers"] == before["triggers"]
    status = run_cli("--database-url", database_url, "migrate", "status").stdout
    assert "pending" not in status and "modified" not in status
    assert ledger(pg, database_url)["tenants_registry"]["how"] == "satisfied"
