"""``migrations.LockedTransaction``: BEGIN and the advisory lock in one round trip
must still be a transaction holding the lock, committed with its tail, rolled back
on any error (import, sync and migrate run in it)."""

from __future__ import annotations

import asyncio

import pytest

from tenant_migrator import database, migrations

TRY_LOCK_SQL = f"SELECT pg_try_advisory_xact_lock({migrations.ADVISORY_LOCK_KEY})"


async def _other_gets_lock(url: str) -> bool:
    async with database.connection(url) as other, other.transaction():
        return await other.fetchval(TRY_LOCK_SQL)


def test_it_holds_the_lock_until_commit_and_commits_its_tail(database_url, pg):
    async def go() -> tuple[bool, bool]:
        async with database.connection(database_url) as conn:
            async with migrations.LockedTransaction(conn) as tx:
                await conn.execute("CREATE TABLE t (x int)")
                held = not await _other_gets_lock(database_url)
                tx.commit_with("INSERT INTO t VALUES (1)")
            return held, await _other_gets_lock(database_url)

    held, free_after = asyncio.run(go())
    assert held and free_after
    assert pg.fetchval(database_url, "SELECT x FROM t") == 1


@pytest.mark.parametrize("where", ["body", "tail"])
def test_an_error_in_the_body_or_the_tail_rolls_everything_back(database_url, pg, where):
    async def go() -> None:
        async with database.connection(database_url) as conn:
            with pytest.raises(Exception, match=r"boom|division by zero"):
                async with migrations.LockedTransaction(conn) as tx:
                    await conn.execute("CREATE TABLE t (x int)")
                    if where == "body":
                        raise RuntimeError("boom")
                    tx.commit_with("SELECT 1 / 0")
            assert not conn.is_in_transaction()

    asyncio.run(go())
    assert pg.fetchval(database_url, "SELECT to_regclass('t') IS NULL")
