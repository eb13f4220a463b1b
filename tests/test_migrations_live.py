"""Migrations on a live table: a reader left idle in a transaction holds a lock on
``tenants``; ``migrate`` gives up after its lock timeout (a few attempts) with a
message naming that session, applies nothing half-way, and meanwhile a new reader
waits at most about one lock timeout, not until the idle one ends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from conftest import cli_env
from migrationhelpers import apply, ledger, only

from tenant_migrator import database, migrations

WAITING_FOR_TENANTS = """
SELECT count(*) FROM pg_locks
WHERE relation = to_regclass('public.tenants') AND mode = 'AccessExclusiveLock' AND NOT granted
"""


def _cli(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tenant_migrator", "--database-url", url, *args],
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _with_idle_reader(url: str, *args: str) -> tuple[int, str, str, float, int]:
    """Run the CLI while a reader idles in a transaction on tenants; once the CLI waits
    for its lock, time a new reader. Returns (exit code, stdout, stderr, new reader's
    seconds, idle reader's pid)."""
    async with database.connection(url) as idle, database.connection(url) as probe:
        await idle.execute("BEGIN")
        await idle.execute("SELECT count(*) FROM tenants")
        idle_pid = await idle.fetchval("SELECT pg_backend_pid()")
        proc = _cli(url, *args)
        deadline = time.monotonic() + 60
        while not await probe.fetchval(WAITING_FOR_TENANTS):
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            await asyncio.sleep(0.01)
        # The migration's ACCESS EXCLUSIVE request is queued: a new reader queues
        # behind it until lock_timeout ends the request.
        async with database.connection(url) as reader:
            await reader.execute("SET statement_timeout = '20s'")
            started = time.monotonic()
            await reader.fetchval("SELECT count(*) FROM tenants")
            waited = time.monotonic() - started
        out, err = await asyncio.to_thread(proc.communicate, timeout=120)
        await idle.execute("ROLLBACK")
    return proc.returncode, out, err, waited, idle_pid


def test_migrate_gives_up_after_the_lock_timeout_naming_the_idle_session(pg, database_url):
    apply(database_url, only("011"))
    code, out, err, waited, idle_pid = asyncio.run(
        _with_idle_reader(database_url, "migrate", "--lock-timeout", "0.5")
    )
    assert code == 1, (out, err)
    assert "migration tenant_config: gave up after 3 attempts" in err
    assert "0.5 s (lock_timeout)" in err
    assert f"pid {idle_pid} (" in err and "idle in transaction" in err
    assert "Nothing of it was applied" in err and "Traceback" not in err
    # Nothing half-applied: no 012 column, no ledger entry, and 013 never started.
    columns = pg.fetchval(
        database_url,
        "SELECT array_agg(attname::text) FROM pg_attribute WHERE attrelid = 'tenants'::regclass",
    )
    assert "tenant_config" not in columns
    assert set(ledger(pg, database_url)) == {"tenants_registry"}
    assert waited < 5, waited  # about one lock timeout, not "until the idle reader ends"

    # Once the reader is gone, the same command goes through.
    assert _cli(database_url, "migrate").wait(timeout=120) == 0
    assert set(ledger(pg, database_url)) == set(migrations.TOOL_NAMES)


def test_import_that_migrates_first_honours_its_lock_timeout(pg, database_url, tmp_path):
    from importhelpers import make_project

    project = make_project(tmp_path / "project", planted=False)
    apply(database_url, only("011"))
    code, out, err, _, _ = asyncio.run(
        _with_idle_reader(
            database_url, "--project-dir", str(project), "import", "--lock-timeout", "0.3"
        )
    )
    assert code == 1, (out, err)
    assert "gave up after 3 attempts" in err and "0.3 s (lock_timeout)" in err
    assert pg.fetchval(database_url, "SELECT count(*) FROM tenants") == 0
