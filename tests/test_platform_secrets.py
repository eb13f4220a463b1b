"""The secret forms a real platform holds, planted in a client file and in the
database, through the CLI: ``import`` (without ``--secrets-out``), ``plan``,
``history``, ``export``, ``audit``. No literal reaches the database (tenants and our
history), stdout, stderr or a report. Real PostgreSQL, the CLI in a subprocess."""

from __future__ import annotations

import json

import pytest
from clientdocs import valid_document
from importhelpers import (
    assert_no_secrets,
    dump_database,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    tenants_rows,
    write_client,
)

H32 = "fa4e0000fa4e0000fa4e0000fa4e0001"
B62 = "PLANTEDfake0000PLANTEDfake000000"

# Fake values of each documented form (see tests/test_shapes.py for the formats).
FORMS = {
    "supabase_access_token": "sbp_" + H32 + "fa4e0002",
    "supabase_secret_key": "sb_secret_PLANTEDfake0000PLANTED_fake0000",
    "twilio_account_sid": "AC" + H32,
    "twilio_api_key": "SK" + H32.replace("1", "2"),
    "twilio_auth_token": H32.replace("1", "3"),
    "mailgun": "key-" + H32.replace("1", "4"),
    "stripe_webhook": "whsec_" + B62,
    "stripe_restricted": "rk_prod_" + B62,
    "slack_webhook": "https://hooks.slack.com/services/TPLANTED0/BPLANTED0/" + B62[:24],
    "slack_app": "xapp-1-PLANTED00000-" + B62,
    "slack_rotating": "xoxe.xoxp-1-" + B62,
    "aws_sts": "ASIA" + "PLANTEDFAKE00001",
    "aws_bearer": "ABIA" + "PLANTEDFAKE00002",
    "aws_context": "ACCA" + "PLANTEDFAKE00003",
    "aws_old": "A3TX" + "PLANTEDFAKE00004",
    "dsn": "postgresql://reporter:PLANTED-dsn-pass@db.planted.example:5432/reports",
    "pwd": "PLANTED-pwd-value",
    "passphrase": "PLANTED passphrase value",
    "signing_key": "PLANTED-signing-key",
    "client_key": "PLANTED-client-key",
    "access_key": "PLANTED-access-key",
    "authorization": "Basic UExBTlRFRC1hdXRob3JpemF0aW9u",
    "sentry_dsn": "PLANTED-sentry-dsn-value",
    "connection_string": "Server=db;User Id=app;Password=PLANTED-conn-string;",
    "database_url": "PLANTED-database-url-value",
    "in_secrets": "PLANTED-in-a-secrets-mapping",
    "in_credentials": "PLANTED-in-a-credentials-mapping",
    "in_api_keys": "PLANTED-in-an-api-keys-mapping",
    "number_password": "918273645012",
    "list_password": "PLANTED-in-a-list",
    "openai_after_hyphen": "sk-proj-" + B62 + "AfterHyphen",
    "openai_in_default": "sk-proj-" + B62 + "InDefault0",
}


def forms_document() -> dict:
    f = FORMS
    document = valid_document("forms-travel")
    document["integrations"] = {
        "supabase": {"management": f["supabase_access_token"], "admin": f["supabase_secret_key"]},
        "twilio": {
            "sid": f["twilio_account_sid"],
            "key_sid": f["twilio_api_key"],
            "auth": f["twilio_auth_token"],
        },
        "mailgun": {"key": f["mailgun"]},
        "stripe": {"webhook": f["stripe_webhook"], "restricted": f["stripe_restricted"]},
        "slack": {
            "webhook": f["slack_webhook"],
            "app": f["slack_app"],
            "rotating": f["slack_rotating"],
        },
        "aws": {"ids": [f["aws_sts"], f["aws_bearer"], f["aws_context"], f["aws_old"]]},
        "reporting": {"target": f["dsn"]},
        "db": {
            "pwd": f["pwd"],
            "passphrase": f["passphrase"],
            "signingKey": f["signing_key"],
            "client-key": f["client_key"],
            "access_key": f["access_key"],
            "Authorization": f["authorization"],
            "sentryDsn": f["sentry_dsn"],
            "connection_string": f["connection_string"],
            "DATABASE_URL": f["database_url"],
        },
        "secrets": {"one": f["in_secrets"]},
        "credentials": {"two": f["in_credentials"]},
        "api_keys": {"three": f["in_api_keys"]},
        "pbx": {"password": int(f["number_password"])},
        "backup_passwords": [f["list_password"]],
        "ai": {
            "command": f"run --key-{f['openai_after_hyphen']}",
            "header": "Bearer ${AI_KEY:-" + f["openai_in_default"] + "}",
        },
        # Not secrets: a publishable key and an ordinary slug stay as they are.
        "public": {
            "publishable": "sb_publishable_PLANTEDpublic00_0000abcd",
            "tour": "https://tours.example/sk-bratislava-tours/day-1",
        },
    }
    return document


@pytest.fixture
def project(tmp_path):
    root = make_project(tmp_path / "project", planted=False)
    write_client(root, "forms-travel", forms_document())
    return root


def test_every_platform_secret_form_stays_out_of_the_database_and_every_output(
    cli, project, database_url, pg
):
    tm = project_cli(cli, project, database_url)
    outputs = []
    validated = tm("validate", "--format", "json")
    assert validated.returncode == 0, validated.output
    report = {t["id"]: t for t in json.loads(validated.stdout)["tenants"]}["forms-travel"]
    assert report["status"] in ("ok", "warnings")
    outputs.append(validated.output)
    for args in (
        ("import",),
        ("plan", "--format", "json"),
        ("history", "--format", "json"),
        ("export", "forms-travel"),
        ("audit", "--format", "json"),
    ):
        done = tm(*args)
        assert done.returncode == 0, (args, done.output)
        outputs.append(done.output)
    assert json.loads(outputs[-1])["findings"] == []
    assert_no_secrets(pg, database_url, set(FORMS.values()), *outputs)

    config = tenants_rows(pg, database_url)["forms-travel"]["tenant_config"]
    integrations = config["integrations"]
    assert integrations["pbx"]["password"] == "${FORMS_TRAVEL_INTEGRATIONS_PBX_PASSWORD}"
    assert integrations["ai"]["header"] == "${FORMS_TRAVEL_INTEGRATIONS_AI_HEADER}"
    assert integrations["reporting"]["target"] == "${FORMS_TRAVEL_INTEGRATIONS_REPORTING_TARGET}"
    assert integrations["public"] == forms_document()["integrations"]["public"]


def test_audit_finds_the_new_forms_in_the_database_and_history_never_keeps_them(
    cli, project, migrated_database_url, pg
):
    url = migrated_database_url
    old = {
        "reporting": {"target": FORMS["dsn"]},
        "supabase": {"management": FORMS["supabase_access_token"]},
        "secrets": {"one": FORMS["in_secrets"]},
        "pbx": {"pwd": 918273645012},
    }
    pg.execute(
        url,
        "INSERT INTO tenants (id, name, config_source, tenant_config) "
        "VALUES ('forms-travel', 'Forms (old)', 'yaml', $1::text::jsonb)",
        json.dumps(old),
    )
    tm = project_cli(cli, project, url)
    found = tm("audit", "--format", "json")
    assert found.returncode == 1, found.output
    kinds = {(f["path"], f["kind"]) for f in json.loads(found.stdout)["findings"]}
    assert kinds == {
        ("/tenant_config/reporting/target", "shape:url_credentials"),
        ("/tenant_config/supabase/management", "shape:supabase_access_token"),
        ("/tenant_config/secrets/one", "key-name"),
        ("/tenant_config/pbx/pwd", "key-name"),
    }
    imported = tm("import")
    assert imported.returncode == 0, imported.output
    history = "\n".join(dump_database(pg, url)["tenant_migrator.import_run_tenants"])
    assert "forms-travel" in history
    for name, value in FORMS.items():
        assert value not in found.output + imported.output, name
    assert_no_secrets(pg, url, set(FORMS.values()), found.output, imported.output)


def test_import_skip_invalid_leaves_out_both_tenants_that_would_share_a_variable(
    cli, tmp_path, database_url, pg
):
    root = make_project(tmp_path / "clash", planted=False)
    for tenant_id, password in (("a-b", "PLANTED-clash-1"), ("a_b", "PLANTED-clash-2")):
        document = valid_document(tenant_id)
        document["email"]["smtp"]["password"] = password
        write_client(root, tenant_id, document)
    tm = project_cli(cli, root, database_url)
    done = tm("import", "--skip-invalid")
    assert done.returncode == 1, done.output
    assert "clients/a_b/client.yaml" in done.output and "clients/a-b/client.yaml" in done.output
    rows = tenants_rows(pg, database_url)
    assert "a-b" not in rows and "a_b" not in rows
    assert "africastay" in rows  # the others were written
    assert_no_secrets(pg, database_url, {"PLANTED-clash-1", "PLANTED-clash-2"}, done.output)
