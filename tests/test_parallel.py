"""The process-pool path gives exactly what the single-process path gives.

A few hundred generated tenants (benchmarks/generate.py) plus invalid files,
planted secrets, a shared-secret conflict and an odd directory; loaded once in
this process and once over a pool (forced on, fork and spawn), compared record
by record, problem by problem, secret by secret (literals included), and through
``planning.build_plan`` against the same rows. Then the CLI, as a real
subprocess, over the pool against a real database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import tracemalloc
from pathlib import Path

import pytest
import yaml
from importhelpers import bench_generate, planted_document

from tenant_migrator import discovery, pipeline, pool, store
from tenant_migrator.errors import MigratorError
from tenant_migrator.planning import CurrentRow, ImportState, build_plan, record_snapshot
from tenant_migrator.record import TenantRecord
from tenant_migrator.report import plan as plan_report
from tenant_migrator.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COUNT = 240


generate = bench_generate()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parallel") / "project"
    ids = generate.generate(root, COUNT, seed=3)
    shutil.copytree(REPO / "config", root / "config")
    clients = root / "clients"
    # Files the pool must report exactly as one process does.
    (clients / ids[5] / "client.yaml").write_text("client:\n  name: [unclosed\n")
    (clients / ids[6] / "client.yaml").write_text("client:\n  name: a\n  name: b\n")
    broken = generate.tenant_document(3, 7)
    broken["client"]["timezone"] = "Africa/Joburg"
    broken["email"]["smtp"]["port"] = 70000
    (clients / ids[7] / "client.yaml").write_text(generate.dump(broken))
    planted = planted_document()
    planted["infrastructure"]["supabase"]["service_key"] = "${SUPABASE_SERVICE_KEY}"
    (clients / "planted").mkdir()
    (clients / "planted" / "client.yaml").write_text(yaml.safe_dump(planted, sort_keys=False))
    # Two tenants with different literals for the shared SUPABASE_SERVICE_KEY (the
    # others reference it, so only these two conflict).
    for tid, key in (("shared-a", "fake-service-key-aaaa"), ("shared-b", "fake-service-key-bbbb")):
        document = generate.tenant_document(3, 8)
        document["client"]["id"] = tid
        document["infrastructure"]["supabase"]["service_key"] = key
        (clients / tid).mkdir()
        (clients / tid / "client.yaml").write_text(generate.dump(document))
    (clients / "Bad Name").mkdir()
    (clients / "Bad Name" / "client.yaml").write_text("client:\n  name: x\n")
    (clients / "no-file-here").mkdir()
    return root


@pytest.fixture(scope="module")
def serial(project) -> pipeline.LoadResult:
    return pipeline.load_tenants(Settings(project), workers=1)


def _assert_same(parallel: pipeline.LoadResult, serial: pipeline.LoadResult) -> None:
    assert parallel.problems == serial.problems
    assert [r.tenant_id for r in parallel.results] == [r.tenant_id for r in serial.results]
    for mine, theirs in zip(parallel.results, serial.results, strict=True):
        assert mine == theirs, mine.tenant_id
        assert mine.path == theirs.path
        assert mine.problems == theirs.problems
        assert [s.literal for s in mine.secrets] == [s.literal for s in theirs.secrets]
        if mine.record is not None:
            assert mine.record.config_json == theirs.record.config_json
            assert mine.record.columns() == theirs.record.columns()
    assert parallel == serial


def test_the_fixture_covers_every_kind_of_result(serial):
    by_id = {r.tenant_id: r for r in serial.results}
    assert len(serial.results) == COUNT + 4
    assert sum(r.ok for r in serial.results) == COUNT - 3 + 1
    assert not by_id["Bad Name"].ok
    assert not by_id["shared-a"].ok and not by_id["shared-b"].ok
    assert "shared ${SUPABASE_SERVICE_KEY}" in by_id["shared-a"].errors[0].message
    assert by_id["planted"].ok and len(by_id["planted"].referenced) >= 8
    assert sum(len(r.referenced) for r in serial.results) > COUNT // 10  # generated literals
    assert any(p.message.startswith("directory has no client.yaml") for p in serial.problems)


def test_the_pool_gives_the_same_results_as_one_process(project, serial):
    _assert_same(pipeline.load_tenants(Settings(project), workers=2), serial)


def test_spawned_workers_give_the_same_results(project, serial):
    # Other platforms start workers with spawn (fresh interpreters, nothing inherited).
    settings = Settings(project)
    files = discovery.discover(settings.clients_dir).files
    spawned = pipeline.load_files(files, settings.schema_path, workers=2, start_method="spawn")
    single = pipeline.load_files(files, settings.schema_path, workers=1)
    assert spawned == single
    assert [[s.literal for s in r.secrets] for r in spawned] == [
        [s.literal for s in r.secrets] for r in single
    ]


def test_the_pool_is_used_automatically_above_the_threshold(project, serial, monkeypatch):
    started = []
    real = pipeline._pooled
    monkeypatch.setattr(pipeline, "_pooled", lambda *a, **k: started.append(a[3]) or real(*a, **k))
    monkeypatch.setattr(pool, "default_workers", lambda: 2)
    _assert_same(pipeline.load_tenants(Settings(project)), serial)
    assert started == [2]
    started.clear()
    pipeline.load_tenants(Settings(project), only=["planted"])
    assert started == []  # one file: no pool


def test_without_a_pool_the_same_results_come_from_one_process(project, serial, monkeypatch):
    import multiprocessing

    def refuse(_method):
        raise OSError(38, "Function not implemented")  # e.g. no /dev/shm in a sandbox

    monkeypatch.setattr(multiprocessing, "get_context", refuse)
    _assert_same(pipeline.load_tenants(Settings(project), workers=2), serial)


def _rows_for(load: pipeline.LoadResult) -> tuple[dict, dict]:
    """Rows covering every plan action: unchanged (matched by the database),
    unchanged by diff, updated, blocked (edited since our import), orphaned; the
    rest have no row (create)."""
    records = [r.record for r in load.results if r.record is not None]
    rows: dict[str, CurrentRow] = {}
    states: dict[str, ImportState] = {}
    for i, record in enumerate(records[:120]):
        snapshot = record_snapshot(record)
        if i % 4 == 0:
            rows[record.id] = CurrentRow(record.id, None, None, matches=True)
        elif i % 4 == 1:
            rows[record.id] = CurrentRow(record.id, snapshot, f"h{i}")
        elif i % 4 == 2:
            changed = dict(snapshot, currency="EUR", tenant_config={**snapshot["tenant_config"]})
            changed["tenant_config"].pop("quotes", None)
            rows[record.id] = CurrentRow(record.id, changed, f"h{i}")
            states[record.id] = ImportState(1, f"h{i}")
        else:
            rows[record.id] = CurrentRow(record.id, dict(snapshot, name="Edited"), f"h{i}")
            states[record.id] = ImportState(1, "an older hash", record_snapshot(record))
    rows["gone-tenant"] = CurrentRow("gone-tenant", {"config_source": "yaml"}, "hx")
    return rows, states


def test_the_plan_from_the_pool_equals_the_plan_from_one_process(project, serial):
    parallel = pipeline.load_tenants(Settings(project), workers=2)
    rows, states = _rows_for(serial)
    expected = build_plan(serial, rows, states)
    got = build_plan(parallel, rows, states)
    assert got == expected
    summary = expected.summary()
    assert all(summary[action] > 0 for action in summary), summary
    assert plan_report.render_json(got) == plan_report.render_json(expected)
    assert build_plan(parallel, {}, {}) == build_plan(serial, {}, {})


def test_compressed_records_are_the_same_records(project, serial, monkeypatch):
    # Very large runs keep each record's JSON compressed; nothing else may change.
    monkeypatch.setattr(pipeline, "COMPRESS_RECORDS_ABOVE", 10)
    compressed = pipeline.load_tenants(Settings(project), workers=2)
    assert all(type(r.record.config_data) is bytes for r in compressed.results if r.ok)
    _assert_same(compressed, serial)
    rows, states = _rows_for(serial)
    assert build_plan(compressed, rows, states) == build_plan(serial, rows, states)


def test_a_record_holds_the_json_the_database_receives(serial):
    for result in serial.results:
        if result.record is not None:
            record = result.record
            assert record.config_json == json.dumps(
                record.tenant_config, ensure_ascii=False, allow_nan=False
            )
            assert store.payload_of(record).config == record.config_json
            assert TenantRecord(*record._column_values(), record.tenant_config) == record
            assert record.compressed() == record
            assert record.compressed().config_json == record.config_json
            # A repr names the record, never dumps its document (logs, asyncio reprs).
            assert len(repr(record)) < 400 and "destinations" not in repr(record)


@pytest.mark.parametrize("workers", [1, 2])
def test_records_cost_about_their_json_text_in_memory(project, workers):
    # 100,000 tenants must fit: a record may not hold the parsed document (a 3 KB
    # file is ~16 KB of dicts and strings), only its JSON text, and the parent
    # process never keeps documents or node graphs, only finished results. (Measured:
    # 1.7-1.9x the JSON text, the rest being paths, secret references, results.)
    settings = Settings(project)
    pipeline.load_tenants(settings, workers=workers)  # imports, caches, compiled schema
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        load = pipeline.load_tenants(settings, workers=workers)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    text = sum(len(r.config_json) for r in load.records)
    assert held < 2.5 * text, (held, text)  # the parsed documents would be 5x


def test_the_cli_over_the_pool_plans_and_imports_like_one_process(
    project, serial, migrated_database_url, run_cli
):
    # More than POOL_MIN_FILES files: `python -m tenant_migrator` uses the pool.
    assert len(serial.results) > pipeline.POOL_MIN_FILES
    settings = Settings(project, migrated_database_url)
    expected = asyncio.run(store.plan(settings, serial, None))
    base = ("--project-dir", project, "--database-url", migrated_database_url)
    planned = run_cli(*base, "plan", "--format", "json")
    assert planned.returncode == 1, planned.stderr  # the invalid files
    got = json.loads(planned.stdout)
    # The reviewed plan's checks (file hashes, target) are the CLI's own addition.
    assert "review" in got
    del got["review"]
    assert got == plan_report.to_json(expected)
    valid = len(serial.records)
    assert json.loads(planned.stdout)["summary"]["create"] == valid

    imported = run_cli(*base, "import", "--skip-invalid")
    assert imported.returncode == 1, imported.stderr  # skipped tenants
    again = run_cli(*base, "plan", "--format", "json")
    summary = json.loads(again.stdout)["summary"]
    assert summary["unchanged"] == valid and summary["create"] == 0, summary


def test_validate_over_the_pool_reports_like_one_process(project, serial, run_cli):
    from tenant_migrator.report import validation as validation_report

    result = run_cli("--project-dir", project, "validate", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["summary"] == validation_report.summary(serial)
    expected = json.loads(validation_report.render_json(serial))
    assert report == expected


def test_results_do_not_depend_on_batch_size(project, serial, monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_FILES", 7)
    _assert_same(pipeline.load_tenants(Settings(project), workers=3), serial)
    assert dataclasses.replace(serial) == serial


@pytest.mark.timeout(60)
def test_a_worker_that_dies_fails_the_run_instead_of_hanging_it(project, monkeypatch):
    import os

    real = pipeline.process_client_file

    def dies_on_planted(client_file, *args, **kwargs):
        if client_file.tenant_id == "planted":
            os._exit(9)  # as if killed by the kernel's OOM killer
        return real(client_file, *args, **kwargs)

    # Forked workers inherit the patched function.
    monkeypatch.setattr(pipeline, "process_client_file", dies_on_planted)
    with pytest.raises(MigratorError, match="worker process loading the client files died"):
        pipeline.load_tenants(Settings(project), workers=2)
