"""Round trips per command against a remote database, counted by protocol.

Each command runs as a process (connection included) through
``benchmarks/latency_proxy.py`` with no delay: the proxy counts the times the
client sent something and then waited for the server (a simple query, a Sync, a
Flush, the end of a COPY), from the client's byte stream, so no timing can change
the count and a regression fails here without any clock. The targets are
issue 14's (trust authentication, no TLS: SCRAM and TLS add a fixed handful).

The proxy listens on TCP and forwards to the test server however it listens:
the embedded server's Unix socket (its only listener) or TEST_DATABASE_URL's
host and port, so this runs in both CI runs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from importhelpers import bench_generate, bench_module

REPO = Path(__file__).resolve().parent.parent
N = 150  # a small import: one pool-less run of two batches
IMPORT_NEW_AT_MOST = 30
PLAN_NOTHING_TO_DO_AT_MOST = 10
SYNC_AT_MOST = 8
NOTHING_TO_DO_AT_MOST = 8

generate = bench_generate()
latency_proxy = bench_module("latency_proxy")


@pytest.fixture
def proxy(server_url) -> Iterator:
    with latency_proxy.ProxyThread(latency_proxy.upstream_of(server_url)) as running:
        yield running


def make_project(root: Path, count: int) -> Path:
    generate.generate(root, count, seed=3)
    shutil.copytree(REPO / "config", root / "config")
    return root


@pytest.fixture
def counted(proxy, run_cli):
    """``counted(project, url, *args)``: run the command through the proxy; its
    round trips (and the trace, on failure)."""

    def run(project: Path, url: str, *args: str) -> list:
        proxy.take()
        result = run_cli("--project-dir", project, "--database-url", proxy.url(url), *args)
        assert result.returncode == 0, result.output
        return proxy.take()

    return run


def trace(trips: list) -> str:
    return "\n".join(t.describe() for t in trips)


def test_an_import_of_new_tenants_takes_a_few_round_trips_however_many_tenants(
    tmp_path, migrated_database_url, reference_database_url, counted
):
    small = counted(make_project(tmp_path / "n", N), migrated_database_url, "import")
    double = counted(make_project(tmp_path / "2n", 2 * N), reference_database_url, "import")
    assert len(small) <= IMPORT_NEW_AT_MOST, trace(small)
    assert len(double) <= IMPORT_NEW_AT_MOST, trace(double)
    # Twice the tenants: the same statements, not twice as many (a write per batch,
    # or a COPY per batch, would add one per 100 tenants).
    assert len(double) - len(small) <= 2, f"{trace(small)}\n---\n{trace(double)}"


def test_import_and_plan_with_nothing_to_do_take_a_few_round_trips(
    tmp_path, migrated_database_url, counted
):
    project = make_project(tmp_path / "p", N)
    counted(project, migrated_database_url, "import")
    again = counted(project, migrated_database_url, "import")
    planned = counted(project, migrated_database_url, "plan")
    migrated = counted(project, migrated_database_url, "migrate")
    assert len(again) <= NOTHING_TO_DO_AT_MOST, trace(again)
    assert len(planned) <= PLAN_NOTHING_TO_DO_AT_MOST, trace(planned)
    assert len(migrated) <= NOTHING_TO_DO_AT_MOST, trace(migrated)


def test_a_plan_with_changes_compares_only_those_at_one_round_trip_more(
    tmp_path, migrated_database_url, counted
):
    """The untouched-row check (store.rows.untouched_sql) answers for every
    tenant in one statement; only the changed ones then go whole, in a second."""
    project = make_project(tmp_path / "p", N)
    counted(project, migrated_database_url, "import")
    nothing = counted(project, migrated_database_url, "plan")
    generate.change_files(project, N, 3 / N, seed=3)
    changed = counted(project, migrated_database_url, "plan")
    assert len(changed) == len(nothing) + 1, f"{trace(nothing)}\n---\n{trace(changed)}"


@pytest.fixture
def counted_in_process(proxy, cli):
    """As ``counted``, with the CLI run in this process (so a test can patch a
    module constant): its round trips and its output."""

    def run(project: Path, url: str, *args: str) -> tuple[list, str]:
        proxy.take()
        result = cli("--project-dir", project, "--database-url", proxy.url(url), *args)
        assert result.returncode == 0, result.output
        return proxy.take(), result.stdout

    return run


@pytest.mark.parametrize("command", ["import", "plan"])
def test_the_orphans_come_with_the_last_comparison_read_however_many_reads(
    tmp_path, migrated_database_url, counted_in_process, monkeypatch, command
):
    """With more tenants than one read takes (``READ_AT_ONCE``, 5,000: at 10,000
    two reads), the orphan check costs no round trip of its own, also when the
    last batch fills a read exactly (that read then waits for the end). Here
    reads of 50: the first batch of 100 is one read, the last 50 a second one
    that brings the orphans. A row whose file is gone shows they were read."""
    from tenant_migrator import pipeline, streaming

    assert N == pipeline.BATCH_FILES + 50
    project = make_project(tmp_path / "p", N + 1)
    counted_in_process(project, migrated_database_url, "import")
    shutil.rmtree(max((project / "clients").iterdir()))  # N files left, N + 1 rows
    args = (command, "--format", "json")
    one_read, one_out = counted_in_process(project, migrated_database_url, *args)
    monkeypatch.setattr(streaming, "READ_AT_ONCE", 50)
    two_reads, two_out = counted_in_process(project, migrated_database_url, *args)

    assert len(one_read) <= NOTHING_TO_DO_AT_MOST - 1, trace(one_read)
    assert len(two_reads) == len(one_read) + 1, f"{trace(one_read)}\n---\n{trace(two_reads)}"
    for out in (one_out, two_out):
        assert json.loads(out)["summary"]["orphaned"] == 1, out


@pytest.mark.parametrize("pooler", [False, True], ids=["direct", "transaction-pooler"])
def test_a_sync_of_one_changed_tenant_takes_at_most_eight_round_trips(
    tmp_path, migrated_database_url, counted, pg, pooler
):
    project = make_project(tmp_path / "p", N)
    counted(project, migrated_database_url, "import")
    (change,) = generate.change_files(project, N, 1 / N, seed=3)
    # pgbouncer=true: no prepared statement is kept (statement_cache_size=0), as
    # behind Supabase's transaction pooler; the count must not depend on it.
    url = migrated_database_url + ("&" if "?" in migrated_database_url else "?") + "pgbouncer=true"
    trips = counted(project, url if pooler else migrated_database_url, "sync", change.tenant_id)
    assert len(trips) <= SYNC_AT_MOST, trace(trips)
    # It did write: the row and a second run.
    assert (
        pg.fetchval(migrated_database_url, "SELECT count(*) FROM tenant_migrator.import_runs") == 2
    )


def test_the_proxy_counts_a_statement_prepared_then_run_as_two_round_trips(server_url, proxy):
    """The counter itself: a query with a parameter is a prepare and an execute; a
    simple query one; a second run of the prepared statement one more."""
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(proxy.url(server_url))
        try:
            await conn.execute("SELECT 1; SELECT 2")
            await conn.fetchval("SELECT $1::int", 1)
            await conn.fetchval("SELECT $1::int", 2)
        finally:
            await conn.close()

    proxy.take()
    asyncio.run(go())
    kinds = ["".join(t.sent) for t in proxy.take()]
    assert kinds == ["startup", "Q", "PDH", "BES", "BES"]
