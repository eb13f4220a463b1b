"""Adopting the platform as it is: run from its repository root, against a database
built by hand, with nothing renamed.

The project is ``tests/fixtures/platform_repo`` (our own files in the platform's
shape; see its README): its own ``database/migrations/`` with three files numbered
011, CONCURRENTLY files, a file needing ``auth.users`` and the tenant_config columns
under 014; a ``pyproject.toml`` whose ``[tool.tenant-migrator]`` excludes the
``example`` template. The database is built the way the platform's was: each file
the team could run is fed to ``psql -f`` (the Supabase-only one and the one that
needs a table nobody created are not), then ``hand_built.sql`` adds a row written
by the old import script (literal SendGrid key and SMTP password) and a legacy
``config_source='yaml'`` row. 017 seeds ``africastay``, owned by the database,
with a ``pricing`` key no client file has.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from importhelpers import assert_no_secrets, dump_database, tenants_rows

from tenant_migrator import embedded, migrations

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "platform_repo"

# The order the team ran them in the SQL Editor. Left out: 001 (needs auth.users,
# which only Supabase has) and 011_mail_provider_columns (alters a table created by
# hand, never by a file).
HAND_RUN = (
    "003_agency_branding.sql",
    "006_branding_indexes.sql",
    "011_agency_registry.sql",
    "011_sidebar_theme.sql",
    "012_login_picture.sql",
    "013_mail_logo.sql",
    "014_tenant_configuration.sql",
    "015_search_indexes.sql",
    "017_seed_flagship_tenant.sql",
)
LEGACY_LITERALS = {
    "SG.fakeLegacyKey0000000.fakeLegacySecretPart000000000000000000000",
    "fake-legacy-smtp-password-77",
}
# Literals the project's files hold (taken out by extraction, never stored).
FILE_LITERALS = {
    "sk-fake-beachresorts-000000000000000000000000",
    "fake-safarirun-smtp-password",
}


def _psql(url: str, *args: str) -> None:
    subprocess.run(
        [str(embedded._bin("psql")), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *args],
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def project(tmp_path) -> Path:
    """The fixture repository, laid out as a checkout of it would be."""
    root = tmp_path / "platform"
    shutil.copytree(FIXTURE, root)
    (root / "gitignore").rename(root / ".gitignore")
    (root / "config" / "schema.json").write_bytes((REPO / "config" / "schema.json").read_bytes())
    return root


@pytest.fixture
def hand_built(database_url, project) -> str:
    """A database built file by file with ``psql -f``, as the platform's was."""
    # What Supabase has built in (roles, auth.role()) and 011's policies need.
    compat = project.parent / "supabase_builtins.sql"
    compat.write_text(migrations.compat_sql(), "utf-8")
    _psql(database_url, "-f", str(compat))
    for name in HAND_RUN:
        _psql(database_url, "-f", str(project / "database" / "migrations" / name))
    _psql(database_url, "-f", str(project / "hand_built.sql"))
    return database_url


@pytest.fixture
def cli(run_cli, project, hand_built):
    """The CLI run from the project's root (no --project-dir), against the database."""

    def run(*args: str, env: dict[str, str] | None = None):
        return run_cli("--database-url", hand_built, *args, cwd=project, env=env)

    return run


def _json(result) -> dict:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def _assert_no_literals(pg, url: str, *outputs: str) -> None:
    assert_no_secrets(pg, url, LEGACY_LITERALS | FILE_LITERALS, *outputs)


def test_validate_from_the_root_checks_every_tenant_but_the_excluded_template(cli):
    result = cli("validate", "--format", "json")
    assert result.returncode == 0, result.output
    report = _json(result)
    assert {t["id"] for t in report["tenants"]} == {
        "africastay",
        "beachresorts",
        "legacyco",
        "newtenant",
    }


def test_migrate_status_finds_the_hand_applied_schema_and_ignores_the_projects_files(cli):
    result = cli("migrate", "status", "--format", "json")
    assert result.returncode == 0, result.output
    states = {m["name"]: m for m in _json(result)}
    # 011 and 014 were run by hand: found in the catalog, nothing to re-run.
    assert states["tenants_registry"]["state"] == "satisfied"
    assert states["tenants_registry"]["source"] == "catalog"
    assert states["tenant_config"]["state"] == "satisfied"
    assert states["import_history"]["state"] == "pending"
    # The project's own files are not the tool's business unless named.
    assert "sidebar_theme" not in result.output
    assert "mail_provider" not in result.output


def test_plan_blocks_the_database_owned_rows_and_shows_what_force_would_remove(cli, pg, hand_built):
    before = dump_database(pg, hand_built)
    result = cli("plan", "--format", "json")
    assert result.returncode in (0, 2), result.output
    tenants = {t["id"]: t for t in _json(result)["tenants"]}
    assert "example" not in tenants
    flagship = tenants["africastay"]
    assert flagship["action"] == "blocked"
    assert flagship["blocked_reason"] == "database-owned"
    removed = {c["path"] for c in flagship["changes"] if c["op"] == "remove"}
    assert "/tenant_config/pricing" in removed
    assert tenants["legacyco"]["action"] == "blocked"
    assert tenants["legacyco"]["blocked_reason"] == "database-owned"
    assert tenants["beachresorts"]["action"] == "update"
    assert tenants["newtenant"]["action"] == "create"
    # A plan writes nothing, and says nothing secret about what it read.
    assert dump_database(pg, hand_built) == before
    assert not [lit for lit in LEGACY_LITERALS if lit in result.output]


def test_import_leaves_database_owned_rows_and_writes_the_rest(cli, pg, hand_built):
    before = tenants_rows(pg, hand_built)
    result = cli("import")
    assert result.returncode == 0, result.output
    after = tenants_rows(pg, hand_built)
    # Owned by the database: untouched, pricing and all.
    assert after["africastay"] == before["africastay"]
    assert after["africastay"]["tenant_config"]["pricing"] == {
        "margin_pct": 7.5,
        "display_currency": "ZAR",
    }
    assert after["legacyco"] == before["legacyco"]
    # YAML-backed and new tenants are written.
    assert after["beachresorts"]["config_source"] == "database"
    assert after["beachresorts"]["tenant_config"]["destinations"]
    assert after["newtenant"]["config_source"] == "database"
    # The file leaves client.currency out: the schema's default, as the YAML path read it.
    assert after["newtenant"]["currency"] == "USD"
    assert "example" not in after
    # None of the project's own files ran: 001 would have needed auth.users.
    assert pg.fetchval(hand_built, "SELECT to_regclass('staff_accounts') IS NULL")
    # The files' literals reached nothing; the old importer's stay only where they
    # were (legacyco's row, left alone) and are named by audit, below.
    assert_no_secrets(pg, hand_built, FILE_LITERALS, result.output)
    assert not [lit for lit in LEGACY_LITERALS if lit in result.output]
    # Everything the files say is now in the database: a second plan has nothing to do
    # but the two rows the database owns.
    again = _json(cli("plan", "--format", "json"))
    assert {t["id"]: t["action"] for t in again["tenants"] if t["action"] != "unchanged"} == {
        "africastay": "blocked",
        "legacyco": "blocked",
    }


def test_forced_sync_of_an_old_importer_row_keeps_its_literals_out_of_history_and_rollback(
    cli, pg, hand_built
):
    audit = cli("audit", "--format", "json")
    assert audit.returncode == 1, audit.output
    findings = _json(audit)["findings"]
    assert {(f["tenant"], f["path"]) for f in findings} >= {
        ("legacyco", "/tenant_config/email/sendgrid/api_key"),
        ("legacyco", "/tenant_config/email/smtp/password"),
    }
    assert not [lit for lit in LEGACY_LITERALS if lit in audit.output]

    assert cli("import").returncode == 0
    synced = cli("sync", "legacyco", "--force")
    assert synced.returncode == 0, synced.output
    assert "rotate" in synced.output.lower()
    _assert_no_literals(pg, hand_built, synced.output)

    clean = cli("audit")
    assert clean.returncode == 0, clean.output

    run_id = pg.fetchval(hand_built, "SELECT max(id) FROM tenant_migrator.import_runs")
    undone = cli("rollback", str(run_id))
    assert undone.returncode == 0, undone.output
    # The row is back as the old importer left it, minus its literals.
    row = tenants_rows(pg, hand_built)["legacyco"]
    assert row["tenant_config"]["branding"]["company_name"] == "Legacy Tours"
    _assert_no_literals(pg, hand_built, undone.output)


def test_history_and_export_work_on_the_adopted_database(cli, project):
    assert cli("import").returncode == 0
    history = cli("history", "--format", "json")
    assert history.returncode == 0, history.output
    runs = _json(history)
    assert [r["command"] for r in runs] == ["import"]

    exported = cli("export", "newtenant")
    assert exported.returncode == 0, exported.output
    (project / "clients" / "newtenant" / "client.yaml").write_text(exported.stdout, "utf-8")
    plan = _json(cli("plan", "--format", "json", "newtenant"))
    assert [t["action"] for t in plan["tenants"]] == ["unchanged"]


def test_supabase_cli_history_names_only_files_in_supabase_migrations(cli, project, pg, hand_built):
    # The team's own Supabase CLI migration, pushed before the tool arrived.
    team = project / "supabase" / "migrations"
    team.mkdir(parents=True)
    (team / "20240105093000_agency_notes.sql").write_text(
        "CREATE TABLE IF NOT EXISTS agency_notes (id bigint PRIMARY KEY, body text);\n", "utf-8"
    )
    _psql(hand_built, "-f", str(team / "20240105093000_agency_notes.sql"))
    pg.execute(
        hand_built,
        """
        CREATE SCHEMA IF NOT EXISTS supabase_migrations;
        CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (
            version text PRIMARY KEY, statements text[], name text);
        INSERT INTO supabase_migrations.schema_migrations VALUES
            ('20240105093000', ARRAY['CREATE TABLE agency_notes ()'], 'agency_notes');
        """,
    )
    for command in (("migrate",), ("import",), ("sync", "newtenant")):
        result = cli(*command)
        assert result.returncode == 0, result.output
    versions = {
        r["version"]
        for r in pg.fetch(hand_built, "SELECT version FROM supabase_migrations.schema_migrations")
    }
    files = {p.name.split("_", 1)[0] for p in team.glob("*.sql")}
    assert versions <= files
