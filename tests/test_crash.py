"""Crash safety and concurrency: SIGKILL in the middle of the import transaction, and
two imports started at once. Deterministic: the test holds a lock the import needs,
waits (polling pg_locks) until the import's backend is blocked on it, then acts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
from conftest import cli_env
from importhelpers import (
    dump_database,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    read_client,
    tenants_rows,
    write_client,
)

from tenant_migrator import database, migrations

POLL_TIMEOUT_S = 60


class Session:
    """One database session held open across a test (asyncpg on a private loop)."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(database.connect(url))

    def execute(self, sql: str, *args):
        return self.loop.run_until_complete(self.conn.execute(sql, *args))

    def fetch(self, sql: str, *args):
        return self.loop.run_until_complete(self.conn.fetch(sql, *args))

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


@pytest.fixture
def session(migrated_database_url):
    opened: list[Session] = []

    def open_session() -> Session:
        opened.append(Session(migrated_database_url))
        return opened[-1]

    yield open_session
    for s in opened:
        s.close()


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


def start_cli(project, url, *args, **popen) -> subprocess.Popen:
    """``tenant-migrator --project-dir project --database-url url args``, its output
    piped as text (``popen``: more ``subprocess.Popen`` options, or other ones)."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **popen}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tenant_migrator",
            "--project-dir",
            str(project),
            "--database-url",
            url,
            *args,
        ],
        env=cli_env(),
        **options,
    )


def wait_until(condition, what: str):
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting until {what}")


def tool_backends_waiting(watcher: Session, relation: str | None) -> list:
    """PIDs of tenant-migrator backends waiting for a lock (on ``relation``, or an
    advisory lock when None)."""
    rows = watcher.fetch(
        """
        SELECT DISTINCT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND a.application_name = $1
          AND CASE WHEN $2::text IS NULL THEN l.locktype = 'advisory'
                   ELSE l.relation = to_regclass($2::text) END
        """,
        database.APPLICATION_NAME,
        relation,
    )
    return [r["pid"] for r in rows]


def test_sigkill_in_the_middle_of_the_transaction_leaves_everything_as_before(
    project, migrated_database_url, session, pg, run_cli
):
    url = migrated_database_url
    # A realistic "before": one import done, then files changed and one added.
    first = start_cli(project, url, "import", "africastay", "beachresorts", "example")
    assert first.wait() == 0, first.stderr.read()
    doc = read_client(project, "beachresorts")
    doc["branding"]["primary_color"] = "#010203"
    write_client(project, "beachresorts", doc)
    before = dump_database(pg, url)

    # Hold a lock that lets the import read and write the tenants but not record
    # its history: it blocks after its upsert, mid-transaction.
    holder = session()
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE tenant_migrator.import_run_tenants IN SHARE MODE")
    watcher = session()
    proc = start_cli(project, url, "import")
    try:
        (pid,) = wait_until(
            lambda: tool_backends_waiting(watcher, "tenant_migrator.import_run_tenants"),
            "the import waits on the history table",
        )
        # Its transaction has written the tenants already: it holds their write lock.
        held = watcher.fetch(
            "SELECT mode FROM pg_locks WHERE pid = $1 AND granted "
            "AND relation = to_regclass('tenants')",
            pid,
        )
        assert "RowExclusiveLock" in {r["mode"] for r in held}
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        holder.execute("ROLLBACK")
    # The orphaned backend notices its client is gone and aborts; wait until it has.
    wait_until(
        lambda: not watcher.fetch("SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid),
        "the killed import's backend is gone",
    )
    assert dump_database(pg, url) == before

    # Running again converges: the same end state as an import that never crashed.
    again = run_cli("--project-dir", project, "--database-url", url, "import")
    assert again.returncode == 0, again.output
    rows = tenants_rows(pg, url)
    assert (
        len(rows) == 6
        and rows["beachresorts"]["tenant_config"]["branding"]["primary_color"] == "#010203"
    )
    plan = run_cli("--project-dir", project, "--database-url", url, "plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout


def _comparable(pg, url):
    """Everything but the timestamps that depend on when a run happened."""
    rows = tenants_rows(pg, url)
    for row in rows.values():
        row.pop("created_at"), row.pop("updated_at")
    history = pg.fetch(
        url,
        "SELECT run_id, tenant_id, action, previous IS NULL AS created, new_hash, baseline_hash "
        "FROM tenant_migrator.import_run_tenants ORDER BY 1, 2",
    )
    runs = pg.fetch(url, "SELECT id, command FROM tenant_migrator.import_runs ORDER BY id")
    return rows, history, runs


def test_two_imports_started_at_once_serialize_and_end_as_one(
    project, migrated_database_url, database_url, session, pg, run_cli
):
    # The reference: one import alone, into another fresh database.
    alone = run_cli("--project-dir", project, "--database-url", database_url, "import")
    assert alone.returncode == 0, alone.output

    url = migrated_database_url
    holder = session()
    holder.execute("BEGIN")
    holder.execute("SELECT pg_advisory_xact_lock($1)", migrations.ADVISORY_LOCK_KEY)
    watcher = session()
    procs = [start_cli(project, url, "import") for _ in range(2)]
    try:
        # Both are started and queued behind the tool's lock before either runs.
        wait_until(lambda: len(tool_backends_waiting(watcher, None)) == 2, "both imports wait")
    finally:
        holder.execute("COMMIT")
    outputs = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [code for code, _, _ in outputs] == [0, 0], outputs
    committed = [out for _, out, _ in outputs if "Run 1 committed" in out]
    idle = [out for _, out, _ in outputs if "Nothing to write" in out]
    assert len(committed) == 1 and len(idle) == 1
    assert _comparable(pg, url) == _comparable(pg, database_url)
