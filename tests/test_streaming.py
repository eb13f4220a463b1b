"""The streamed import: batches planned and written inside one transaction while
the pool parses the next ones, against a real PostgreSQL.

Every test runs the batched path for real: a few hundred generated tenants over
the process pool (8 batches), with the writer flushing every few dozen rows, so
batches are written long before the last file is read. The reference is the
one-shot path (``store.make_plan`` + ``store.write_plan`` on everything loaded
at once) into another database.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from importhelpers import bench_generate, dump_database, no_secrets_left_behind  # noqa: F401 - autouse

from tenant_migrator import database, interruption, pipeline, store, streaming
from tenant_migrator.errors import DriftError, MigratorError
from tenant_migrator.planning import Action
from tenant_migrator.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COUNT = 240
FLUSH_ROWS = 45  # several writes per run, and partly filled ones


generate = bench_generate()


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    generate.generate(root, COUNT, seed=5)
    shutil.copytree(REPO / "config", root / "config")
    return root


@pytest.fixture
def writes(monkeypatch) -> list[int]:
    """Small flushes, and a record of every write statement's row count."""
    # The writer's own flush size, and the one streaming reads to write the last
    # batches at once.
    monkeypatch.setattr(store.writer, "FLUSH_ROWS", FLUSH_ROWS)
    monkeypatch.setattr(store, "FLUSH_ROWS", FLUSH_ROWS)
    # And reads of a few batches each: a refusal late in the stream comes after writes.
    monkeypatch.setattr(streaming, "READ_AT_ONCE", FLUSH_ROWS)
    counted: list[int] = []
    real = store.PlanWriter._write_incoming

    async def counting(self, expected):
        counted.append(expected)
        return await real(self, expected)

    monkeypatch.setattr(store.PlanWriter, "_write_incoming", counting)
    return counted


def ids(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "clients").iterdir())


def streamed_import(project: Path, url: str, **options) -> streaming.ImportOutcome:
    settings = Settings(project, url)
    stream = pipeline.stream_tenants(settings, workers=2)
    return asyncio.run(
        streaming.import_tenants(settings, stream, None, streaming.ImportOptions(**options))
    )


def one_shot_import(project: Path, url: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        load = pipeline.load_tenants(Settings(project, url), workers=1)
        async with database.connection(url) as conn, conn.transaction():
            the_plan = await store.make_plan(conn, load, None)
            if not the_plan.to_write:
                return {}
            run_id = await store.start_run(conn, "import", datetime.now().astimezone())
            return await store.write_plan(conn, the_plan, run_id)

    return asyncio.run(go())


def comparable(pg, url: str):
    """Rows and history, without what depends on when the run happened."""
    rows = pg.fetch(
        url,
        "SELECT to_jsonb(t) - 'created_at' - 'updated_at' AS row FROM tenants t ORDER BY id",
    )
    history = pg.fetch(
        url,
        """
        SELECT run_id, tenant_id, action, new_hash, baseline_run, baseline_hash,
               (previous - 'created_at' - 'updated_at')::text AS previous, written::text
        FROM tenant_migrator.import_run_tenants ORDER BY run_id, tenant_id
        """,
    )
    return [r["row"] for r in rows], history


def test_the_streamed_import_writes_exactly_what_the_one_shot_write_does(
    project, migrated_database_url, reference_database_url, pg, writes
):
    url, reference = migrated_database_url, reference_database_url
    outcome = streamed_import(project, url)
    assert len(writes) > 3 and max(writes) <= FLUSH_ROWS + COUNT // 8  # written in parts
    written = one_shot_import(project, reference)
    assert outcome.written == written and len(written) == COUNT
    assert set(written.values()) == {"create"}
    assert comparable(pg, url) == comparable(pg, reference)
    assert outcome.plan.summary()["create"] == COUNT
    # The outcome keeps a summary per tenant, never the documents (nor the files'
    # fingerprints, checked against a reviewed plan batch by batch).
    assert all(t.record is None and not t.changes for t in outcome.plan.tenants)
    assert all(t.source_sha256 is None for t in outcome.plan.tenants)

    # A second round: updates spread over every batch, read back row by row.
    changed = generate.change_files(project, COUNT, 0.1, seed=5)
    assert len(changed) >= 20
    writes.clear()
    outcome = streamed_import(project, url)
    written = one_shot_import(project, reference)
    assert outcome.written == written == {c.tenant_id: "update" for c in changed}
    assert comparable(pg, url) == comparable(pg, reference)
    assert outcome.plan.summary()["unchanged"] == COUNT - len(changed)
    # Twenty-odd updates: few enough for the report to draw, so their changes are kept.
    assert all(t.changes for t in outcome.plan.tenants if t.action is Action.UPDATE)
    # Interrupted now, this second run would report its own commit, not the first's.
    assert interruption.outcome() == f"run {outcome.run_id} was committed; nothing else was written"


def test_an_invalid_file_late_in_the_stream_rolls_back_every_batch_written_before_it(
    project, migrated_database_url, pg, writes
):
    url = migrated_database_url
    names = ids(project)
    for name in (names[-1], names[-40]):
        (project / "clients" / name / "client.yaml").write_text("client:\n  name: a\n  name: b\n")
    before = dump_database(pg, url)
    with pytest.raises(MigratorError) as raised:
        streamed_import(project, url)
    assert writes, "batches were written before the invalid files were read"
    assert dump_database(pg, url) == before  # rolled back, run row included
    message = str(raised.value)
    assert "2 tenant(s) invalid" in message and "nothing was written" in message
    assert f"clients/{names[-1]}/client.yaml:3:3" in message
    assert f"clients/{names[-40]}/client.yaml:3:3" in message


def test_a_row_edited_since_our_import_late_in_the_stream_rolls_everything_back(
    project, migrated_database_url, pg, writes
):
    url = migrated_database_url
    streamed_import(project, url)
    names = ids(project)
    pg.execute(url, "UPDATE tenants SET name = 'edited by an admin' WHERE id = $1", names[-2])
    generate.change_files(project, COUNT, 0.5, seed=5)
    before = dump_database(pg, url)
    writes.clear()
    with pytest.raises(DriftError, match=f"{names[-2]}: edited in the database since run 1"):
        streamed_import(project, url)
    assert writes
    assert dump_database(pg, url) == before


def _give_shared_literal(project: Path, tenant_id: str, value: str) -> None:
    path = project / "clients" / tenant_id / "client.yaml"
    document = yaml.safe_load(path.read_text())
    document["infrastructure"]["supabase"]["service_key"] = value
    path.write_text(generate.dump(document))


def test_skip_invalid_leaves_out_tenants_whose_shared_literals_disagree_across_batches(
    project, migrated_database_url, pg, writes
):
    # The first and the last tenant give the shared ${SUPABASE_SERVICE_KEY} different
    # values: only known once the last file is read, long after the first batch.
    url = migrated_database_url
    names = ids(project)
    first, last = names[0], names[-1]
    _give_shared_literal(project, first, "fake-service-key-first")
    _give_shared_literal(project, last, "fake-service-key-last")

    with pytest.raises(MigratorError, match=r"2 tenant\(s\) invalid"):
        streamed_import(project, url)
    assert pg.fetchval(url, "SELECT count(*) FROM tenants") == 0

    outcome = streamed_import(project, url, skip_invalid=True)
    assert outcome.skipped == (first, last)
    rows = {r["id"] for r in pg.fetch(url, "SELECT id FROM tenants")}
    assert rows == set(names) - {first, last}
    assert set(outcome.written) == rows
    conflict = outcome.plan.tenants[0]
    assert conflict.id == first and conflict.action is Action.INVALID
    assert "shared ${SUPABASE_SERVICE_KEY}" in conflict.errors[0].message
    summary = pg.fetchval(url, "SELECT summary->'skipped' FROM tenant_migrator.import_runs")
    assert summary == f'["{first}", "{last}"]'


@pytest.mark.timeout(120)
def test_a_worker_dying_late_in_the_stream_rolls_back_and_does_not_hang(
    project, migrated_database_url, pg, writes, monkeypatch
):
    import os

    url = migrated_database_url
    doomed = ids(project)[-3]
    real = pipeline.process_client_file

    def dies_on_doomed(client_file, *args, **kwargs):
        if client_file.tenant_id == doomed:
            os._exit(9)  # as if killed by the kernel's OOM killer
        return real(client_file, *args, **kwargs)

    # Forked workers inherit the patched function.
    monkeypatch.setattr(pipeline, "process_client_file", dies_on_doomed)
    before = dump_database(pg, url)
    with pytest.raises(MigratorError, match="worker process loading the client files died"):
        streamed_import(project, url)
    assert writes
    assert dump_database(pg, url) == before
