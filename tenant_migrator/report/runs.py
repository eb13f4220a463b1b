"""What runs did: the import/sync report, the run history table, the rollback report.

The trees of changes are the plan's (``report.plan``), so an import shows a tenant
as its plan did.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tenant_migrator.outcomes import WRITTEN_LINES_UP_TO
from tenant_migrator.planning import Action
from tenant_migrator.report.plan import _changes_tree, _note, _tenant_tree, relative_problem

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from tenant_migrator.outcomes import ImportOutcome, RollbackOutcome, RunInfo


def render_import(
    outcome: ImportOutcome, console: Console, project_dir: Path | None = None
) -> None:
    """What an import or sync did: the tenants written, skipped, orphaned, then a
    one-screen summary."""
    from rich.text import Text

    plan = outcome.plan
    if len(outcome.written) <= WRITTEN_LINES_UP_TO:
        by_id = {t.id: t for t in plan.tenants}
        for tenant_id, action in sorted(outcome.written.items()):
            tenant = by_id.get(tenant_id)
            if action == "create":
                console.print(Text(f"+ {tenant_id}  created", style="green"))
            elif tenant is not None:
                console.print(_tenant_tree(tenant, project_dir))
    for tenant in plan.by_action(Action.INVALID):
        line = Text(f"✗ {tenant.id}  skipped (invalid)", style="bold red")
        console.print(line)
        for problem in tenant.errors:
            shown = relative_problem(problem, project_dir).format()
            console.print(Text(f"    {shown}", style="red"))
    for tenant in plan.by_action(Action.BLOCKED):
        if tenant.left_alone:
            console.print(Text(f"! {tenant.id}  left as it is: {_note(tenant)}", style="magenta"))
    for tenant in plan.by_action(Action.ORPHANED):
        console.print(_tenant_tree(tenant))
    from tenant_migrator.report.audit import render_scrubbed

    render_scrubbed(outcome.scrubbed, console, "history keeps")
    console.print()
    console.print(import_summary(outcome))


def import_summary(outcome: ImportOutcome) -> Table:
    from rich.table import Table
    from rich.text import Text

    plan = outcome.plan
    counts = plan.summary()
    if outcome.run_id is not None:
        title = f"Run {outcome.run_id} committed in {outcome.duration_s:.2f} s"
    else:
        title = f"Nothing to write; no run recorded ({outcome.duration_s:.2f} s)"
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    forced = [t.id for t in plan.tenants if t.forced and t.id in outcome.written]
    skipped = list(outcome.skipped)
    orphans = plan.by_action(Action.ORPHANED)
    table.add_row("created", str(outcome.count("create")), "")
    table.add_row(
        "updated",
        str(outcome.count("update")),
        f"overwrote database edits (--force): {', '.join(forced)}" if forced else "",
    )
    table.add_row("unchanged", str(counts["unchanged"]), "not written")
    table.add_row(
        Text("skipped", style="bold red" if skipped else "bold"),
        str(len(skipped)),
        f"invalid: {', '.join(skipped)}" if skipped else "",
    )
    if outcome.left_alone:
        table.add_row(
            Text("left alone", style="bold magenta"),
            str(len(outcome.left_alone)),
            "the database's rows (owned by it, or deleted there), --force overwrites: "
            + ", ".join(outcome.left_alone),
        )
    if orphans:
        loud = [t.id for t in orphans if t.missing_yaml]
        table.add_row(
            Text("orphaned", style="bold red" if loud else "bold"),
            str(len(orphans)),
            f"config_source 'yaml' without a file: {', '.join(loud)}" if loud else "never deleted",
        )
    table.add_row(
        "secrets → ${ENV}", str(plan.secrets_referenced), "literals turned into references"
    )
    if outcome.migrations_applied:
        table.add_row(
            "migrations",
            str(len(outcome.migrations_applied)),
            ", ".join(outcome.migrations_applied),
        )
    return table


def render_history(runs: Sequence[RunInfo], console: Console, tenant: str | None = None) -> None:
    """A table when it fits the width; else one plain line per run (an 80-column
    terminal would break the table's cells mid-word)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", padding=(0, 2), pad_edge=False)
    for column in ("run", "command", "started", "took", "by", "tenants", "what"):
        table.add_column(
            column,
            justify="right" if column in ("run", "tenants") else "left",
            no_wrap=column not in ("by", "what"),
        )
    rows = [_history_row(run, tenant) for run in runs]
    for run, row in zip(runs, rows, strict=True):
        table.add_row(*row[:-1], Text(row[-1], style="yellow" if _loud(run) else ""))
    if _fits(console, rows):
        console.print(table)
        return
    for run, (run_id, command, started, took, who, tenants, what) in zip(runs, rows, strict=True):
        line = Text(f"run {run_id}", style="bold")
        line.append(f"  {command}  {started}  {took}  by {who}  {tenants} tenant(s)  ")
        line.append(what, style="yellow" if _loud(run) else "")
        console.print(line)


def no_runs(tenant: str | None, known: Sequence[str]) -> str:
    """Why ``history [TENANT]`` lists nothing; a tenant id that is no client
    directory gets the close ones ("did you mean")."""
    if tenant is None:
        return "no runs yet"
    if tenant in known:
        return f"no runs wrote {tenant} yet"
    import difflib

    close = difflib.get_close_matches(tenant, known, n=3)
    if close:
        return (
            f"no runs wrote {tenant} (no such client directory); did you mean {', '.join(close)}?"
        )
    return f"no runs wrote {tenant} (no such client directory under clients/)"


def _history_row(run: RunInfo, tenant: str | None) -> tuple[str, ...]:
    took = (run.finished_at - run.started_at).total_seconds()
    who = run.db_user + (f" ({run.os_user}@{run.hostname})" if run.os_user else "")
    return (
        str(run.id),
        run.command,
        f"{run.started_at.astimezone():%Y-%m-%d %H:%M:%S}",
        f"{took:.2f} s",
        who,
        str(run.tenants),
        _run_what(run, tenant),
    )


def _loud(run: RunInfo) -> bool:
    return bool(run.forced or run.rolled_back_by)


def _fits(console: Console, rows: Sequence[tuple[str, ...]]) -> bool:
    """Every cell on one line: the widest value of each column, plus the padding."""
    headers = ("run", "command", "started", "took", "by", "tenants", "what")
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    return sum(widths) + 2 * (len(widths) - 1) <= console.width


def _run_what(run: RunInfo, tenant: str | None) -> str:
    s = run.summary
    parts = []
    if tenant is not None and run.tenant_action:
        parts.append(f"{tenant}: {run.tenant_action}")
    if run.command == "rollback":
        parts.append(
            f"rolled back run {run.rollback_of}: {s.get('restored', 0)} restored, "
            f"{s.get('deleted', 0)} deleted, {s.get('recreated', 0)} recreated"
        )
    else:
        parts.append(f"{s.get('created', 0)} created, {s.get('updated', 0)} updated")
        if s.get("skipped"):
            parts.append(f"{len(s['skipped'])} skipped")
    if run.forced:
        parts.append("forced")
    if run.rolled_back_by:
        parts.append("rolled back by run " + ", ".join(map(str, run.rolled_back_by)))
    return "; ".join(parts)


def render_rollback(outcome: RollbackOutcome, console: Console) -> None:
    from rich.text import Text
    from rich.tree import Tree

    signs = {"restore": ("~", "yellow"), "delete": ("-", "red"), "recreate": ("+", "green")}
    for entry in outcome.entries:
        sign, style = signs[entry.action]
        head = Text(f"{sign} {entry.tenant_id}  {entry.action}", style=f"bold {style}")
        if entry.changed_since:
            head.append(f" — changed since: {entry.changed_since}", style="magenta")
        tree = Tree(head, guide_style="dim")
        if entry.action == "restore":
            # Both sides come from the database here (current row, previous values).
            _changes_tree(tree, entry.changes, new_from_record=False)
        console.print(tree)
    from tenant_migrator.report.audit import render_scrubbed

    render_scrubbed(outcome.scrubbed, console, "the rollback restores (and records)")
    console.print()
    if outcome.dry_run:
        console.print(
            Text(f"Dry run: rolling back run {outcome.run_id} would do the above.", style="bold")
        )
    else:
        console.print(
            Text(
                f"Rolled back run {outcome.run_id} as run {outcome.new_run_id} "
                f"({len(outcome.entries)} tenant(s)).",
                style="bold",
            )
        )
