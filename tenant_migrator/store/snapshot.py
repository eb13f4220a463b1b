"""One tenant's owned columns and tenant_config as stored, for ``export``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenant_migrator.errors import MigratorError, UsageError
from tenant_migrator.store.rows import read_rows
from tenant_migrator.store.schema import read_schema
from tenant_migrator.store.session import connected
from tenant_migrator.store.tables import TENANTS

if TYPE_CHECKING:
    from tenant_migrator.settings import Settings

ALL_IDS_SQL = f"SELECT id FROM {TENANTS}"


async def read_snapshot(settings: Settings, tenant_id: str) -> dict[str, Any]:
    """One tenant's owned columns and tenant_config, for export."""
    import difflib

    async with connected(settings) as (conn, _), conn.transaction(readonly=True):
        schema = await read_schema(conn)
        if not schema.complete:
            raise MigratorError(
                "the tenants table has no tenant_config yet (migration 012 is not applied); "
                "nothing to export"
            )
        rows, _states = await read_rows(conn, schema, [tenant_id])
        if tenant_id in rows:
            return dict(rows[tenant_id].snapshot)
        ids = [r["id"] for r in await conn.fetch(ALL_IDS_SQL)]
    close = difflib.get_close_matches(tenant_id, ids, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UsageError(f"no tenant {tenant_id!r} in the tenants table{hint}")
