"""Migrations 011 and 012, the history tables, the advisory lock, status and repair.

Everything runs against a real PostgreSQL (see conftest.py); the CLI flows run the
real `tenant-migrator` in a subprocess.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    return migrations.load_migrations(MIGRATIONS_DIR)


def only(*versions: str) -> list[migrations.Migration]:
    return [m for m in all_files() if m.version in versions]


def apply(url: str, files) -> list[migrations.Applied]:
    async def go():
        async with database.connection(url) as conn:
            return await migrations.apply_pending(conn, files)

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


# --- splitting --------------------------------------------------------------------------


def test_split_respects_strings_dollar_quotes_and_comments():
    sql = """
        -- a comment; not a statement
        CREATE TABLE t (a text DEFAULT 'x;y', "we;ird" int);
        /* block; /* nested; */ still comment; */
        INSERT INTO t VALUES (E'it\\'s; fine', 1);
        DO $body$ BEGIN PERFORM 1; END $body$;
        CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
        SELECT 'it''s;' AS s, $1 AS p, a$b FROM t;
        -- trailing comment only
    """
    statements = migrations.split_statements(sql)
    assert statements == [
        """CREATE TABLE t (a text DEFAULT 'x;y', "we;ird" int)""",
        "INSERT INTO t VALUES (E'it\\'s; fine', 1)",
        "DO $body$ BEGIN PERFORM 1; END $body$",
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
        "SELECT 'it''s;' AS s, $1 AS p, a$b FROM t",
    ]


_TOKENS = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_$]{0,8}", fullmatch=True),
    st.text(alphabet="ab; '$\n-*/", max_size=12).map(lambda t: "'" + t.replace("'", "''") + "'"),
    st.text(alphabet="ab; $\n-*/", max_size=12).map(lambda t: '"' + t.replace('"', '""') + '"'),
    st.text(alphabet="ab; '\n-*/", max_size=12).map(lambda t: f"$q${t}$q$"),
    st.text(alphabet="ab; '\n-*", max_size=12).map(lambda t: f"/* {t} */"),
    st.text(alphabet="ab; '*/", max_size=12).map(lambda t: f"-- {t}\n"),
)


@given(
    st.lists(
        st.tuples(st.from_regex(r"[A-Z]{1,6}", fullmatch=True), st.lists(_TOKENS, max_size=6)).map(
            lambda st_: " ".join([st_[0], *st_[1]])
        ),
        min_size=1,
        max_size=5,
    )
)
def test_split_round_trips_generated_statements(statements):
    script = "-- header comment\n" + ";\n".join(statements) + ";\n-- the end\n"
    assert migrations.split_statements(script) == [s.rstrip() for s in statements]


def test_split_of_the_real_migrations_runs_statement_by_statement(pg, database_url):
    # The statements stored in supabase_migrations must be runnable one at a time
    # (that is how the Supabase CLI replays them), and mean the same as the file.
    async def go():
        async with database.connection(database_url) as conn:
            await conn.execute(COMPAT.read_text())
            for path in (M011, M012):
                for statement in migrations.split_statements(path.read_text()):
                    await conn.execute(statement)

    asyncio.run(go())
    columns = {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    assert columns >= NEW_012_COLUMNS
    first_words = [s.split()[0] for s in migrations.split_statements(M012.read_text())]
    assert set(first_words) == {"ALTER", "DO", "CREATE", "COMMENT"}
    assert first_words.count("COMMENT") == len(NEW_012_COLUMNS)


# --- files ------------------------------------------------------------------------------


def test_files_load_in_numeric_version_order(tmp_path):
    (tmp_path / "10_ten.sql").write_text("SELECT 10;")
    (tmp_path / "9_nine.sql").write_text("SELECT 9;")
    (tmp_path / "011_eleven.sql").write_text("SELECT 11;")
    (tmp_path / "README.md").write_text("not a migration")
    (tmp_path / "notes.sql").write_text("no leading digits: ignored")
    loaded = migrations.load_migrations(tmp_path)
    assert [(m.version, m.name) for m in loaded] == [
        ("9", "nine"),
        ("10", "ten"),
        ("011", "eleven"),
    ]
    assert len({m.checksum for m in loaded}) == 3


def test_two_files_with_one_version_are_refused(tmp_path):
    (tmp_path / "011_a.sql").write_text("SELECT 1;")
    (tmp_path / "11_b.sql").write_text("SELECT 2;")
    with pytest.raises(migrations.MigrationError, match="also used by"):
        migrations.load_migrations(tmp_path)


def test_project_migrations_win_else_the_packaged_ones(tmp_path):
    # No database/migrations here: the wheel's copy, or this checkout's (editable install).
    fallback = migrations.migrations_dir(tmp_path)
    assert fallback.name == "_bundled_migrations" or fallback == MIGRATIONS_DIR
    assert [m.label for m in migrations.load_migrations(fallback)][:2] == [M011.name, M012.name]
    own = tmp_path / "database" / "migrations"
    own.mkdir(parents=True)
    assert migrations.migrations_dir(tmp_path) == own


# --- 011 and 012 ------------------------------------------------------------------------


def test_migrate_creates_tenants_with_every_012_column(pg, database_url):
    applied = apply(database_url, all_files())
    assert [a.migration.version for a in applied][:2] == ["011", "012"]
    snap = catalog_snapshot(pg, database_url)
    columns = {r["attname"]: r for r in snap["columns"]}
    assert set(columns) >= NEW_012_COLUMNS
    assert columns["id"]["type"] == "character varying(50)"
    assert columns["name"]["attnotnull"]
    assert columns["tenant_config"]["default"] == "'{}'::jsonb"
    assert columns["timezone"]["default"] == "'Africa/Johannesburg'::character varying"
    assert columns["currency"]["default"] == "'ZAR'::character varying"
    assert columns["config_source"]["default"] == "'database'::character varying"
    assert columns["max_users"]["default"] == "5"
    assert "voice_calls" in columns["features_enabled"]["default"]
    assert all(columns[c]["col_description"] for c in NEW_012_COLUMNS)
    indexes = {r["indexname"]: r["indexdef"] for r in snap["indexes"]}
    assert "USING gin (tenant_config)" in indexes["idx_tenants_tenant_config"]
    assert {"idx_tenants_status", "idx_tenants_plan", "idx_tenants_created_at"} <= set(indexes)
    assert "idx_tenants_admin_email" in indexes
    assert {p["policyname"] for p in snap["policies"]} == {
        "Service role has full access to tenants",
        "Users can view own tenant",
    }
    assert [t["tgname"] for t in snap["triggers"]] == ["trigger_tenants_updated_at"]
    assert snap["table"][0]["relrowsecurity"] is True


def test_012_applied_twice_leaves_the_catalog_identical(pg, database_url):
    apply(database_url, only("011", "012"))
    pg.execute(database_url, "INSERT INTO tenants (id, name) VALUES ('a', 'A')")
    first, first_rows = catalog_snapshot(pg, database_url), rows_snapshot(pg, database_url)
    execute_file(database_url, M012)
    assert catalog_snapshot(pg, database_url) == first
    assert rows_snapshot(pg, database_url) == first_rows


def test_011_applied_again_changes_nothing(pg, database_url):
    apply(database_url, only("011", "012"))
    first = catalog_snapshot(pg, database_url)
    execute_file(database_url, M011)
    assert catalog_snapshot(pg, database_url) == first


def test_psql_runs_011_and_012_twice(pg, database_url):
    results = [psql_file(database_url, p) for p in (COMPAT, M011, M012)]
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    first = catalog_snapshot(pg, database_url)
    again = [psql_file(database_url, p) for p in (COMPAT, M011, M012)]
    assert [r.returncode for r in again] == [0, 0, 0], [r.stderr for r in again]
    assert catalog_snapshot(pg, database_url) == first
    assert {r["attname"] for r in first["columns"]} >= NEW_012_COLUMNS


def test_012_has_no_psql_meta_commands_and_no_concurrently():
    text = M012.read_text()
    code = "\n".join(line.split("--")[0] for line in text.splitlines())
    assert not any(line.lstrip().startswith("\\") for line in code.splitlines())
    assert "CONCURRENTLY" not in code.upper()
    assert "ALTER TABLE tenants ADD COLUMN" in code
    assert "CREATE TABLE" not in code.upper()
    for word in ("SENDGRID_API_KEY", "{TENANT_ID}_SENDGRID_API_KEY", "OPENAI_API_KEY"):
        assert word in text
    for word in ("VAPI_API_KEY", "{TENANT_ID}_VAPI_API_KEY", "SUPABASE_SERVICE_KEY"):
        assert word in text


def test_existing_rows_become_yaml_new_rows_default_database(pg, database_url):
    apply(database_url, only("011"))
    pg.execute(
        database_url, "INSERT INTO tenants (id, name) VALUES ('old1', 'Old 1'), ('old2', 'O2')"
    )
    apply(database_url, only("011", "012"))
    pg.execute(database_url, "INSERT INTO tenants (id, name) VALUES ('new1', 'New 1')")
    sources = dict(
        (r["id"], r["config_source"])
        for r in pg.fetch(database_url, "SELECT id, config_source FROM tenants")
    )
    assert sources == {"old1": "yaml", "old2": "yaml", "new1": "database"}

    # Moving a tenant between modes is the platform's business; re-running 012
    # must not undo it in either direction.
    pg.execute(database_url, "UPDATE tenants SET config_source = 'database' WHERE id = 'old1'")
    pg.execute(database_url, "UPDATE tenants SET config_source = 'yaml' WHERE id = 'new1'")
    before = rows_snapshot(pg, database_url)
    execute_file(database_url, M012)
    assert psql_file(database_url, M012).returncode == 0
    assert rows_snapshot(pg, database_url) == before


def test_config_source_check_rejects_other_values(pg, database_url):
    apply(database_url, only("011", "012"))
    with pytest.raises(asyncpg.CheckViolationError, match="tenants_config_source_check"):
        pg.execute(
            database_url, "INSERT INTO tenants (id, name, config_source) VALUES ('x', 'X', 'json')"
        )
    pg.execute(
        database_url, "INSERT INTO tenants (id, name, config_source) VALUES ('y', 'Y', 'yaml')"
    )
    with pytest.raises(asyncpg.CheckViolationError):
        pg.execute(database_url, "UPDATE tenants SET config_source = 'YAML' WHERE id = 'y'")


def test_status_and_plan_checks_and_updated_at_trigger(pg, database_url):
    apply(database_url, only("011", "012"))
    with pytest.raises(asyncpg.CheckViolationError):
        pg.execute(database_url, "INSERT INTO tenants (id, name, plan) VALUES ('x', 'X', 'gold')")
    pg.execute(
        database_url,
        "INSERT INTO tenants (id, name, updated_at) VALUES ('t', 'T', '2000-01-01T00:00:00Z')",
    )
    pg.execute(database_url, "UPDATE tenants SET name = 'T2' WHERE id = 't'")
    assert pg.fetchval(database_url, "SELECT updated_at > '2001-01-01' FROM tenants") is True


# --- row level security, for real -------------------------------------------------------


def _as_role(url: str, role: str, settings: dict[str, str], sql: str) -> list[str]:
    async def go():
        async with database.connection(url) as conn, conn.transaction():
            for key, value in settings.items():
                await conn.execute("SELECT set_config($1, $2, true)", key, value)
            await conn.execute(f"SET LOCAL ROLE {role}")
            return [r[0] for r in await conn.fetch(sql)]

    return asyncio.run(go())


def test_row_level_security(pg, migrated_database_url):
    url = migrated_database_url
    pg.execute(url, "INSERT INTO tenants (id, name) VALUES ('a', 'A'), ('b', 'B'), ('c', 'C')")
    select = "SELECT id FROM tenants ORDER BY id"

    assert _as_role(url, "authenticated", {"app.tenant_id": "a"}, select) == ["a"]
    assert _as_role(url, "authenticated", {"app.tenant_id": "b"}, select) == ["b"]
    assert _as_role(url, "authenticated", {}, select) == []
    # The 011 policy: whoever carries the service_role JWT claim sees every row.
    claims = {"request.jwt.claims": '{"role": "service_role"}'}
    assert _as_role(url, "authenticated", claims, select) == ["a", "b", "c"]
    assert _as_role(url, "service_role", claims, select) == ["a", "b", "c"]
    # anon has no grant on tenants at all...
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        _as_role(url, "anon", {"app.tenant_id": "a"}, select)
    # ...and even with one (as Supabase's default privileges give it), RLS hides
    # every row from a session that has not set app.tenant_id.
    pg.execute(url, "GRANT SELECT ON tenants TO anon")
    assert _as_role(url, "anon", {}, select) == []
    # The own-tenant policy is read-only: an authenticated session cannot write.
    update = "UPDATE tenants SET name = 'hacked' WHERE id = 'a' RETURNING id"
    assert _as_role(url, "authenticated", {"app.tenant_id": "a"}, update) == []
    assert pg.fetchval(url, "SELECT name FROM tenants WHERE id = 'a'") == "A"


def test_compat_sql_is_skipped_when_an_auth_schema_exists(pg, database_url):
    # A Supabase database has `auth`; the compat file must never run there. Stand-in:
    # an auth schema whose role() answers something the compat version never would.
    pg.execute(
        database_url,
        """CREATE SCHEMA auth;
           CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql AS $$ SELECT 'supabase' $$;""",
    )
    apply(database_url, only("011", "012"))
    assert pg.fetchval(database_url, "SELECT auth.role()") == "supabase"


# --- history ----------------------------------------------------------------------------


def test_history_in_supabase_table_and_ledger(pg, database_url):
    apply(database_url, all_files())
    files = {m.version: m for m in all_files()}
    supa = pg.fetch(
        database_url, "SELECT version, name, statements FROM supabase_migrations.schema_migrations"
    )
    assert {r["version"] for r in supa} == set(files)
    for row in supa:
        assert row["name"] == files[row["version"]].name
        assert row["statements"] == files[row["version"]].statements
    ledger = pg.fetch(
        database_url,
        "SELECT version, checksum, applied_by, how FROM tenant_migrator.schema_migrations",
    )
    assert {r["version"]: r["checksum"] for r in ledger} == {
        v: m.checksum for v, m in files.items()
    }
    assert all(r["applied_by"] and r["how"] == "migrate" for r in ledger)
    assert apply(database_url, all_files()) == []


def test_a_failing_migration_is_rolled_back_and_named(pg, database_url, tmp_path):
    shutil.copy(M011, tmp_path / M011.name)
    (tmp_path / "012_broken.sql").write_text(
        "ALTER TABLE tenants ADD COLUMN extra int;\nSELECT 1;\nALTER TABLE nope ADD COLUMN x int;\n"
    )
    files = migrations.load_migrations(tmp_path)
    with pytest.raises(migrations.MigrationError) as err:
        apply(database_url, files)
    message = str(err.value)
    assert "012_broken.sql:3:1: migration 012 failed and was rolled back" in message
    assert 'relation "nope" does not exist' in message
    columns = {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    assert "extra" not in columns  # the whole file rolled back, not just the failing line
    versions = pg.fetch(database_url, "SELECT version FROM supabase_migrations.schema_migrations")
    assert [r["version"] for r in versions] == ["011"]


# --- the CLI ----------------------------------------------------------------------------


def _project_with_migrations(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(MIGRATIONS_DIR, project / "database" / "migrations")
    (project / "clients").mkdir()  # a project: commands refuse a directory without one
    return project


def test_cli_migrate_dry_run_then_migrate_then_status(pg, run_cli, database_url):
    dry = run_cli("--database-url", database_url, "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would apply  011_tenants_registry.sql" in dry.stdout
    assert "would apply  012_tenant_config.sql" in dry.stdout
    # A dry run writes nothing, not even the history tables.
    assert pg.fetchval(database_url, "SELECT to_regclass('tenants')") is None
    assert pg.fetchval(database_url, "SELECT to_regnamespace('supabase_migrations')") is None

    done = run_cli("--database-url", database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "applied  011_tenants_registry.sql" in done.stdout
    assert "applied  012_tenant_config.sql" in done.stdout
    assert "Traceback" not in done.stderr

    again = run_cli("--database-url", database_url, "migrate")
    assert again.returncode == 0 and "Nothing to apply" in again.stdout

    status = run_cli("--database-url", database_url, "migrate", "status")
    assert status.returncode == 0, status.stderr
    lines = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    assert lines["011"][1] == "tenants_registry" and lines["011"][-1] == "applied"
    assert lines["012"][-1] == "applied"


def test_concurrent_migrate_one_waits_both_succeed(pg, run_cli, database_url, tmp_path):
    import sys

    from conftest import cli_env

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
                        "migrate",
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
    assert sorted(line.split()[1] for line in applied_lines) == sorted(m.label for m in all_files())
    count = pg.fetchval(database_url, "SELECT count(*) FROM tenant_migrator.schema_migrations")
    assert count == len(all_files())


def test_modified_migration_is_refused(pg, run_cli, database_url, tmp_path):
    project = _project_with_migrations(tmp_path)
    args = ("--project-dir", project, "--database-url", database_url)
    assert run_cli(*args, "migrate").returncode == 0
    m012 = project / "database" / "migrations" / M012.name
    m012.write_text(m012.read_text() + "\nALTER TABLE tenants ADD COLUMN sneaky int;\n")
    (project / "database" / "migrations" / "099_next.sql").write_text(
        "CREATE TABLE next_thing (id int);"
    )

    refused = run_cli(*args, "migrate")
    assert refused.returncode == 1
    assert f"{m012}: changed after it was applied" in refused.stderr
    assert "migrate repair" in refused.stderr and "Traceback" not in refused.stderr
    # Nothing ran: not the edit, not the new migration after it.
    assert pg.fetchval(database_url, "SELECT to_regclass('next_thing')") is None
    columns = {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    assert "sneaky" not in columns

    dry = run_cli(*args, "migrate", "--dry-run")
    assert dry.returncode == 1 and "changed after it was applied" in dry.stderr

    status = run_cli(*args, "migrate", "status")
    states = {line.split()[0]: line.split()[-1] for line in status.stdout.splitlines()[1:]}
    expected = {m.version: "applied" for m in all_files()}
    assert states == expected | {"012": "modified", "099": "pending"}


def test_repair_edits_history_only(pg, run_cli, database_url, tmp_path):
    project = _project_with_migrations(tmp_path)
    migdir = project / "database" / "migrations"
    args = ("--project-dir", project, "--database-url", database_url)
    assert run_cli(*args, "migrate").returncode == 0

    reverted = run_cli(*args, "migrate", "repair", "012", "--status", "reverted")
    assert reverted.returncode == 0, reverted.stderr
    assert "Marked migration 012 as reverted" in reverted.stdout
    # History only: the columns are still there, the history rows are gone.
    assert "tenant_config" in {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    for table in ("supabase_migrations.schema_migrations", "tenant_migrator.schema_migrations"):
        assert pg.fetchval(database_url, f"SELECT count(*) FROM {table} WHERE version='012'") == 0
    status = run_cli(*args, "migrate", "status").stdout
    assert "012" in status and "pending" in status
    # 012 is idempotent, so re-applying it is fine.
    assert run_cli(*args, "migrate").returncode == 0

    # Marking applied runs no SQL, and records the file's current checksum (this is
    # how an intentionally edited file is accepted).
    (migdir / "099_next.sql").write_text("CREATE TABLE next_thing (id int);")
    marked = run_cli(*args, "migrate", "repair", "99", "--status", "applied")
    assert marked.returncode == 0, marked.stderr
    assert pg.fetchval(database_url, "SELECT to_regclass('next_thing')") is None
    row = pg.fetchrow(
        database_url,
        "SELECT checksum, how FROM tenant_migrator.schema_migrations WHERE version='099'",
    )
    assert row == {"checksum": migrations.load_migrations(migdir)[-1].checksum, "how": "repair"}
    assert run_cli(*args, "migrate").stdout.strip().startswith("Nothing to apply")

    unknown = run_cli(*args, "migrate", "repair", "777", "--status", "applied")
    assert unknown.returncode == 2
    assert "no migration with version '777'" in unknown.stderr


def test_hand_applied_011_baseline_migrates_cleanly(pg, run_cli, database_url):
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
    # 011's objects are exactly as they were (re-running 011 replaced nothing visible).
    assert after["policies"] == before["policies"]
    assert after["triggers"] == before["triggers"]
    status = run_cli("--database-url", database_url, "migrate", "status").stdout
    assert "pending" not in status and "modified" not in status


def test_pgbouncer_url_migrates_without_statement_cache(pg, run_cli, database_url):
    # pgbouncer=true is not a server setting: the server would reject it if asyncpg
    # passed it on. Stripped, the URL works, and the pooler mode is used throughout.
    sep = "&" if "?" in database_url else "?"
    result = run_cli("--database-url", f"{database_url}{sep}pgbouncer=true", "migrate")
    assert result.returncode == 0, result.stderr
    assert pg.fetchval(database_url, "SELECT count(*) FROM supabase_migrations.schema_migrations")


def test_a_failure_inside_a_statement_points_at_its_line_and_column(database_url, tmp_path):
    (tmp_path / "001_typo.sql").write_text(
        "CREATE TABLE t (a int);\n-- a comment\nSELECT a,\n       bogus FROM t;\n"
    )
    with pytest.raises(migrations.MigrationError) as err:
        apply(database_url, migrations.load_migrations(tmp_path))
    assert "001_typo.sql:4:8: migration 001 failed" in str(err.value)
    assert 'column "bogus" does not exist' in str(err.value)
