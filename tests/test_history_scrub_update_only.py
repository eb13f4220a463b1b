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


def _africastay_previous(pg, url: str) -> dict:
    """What our history recorded as africastay's values before the write."""
    return json.loads(
        pg.fetchval(
            url,
            "SELECT previous::text FROM tenant_migrator.import_run_tenants "
            "WHERE tenant_id = 'africastay'",
        )
    )


def test_an_update_only_import_over_a_row_holding_literals_keeps_them_out_of_history(
    tmp_path, run_cli, migrated_database_url, pg
):
    url = migrated_database_url
    tm = project_cli(run_cli, make_project(tmp_path / "project", planted=False), url)
    plant_old_importer_row(pg, url)
    imported = tm("import", "africastay")  # one tenant, an update: no create staged
    assert imported.returncode == 0, imported.output
    previous = _africastay_previous(pg, url)
    assert previous["tenant_config"]["email"]["smtp"]["password"] == "${AFRICASTAY_SMTP_PASSWORD}"
    text = json.dumps(previous)
    assert not any(literal in text for literal in DATABASE_PLANTED.values())


def test_the_one_shot_writer_reads_the_replaced_rows_itself_and_keeps_literals_out(
    tmp_path, migrated_database_url, pg
):
    # store.write_plan (the Python API, and sync's path to the writer) gets no rows
    # from the plan read: the writer reads the rows it replaces before scrubbing
    # them (kills the writer.py `found.update(…)` mutants, tests/MUTATION.md).
    import asyncio
    from datetime import UTC, datetime

    from tenant_migrator import database, pipeline, store
    from tenant_migrator.settings import Settings

    url = migrated_database_url
    project = make_project(tmp_path / "project", planted=False)
    plant_old_importer_row(pg, url)
    load = pipeline.load_tenants(Settings(project, url), ["africastay"])

    async def write() -> dict[str, str]:
        async with database.connection(url) as conn, conn.transaction():
            the_plan = await store.make_plan(conn, load, None)
            run_id = await store.start_run(conn, "import", datetime.now(UTC))
            return await store.write_plan(conn, the_plan, run_id)

    assert asyncio.run(write()) == {"africastay": "update"}
    previous = _africastay_previous(pg, url)
    assert previous["tenant_config"]["email"]["smtp"]["password"] == "${AFRICASTAY_SMTP_PASSWORD}"
    assert not any(literal in json.dumps(previous) for literal in DATABASE_PLANTED.values())
