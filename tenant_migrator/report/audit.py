"""The ``audit`` report: a table of findings (text) or the JSON shape documented in
``tenant_migrator.audit``. Never a value: findings carry none."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from tenant_migrator.audit import AuditResult


def render_json(result: AuditResult) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


def render_text(result: AuditResult, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    scanned = f"{result.tenants} tenant row(s)"
    if result.history_scanned:
        scanned += f" and {result.history_rows} history row(s)"
    else:
        scanned += " (no run history yet: migration 013 is not applied)"
    if result.ok:
        console.print(Text(f"No literal secret in {scanned}.", style="bold green"))
        return
    table = Table(box=None, header_style="bold", padding=(0, 2), pad_edge=False)
    for column in ("tenant", "table", "run", "path", "kind"):
        table.add_column(column)
    for f in result.findings:
        run = "" if f.run_id is None else str(f.run_id)
        table.add_row(f.tenant, f.table, run, f.path, f.kind)
    console.print(table)
    console.print()
    console.print(
        Text(
            f"{len(result.findings)} literal secret(s) in {scanned}. Rotate each of them: "
            "it was stored in plain text. A literal in tenants goes when the tenant is "
            "imported from its client file (its history then keeps the ${ENV} reference); "
            "one in an old history row stays there, and rollback never restores it.",
            style="bold red",
        )
    )
