"""No literal secret survives in the database (README "Secrets" and "Run history"):
a row the old importer wrote with literal secrets is replaced by an import whose
history keeps only what extraction makes of them (``${ENV}`` references, nothing
for ``store: false`` fields); the report names tenant and path, never the value,
and says to rotate; ``rollback`` never restores a literal. Real PostgreSQL, the
CLI in a subprocess; the scan after each test looks for the planted literals in
every table."""

from __future__ import annotations

import json

import pytest
from importhelpers import (
    DATABASE_PLANTED,
    assert_no_secrets,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    plant_old_importer_row,
    project_cli,
    tenants_rows,
)

SCRUBBED_PATHS = {
    "/tenant_config/email/sendgrid/api_key",
    "/tenant_config/email/smtp/password",
    "/tenant_config/integrations/db_password",
    "/tenant_config/branding/email_signature",
}
LITERALS = set(DATABASE_PLANTED.values())


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def previous_of(pg, url, run_id, tenant_id="africastay"):
    text = pg.fetchval(
        url,
        "SELECT previous::text FROM tenant_migrator.import_run_tenants "
        "WHERE run_id = $1 AND tenant_id = $2",
        run_id,
        tenant_id,
    )
    return json.loads(text)


def test_import_over_a_row_holding_literals_keeps_only_references_in_history(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    plant_old_importer_row(pg, url)  # config_source 'yaml': a normal update
    planned = [tm("plan"), tm("plan", "--format", "json"), tm("plan", "--format", "markdown")]
    assert all(p.returncode == 0 for p in planned)

    imported = tm("import")
    assert imported.returncode == 0, imported.output
    # The report names tenant and path, says to rotate, and never shows a value.
    for path in SCRUBBED_PATHS:
        assert f"africastay  {path}" in imported.stdout
    assert "Rotate each of these secrets" in imported.stdout
    assert "${AFRICASTAY_SENDGRID_API_KEY}" in imported.stdout

    previous = previous_of(pg, url, 1)
    config = previous["tenant_config"]
    assert config["email"]["sendgrid"]["api_key"] == "${AFRICASTAY_SENDGRID_API_KEY}"
    assert config["email"]["smtp"]["password"] == "${AFRICASTAY_SMTP_PASSWORD}"
    assert config["integrations"]["db_password"] == "${AFRICASTAY_INTEGRATIONS_DB_PASSWORD}"
    assert config["branding"]["email_signature"] == "${AFRICASTAY_BRANDING_EMAIL_SIGNATURE}"
    # Everything else of the previous row is kept exactly.
    assert config["pricing"] == {"markup_percent": 12}
    assert previous["name"] == "Africa Stay (old)" and previous["config_source"] == "yaml"

    summary = json.loads(
        pg.fetchval(url, "SELECT summary::text FROM tenant_migrator.import_runs WHERE id = 1")
    )
    kept_out = summary["literals_kept_out_of_history"]
    assert {f["path"] for f in kept_out} == SCRUBBED_PATHS
    assert {f["kind"] for f in kept_out} == {"schema", "key-name", "shape:sendgrid"}
    assert all(f["tenant"] == "africastay" for f in kept_out)

    history = tm("history", "--format", "json")
    outputs = [p.output for p in (*planned, imported, history)]
    assert_no_secrets(pg, url, LITERALS, *outputs)


def test_force_over_a_database_owned_row_with_literals_scrubs_its_history_too(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    plant_old_importer_row(pg, url, config_source="database")
    # Named, the database-owned row is refused (a bulk import would leave it).
    refused = tm("import", "africastay")
    assert refused.returncode == 1
    assert "africastay: owned by the database, never imported" in refused.stderr
    forced = tm("import", "--force")
    assert forced.returncode == 0, forced.output
    assert "africastay  /tenant_config/email/sendgrid/api_key" in forced.stdout
    config = previous_of(pg, url, 1)["tenant_config"]
    assert config["email"]["sendgrid"]["api_key"] == "${AFRICASTAY_SENDGRID_API_KEY}"
    assert_no_secrets(pg, url, LITERALS, refused.output, forced.output)


def test_rollback_of_that_import_restores_references_never_the_literals(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    plant_old_importer_row(pg, url)
    assert tm("import").returncode == 0
    dry = tm("rollback", "1", "--dry-run")
    rolled = tm("rollback", "1")
    assert rolled.returncode == 0, rolled.output
    row = tenants_rows(pg, url)["africastay"]
    assert row["name"] == "Africa Stay (old)" and row["config_source"] == "yaml"
    assert row["tenant_config"]["pricing"] == {"markup_percent": 12}
    assert row["tenant_config"]["email"]["sendgrid"]["api_key"] == (
        "${AFRICASTAY_SENDGRID_API_KEY}"
    )
    assert_no_secrets(pg, url, LITERALS, dry.output, rolled.output)


# A literal only an older version of the tool could have put into history (it
# copied previous values verbatim). Not in DATABASE_PLANTED: this test leaves the
# old history row as it was, and checks the rest of the database itself.
OLD_HISTORY_LITERAL = "SG.olderhistoryFAKE1.olderhistoryFAKEsecret00001"


def test_rollback_of_a_run_whose_history_holds_a_literal_restores_the_reference(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    plant_old_importer_row(pg, url)
    assert tm("import").returncode == 0
    # As the tool before this change recorded it: the literal verbatim in previous.
    pg.execute(
        url,
        "UPDATE tenant_migrator.import_run_tenants SET previous = jsonb_set(previous, "
        "'{tenant_config,email,sendgrid,api_key}', to_jsonb($1::text)) "
        "WHERE run_id = 1 AND tenant_id = 'africastay'",
        OLD_HISTORY_LITERAL,
    )
    rolled = tm("rollback", "1")
    assert rolled.returncode == 0, rolled.output
    assert "africastay  /tenant_config/email/sendgrid/api_key  (schema)" in rolled.stdout
    assert "Rotate" in rolled.stdout
    assert OLD_HISTORY_LITERAL not in rolled.output
    row = tenants_rows(pg, url)["africastay"]
    assert row["tenant_config"]["email"]["sendgrid"]["api_key"] == (
        "${AFRICASTAY_SENDGRID_API_KEY}"
    )
    # Only run 1's own (old) history row still holds it; the rollback's rows do not.
    holders = pg.fetch(
        url,
        "SELECT 'history' AS t, run_id FROM tenant_migrator.import_run_tenants h "
        "WHERE strpos(to_jsonb(h)::text, $1) > 0 "
        "UNION ALL SELECT 'tenants', NULL FROM tenants t WHERE strpos(to_jsonb(t)::text, $1) > 0",
        OLD_HISTORY_LITERAL,
    )
    assert holders == [{"t": "history", "run_id": 1}]
