"""The plan report: terminal view (Rich), JSON (a stable contract) and Markdown.

Every value shown comes from a record (secrets already turned into ``${ENV}``
references by the pipeline) or from the database; database values pass through
``redact`` too, because an admin may have pasted a key into a row by hand.

JSON shape (``FORMAT_VERSION`` 1; keys are only ever added; indented up to
``JSON_INDENT_UP_TO`` tenants, compact beyond)::

    {"format_version": 1,
     "summary": {"create", "update", "unchanged", "invalid", "blocked", "orphaned"},
     "pending_migrations": ["tenant_config", ...],
     "problems": [Problem.to_json(), ...],           # not tied to one tenant
     "tenants": [{"id", "action", "file",
                  "changes": [{"path", "op", "old", "new"}],   # RFC 6902
                  "errors": [...], "warnings": [...],          # Problem.to_json()
                  "drift": [{"path", "op", "old", "new"}],     # last import -> database
                  "drift_run", "forced", "missing_yaml",
                  "blocked_reason",                    # edited | database-owned | deleted | null
                  "secrets": [{"path", "env_var", "action"}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from tenant_migrator.planning import (
    Action,
    BlockedReason,
    Change,
    DocumentAdd,
    Op,
    Plan,
    TenantPlan,
    blocked_words,
    unescape,
)
from tenant_migrator.redaction import redact_change, short_value
from tenant_migrator.streaming import WRITTEN_LINES_UP_TO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    from tenant_migrator.store import RollbackOutcome, RunInfo
    from tenant_migrator.streaming import ImportOutcome

FORMAT_VERSION = 1

# With more tenants than this to create, the terminal view lists them one per
# line instead of a tree each: 10,000 trees help nobody (JSON has everything).
CREATE_TREES_UP_TO = 20
JSON_INDENT_UP_TO = 200

_OP_SIGN = {Op.ADD: "+", Op.REMOVE: "-", Op.REPLACE: "~"}
_OP_STYLE = {Op.ADD: "green", Op.REMOVE: "red", Op.REPLACE: "yellow"}
_ACTION_SIGN = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.UNCHANGED: "=",
    Action.INVALID: "✗",
    Action.BLOCKED: "!",
    Action.ORPHANED: "?",
}
_ACTION_STYLE = {
    Action.CREATE: "bold green",
    Action.UPDATE: "bold yellow",
    Action.UNCHANGED: "dim",
    Action.INVALID: "bold red",
    Action.BLOCKED: "bold magenta",
    Action.ORPHANED: "cyan",
}


# --- JSON -------------------------------------------------------------------------------


def to_json(plan: Plan, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``extra``: keys added before ``tenants`` (a reviewed plan's ``review``)."""
    return {
        "format_version": FORMAT_VERSION,
        "summary": plan.summary(),
        "pending_migrations": list(plan.pending_migrations),
        "problems": [p.to_json() for p in plan.problems],
        **(extra or {}),
        "tenants": [tenant_to_json(t) for t in plan.tenants],
    }


def tenant_to_json(tenant: TenantPlan, *, document: str | None = None) -> dict[str, Any]:
    """``document``: stand-in for a create's whole tenant_config (the JSON writer
    puts the record's JSON text there instead of decoding it)."""
    return {
        "id": tenant.id,
        "action": tenant.action.value,
        "file": str(tenant.path) if tenant.path else None,
        "changes": [_change_to_json(c, document) for c in tenant.changes],
        "errors": [p.to_json() for p in tenant.errors],
        "warnings": [p.to_json() for p in tenant.warnings],
        "drift": [redact_change(c).to_json() for c in tenant.drift],
        "drift_run": tenant.drift_run,
        "blocked_reason": tenant.blocked_reason.value if tenant.blocked_reason else None,
        "forced": tenant.forced,
        "missing_yaml": tenant.missing_yaml,
        "secrets": [
            {"path": s.json_path, "env_var": s.env_var, "action": s.action} for s in tenant.secrets
        ],
    }


def _change_to_json(change: Change, document: str | None) -> dict[str, Any]:
    if document is not None and isinstance(change, DocumentAdd):
        return {"path": change.path, "op": change.op.value, "old": None, "new": document}
    return redact_change(change, new_from_record=True).to_json()


def render_json(plan: Plan) -> str:
    import io

    buffer = io.StringIO()
    write_json(plan, buffer)
    return buffer.getvalue()


def write_json(plan: Plan, out: TextIO, extra: Mapping[str, Any] | None = None) -> None:
    """The JSON report written to ``out``; the same text as ``render_json``.

    Indented for people when small; compact when big, where indenting would
    switch json to its pure-Python encoder (seconds for 10,000 tenants). A big
    report goes out tenant by tenant (10,000 creates made one 52 MB string), and
    a create's document is the record's JSON text copied as is: in compact form
    ``json.dumps`` of the decoded document gives back exactly that text.
    """
    from secrets import token_hex

    if len(plan.tenants) <= JSON_INDENT_UP_TO:
        out.write(json.dumps(to_json(plan, extra), ensure_ascii=False, indent=2) + "\n")
        return
    # The summary counts every tenant, not the empty head plan's.
    head_data = to_json(Plan((), plan.pending_migrations, plan.problems), extra)
    head_data["summary"] = plan.summary()
    head = json.dumps(head_data, ensure_ascii=False)
    out.write(head[: -len("[]}")] + "[")
    # A random stand-in cannot occur in a tenant's other values by accident.
    stand_in = "\x00document-" + token_hex(16)
    encoded = json.dumps(stand_in, ensure_ascii=False)
    for i, tenant in enumerate(plan.tenants):
        if i:
            out.write(", ")
        document = next((c for c in tenant.changes if isinstance(c, DocumentAdd)), None)
        if document is None:
            out.write(json.dumps(tenant_to_json(tenant), ensure_ascii=False))
            continue
        text = json.dumps(tenant_to_json(tenant, document=stand_in), ensure_ascii=False)
        before, _, after = text.partition(encoded)
        out.write(before)
        out.write(document.new_json)
        out.write(after)
    out.write("]}\n")


# --- Markdown ---------------------------------------------------------------------------


def _code(text: str) -> str:
    """A Markdown code span that survives backticks and table pipes in ``text``."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_changes(changes: Iterable[Change], *, new_from_record: bool) -> list[str]:
    lines = ["| op | path | old | new |", "| --- | --- | --- | --- |"]
    for c in (redact_change(c, new_from_record=new_from_record) for c in changes):
        old = "" if c.op is Op.ADD else _code(short_value(c.old))
        new = "" if c.op is Op.REMOVE else _code(short_value(c.new))
        lines.append(f"| {_OP_SIGN[c.op]} {c.op.value} | {_code(c.path)} | {old} | {new} |")
    return lines


def render_markdown(plan: Plan) -> str:
    summary = plan.summary()
    out = [
        "### tenant-migrator plan",
        "",
        "| " + " | ".join(summary) + " |",
        "|" + "---:|" * len(summary),
        "| " + " | ".join(str(n) for n in summary.values()) + " |",
        "",
    ]
    if plan.pending_migrations:
        names = ", ".join(_code(m) for m in plan.pending_migrations)
        out += [f"> **Pending migrations** (`import` applies them first): {names}", ""]
    for problem in plan.problems:
        out.append(f"- **error** {_code(problem.format())}")
    creates = plan.by_action(Action.CREATE)
    compact = len(creates) > CREATE_TREES_UP_TO
    for tenant in plan.tenants:
        if tenant.action is Action.UNCHANGED or (compact and tenant.action is Action.CREATE):
            continue
        out += [
            f"#### {_ACTION_SIGN[tenant.action]} {_code(tenant.id)} — {tenant.action.value}",
            "",
        ]
        note = _note(tenant)
        if note:
            out += [note, ""]
        if tenant.action is Action.INVALID:
            out += [f"- {_code(p.format())}" for p in tenant.errors] + [""]
            continue
        if tenant.drift:
            out += [f"Drift since run {tenant.drift_run} (last import → database):", ""]
            out += [*_md_changes(tenant.drift, new_from_record=False), ""]
        if tenant.changes:
            if tenant.action is Action.BLOCKED:
                out += ["What `--force` would write:", ""]
            out += [*_md_changes(tenant.changes, new_from_record=True), ""]
    if compact:
        out += [
            f"#### + {len(creates)} tenants to create",
            "",
            "| tenant | name |",
            "| --- | --- |",
        ]
        out += [f"| {_code(t.id)} | {_code(t.record.name) if t.record else ''} |" for t in creates]
        out.append("")
    unchanged = plan.by_action(Action.UNCHANGED)
    if unchanged:
        ids = ", ".join(_code(t.id) for t in unchanged)
        out += [
            f"<details><summary>{len(unchanged)} unchanged</summary>",
            "",
            ids,
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)


# --- terminal ---------------------------------------------------------------------------


def _note(tenant: TenantPlan) -> str:
    if tenant.action is Action.BLOCKED:
        if tenant.reason is BlockedReason.DATABASE_OWNED:
            return (
                "owned by the database, never imported; import and sync leave it without "
                "--force (its removes are the keys only the database has)"
            )
        if tenant.reason is BlockedReason.DELETED:
            return (
                f"deleted in the database since run {tenant.drift_run}; import and sync do "
                "not re-create it without --force"
            )
        since = f" since run {tenant.drift_run}" if tenant.drift_run else ""
        return (
            f"edited in the database{since}; import and sync refuse to overwrite it without --force"
        )
    if tenant.forced:
        return f"{blocked_words(tenant)}; --force overwrites it"
    if tenant.action is Action.ORPHANED:
        if tenant.missing_yaml:
            return (
                f"config_source is 'yaml' but clients/{tenant.id}/client.yaml does not exist: "
                "the platform's runtime cannot load this tenant (never deleted by this tool)"
            )
        return "in the table (config_source 'database') with no client file; never deleted"
    return ""


def _change_label(change: Change, leaf: str, new_from_record: bool) -> Text:
    from rich.text import Text

    change = redact_change(change, new_from_record=new_from_record)
    label = Text(f"{_OP_SIGN[change.op]} {leaf}", style=_OP_STYLE[change.op])
    if change.op is Op.ADD:
        label.append(f" = {short_value(change.new)}")
    elif change.op is Op.REMOVE:
        label.append(f" (was {short_value(change.old)})")
    else:
        label.append(f": {short_value(change.old)} → {short_value(change.new)}")
    return label


def _changes_tree(tree: Tree, changes: Iterable[Change], *, new_from_record: bool) -> None:
    """Hang ``changes`` under ``tree``, one branch per path segment."""
    branches: dict[tuple[str, ...], Tree] = {(): tree}
    for change in changes:
        tokens = [unescape(t) for t in change.path.split("/")[1:]]
        if tokens and tokens[0] == "columns":
            tokens = tokens[1:]  # columns read best as plain names at the top
        parent: tuple[str, ...] = ()
        for token in tokens[:-1]:
            key = (*parent, token)
            if key not in branches:
                branches[key] = branches[parent].add(token)
            parent = key
        leaf = tokens[-1] if tokens else "/"
        branches[parent].add(_change_label(change, leaf, new_from_record))


def _tenant_tree(tenant: TenantPlan) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    head = Text(f"{_ACTION_SIGN[tenant.action]} {tenant.id}", style=_ACTION_STYLE[tenant.action])
    head.append(f"  {tenant.action.value}", style="dim")
    if note := _note(tenant):
        style = "bold red" if tenant.missing_yaml else "dim"
        head.append(f" — {note}", style=style)
    tree = Tree(head, guide_style="dim")
    if tenant.action is Action.INVALID:
        for problem in tenant.errors:
            tree.add(Text(problem.format(), style="red"))
        return tree
    if tenant.drift:
        drift = tree.add(Text("drift: last import → database", style="magenta"))
        _changes_tree(drift, tenant.drift, new_from_record=False)
    changes = tenant.changes
    if tenant.action is Action.CREATE or tenant.reason is BlockedReason.DELETED:
        changes = tuple(_create_summary(changes))
    if tenant.action is Action.BLOCKED and changes:
        forced = tree.add(Text("--force would write", style="dim"))
        _changes_tree(forced, changes, new_from_record=True)
    else:
        _changes_tree(tree, changes, new_from_record=True)
    return tree


def _create_summary(changes: Iterable[Change]) -> Iterable[Change]:
    # A new tenant's whole document is long; its top-level keys say enough here.
    for change in changes:
        if change.path == "/tenant_config" and isinstance(change.new, dict):
            yield Change(change.path, change.op, None, dict(sorted(change.new.items())))
        else:
            yield change


def _summary_line(plan: Plan) -> Text:
    from rich.text import Text

    summary = plan.summary()
    line = Text("Plan: ")
    parts = [
        (f"{summary['create']} to create", _ACTION_STYLE[Action.CREATE]),
        (f"{summary['update']} to update", _ACTION_STYLE[Action.UPDATE]),
        (f"{summary['unchanged']} unchanged", ""),
        (
            f"{summary['invalid']} invalid",
            _ACTION_STYLE[Action.INVALID] if summary["invalid"] else "",
        ),
        (
            f"{summary['blocked']} blocked",
            _ACTION_STYLE[Action.BLOCKED] if summary["blocked"] else "",
        ),
        (
            f"{summary['orphaned']} orphaned",
            _ACTION_STYLE[Action.ORPHANED] if summary["orphaned"] else "",
        ),
    ]
    for i, (text, style) in enumerate(parts):
        if i:
            line.append(", ")
        line.append(text, style=style)
    line.append(".")
    return line


def render_text(plan: Plan, console: Console) -> None:
    """The terraform-plan-like view: summary, then a tree of changes per tenant."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, box=None, padding=(0, 2), header_style="bold")
    table.add_column("action")
    table.add_column("tenants", justify="right")
    for action, count in plan.summary().items():
        style = _ACTION_STYLE[Action(action)] if count else "dim"
        table.add_row(Text(action, style=style), Text(str(count), style=style))
    console.print(table)
    console.print()

    if plan.pending_migrations:
        console.print(
            Text(
                "Pending migrations, applied first by `import`: "
                + ", ".join(plan.pending_migrations),
                style="yellow",
            )
        )
        console.print()
    for problem in plan.problems:
        console.print(Text(f"error: {problem.format()}", style="bold red"))

    creates = plan.by_action(Action.CREATE)
    compact = len(creates) > CREATE_TREES_UP_TO
    for tenant in plan.tenants:
        if tenant.action is Action.UNCHANGED or (compact and tenant.action is Action.CREATE):
            continue
        console.print(_tenant_tree(tenant))
    if compact:
        # One Text for all of them: thousands of separate prints are slow.
        lines = Text()
        for tenant in creates:
            record = tenant.record
            name = record.name if record else ""
            lines.append(f"+ {tenant.id}", style=_ACTION_STYLE[Action.CREATE])
            lines.append(f"  create  {name}\n", style="dim")
        console.print(lines, end="")
        console.print(
            Text(
                f"({len(creates)} tenants to create, one line each; --format json has every value)",
                style="dim",
            )
        )
    console.print()
    console.print(_summary_line(plan))


# --- import / sync / history / rollback ----------------------------------------------------


def render_import(outcome: ImportOutcome, console: Console) -> None:
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
                console.print(_tenant_tree(tenant))
    for tenant in plan.by_action(Action.INVALID):
        line = Text(f"✗ {tenant.id}  skipped (invalid)", style="bold red")
        console.print(line)
        for problem in tenant.errors:
            console.print(Text(f"    {problem.format()}", style="red"))
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
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", padding=(0, 2), pad_edge=False)
    for column in ("run", "command", "started", "took", "by", "tenants", "what"):
        table.add_column(column, justify="right" if column in ("run", "tenants") else "left")
    for run in runs:
        took = (run.finished_at - run.started_at).total_seconds()
        who = run.db_user + (f" ({run.os_user}@{run.hostname})" if run.os_user else "")
        what = _run_what(run, tenant)
        table.add_row(
            str(run.id),
            run.command,
            f"{run.started_at.astimezone():%Y-%m-%d %H:%M:%S}",
            f"{took:.2f} s",
            who,
            str(run.tenants),
            Text(what, style="yellow" if run.forced or run.rolled_back_by else ""),
        )
    console.print(table)


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
