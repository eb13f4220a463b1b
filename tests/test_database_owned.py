"""Rows the tool never wrote (README "The main job", actions table): a
``config_source='database'`` row no run of ours wrote is owned by the database,
and a row deleted in the database since our last import is not re-created; both
are ``blocked`` until ``--force``: a bulk import leaves them as they are and
writes the other tenants; naming one (``sync T``, ``import T``) refuses, since
exactly that write was asked for. ``config_source='yaml'`` rows are updated as
before. Real PostgreSQL, the CLI in a subprocess."""

from __future__ import annotations

import json

import pytest
from importhelpers import (
    dump_database,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    tenants_rows,
)

# The platform's seed migration writes a row like this one: database-backed, with
# a key (pricing) that no client file has. Not ours: no run of ours wrote it.
SEED_ROW = """
INSERT INTO tenants (id, name, short_name, timezone, currency, config_source, tenant_config)
VALUES ('africastay', 'Africa Stay (seeded)', 'africastay', 'Africa/Johannesburg', 'ZAR',
        'database', '{"pricing": {"markup_percent": 12}, "branding": {"primary_color": "#000000"}}')
"""


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def plan_json(tm, *args):
    result = tm("plan", "--format", "json", *args)
    assert result.returncode in (0, 1), result.output
    return {t["id"]: t for t in json.loads(result.stdout)["tenants"]}


@pytest.fixture
def seeded(migrated_database_url, pg):
    pg.execute(migrated_database_url, SEED_ROW)
    return tenants_rows(pg, migrated_database_url)["africastay"]


def test_a_database_owned_row_is_blocked_with_the_keys_only_the_database_has_as_removes(tm, seeded):
    planned = tm("plan", "--format", "json")
    # Not an error: an import would leave it and write the rest (edited rows are 1).
    assert planned.returncode == 0, planned.output
    assert tm("plan", "--detailed-exitcode").returncode == 2  # the creates are pending
    tenant = next(t for t in json.loads(planned.stdout)["tenants"] if t["id"] == "africastay")
    assert tenant["action"] == "blocked"
    assert tenant["blocked_reason"] == "database-owned"
    assert tenant["drift"] == [] and tenant["drift_run"] is None and not tenant["forced"]
    changes = {c["path"]: c for c in tenant["changes"]}
    assert changes["/tenant_config/pricing"]["op"] == "remove"
    assert changes["/tenant_config/pricing"]["old"] == {"markup_percent": 12}
    assert changes["/columns/name"]["old"] == "Africa Stay (seeded)"
    # Every other tenant is a plain create: blocked_reason null.
    others = [t for t in json.loads(planned.stdout)["tenants"] if t["id"] != "africastay"]
    assert others and all(t["blocked_reason"] is None for t in others)

    text = tm("plan").stdout
    assert "owned by the database, never imported" in text
    markdown = tm("plan", "--format", "markdown").stdout
    assert "owned by the database, never imported" in markdown


def test_import_leaves_a_database_owned_row_and_writes_the_others(
    tm, seeded, migrated_database_url, pg
):
    url = migrated_database_url
    done = tm("import")
    assert done.returncode == 0, done.output
    assert "africastay  left as it is: owned by the database, never imported" in done.stdout
    assert "left alone" in done.stdout
    rows = tenants_rows(pg, url)
    assert rows["africastay"] == seeded
    assert set(rows) > {"africastay"}  # every other tenant was created
    summary = json.loads(
        pg.fetchval(url, "SELECT summary::text FROM tenant_migrator.import_runs WHERE id = 1")
    )
    assert summary["left_alone"] == ["africastay"]


def test_naming_a_database_owned_row_refuses_and_writes_nothing(
    tm, seeded, migrated_database_url, pg
):
    before = dump_database(pg, migrated_database_url)
    for command in (("import", "africastay"), ("sync", "africastay")):
        refused = tm(*command)
        assert refused.returncode == 1, refused.output
        assert "africastay: owned by the database, never imported" in refused.stderr
        assert "--force would remove /tenant_config/pricing" in refused.stderr
        assert "nothing was written" in refused.stderr
        assert dump_database(pg, migrated_database_url) == before


def test_force_overwrites_a_database_owned_row_and_rollback_makes_it_the_databases_again(
    tm, seeded, migrated_database_url, pg
):
    url = migrated_database_url
    forced = tm("import", "--force")
    assert forced.returncode == 0, forced.output
    assert "owned by the database, never imported; --force overwrites it" in forced.stdout
    row = tenants_rows(pg, url)["africastay"]
    assert "pricing" not in row["tenant_config"] and row["name"] != seeded["name"]
    previous = json.loads(
        pg.fetchval(
            url,
            "SELECT previous::text FROM tenant_migrator.import_run_tenants "
            "WHERE run_id = 1 AND tenant_id = 'africastay'",
        )
    )
    assert previous["tenant_config"]["pricing"] == {"markup_percent": 12}
    assert pg.fetchval(url, "SELECT forced FROM tenant_migrator.import_runs WHERE id = 1")
    # Written by us now: the next plan has nothing to say about it.
    assert plan_json(tm, "africastay")["africastay"]["action"] == "unchanged"

    assert tm("rollback", "1").returncode == 0
    restored = tenants_rows(pg, url)["africastay"]
    assert restored["tenant_config"] == seeded["tenant_config"]
    assert restored["name"] == seeded["name"]
    # The rollback put back "no baseline": the database owns the row again.
    again = plan_json(tm, "africastay")["africastay"]
    assert again["action"] == "blocked" and again["blocked_reason"] == "database-owned"


def test_a_yaml_backed_row_is_updated_as_before(tm, migrated_database_url, pg):
    url = migrated_database_url
    pg.execute(url, SEED_ROW.replace("'database'", "'yaml'"))
    tenant = plan_json(tm, "africastay")["africastay"]
    assert tenant["action"] == "update" and tenant["blocked_reason"] is None
    assert tm("import", "africastay").returncode == 0
    assert tenants_rows(pg, url)["africastay"]["config_source"] == "database"


def test_a_row_deleted_in_the_database_since_our_import_is_blocked_not_recreated(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    assert tm("import").returncode == 0
    pg.execute(url, "DELETE FROM tenants WHERE id = 'beachresorts'")
    before = dump_database(pg, url)

    tenant = plan_json(tm)["beachresorts"]
    assert tenant["action"] == "blocked" and tenant["blocked_reason"] == "deleted"
    assert tenant["drift_run"] == 1
    assert tenant["changes"]  # what --force would write: the create
    assert "deleted in the database since run 1" in tm("plan").stdout
    assert "deleted in the database since run 1" in tm("plan", "--format", "markdown").stdout

    for command in (("import", "beachresorts"), ("sync", "beachresorts")):
        refused = tm(*command)
        assert refused.returncode == 1
        assert "beachresorts: deleted in the database since run 1" in refused.stderr
        assert dump_database(pg, url) == before
    # A bulk import leaves it deleted and records that it did.
    left = tm("import")
    assert left.returncode == 0, left.output
    assert "beachresorts  left as it is: deleted in the database since run 1" in left.stdout
    assert "beachresorts" not in tenants_rows(pg, url)

    forced = tm("sync", "beachresorts", "--force")
    assert forced.returncode == 0, forced.output
    assert "beachresorts" in tenants_rows(pg, url)
    action = pg.fetchval(
        url,
        "SELECT action FROM tenant_migrator.import_run_tenants "
        "WHERE tenant_id = 'beachresorts' ORDER BY run_id DESC LIMIT 1",
    )
    assert action == "create"
    assert plan_json(tm, "beachresorts")["beachresorts"]["action"] == "unchanged"


def test_an_emptied_table_still_knows_which_tenants_were_deleted(tm, migrated_database_url, pg):
    url = migrated_database_url
    assert tm("import").returncode == 0
    pg.execute(url, "DELETE FROM tenants")
    planned = plan_json(tm)
    assert {t["action"] for t in planned.values()} == {"blocked"}
    assert {t["blocked_reason"] for t in planned.values()} == {"deleted"}
    assert tm("import").returncode == 0
    assert tenants_rows(pg, url) == {}


def test_a_tenant_whose_create_was_rolled_back_is_created_again_without_force(
    tm, migrated_database_url, pg
):
    url = migrated_database_url
    assert tm("import").returncode == 0
    assert tm("rollback", "1").returncode == 0
    assert tenants_rows(pg, url) == {}
    planned = plan_json(tm)
    assert {t["action"] for t in planned.values()} == {"create"}
    assert tm("import").returncode == 0
