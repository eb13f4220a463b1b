"""Literal secrets found in the database, reported: ``audit``'s table (text) or the
JSON shape documented in ``tenant_migrator.audit``, and the lines an import or a
rollback prints for the literals it kept out of history. Never a value: findings
carry none."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from tenant_migrator.audit import AuditResult
    from tenant_migrator.literal_scan import LiteralFinding


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


def render_scrubbed(findings: Sequence[LiteralFinding], console: Console, kept: str) -> None:
    """The literal secrets found in the database and never stored again: tenant,
    path, kind and what was stored instead; never a value. ``kept``: where."""
    from rich.text import Text

    if not findings:
        return
    console.print(
        Text(
            f"! {len(findings)} literal secret(s) found in the database's values; {kept} "
            "their ${ENV} references instead. Rotate each of these secrets: it was "
            "stored in plain text.",
            style="bold red",
        )
    )
    for f in findings:
        becomes = f.becomes or "nothing (the field is dropped)"
        console.print(Text(f"    {f.tenant}  {f.path}  ({f.kind}) → {becomes}", style="red"))
