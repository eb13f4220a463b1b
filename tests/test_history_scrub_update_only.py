"""A write holding only updates still keeps literals out of history: the writer's
count of staged updates decides whether previous values are scrubbed (kills the
store/writer.py ``_existing`` mutant that counted creates instead, tests/MUTATION.md).
"""

from __future__ import annotations

import json

from importhelpers import (
    DATABASE_PLANTED,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    plant_old_importer_row,
    project_cli,
)


def test_an_update_only_import_over_a_row_holding_literals_keeps_them_out_of_history(
    tmp_path, run_cli, migrated_database_url, pg
):
    url = migrated_database_url
    tm = project_cli(run_cli, make_project(tmp_path / "project", planted=False), url)
    plant_old_importer_row(pg, url)
    imported = tm("import", "africastay")  # one tenant, an update: no create staged
    assert imported.returncode == 0, imported.output
    previous = json.loads(
        pg.fetchval(
            url,
            "SELECT previous::text FROM tenant_migrator.import_run_tenants "
            "WHERE tenant_id = 'africastay'",
        )
    )
    assert previous["tenant_config"]["email"]["smtp"]["password"] == "${AFRICASTAY_SMTP_PASSWORD}"
    text = json.dumps(previous)
    assert not any(literal in text for literal in DATABASE_PLANTED.values())
