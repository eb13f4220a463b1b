"""Same config from either source: a column-backed field the file leaves out is
written as the schema's default (what the platform's YAML path read), not NULL."""

from __future__ import annotations

import json

import pytest
import yaml
from importhelpers import (
    REPO,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    read_client,
    tenants_rows,
    write_client,
)

from tenant_migrator.record import build_record, column_defaults, with_defaults

REPO_SCHEMA = json.loads((REPO / "config" / "schema.json").read_text())


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def _without_currency(project, tenant_id="beachresorts"):
    document = read_client(project, tenant_id)
    del document["client"]["currency"]
    write_client(project, tenant_id, document)


# --- the defaults the schema gives ---------------------------------------------------------


def test_our_schema_and_the_platforms_give_usd_for_client_currency(reference_dir):
    platform = json.loads((reference_dir / "platform-lite" / "schema.json").read_text())
    for schema in (REPO_SCHEMA, platform):
        assert column_defaults(schema) == (("currency", ("client", "currency"), "USD"),)


def test_defaults_are_found_through_refs_all_of_and_beside_a_ref():
    schema = {
        "definitions": {
            "zone": {"type": "string", "default": "Africa/Johannesburg"},
            "gcp": {"properties": {"dataset": {"default": "shared_data"}}},
        },
        "properties": {
            "client": {
                "allOf": [
                    {"properties": {"timezone": {"$ref": "#/definitions/zone"}}},
                    {"properties": {"currency": {"$ref": "#/definitions/zone", "default": "EUR"}}},
                ]
            },
            "infrastructure": {"properties": {"gcp": {"$ref": "#/definitions/gcp"}}},
            "email": {"properties": {"primary": {"default": {"not": "a scalar"}}}},
        },
    }
    assert dict((c, d) for c, _, d in column_defaults(schema)) == {
        "timezone": "Africa/Johannesburg",
        "currency": "EUR",
        "gcp_dataset": "shared_data",
    }


def test_a_missing_field_gets_its_default_and_a_present_one_keeps_its_value():
    schema = {
        "properties": {
            "client": {
                "properties": {
                    "currency": {"default": "USD"},
                    "timezone": {"default": "Africa/Johannesburg"},
                }
            },
            "email": {"properties": {"primary": {"default": "ops@example.com"}}},
        }
    }
    defaults = column_defaults(schema)
    document = {"client": {"name": "A", "currency": "KES"}}
    record = build_record("a", document, defaults=defaults)
    assert (record.currency, record.timezone) == ("KES", "Africa/Johannesburg")
    # A field with a copy in tenant_config gets the default in both places: they agree.
    assert record.primary_email == "ops@example.com"
    assert record.tenant_config == {"email": {"primary": "ops@example.com"}}
    # The document is not changed, and without defaults nothing is filled.
    assert document == {"client": {"name": "A", "currency": "KES"}}
    assert build_record("a", document).timezone is None
    assert with_defaults(document, ()) is document


# --- through the CLI, against the database ------------------------------------------------


def test_a_file_without_currency_is_written_with_the_schema_default_not_null(
    tm, project, migrated_database_url, pg
):
    _without_currency(project)
    validated = tm("validate", "--format", "json")
    assert validated.returncode == 0, validated.output
    report = json.loads(validated.stdout)
    (tenant,) = [t for t in report["tenants"] if t["id"] == "beachresorts"]
    (note,) = tenant["info"]
    assert note["path"] == "/client/currency" and note["severity"] == "info"
    assert "schema's default 'USD'" in note["message"] and note["line"] is not None
    assert tenant["warnings"] == []
    assert report["summary"]["defaults_filled"] == 1
    # Info-level lines only with --verbose; the count is in the summary either way.
    text = tm("validate", "--verbose")
    assert "/client/currency  client.currency is not set" in text.stdout
    assert (
        "(info)" in text.stdout
        and "1 missing fields written as the schema's default" in text.stdout
    )
    terse = tm("validate")
    assert "(info)" not in terse.stdout and "client.currency is not set" not in terse.stdout
    assert "1 missing fields written as the schema's default (--verbose lists them)" in (
        terse.stdout
    )

    imported = tm("import")
    assert imported.returncode == 0, imported.output
    row = tenants_rows(pg, migrated_database_url)["beachresorts"]
    assert row["currency"] == "USD"
    assert "currency" not in (row["tenant_config"].get("client") or {})
    assert tm("plan", "--detailed-exitcode").returncode == 0


def test_a_legacy_row_with_null_currency_is_planned_as_an_update_to_the_default(
    tm, project, migrated_database_url, pg
):
    _without_currency(project)
    pg.execute(
        migrated_database_url,
        "INSERT INTO tenants (id, name, currency, config_source) "
        "VALUES ('beachresorts', 'Old', NULL, 'yaml')",
    )
    planned = tm("plan", "--format", "json", "beachresorts")
    assert planned.returncode == 0, planned.output
    (tenant,) = json.loads(planned.stdout)["tenants"]
    changes = {c["path"]: c for c in tenant["changes"]}
    assert changes["/columns/currency"]["old"] is None
    assert changes["/columns/currency"]["new"] == "USD"


def test_export_of_a_defaulted_tenant_round_trips(tm, project, migrated_database_url, pg):
    _without_currency(project)
    assert tm("import").returncode == 0
    before = tenants_rows(pg, migrated_database_url)
    path = project / "clients" / "beachresorts" / "client.yaml"
    exported = tm("export", "beachresorts", "--output", path, "--force")
    assert exported.returncode == 0, exported.output
    assert "warning" not in exported.stderr
    assert yaml.safe_load(path.read_text())["client"]["currency"] == "USD"
    planned = tm("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout
    assert tm("import").returncode == 0
    assert tenants_rows(pg, migrated_database_url) == before
