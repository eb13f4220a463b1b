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

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
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
from tenant_migrator.problems import Problem
from tenant_migrator.redaction import redact_change

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

FORMAT_VERSION = 1

# With more tenants than this to create, the terminal view lists them one per
# line instead of a tree each: 10,000 trees help nobody (JSON has everything).
CREATE_TREES_UP_TO = 20
JSON_INDENT_UP_TO = 200

# More tenants to update than this, and (without --verbose) identical changes are one
# line each ("1,503 tenants: /tenant_config/quotes/auto_send false → true"); a tenant
# with a change of its own still gets its tree.
GROUP_UPDATES_ABOVE = 20
# Tenant ids named on a grouped line before "and N more".
IDS_PER_GROUP = 3

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


# --- values ----------------------------------------------------------------------------


class KeysOnly(tuple):
    """A new tenant's document, shown by its top-level keys (the JSON has it all)."""


def whole_value(value: Any) -> str:
    """A value as one line of JSON, whole: a reviewer must see the new ``logo_url``.
    Long ones wrap on a terminal and in a Markdown table; they are never cut."""
    if isinstance(value, KeysOnly):
        return f"{{{len(value)} keys: {', '.join(value)}}}"
    return json.dumps(value, ensure_ascii=False)


def change_words(change: Change) -> str:
    """One change as words: ``PATH old → new``, ``PATH added new``, ``PATH removed``."""
    if change.op is Op.ADD:
        return f"{change.path} added {whole_value(change.new)}"
    if change.op is Op.REMOVE:
        return f"{change.path} removed (was {whole_value(change.old)})"
    return f"{change.path} {whole_value(change.old)} → {whole_value(change.new)}"


def named_ids(ids: Sequence[str], shown: int = IDS_PER_GROUP) -> str:
    named = ", ".join(ids[:shown])
    rest = len(ids) - shown
    return f"{named} and {rest:,} more" if rest > 0 else named


def group_changes(tenants: Iterable[TenantPlan]) -> tuple[list[tuple[str, list[str]]], set[str]]:
    """Identical changes (same path, same old and new values) → the tenants making
    them, biggest group first; and the tenants with a change no other tenant makes
    (they are shown whole)."""
    groups: dict[str, list[str]] = {}
    for tenant in tenants:
        for change in tenant.changes:
            words = change_words(redact_change(change, new_from_record=True))
            groups.setdefault(words, []).append(tenant.id)
    alone = {ids[0] for ids in groups.values() if len(ids) == 1}
    shared = [(words, ids) for words, ids in groups.items() if len(ids) > 1]
    return sorted(shared, key=lambda item: (-len(item[1]), item[0])), alone


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
        old = "" if c.op is Op.ADD else _code(whole_value(c.old))
        new = "" if c.op is Op.REMOVE else _code(whole_value(c.new))
        lines.append(f"| {_OP_SIGN[c.op]} {c.op.value} | {_code(c.path)} | {old} | {new} |")
    return lines


def render_markdown(plan: Plan, project_dir: Path | None = None) -> str:
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
        shown = relative_problem(problem, project_dir).format()
        out.append(f"- **{problem.severity.value}** {_code(shown)}")
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
            out += [f"- {_code(relative_problem(p, project_dir).format())}" for p in tenant.errors]
            out.append("")
            continue
        if tenant.drift:
            out += [f"Drift since run {tenant.drift_run} (last import → database):", ""]
            out += [*_md_changes(tenant.drift, new_from_record=False), ""]
        if tenant.changes:
            if tenant.action is Action.BLOCKED:
                out += ["What `--force` would write:", ""]
            changes = tenant.changes
            if tenant.action is Action.CREATE or tenant.reason is BlockedReason.DELETED:
                changes = tuple(_create_summary(changes))
            out += [*_md_changes(changes, new_from_record=True), ""]
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
        label.append(f" = {whole_value(change.new)}")
    elif change.op is Op.REMOVE:
        label.append(f" (was {whole_value(change.old)})")
    else:
        label.append(f": {whole_value(change.old)} → {whole_value(change.new)}")
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


def _tenant_tree(tenant: TenantPlan, project_dir: Path | None = None) -> Tree:
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
            tree.add(Text(relative_problem(problem, project_dir).format(), style="red"))
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
            yield Change(change.path, change.op, None, KeysOnly(sorted(change.new)))
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


def render_text(
    plan: Plan, console: Console, *, verbose: bool = False, project_dir: Path | None = None
) -> None:
    """The terraform-plan-like view: counts, then a tree of changes per tenant (with
    many updates, identical changes grouped unless ``verbose``), the summary last."""
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
        # A directory without client.yaml is a warning here as in `validate`.
        style = "bold red" if problem.is_error else "yellow"
        shown = relative_problem(problem, project_dir).format()
        console.print(Text(f"{problem.severity.value}: {shown}", style=style))

    creates = plan.by_action(Action.CREATE)
    compact = len(creates) > CREATE_TREES_UP_TO
    updates = plan.by_action(Action.UPDATE)
    groups: list[tuple[str, list[str]]] = []
    alone: set[str] = set()
    grouped = not verbose and len(updates) > GROUP_UPDATES_ABOVE
    if grouped:
        groups, alone = group_changes(updates)
    for tenant in plan.tenants:
        if tenant.action is Action.UNCHANGED or (compact and tenant.action is Action.CREATE):
            continue
        if grouped and tenant.action is Action.UPDATE and tenant.id not in alone:
            continue
        console.print(_tenant_tree(tenant, project_dir))
    if groups:
        console.print(Text("Changes made to more than one tenant:", style="bold yellow"))
        for words, ids in groups:
            line = Text(f"~ {len(ids):,} tenants: ", style="bold yellow")
            line.append(words, style="yellow")
            line.append(f"  ({named_ids(ids)})", style="dim")
            console.print(line)
        console.print(Text("(--verbose shows a tree per tenant)", style="dim"))
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


def relative_problem(problem: Problem, project_dir: Path | None) -> Problem:
    """``problem`` with its file shown relative to the project (as every report does)."""
    if project_dir is None:
        return problem
    try:
        return dataclasses.replace(problem, path=problem.path.relative_to(project_dir))
    except ValueError:
        return problem
