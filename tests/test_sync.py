"""sync TENANT: one tenant's file and row, its own transaction, the same history."""

from __future__ import annotations

import json

import pytest
from importhelpers import (
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    read_client,
    tenants_rows,
    write_client,
)


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def test_sync_creates_then_updates_one_tenant_with_history(tm, project, migrated_database_url, pg):
    url = migrated_database_url
    created = tm("sync", "africastay")
    assert created.returncode == 0, created.output
    assert "+ africastay  created" in created.stdout
    assert sorted(tenants_rows(pg, url)) == ["africastay"]

    doc = read_client(project, "africastay")
    doc["destinations"][0]["enabled"] = False
    write_client(project, "africastay", doc)
    dry = tm("sync", "africastay", "--dry-run")
    assert dry.returncode == 0
    assert "~ enabled: true → false" in dry.stdout
    assert tenants_rows(pg, url)["africastay"]["tenant_config"]["destinations"][0]["enabled"]

    updated = tm("sync", "africastay")
    assert updated.returncode == 0, updated.output
    row = tenants_rows(pg, url)["africastay"]
    assert row["tenant_config"]["destinations"][0]["enabled"] is False
    runs = json.loads(tm("history", "--format", "json").stdout)
    assert [(r["command"], r["tenants"], r["tenant_action"]) for r in runs] == [
        ("sync", 1, None),
        ("sync", 1, None),
    ]
    steps = pg.fetch(
        url,
        "SELECT run_id, action, previous IS NULL AS created "
        "FROM tenant_migrator.import_run_tenants ORDER BY run_id",
    )
    assert steps == [
        {"run_id": 1, "action": "create", "created": True},
        {"run_id": 2, "action": "update", "created": False},
    ]

    unchanged = tm("sync", "africastay")
    assert unchanged.returncode == 0 and "Nothing to write" in unchanged.stdout


def test_sync_reads_only_its_own_file_and_row(tm, project, migrated_database_url, pg):
    url = migrated_database_url
    # A broken neighbour file, an orphan row and a drifted neighbour row: none of
    # them is sync's business.
    write_client(project, "broken", "client: [1, 2]\n")
    assert tm("import", "--skip-invalid").returncode == 1
    pg.execute(url, "INSERT INTO tenants (id, name) VALUES ('orphan', 'Orphan')")
    pg.execute(url, "UPDATE tenants SET name = 'edited' WHERE id = 'beachresorts'")
    doc = read_client(project, "example")
    doc["branding"]["primary_color"] = "#abcdef"
    write_client(project, "example", doc)

    result = tm("sync", "example")
    assert result.returncode == 0, result.output
    assert "broken" not in result.output and "orphan" not in result.output
    assert "beachresorts" not in result.output
    row = tenants_rows(pg, url)["example"]
    assert row["tenant_config"]["branding"]["primary_color"] == "#abcdef"


def test_sync_errors(tm, project, migrated_database_url, pg):
    unknown = tm("sync", "africastey")
    assert unknown.returncode == 2 and "africastay" in unknown.stderr
    write_client(project, "broken", "client:\n  name: [unclosed\n")
    broken = tm("sync", "broken")
    assert broken.returncode == 1
    assert "clients/broken/client.yaml:" in broken.stderr and "Traceback" not in broken.stderr
    assert tenants_rows(pg, migrated_database_url) == {}
