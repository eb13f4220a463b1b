"""``tenant-migrator audit`` (README command reference): literal secrets in
``tenants`` and in our history, reported as tenant, table, run, path and kind,
never a value; exit 0 clean, 1 when any is found, 2 usage; read-only; works
before the history migration exists. Real PostgreSQL, the CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import REPO
from importhelpers import (
    DATABASE_PLANTED,
    assert_no_secrets,
    dump_database,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    plant_old_importer_row,
    project_cli,
)

from tenant_migrator import database, migrations

LITERALS = set(DATABASE_PLANTED.values())
EXPECTED = {
    ("/tenant_config/email/sendgrid/api_key", "schema"),
    ("/tenant_config/email/smtp/password", "schema"),
    ("/tenant_config/integrations/db_password", "key-name"),
    ("/tenant_config/branding/email_signature", "shape:sendgrid"),
}


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


def audit_json(run):
    result = run("audit", "--format", "json")
    assert result.returncode in (0, 1), result.output
    return result, json.loads(result.stdout)


def test_audit_finds_the_old_importers_literals_before_an_import_and_none_after(
    cli, project, migrated_database_url, pg
):
    url = migrated_database_url
    tm = project_cli(cli, project, url)
    plant_old_importer_row(pg, url)
    before = dump_database(pg, url)

    found, data = audit_json(tm)
    assert found.returncode == 1
    assert set(data) == {"format_version", "ok", "summary", "findings"}
    assert data["format_version"] == 1 and data["ok"] is False
    assert data["summary"] == {
        "tenants": 1,
        "history_rows": 0,
        "history_scanned": True,
        "findings": 4,
    }
    for finding in data["findings"]:
        assert set(finding) == {"tenant", "table", "run_id", "path", "kind"}
        assert finding["tenant"] == "africastay" and finding["table"] == "tenants"
        assert finding["run_id"] is None
    assert {(f["path"], f["kind"]) for f in data["findings"]} == EXPECTED

    text = tm("audit")
    assert text.returncode == 1
    assert "africastay" in text.stdout and "shape:sendgrid" in text.stdout
    assert "4 literal secret(s)" in text.stdout and "Rotate" in text.stdout
    assert dump_database(pg, url) == before  # read-only

    assert tm("import").returncode == 0
    clean, after = audit_json(tm)
    assert clean.returncode == 0 and after["ok"] is True and after["findings"] == []
    assert after["summary"]["history_rows"] == 5  # the five samples' history rows
    assert "No literal secret" in tm("audit").stdout
    assert_no_secrets(pg, url, LITERALS, found.output, text.output, clean.output)


def test_audit_finds_a_literal_an_older_version_left_in_history(
    cli, project, migrated_database_url, pg
):
    url = migrated_database_url
    tm = project_cli(cli, project, url)
    assert tm("import").returncode == 0
    literal = DATABASE_PLANTED["smtp_password"]
    pg.execute(
        url,
        "UPDATE tenant_migrator.import_run_tenants SET previous = "
        "jsonb_build_object('id', 'beachresorts', 'tenant_config', "
        "jsonb_build_object('email', jsonb_build_object('smtp', "
        "jsonb_build_object('password', $1::text)))) "
        "WHERE run_id = 1 AND tenant_id = 'beachresorts'",
        literal,
    )
    found, data = audit_json(tm)
    assert found.returncode == 1
    assert data["findings"] == [
        {
            "tenant": "beachresorts",
            "table": "tenant_migrator.import_run_tenants",
            "run_id": 1,
            "path": "/previous/tenant_config/email/smtp/password",
            "kind": "schema",
        }
    ]
    assert literal not in found.output
    # Leave nothing behind for the scan after the test.
    pg.execute(url, "UPDATE tenant_migrator.import_run_tenants SET previous = NULL")


def test_audit_works_before_the_history_migration_and_scans_tenants_only(
    cli, project, database_url, pg
):
    async def only_011_and_012():
        files = migrations.load_project_migrations(REPO)
        async with database.connection(database_url) as conn:
            await migrations.apply_pending(conn, [m for m in files if m.version in ("011", "012")])

    asyncio.run(only_011_and_012())
    tm = project_cli(cli, project, database_url)
    plant_old_importer_row(pg, database_url)
    found, data = audit_json(tm)
    assert found.returncode == 1
    assert data["summary"]["history_scanned"] is False
    assert {(f["path"], f["kind"]) for f in data["findings"]} == EXPECTED
    assert "migration 013 is not applied" in tm("audit").stdout
    # Read-only: it applied no migration.
    assert pg.fetchval(database_url, "SELECT to_regclass('tenant_migrator.import_runs')") is None
    pg.execute(database_url, "DELETE FROM tenants")


def test_audit_of_an_empty_database_is_clean(cli, project, database_url):
    tm = project_cli(cli, project, database_url)
    result, data = audit_json(tm)
    assert result.returncode == 0 and data["ok"] is True
    assert data["summary"] == {
        "tenants": 0,
        "history_rows": 0,
        "history_scanned": False,
        "findings": 0,
    }


def test_audit_refuses_an_unknown_format_as_a_usage_error(cli, project, database_url):
    result = project_cli(cli, project, database_url)("audit", "--format", "yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
