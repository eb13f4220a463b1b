"""The two reference programs every benchmark figure is divided by.

Each runs as its own process (``python benchmarks/references.py floor|naive ...``)
so it is timed exactly like the tool's commands: interpreter start-up, imports,
connecting, the work, exit. Each prints one JSON object on stdout with its own
breakdown and row counts, so the harness can check it really did the work.

* ``floor`` — what no correct tool can beat on this machine: read and parse the
  same files with PyYAML's C loader over all cores (a process pool over batches of
  paths), build the final rows, and ``COPY`` them into a temp table while the
  workers keep parsing. No validation, no secrets, no diff: a tool that must do
  those too can only be slower.
* ``naive`` — how the platform's old script worked: one file after another,
  ``yaml.safe_load`` (pure-Python loader), ``jsonschema.validate(doc, schema)``
  (re-checks the schema on every call), and one ``INSERT … ON CONFLICT`` round
  trip per row, each its own transaction (the old script had none).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import asyncpg
import yaml

BATCH = 200

# The row the import writes (see tenant_migrator/record.py), in COPY column order.
COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "short_name",
    "timezone",
    "currency",
    "primary_email",
    "gcp_project_id",
    "gcp_dataset",
    "tenant_config",
    "config_source",
    "admin_email",
    "support_email",
)
_TABLE_COLUMNS = """
    id VARCHAR(50) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    short_name VARCHAR(50),
    timezone VARCHAR(50),
    currency VARCHAR(10),
    primary_email VARCHAR(255),
    gcp_project_id VARCHAR(100),
    gcp_dataset VARCHAR(100),
    tenant_config JSONB DEFAULT '{}'::jsonb,
    config_source VARCHAR(20),
    admin_email VARCHAR(255),
    support_email VARCHAR(255),
    updated_at TIMESTAMPTZ DEFAULT now()
"""


def client_files(project_dir: Path) -> list[tuple[str, str]]:
    """(tenant id, path) for every clients/<id>/client.yaml, sorted by id."""
    clients = project_dir / "clients"
    out = []
    with os.scandir(clients) as entries:
        for entry in entries:
            path = os.path.join(entry.path, "client.yaml")
            if entry.is_dir() and not entry.name.startswith((".", "_")) and os.path.exists(path):
                out.append((entry.name, path))
    out.sort()
    return out


def _get(doc: dict[str, Any], *keys: str) -> Any:
    node: Any = doc
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def row(tenant_id: str, doc: dict[str, Any]) -> tuple[Any, ...]:
    config = {k: v for k, v in doc.items() if k != "client"}
    email = _get(doc, "email", "primary")
    return (
        tenant_id,
        _get(doc, "client", "name") or tenant_id,
        _get(doc, "client", "short_name"),
        _get(doc, "client", "timezone"),
        _get(doc, "client", "currency"),
        email,
        _get(doc, "infrastructure", "gcp", "project_id"),
        _get(doc, "infrastructure", "gcp", "dataset"),
        json.dumps(config, ensure_ascii=False, separators=(",", ":"), default=str),
        "database",
        email,
        email,
    )


# --- the floor ---------------------------------------------------------------------------


def _parse_batch(batch: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
    rows = []
    for tenant_id, path in batch:
        with open(path, "rb") as f:
            doc = yaml.load(f.read(), Loader=yaml.CSafeLoader)
        rows.append(row(tenant_id, doc))
    return rows


def _batches(files: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    for i in range(0, len(files), BATCH):
        yield files[i : i + BATCH]


async def _floor(project_dir: Path, url: str, workers: int) -> dict[str, Any]:
    started = time.perf_counter()
    files = client_files(project_dir)
    # Fork the workers before any socket or event-loop state exists.
    with Pool(workers) as pool:
        results = pool.imap_unordered(_parse_batch, _batches(files))
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"CREATE TEMP TABLE floor_rows ({_TABLE_COLUMNS})")
            loop = asyncio.get_running_loop()
            first_batch_at: list[float] = []

            async def records():
                while True:
                    # The pool's iterator blocks; wait for it off the event loop so
                    # the COPY keeps streaming while the workers parse.
                    batch = await loop.run_in_executor(None, next, results, None)
                    if batch is None:
                        return
                    if not first_batch_at:
                        first_batch_at.append(time.perf_counter())
                    for r in batch:
                        yield r

            status = await conn.copy_records_to_table(
                "floor_rows", records=records(), columns=COLUMNS
            )
            copied = await conn.fetchval("SELECT count(*) FROM floor_rows")
        finally:
            await conn.close()
    return {
        "reference": "floor",
        "files": len(files),
        "rows": copied,
        "copy_status": status,
        "workers": workers,
        "first_batch_s": round(first_batch_at[0] - started, 4) if first_batch_at else None,
        "work_s": round(time.perf_counter() - started, 4),
    }


# --- the naive peer ----------------------------------------------------------------------

_UPSERT = f"""
INSERT INTO naive_tenants ({", ".join(COLUMNS)})
VALUES ({", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))})
ON CONFLICT (id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:10])}, updated_at = now()
"""


async def _naive(project_dir: Path, url: str, schema_path: Path, limit: int | None) -> dict:
    import jsonschema

    started = time.perf_counter()
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    files = client_files(project_dir)
    todo = files[:limit] if limit else files
    conn = await asyncpg.connect(url)
    invalid = 0
    load_s = validate_s = write_s = 0.0
    try:
        await conn.execute(
            f"DROP TABLE IF EXISTS naive_tenants; CREATE TABLE naive_tenants ({_TABLE_COLUMNS});"
            " CREATE INDEX naive_tenants_config_gin ON naive_tenants USING gin (tenant_config);"
        )
        for tenant_id, path in todo:
            t0 = time.perf_counter()
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
            t1 = time.perf_counter()
            try:
                jsonschema.validate(doc, schema)
            except jsonschema.ValidationError:
                invalid += 1
                continue
            finally:
                t2 = time.perf_counter()
                load_s += t1 - t0
                validate_s += t2 - t1
            await conn.execute(_UPSERT, *row(tenant_id, doc))
            write_s += time.perf_counter() - t2
        rows = await conn.fetchval("SELECT count(*) FROM naive_tenants")
    finally:
        await conn.close()
    done = max(len(todo), 1)
    return {
        "reference": "naive",
        "files": len(files),
        "processed": len(todo),
        "rows": rows,
        "invalid": invalid,
        "load_ms_per_doc": round(load_s / done * 1000, 3),
        "validate_ms_per_doc": round(validate_s / done * 1000, 3),
        "write_ms_per_row": round(write_s / max(len(todo) - invalid, 1) * 1000, 3),
        "work_s": round(time.perf_counter() - started, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="reference", required=True)
    floor = sub.add_parser("floor", help="C loader over all cores + COPY into a temp table")
    floor.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    naive = sub.add_parser("naive", help="safe_load + jsonschema.validate + one upsert per row")
    naive.add_argument("--schema", type=Path, required=True)
    naive.add_argument("--limit", type=int, help="only the first N files (for --large runs)")
    for p in (floor, naive):
        p.add_argument("--project-dir", type=Path, required=True)
        p.add_argument("--database-url", required=True)
    args = parser.parse_args(argv)
    if args.reference == "floor":
        result = asyncio.run(_floor(args.project_dir, args.database_url, args.workers))
    else:
        result = asyncio.run(_naive(args.project_dir, args.database_url, args.schema, args.limit))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
