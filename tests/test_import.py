"""plan and import end to end: the CLI in a subprocess against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import stat
import subprocess
import sys

from conftest import cli_env
from importhelpers import (
    PLANTED,
    REPO,
    SAMPLE_IDS,
    assert_no_secrets,
    dump_database,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    read_client,
    sample_project,  # noqa: F401 - the project fixture
    sample_tm,  # noqa: F401 - the tm fixture
    secret_literals,
    tenants_rows,
    write_client,
)

from tenant_migrator import database, migrations

ALL_IDS = (*SAMPLE_IDS, "planted")


def plan_json(tm, url, *args):
    result = tm(url, "plan", "--format", "json", *args)
    assert result.returncode in (0, 1, 2), result.stderr
    return json.loads(result.stdout)


def test_first_import_creates_every_tenant_then_plan_is_all_unchanged(tm, database_url, pg):
    before = tm(database_url, "plan", "--detailed-exitcode")
    assert before.returncode == 2, before.output  # changes pending (and migrations)
    assert "tenants_registry" in before.stdout

    result = tm(database_url, "import")
    assert result.returncode == 0, result.output
    assert "Run 1 committed" in result.stdout
    rows = tenants_rows(pg, database_url)
    assert sorted(rows) == sorted(ALL_IDS)
    for row in rows.values():
        assert row["config_source"] == "database"
        # The platform copied email.primary into admin/support email on insert.
        assert row["admin_email"] == row["support_email"] == row["primary_email"]
        assert row["tenant_config"] and "client" not in row["tenant_config"]
    africastay = rows["africastay"]
    assert africastay["currency"] == "ZAR" and africastay["timezone"] == "Africa/Johannesburg"

    again = tm(database_url, "plan", "--detailed-exitcode")
    assert again.returncode == 0, again.output
    data = plan_json(tm, database_url)
    assert data["summary"]["unchanged"] == len(ALL_IDS)
    assert data["summary"]["create"] == data["summary"]["update"] == 0
    assert data["pending_migrations"] == []

    # A second import writes nothing and records no run.
    second = tm(database_url, "import")
    assert second.returncode == 0 and "Nothing to write" in second.stdout
    assert pg.fetchval(database_url, "SELECT count(*) FROM tenant_migrator.import_runs") == 1
    assert tenants_rows(pg, database_url) == rows


def test_one_yaml_edit_is_exactly_one_path_and_import_writes_exactly_that(
    tm, project, migrated_database_url, pg
):
    url = migrated_database_url
    assert tm(url, "import").returncode == 0
    before = tenants_rows(pg, url)

    doc = read_client(project, "africastay")
    doc["branding"]["primary_color"] = "#00AAFF"
    write_client(project, "africastay", doc)

    data = plan_json(tm, url)
    changed = [t for t in data["tenants"] if t["changes"]]
    assert [t["id"] for t in changed] == ["africastay"]
    assert changed[0]["action"] == "update"
    assert changed[0]["changes"] == [
        {
            "path": "/tenant_config/branding/primary_color",
            "op": "replace",
            "old": "#E07A1F",
            "new": "#00AAFF",
        }
    ]
    assert tm(url, "plan", "--detailed-exitcode").returncode == 2

    result = tm(url, "import")
    assert result.returncode == 0, result.output
    after = tenants_rows(pg, url)
    expected = json.loads(json.dumps(before["africastay"]))
    expected["tenant_config"]["branding"]["primary_color"] = "#00AAFF"
    expected["updated_at"] = after["africastay"]["updated_at"]
    assert after["africastay"] == expected
    assert after["africastay"]["updated_at"] != before["africastay"]["updated_at"]
    # Unchanged rows were not written at all: their updated_at stays.
    for tenant_id in ALL_IDS:
        if tenant_id != "africastay":
            assert after[tenant_id] == before[tenant_id]
    history = pg.fetch(
        url, "SELECT tenant_id, action FROM tenant_migrator.import_run_tenants WHERE run_id = 2"
    )
    assert history == [{"tenant_id": "africastay", "action": "update"}]


def test_columns_the_tool_does_not_own_survive_an_update(tm, project, migrated_database_url, pg):
    url = migrated_database_url
    assert tm(url, "import").returncode == 0
    pg.execute(
        url,
        """
        UPDATE tenants SET status = 'suspended', plan = 'enterprise', max_users = 42,
            max_monthly_quotes = 7, max_storage_gb = 9, created_by = gen_random_uuid(),
            features_enabled = '{"voice_calls": true}', admin_email = 'boss@x.example',
            support_email = 'help@x.example', suspended_at = now(),
            suspended_reason = 'unpaid', created_at = '2020-01-01'
        WHERE id = 'beachresorts'
        """,
    )
    # Not drift: none of these columns is owned by the tool.
    pg.execute(url, "UPDATE tenants SET deleted_at = now() WHERE id = 'beachresorts'")
    before = tenants_rows(pg, url)["beachresorts"]
    doc = read_client(project, "beachresorts")
    doc["client"]["name"] = "Beach Resorts Renamed"
    doc["email"]["primary"] = "new-primary@beachresorts.example"
    write_client(project, "beachresorts", doc)

    result = tm(url, "import")
    assert result.returncode == 0, result.output
    after = tenants_rows(pg, url)["beachresorts"]
    assert after["name"] == "Beach Resorts Renamed"
    assert after["primary_email"] == "new-primary@beachresorts.example"
    not_owned = [
        "status",
        "plan",
        "max_users",
        "max_monthly_quotes",
        "max_storage_gb",
        "created_by",
        "features_enabled",
        "admin_email",
        "support_email",
        "suspended_at",
        "suspended_reason",
        "created_at",
        "deleted_at",
    ]
    assert {c: after[c] for c in not_owned} == {c: before[c] for c in not_owned}


def test_invalid_tenant_fails_the_whole_run_before_any_write(tm, project, database_url, pg):
    write_client(project, "broken", "client:\n  name: Broken\n  name: Twice\n")
    result = tm(database_url, "import")
    assert result.returncode == 1
    assert "clients/broken/client.yaml:3:3" in result.stderr
    assert "nothing was written" in result.stderr and "--skip-invalid" in result.stderr
    assert "Traceback" not in result.output
    # Not even the migrations ran: the database is as empty as it was.
    assert dump_database(pg, database_url) == {}


def test_skip_invalid_imports_the_valid_ones_and_exits_1(tm, project, migrated_database_url, pg):
    url = migrated_database_url
    write_client(project, "broken", "client: [not, a, mapping]\n")
    result = tm(url, "import", "--skip-invalid")
    assert result.returncode == 1, result.output
    assert "broken  skipped (invalid)" in result.stdout
    assert "clients/broken/client.yaml" in result.stdout
    assert sorted(tenants_rows(pg, url)) == sorted(ALL_IDS)
    summary = json.loads(
        pg.fetchval(url, "SELECT summary::text FROM tenant_migrator.import_runs WHERE id = 1")
    )
    assert summary["skipped"] == ["broken"] and summary["created"] == len(ALL_IDS)
    data = plan_json(tm, url)
    assert data["summary"]["invalid"] == 1
    assert tm(url, "plan").returncode == 1  # an invalid tenant is an error for plan too


def test_value_too_long_for_its_column_is_invalid_not_a_failed_transaction(
    tm, project, migrated_database_url, pg
):
    # A team's own schema may lack the column widths; the plan still catches them.
    schema_path = project / "config" / "schema.json"
    schema = json.loads(schema_path.read_text())
    del schema["properties"]["infrastructure"]["properties"]["gcp"]["properties"]["dataset"][
        "maxLength"
    ]
    schema_path.write_text(json.dumps(schema))
    doc = read_client(project, "example")
    doc["infrastructure"]["gcp"]["dataset"] = "d" * 101  # VARCHAR(100)
    write_client(project, "example", doc)
    result = tm(migrated_database_url, "import")
    assert result.returncode == 1
    assert "clients/example/client.yaml" in result.stderr
    assert "VARCHAR(100)" in result.stderr and "/infrastructure/gcp/dataset" in result.stderr
    assert "Traceback" not in result.output
    assert tenants_rows(pg, migrated_database_url) == {}


def test_dry_run_and_plan_write_nothing(tm, database_url, pg):
    assert tm(database_url, "plan").returncode == 0
    dry = tm(database_url, "import", "--dry-run")
    assert dry.returncode == 0, dry.output
    assert "Plan: 6 to create" in dry.stdout
    assert "Pending migrations" in dry.stdout
    assert dump_database(pg, database_url) == {}


def test_no_migrate_with_pending_migrations_is_an_error(tm, database_url, pg):
    result = tm(database_url, "import", "--no-migrate")
    assert result.returncode == 1
    assert "migration(s) pending" in result.stderr and "import_history" in result.stderr
    assert "tenants" not in str(dump_database(pg, database_url))


def test_import_of_selected_tenants_only(tm, migrated_database_url, pg):
    result = tm(migrated_database_url, "import", "example", "planted")
    assert result.returncode == 0, result.output
    assert sorted(tenants_rows(pg, migrated_database_url)) == ["example", "planted"]
    # A plan of the whole project now shows the others as creates, none orphaned.
    data = plan_json(tm, migrated_database_url)
    assert data["summary"]["create"] == 4 and data["summary"]["orphaned"] == 0
    unknown = tm(migrated_database_url, "import", "exampel")
    assert unknown.returncode == 2 and "example" in unknown.stderr


def test_orphans_are_reported_never_deleted(tm, migrated_database_url, pg):
    url = migrated_database_url
    pg.execute(
        url,
        "INSERT INTO tenants (id, name, config_source) VALUES "
        "('legacy-db', 'Legacy DB', 'database'), ('legacy-yaml', 'Legacy YAML', 'yaml')",
    )
    data = plan_json(tm, url)
    orphans = {t["id"]: t for t in data["tenants"] if t["action"] == "orphaned"}
    assert set(orphans) == {"legacy-db", "legacy-yaml"}
    assert orphans["legacy-yaml"]["missing_yaml"] and not orphans["legacy-db"]["missing_yaml"]
    text = tm(url, "plan")
    assert "runtime cannot load this tenant" in text.stdout
    assert tm(url, "import").returncode == 0
    assert {"legacy-db", "legacy-yaml"} <= set(tenants_rows(pg, url))


def test_legacy_yaml_row_is_a_normal_update_with_its_previous_values_in_history(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    pg.execute(
        url, "INSERT INTO tenants (id, name, config_source) VALUES ('example', 'Old', 'yaml')"
    )
    data = plan_json(tm, url, "example")
    (tenant,) = data["tenants"]
    assert tenant["action"] == "update"
    paths = {c["path"]: c for c in tenant["changes"]}
    assert paths["/columns/config_source"]["old"] == "yaml"
    assert paths["/columns/config_source"]["new"] == "database"
    assert paths["/columns/name"]["old"] == "Old"
    assert tm(url, "import", "example").returncode == 0
    previous = json.loads(
        pg.fetchval(
            url, "SELECT previous::text FROM tenant_migrator.import_run_tenants WHERE run_id = 1"
        )
    )
    assert previous["name"] == "Old" and previous["config_source"] == "yaml"


def test_planted_secrets_never_reach_the_database_or_any_output(tm, project, database_url, pg):
    literals = secret_literals(project)
    assert set(PLANTED.values()) <= literals
    outputs = []
    for args in (
        ("plan",),
        ("plan", "--format", "json"),
        ("plan", "--format", "markdown"),
        ("import", "--dry-run"),
        ("import",),
        ("history", "--format", "json"),
        ("plan",),
    ):
        result = tm(database_url, *args)
        assert result.returncode == 0, result.output
        outputs.append(result.output)
    for tenant_id in ALL_IDS:
        outputs.append(tm(database_url, "export", tenant_id).output)
    assert_no_secrets(pg, database_url, literals, *outputs)
    # Each became the right reference.
    planted = tenants_rows(pg, database_url)["planted"]["tenant_config"]
    assert planted["email"]["sendgrid"]["api_key"] == "${PLANTED_SENDGRID_API_KEY}"
    assert planted["integrations"]["billing"] == "${PLANTED_INTEGRATIONS_BILLING}"
    assert "service_key" not in planted["infrastructure"]["supabase"]


def test_secrets_out_writes_the_literals_to_a_private_file_only(
    tm, project, migrated_database_url, pg, tmp_path
):
    target = tmp_path / "secrets.env"
    result = tm(migrated_database_url, "import", "--secrets-out", target)
    assert result.returncode == 0, result.output
    text = target.read_text()
    assert f"PLANTED_SENDGRID_API_KEY={PLANTED['sendgrid']}" in text
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert_no_secrets(pg, migrated_database_url, secret_literals(project), result.output)
    # A second run refuses to overwrite it, before doing anything.
    again = tm(migrated_database_url, "import", "--secrets-out", target)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_plan_formats_and_output_file(tm, migrated_database_url, tmp_path):
    out = tmp_path / "plan.md"
    result = tm(migrated_database_url, "plan", "--format", "markdown", "--output", out)
    assert result.returncode == 0 and result.stdout == ""
    markdown = out.read_text()
    assert markdown.startswith("<!-- tenant-migrator:plan -->\n### tenant-migrator plan")
    assert "#### + `africastay` — create" in markdown
    text_out = tmp_path / "plan.txt"
    assert tm(migrated_database_url, "plan", "--output", text_out).returncode == 0
    text = text_out.read_text()
    assert "+ africastay" in text and "\x1b[" not in text  # plain text in a file
    data = json.loads(tm(migrated_database_url, "plan", "--format", "json").stdout)
    assert data["format_version"] == 1
    assert set(data["summary"]) == {
        "create",
        "update",
        "unchanged",
        "invalid",
        "blocked",
        "orphaned",
    }
    tenant = data["tenants"][0]
    assert {"id", "action", "changes", "errors"} <= set(tenant)
    assert {"path", "op", "old", "new"} == set(tenant["changes"][0])


def test_no_progress_noise_when_stderr_is_not_a_terminal(tm, migrated_database_url):
    result = tm(migrated_database_url, "import")
    assert result.returncode == 0
    (line,) = result.stderr.splitlines()  # only where it wrote, no progress
    assert line.startswith("target: ")


def test_progress_is_shown_on_a_terminal(project, migrated_database_url):
    controller, terminal = pty.openpty()
    command = ["--project-dir", str(project), "--database-url", migrated_database_url, "import"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenant_migrator", *command],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    stdout, _ = proc.communicate(timeout=120)
    captured = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        captured += chunk
    os.close(controller)
    assert proc.returncode == 0
    assert b"loading client files" in captured  # the live phase display, on stderr
    assert "loading client files" not in stdout and "Run 1 committed" in stdout


def test_plan_before_012_reads_what_exists_and_import_migrates_first(tm, database_url, pg):
    async def only_011():
        files = migrations.load_project_migrations(REPO)
        async with database.connection(database_url) as conn:
            await migrations.apply_pending(conn, [m for m in files if m.version == "011"])

    asyncio.run(only_011())
    pg.execute(database_url, "INSERT INTO tenants (id, name) VALUES ('example', 'Hand made')")
    data = plan_json(tm, database_url, "example")
    assert data["pending_migrations"] == ["tenant_config", "import_history", "import_fingerprints"]
    (tenant,) = data["tenants"]
    assert tenant["action"] == "update"
    paths = {c["path"]: c for c in tenant["changes"]}
    assert paths["/columns/name"]["old"] == "Hand made"
    assert paths["/tenant_config"]["op"] == "add"
    assert tm(database_url, "import", "example").returncode == 0
    row = tenants_rows(pg, database_url)["example"]
    assert row["config_source"] == "database" and row["name"] != "Hand made"
    previous = json.loads(
        pg.fetchval(database_url, "SELECT previous::text FROM tenant_migrator.import_run_tenants")
    )
    # 012 made the pre-existing row 'yaml'; the import's history kept that.
    assert previous["name"] == "Hand made" and previous["config_source"] == "yaml"
