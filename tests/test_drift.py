"""Drift, --force, history and rollback: database edits are never silently overwritten."""

from __future__ import annotations

import asyncio
import json

import pytest
from importhelpers import (
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    plan_edit_write,
    project_cli,
    read_client,
    tenants_rows,
    write_client,
)

from tenant_migrator.errors import DriftError
from tenant_migrator.settings import Settings

ADMIN_EDIT = """
UPDATE tenants SET name = 'Beach Resorts (admin)',
    tenant_config = jsonb_set(tenant_config, '{branding,primary_color}', '"#123456"')
WHERE id = 'beachresorts'
"""


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


@pytest.fixture
def imported(tm, migrated_database_url, pg):
    """The samples imported once (run 1); returns the rows as written."""
    result = tm("import")
    assert result.returncode == 0, result.output
    return tenants_rows(pg, migrated_database_url)


def history_rows(pg, url, tenant_id):
    rows = pg.fetch(
        url,
        "SELECT run_id, action, previous::text AS previous, written::text AS written "
        "FROM tenant_migrator.import_run_tenants WHERE tenant_id = $1 ORDER BY run_id",
        tenant_id,
    )
    for row in rows:
        row["previous"] = json.loads(row["previous"]) if row["previous"] else None
        row["written"] = json.loads(row["written"]) if row["written"] else None
    return rows


def test_admin_edit_blocks_sync_force_overwrites_history_keeps_it_rollback_restores(
    tm, imported, migrated_database_url, pg
):
    url = migrated_database_url
    pg.execute(url, ADMIN_EDIT)
    admin_row = tenants_rows(pg, url)["beachresorts"]

    # plan: blocked, with the drift diff (last import → database), exit 1.
    planned = tm("plan", "--format", "json")
    assert planned.returncode == 1
    tenant = next(t for t in json.loads(planned.stdout)["tenants"] if t["id"] == "beachresorts")
    assert tenant["action"] == "blocked" and tenant["drift_run"] == 1
    assert tenant["drift"] == [
        {
            "path": "/columns/name",
            "op": "replace",
            "old": "Beach Resorts Collection Ltd",
            "new": "Beach Resorts (admin)",
        },
        {
            "path": "/tenant_config/branding/primary_color",
            "op": "replace",
            "old": imported["beachresorts"]["tenant_config"]["branding"]["primary_color"],
            "new": "#123456",
        },
    ]
    assert "! beachresorts" in tm("plan").stdout

    # sync and import refuse, and write nothing.
    for command in (("sync", "beachresorts"), ("import",)):
        refused = tm(*command)
        assert refused.returncode == 1
        assert "changed in the database after our last import" in refused.stderr
        assert "Beach Resorts (admin)" in refused.stderr  # the drift diff is shown
        assert tenants_rows(pg, url)["beachresorts"] == admin_row

    # --force overwrites; history holds the admin's version as the previous values.
    forced = tm("sync", "beachresorts", "--force")
    assert forced.returncode == 0, forced.output
    assert "overwrote database edits" in forced.stdout
    row = tenants_rows(pg, url)["beachresorts"]
    assert row["name"] == "Beach Resorts Collection Ltd"
    assert row["tenant_config"] == imported["beachresorts"]["tenant_config"]
    last = history_rows(pg, url, "beachresorts")[-1]
    assert last["run_id"] == 2 and last["action"] == "update"
    assert last["previous"]["name"] == "Beach Resorts (admin)"
    assert last["previous"]["tenant_config"]["branding"]["primary_color"] == "#123456"
    assert pg.fetchval(url, "SELECT forced FROM tenant_migrator.import_runs WHERE id = 2")
    assert tm("plan", "--detailed-exitcode").returncode == 0

    # rollback restores the admin's version exactly, as run 3 …
    rolled = tm("rollback", "2")
    assert rolled.returncode == 0, rolled.output
    assert "Rolled back run 2 as run 3" in rolled.stdout
    restored = tenants_rows(pg, url)["beachresorts"]
    restored.pop("updated_at"), admin_row.pop("updated_at")
    assert restored == admin_row
    # … and the tenant is blocked again: the drift baseline is back to run 1.
    again = json.loads(tm("plan", "--format", "json").stdout)
    tenant = next(t for t in again["tenants"] if t["id"] == "beachresorts")
    assert tenant["action"] == "blocked" and tenant["drift_run"] == 1

    listed = json.loads(tm("history", "beachresorts", "--format", "json").stdout)
    assert [(r["id"], r["command"]) for r in listed] == [
        (3, "rollback"),
        (2, "sync"),
        (1, "import"),
    ]
    assert listed[1]["rolled_back_by"] == [3] and listed[0]["rollback_of"] == 2
    assert listed[1]["forced"] and listed[1]["tenant_action"] == "update"
    text = tm("history")
    assert text.returncode == 0 and "rolled back by run 3" in text.stdout


def test_rollback_refuses_rows_changed_since_unless_forced(
    tm, imported, project, migrated_database_url, pg
):
    url = migrated_database_url
    doc = read_client(project, "example")
    doc["client"]["name"] = "Example v2"
    write_client(project, "example", doc)
    assert tm("import").returncode == 0  # run 2 changes example
    pg.execute(url, "UPDATE tenants SET name = 'hand edit' WHERE id = 'example'")

    refused = tm("rollback", "2")
    assert refused.returncode == 1
    assert "example: edited in the database" in refused.stderr
    assert tenants_rows(pg, url)["example"]["name"] == "hand edit"

    dry = tm("rollback", "2", "--dry-run")
    # The dry run says what the real one would do: refuse (exit 1, issue 12).
    assert dry.returncode == 1 and "changed since" in dry.stdout
    assert tenants_rows(pg, url)["example"]["name"] == "hand edit"

    forced = tm("rollback", "2", "--force")
    assert forced.returncode == 0, forced.output
    assert tenants_rows(pg, url)["example"]["name"] == imported["example"]["name"]
    # A later run over the same row blocks an older rollback too.
    doc["client"]["name"] = "Example v3"
    write_client(project, "example", doc)
    assert tm("import").returncode == 0  # run 4
    older = tm("rollback", "1")
    assert older.returncode == 1 and "example: written again by run 4" in older.stderr
    assert len(tenants_rows(pg, url)) == 5


def test_rollback_of_the_first_import_deletes_the_rows_it_created(
    tm, imported, migrated_database_url, pg
):
    url = migrated_database_url
    result = tm("rollback", "1")
    assert result.returncode == 0, result.output
    assert tenants_rows(pg, url) == {}
    deleted = history_rows(pg, url, "africastay")[-1]
    assert deleted["action"] == "delete" and deleted["written"] is None
    assert deleted["previous"]["name"] == imported["africastay"]["name"]
    # A rollback is a run too: undoing it brings the rows back, whole.
    assert tm("rollback", "2").returncode == 0
    back = tenants_rows(pg, url)
    assert back == imported
    # And import sees them as its own (not drift): all unchanged.
    assert tm("plan", "--detailed-exitcode").returncode == 0


def test_rollback_usage_errors(tm, migrated_database_url):
    assert tm("rollback", "abc").returncode == 2
    missing = tm("rollback", "41")
    assert missing.returncode == 2 and "no run 41" in missing.stderr
    assert tm("history").returncode == 0


def test_history_before_013_says_so(cli, project, database_url):
    result = cli("--project-dir", project, "--database-url", database_url, "history")
    assert result.returncode == 0 and "013" in result.stderr


# --- the write refuses rows edited between plan and write (store level) -----------------


def test_row_edited_between_plan_and_write_aborts_the_whole_write(
    tm, imported, project, migrated_database_url, pg
):
    url = migrated_database_url
    doc = read_client(project, "example")
    doc["client"]["name"] = "Example v2"
    write_client(project, "example", doc)
    before = tenants_rows(pg, url)
    with pytest.raises(DriftError, match="changed in the database while this run was writing"):
        asyncio.run(
            plan_edit_write(
                url,
                Settings(project_dir=project, database_url=url),
                "UPDATE tenants SET name = 'sneaky' WHERE id = 'example'",
            )
        )
    after = tenants_rows(pg, url)
    assert after["example"]["name"] == "sneaky"  # the admin's edit, not ours
    after["example"] = before["example"]
    assert after == before
    assert pg.fetchval(url, "SELECT count(*) FROM tenant_migrator.import_runs") == 1


def test_database_refusals_are_one_clear_error_and_nothing_is_written(
    tm, imported, migrated_database_url, pg
):
    url = migrated_database_url
    # The platform's own tables point at tenants: deleting a created row is refused.
    pg.execute(url, "CREATE TABLE bookings (tenant_id varchar(50) REFERENCES tenants (id))")
    pg.execute(url, "INSERT INTO bookings VALUES ('example')")
    refused = tm("rollback", "1")
    assert refused.returncode == 1
    assert "ForeignKeyViolationError" in refused.stderr and "nothing was written" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert tenants_rows(pg, url) == imported
    # A constraint violation never prints the failing row (it may hold banking details).
    pg.execute(url, "DROP TABLE bookings")
    pg.execute(url, "TRUNCATE tenants CASCADE")
    pg.execute(url, "ALTER TABLE tenants ADD CONSTRAINT short CHECK (length(name) < 5)")
    # The rows were deleted in the database since run 1: only --force re-creates them.
    failed = tm("import", "africastay", "--force")
    assert failed.returncode == 1 and "CheckViolationError" in failed.stderr
    assert "Failing row" not in failed.stderr and "FIRNZAJJ" not in failed.stderr
    assert tenants_rows(pg, url) == {}
