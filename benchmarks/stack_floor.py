"""What the tool's libraries cost before the tool does anything: two stack floors.

``sync_one`` (≤ 0.5 s) and ``help`` (≤ 0.25 s) are absolute budgets, so unlike the
ratios they move with the machine: on a core three times slower than a laptop's,
``import typer`` alone takes a quarter of the help budget. These two programs give
the figure no tool built on the same stack can beat on the machine in hand, timed
exactly like the tool (a whole process, interpreter start-up included):

* ``help`` — a Typer app with one command, rendering its ``--help`` with Rich (the
  tool's renderer; Typer imports Rich for it).
* ``sync`` — the tool's libraries (Typer, Rich, asyncio, asyncpg, PyYAML's C
  loader) doing the least a one-tenant re-sync must: parse one client file and
  serialise it, connect, and in one transaction read the tenant's row ``FOR UPDATE``
  and write it back, then print one line. No validation, no secrets, no plan, no
  history, no migration check. The row is written back as it is, not with the
  parsed file: a generated file may hold (fake) literal secrets, and those never go
  into a database; the write costs the server the same.

Run by ``run.py`` beside the tool's ``sync_one`` and ``help`` steps; by hand:
``python benchmarks/stack_floor.py sync --project-dir P --database-url U --tenant T``.
Each prints one JSON object on stdout (``rows``: what it wrote), like references.py.
"""

from __future__ import annotations

import sys


def _help() -> int:
    import typer

    app = typer.Typer(rich_markup_mode="rich", add_completion=False)

    @app.command()
    def sync(tenant: str = typer.Argument(..., help="The tenant.")) -> None:
        """Re-import one tenant."""

    @app.command()
    def plan() -> None:
        """Show what an import would change."""

    app(["--help"], prog_name="stack-floor")  # prints and exits 0, as the tool does
    return 0


def _sync(argv: list[str]) -> int:
    import argparse
    import asyncio
    import json
    from pathlib import Path

    import asyncpg
    import rich.console
    import typer  # noqa: F401  (the tool's CLI imports it for every command)
    import yaml

    parser = argparse.ArgumentParser()
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--tenant", required=True)
    args = parser.parse_args(argv)
    path = args.project_dir / "clients" / args.tenant / "client.yaml"
    doc = yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
    json.dumps({k: v for k, v in doc.items() if k != "client"}, default=str)

    async def write() -> str:
        conn = await asyncpg.connect(args.database_url, statement_cache_size=0)
        try:
            async with conn.transaction():
                await conn.fetchrow("SELECT * FROM tenants WHERE id = $1 FOR UPDATE", args.tenant)
                return await conn.execute(
                    "UPDATE tenants SET tenant_config = tenant_config, updated_at = now()"
                    " WHERE id = $1",
                    args.tenant,
                )
        finally:
            await conn.close()

    status = asyncio.run(write())
    rich.console.Console(stderr=True).print(f"synced {args.tenant}")
    rows = int(status.split()[-1])
    sys.stdout.write(json.dumps({"reference": "stack_floor_sync", "rows": rows}) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["help"]:
        return _help()
    if argv[:1] == ["sync"]:
        return _sync(argv[1:])
    sys.stderr.write(
        "usage: stack_floor.py help | sync --project-dir P --database-url U --tenant T\n"
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
