"""``audit``: literal secrets anywhere the database holds tenant configuration.

Scans every ``tenants`` row (each column, and ``tenant_config`` with the schema's
``x-secret`` rules, key names and shapes: what extraction applies to client
files) and, once migration 013 exists, every history row of ours (the values a
run replaced, ``previous``, and what it wrote, ``written``). Reports tenant, table,
run, JSON path and kind, never a value. One read-only transaction; rows are read
through a cursor, so memory does not grow with the table.

JSON shape (``FORMAT_VERSION`` 1; keys are only ever added)::

    {"format_version": 1, "ok": bool,
     "summary": {"tenants": int, "history_rows": int, "history_scanned": bool,
                 "findings": int},
     "findings": [{"tenant", "table", "run_id", "path", "kind"}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenant_migrator import literal_scan, store

if TYPE_CHECKING:
    from tenant_migrator.secretrefs import SecretRule
    from tenant_migrator.settings import Settings

FORMAT_VERSION = 1
HISTORY_TABLE = store.RUN_TENANTS

SCAN_TENANTS_SQL = f"SELECT t.id, to_jsonb(t)::text AS row FROM {store.TENANTS} t ORDER BY t.id"
SCAN_HISTORY_SQL = f"""
    SELECT h.run_id, h.tenant_id, h.previous::text AS previous, h.written::text AS written
    FROM {store.RUN_TENANTS} h
    ORDER BY h.run_id, h.tenant_id
    """
# Rows fetched per round trip by the cursors.
_PREFETCH = 200


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One literal secret: whose, which table (and run, for history), where, why."""

    tenant: str
    table: str
    run_id: int | None
    path: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "table": self.table,
            "run_id": self.run_id,
            "path": self.path,
            "kind": self.kind,
        }


@dataclass(frozen=True, slots=True)
class AuditResult:
    findings: tuple[AuditFinding, ...]
    tenants: int  # rows of tenants scanned
    history_rows: int  # rows of our history scanned
    history_scanned: bool  # False before migration 013 (nothing of ours to scan)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "ok": self.ok,
            "summary": {
                "tenants": self.tenants,
                "history_rows": self.history_rows,
                "history_scanned": self.history_scanned,
                "findings": len(self.findings),
            },
            "findings": [f.to_json() for f in self.findings],
        }


async def audit(settings: Settings) -> AuditResult:
    """Scan ``tenants`` (and our history, when it exists) in one read-only transaction."""
    rules = literal_scan.project_rules(settings)
    findings: list[AuditFinding] = []
    tenants = history_rows = 0
    async with (
        store.connected(settings) as (conn, _),
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        schema = await store.read_schema(conn)
        if schema.tenants:
            async for r in conn.cursor(SCAN_TENANTS_SQL, prefetch=_PREFETCH):
                tenants += 1
                findings += _scan(json.loads(r["row"]), r["id"], rules, store.TENANTS, None, "")
        if schema.history:
            async for r in conn.cursor(SCAN_HISTORY_SQL, prefetch=_PREFETCH):
                history_rows += 1
                for column in ("previous", "written"):
                    if r[column] is not None:
                        row = json.loads(r[column])
                        where = (r["tenant_id"], rules, HISTORY_TABLE, r["run_id"], f"/{column}")
                        findings += _scan(row, *where)
    return AuditResult(tuple(findings), tenants, history_rows, schema.history)


def _scan(
    row: Any,
    tenant_id: str,
    rules: Mapping[str, SecretRule],
    table: str,
    run_id: int | None,
    prefix: str,
) -> list[AuditFinding]:
    if not isinstance(row, dict):
        return []
    scrubbed = literal_scan.scrub_row(row, tenant_id, rules)
    return [
        AuditFinding(tenant_id, table, run_id, prefix + f.path, f.kind) for f in scrubbed.findings
    ]
