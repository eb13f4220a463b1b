"""The write's own drift check (store/writer.py): rows edited between the plan and the
write abort the whole write, and the error names them, at most 20, with "…" past 20.
Against the test server; kills drift-check mutants that survived tests/test_drift.py
(tests/MUTATION.md).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from importhelpers import REPO, read_client, tenants_rows, write_client

from tenant_migrator import database, store
from tenant_migrator.errors import DriftError
from tenant_migrator.pipeline import load_tenants
from tenant_migrator.planning import SNAPSHOT_COLUMNS
from tenant_migrator.settings import Settings

IDS = [f"tenant-{i:02d}" for i in range(22)]


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    shutil.copy(REPO / "config" / "schema.json", root / "config" / "schema.json")
    template = read_client(REPO, "example")
    for tenant_id in IDS:
        write_client(root, tenant_id, template)
    return root


async def _import(url: str, project: Path) -> None:
    settings = Settings(project_dir=project, database_url=url)
    async with database.connection(url) as conn, conn.transaction():
        the_plan = await store.make_plan(conn, load_tenants(settings, IDS), IDS)
        run_id = await store.start_run(conn, "import", datetime.now().astimezone())
        written = await store.write_plan(conn, the_plan, run_id)
    assert len(written) == len(IDS)


async def _plan_edit_write(url: str, project: Path, edited: list[str]) -> dict[str, str]:
    settings = Settings(project_dir=project, database_url=url)
    async with (
        database.connection(url) as conn,
        database.connection(url) as admin,
        conn.transaction(),
    ):
        the_plan = await store.make_plan(conn, load_tenants(settings, IDS), IDS)
        assert {t.action.value for t in the_plan.tenants} == {"update"}
        if edited:
            await admin.execute(
                "UPDATE tenants SET name = name || ' (admin)' WHERE id = ANY($1::text[])", edited
            )
        run_id = await store.start_run(conn, "import", datetime.now().astimezone())
        return await store.write_plan(conn, the_plan, run_id)


def _rename_all(project: Path, name: str) -> None:
    for tenant_id in IDS:
        doc = read_client(project, tenant_id)
        doc["client"]["name"] = name
        write_client(project, tenant_id, doc)


@pytest.mark.parametrize(("edited", "listed", "more"), [(20, 20, False), (21, 20, True)])
def test_the_drift_error_names_up_to_20_edited_tenants(
    project, migrated_database_url, pg, edited, listed, more
):
    url = migrated_database_url
    asyncio.run(_import(url, project))
    _rename_all(project, "Renamed")
    before = tenants_rows(pg, url)
    with pytest.raises(DriftError) as raised:
        asyncio.run(_plan_edit_write(url, project, IDS[:edited]))
    message = str(raised.value)
    assert message.startswith(f"{edited} tenant(s) changed in the database while this run")
    names = re.search(r"writing: (.*?)(?: …)?; nothing was written", message).group(1)
    assert names.split(", ") == IDS[:listed]
    assert message.endswith(
        ("…; " if more else f"{IDS[listed - 1]}; ")
        + "nothing was written. Run the command again to see the new plan."
    )
    # Nothing of ours was written: only the admin's edits are there.
    after = tenants_rows(pg, url)
    assert {k for k in after if after[k] != before[k]} == set(IDS[:edited])
    assert all(after[k]["name"].endswith(" (admin)") for k in IDS[:edited])


def test_without_edits_every_planned_row_is_written(project, migrated_database_url, pg):
    url = migrated_database_url
    asyncio.run(_import(url, project))
    _rename_all(project, "Renamed")
    written = asyncio.run(_plan_edit_write(url, project, []))
    assert written == dict.fromkeys(IDS, "update")
    assert {row["name"] for row in tenants_rows(pg, url).values()} == {"Renamed"}
    # The hash our write recorded is the row's hash: the next plan sees no drift.
    rows = pg.fetch(
        url,
        "SELECT h.new_hash, md5(jsonb_build_object("
        + ", ".join(f"'{c}', t.{c}" for c in SNAPSHOT_COLUMNS)
        + ", 'tenant_config', t.tenant_config)::text) AS now"
        " FROM tenant_migrator.import_run_tenants h JOIN tenants t ON t.id = h.tenant_id"
        " WHERE h.run_id = (SELECT max(run_id) FROM tenant_migrator.import_run_tenants)",
    )
    assert len(rows) == len(IDS) and all(r["new_hash"] == r["now"] for r in rows)
