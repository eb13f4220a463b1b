"""The tool's SQL itself: splitting it as psql does, what 011 and 012 create, that
they run any number of times (psql, SQL Editor), row level security for real, and
that 011 on an existing table creates only what is absent.

Everything runs against a real PostgreSQL (see conftest.py).
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from migrationhelpers import (
    COMPAT,
    M011,
    M012,
    NEW_012_COLUMNS,
    all_files,
    apply,
    catalog_snapshot,
    execute_file,
    only,
    psql_file,
    rows_snapshot,
)

from tenant_migrator import database, migrations

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


def test_project_files_load_in_number_then_name_order(tmp_path):
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


def test_two_project_files_with_one_number_are_two_migrations_keyed_by_stem(tmp_path):
    # Deliberately changed (issue 10): duplicate numbers were refused; a platform
    # history has three 011 files, each its own migration.
    (tmp_path / "011_b.sql").write_text("SELECT 2;")
    (tmp_path / "011_a.sql").write_text("SELECT 1;")
    (tmp_path / "11_c.sql").write_text("SELECT 3;")
    loaded = migrations.load_migrations(tmp_path)
    assert [m.key for m in loaded] == ["011_a", "011_b", "11_c"]


def test_checksums_ignore_line_endings(tmp_path):
    (tmp_path / "001_lf.sql").write_bytes(b"SELECT 1;\nSELECT 2;\n")
    (tmp_path / "002_crlf.sql").write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")
    (tmp_path / "003_cr.sql").write_bytes(b"SELECT 1;\rSELECT 2;\r")
    assert len({m.checksum for m in migrations.load_migrations(tmp_path)}) == 1


def test_tool_migrations_come_from_the_tool_by_name_never_from_the_project(tmp_path):
    # Deliberately changed (issue 10): a project's database/migrations used to win.
    own = tmp_path / "database" / "migrations"
    own.mkdir(parents=True)
    (own / "011_something_else.sql").write_text("DROP TABLE tenants;")
    files = migrations.load_project_migrations(tmp_path)
    assert [m.key for m in files] == [
        "tenants_registry",
        "tenant_config",
        "import_history",
        "import_fingerprints",
    ]
    assert all(m.kind is migrations.Kind.TOOL for m in files)
    assert all(own not in m.path.parents for m in files)
    assert migrations.tool_migrations_dir().name in ("_bundled_migrations", "migrations")


def test_the_no_transaction_directive_is_read_from_the_leading_comments(tmp_path):
    (tmp_path / "001_marked.sql").write_text(
        "-- builds an index without blocking writers\n"
        f"{migrations.NO_TRANSACTION_DIRECTIVE}\nCREATE INDEX CONCURRENTLY i ON t (a);\n"
    )
    (tmp_path / "002_late.sql").write_text(f"SELECT 1;\n{migrations.NO_TRANSACTION_DIRECTIVE}\n")
    marked, late = migrations.load_migrations(tmp_path)
    assert not marked.transactional and marked.uses_concurrently
    assert late.transactional  # a directive after the first statement is just a comment


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


# --- 011 on a table that exists: only what is absent, never a replacement ----------------


def test_011_on_a_hand_made_table_leaves_a_policy_with_another_definition_and_warns(
    pg, database_url
):
    # Production made its own policy under 011's name, and a narrower grant.
    assert psql_file(database_url, COMPAT).returncode == 0
    pg.execute(
        database_url,
        """CREATE TABLE public.tenants (id VARCHAR(50) PRIMARY KEY, name VARCHAR(255) NOT NULL);
           ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
           CREATE POLICY "Users can view own tenant" ON tenants FOR SELECT USING (true);
           GRANT SELECT ON tenants TO authenticated;""",
    )
    applied = apply(database_url, only("011"))
    (done,) = applied
    warnings = " | ".join(done.warnings)
    assert 'policy "Users can view own tenant" on public.tenants exists with another' in warnings
    assert "authenticated has only SELECT on public.tenants" in warnings
    policies = {p["policyname"]: p for p in catalog_snapshot(pg, database_url)["policies"]}
    # Left exactly as it was, and the absent one created.
    assert policies["Users can view own tenant"]["qual"] == "true"
    assert "Service role has full access to tenants" in policies
    acl = pg.fetchval(
        database_url, "SELECT relacl::text FROM pg_class WHERE oid = 'tenants'::regclass"
    )
    assert "authenticated=r/" in acl  # still only SELECT
    assert "service_role=arwdDxt" in acl.replace("m", "")  # absent grant given (PG 17+ adds m)
    # The missing 011 columns were added (ADD COLUMN only for absent ones).
    columns = {r["attname"] for r in catalog_snapshot(pg, database_url)["columns"]}
    assert {"status", "plan", "features_enabled", "max_storage_gb"} <= columns


def test_011_on_a_complete_table_takes_no_lock_a_reader_holds(pg, database_url):
    apply(database_url, only("011"))

    async def scenario():
        async with (
            database.connection(database_url) as reader,
            database.connection(database_url) as runner,
        ):
            await reader.execute("BEGIN")
            await reader.execute("SELECT count(*) FROM tenants")  # AccessShareLock, held
            # Re-running 011 by hand (the SQL Editor) must not queue behind the reader.
            await runner.execute("SET lock_timeout = '1s'")
            await runner.execute(M011.read_text())
            await reader.execute("ROLLBACK")

    asyncio.run(scenario())
