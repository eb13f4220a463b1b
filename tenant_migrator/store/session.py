"""Connecting for the store's entry points: the target (the one the settings carry,
else resolved), server errors as one line, the migration files a run checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

    from tenant_migrator.migrations import Migration
    from tenant_migrator.settings import Settings, Target


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[tuple[asyncpg.Connection, Target]]:
    from tenant_migrator import database

    target = database.target_of(settings)
    async with database.connection(target) as conn, database_errors(target):
        yield conn, target


def database_errors(target: Target) -> AbstractAsyncContextManager[None]:
    """A server error as one clear line; the transaction was rolled back."""
    from tenant_migrator import database, interruption

    def outcome() -> str:
        said = interruption.outcome()
        if said == "nothing was written":
            return "nothing was written (the transaction was rolled back)"
        return said

    return database.server_errors(target, outcome=outcome)


def migration_files(settings: Settings) -> tuple[Migration, ...]:
    from tenant_migrator import migrations

    return migrations.load_project_migrations(settings.project_dir)
