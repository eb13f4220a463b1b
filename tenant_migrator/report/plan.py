"""The plan report: terminal view (Rich), JSON (a stable contract) and Markdown.

Every value shown comes from a record (secrets already turned into ``${ENV}``
references by the pipeline) or from the database; database values pass through
``redact`` too, because an admin may have pasted a key into a row by hand.

JSON shape (``FORMAT_VERSION`` 1; keys are only ever added)::

    {"format_version": 1,
     "summary": {"create", "update", "unchanged", "invalid", "blocked", "orphaned"},
     "pending_migrations": ["012_tenant_config.sql", ...],
     "problems": [Problem.to_json(), ...],           # not tied to one tenant
     "tenants": [{"id", "action", "file",
                  "changes": [{"path", "op", "old", "new"}],   # RFC 6902
                  "errors": [...], "warnings": [...],          # Problem.to_json()
                  "drift": [{"path", "op", "old", "new"}],     # last import -> database
                  "drift_run", "forced", "missing_yaml",
                  "secrets": [{"path", "env_var", "action"}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tenant_migrator.planning import Action, Change, Op, Plan, TenantPlan

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

FORMAT_VERSION = 1

# With more tenants than this to create, the terminal view lists them one per
# line instead of a tree each: 10,000 trees help nobody (JSON has everything).
CREATE_TREES_UP_TO = 20
_VALUE_WIDTH = 60

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


# --- values -----------------------------------------------------------------------------


def redact(value: Any) -> Any:
    """``value`` with every string that looks like a secret replaced by a marker.

    Records never carry secrets (the pipeline made them references), but rows
    read from the database might: an admin can paste anything into the app.
    """
    if isinstance(value, str):
        return "<redacted>" if _looks_secret(value) else value
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _looks_secret(text: str) -> bool:
    from tenant_migrator import secrets

    detect = getattr(secrets, "find_secret_shapes", None) or getattr(
        secrets, "looks_like_secret", None
    )
    if detect is None:
        return False
    return bool(detect(text))


def _redact_change(change: Change) -> Change:
    return Change(change.path, change.op, redact(change.old), redact(change.new))


def _short(value: Any) -> str:
    """One line for a value: JSON, long ones cut down to a summary."""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= _VALUE_WIDTH:
        return text
    if isinstance(value, dict):
        keys = ", ".join(value)
        return (
            f"{{{len(value)} keys: {keys[:_VALUE_WIDTH]}{'…' if len(keys) > _VALUE_WIDTH else ''}}}"
        )
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return text[: _VALUE_WIDTH - 1] + "…"


# --- JSON -------------------------------------------------------------------------------


def to_json(plan: Plan) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "summary": plan.summary(),
        "pending_migrations": list(plan.pending_migrations),
        "problems": [p.to_json() for p in plan.problems],
        "tenants": [tenant_to_json(t) for t in plan.tenants],
    }


def tenant_to_json(tenant: TenantPlan) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "action": tenant.action.value,
        "file": str(tenant.path) if tenant.path else None,
        "changes": [_redact_change(c).to_json() for c in tenant.changes],
        "errors": [p.to_json() for p in tenant.errors],
        "warnings": [p.to_json() for p in tenant.warnings],
        "drift": [_redact_change(c).to_json() for c in tenant.drift],
        "drift_run": tenant.drift_run,
        "forced": tenant.forced,
        "missing_yaml": tenant.missing_yaml,
        "secrets": [
            {"path": s.json_path, "env_var": s.env_var, "action": s.action} for s in tenant.secrets
        ],
    }


def render_json(plan: Plan) -> str:
    return json.dumps(to_json(plan), ensure_ascii=False, indent=2) + "\n"


# --- Markdown ---------------------------------------------------------------------------


def _code(text: str) -> str:
    """A Markdown code span that survives backticks and table pipes in ``text``."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_changes(changes: Iterable[Change]) -> list[str]:
    lines = ["| op | path | old | new |", "| --- | --- | --- | --- |"]
    for c in map(_redact_change, changes):
        old = "" if c.op is Op.ADD else _code(_short(c.old))
        new = "" if c.op is Op.REMOVE else _code(_short(c.new))
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
    for tenant in plan.tenants:
        if tenant.action is Action.UNCHANGED:
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
            out += [*_md_changes(tenant.drift), ""]
        if tenant.changes:
            if tenant.action is Action.BLOCKED:
                out += ["What `--force` would write:", ""]
            out += [*_md_changes(tenant.changes), ""]
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
        since = f" since run {tenant.drift_run}" if tenant.drift_run else ""
        return (
            f"edited in the database{since}; import and sync refuse to overwrite it without --force"
        )
    if tenant.forced:
        return f"edited in the database since run {tenant.drift_run}; --force overwrites it"
    if tenant.action is Action.ORPHANED:
        if tenant.missing_yaml:
            return (
                f"config_source is 'yaml' but clients/{tenant.id}/client.yaml does not exist: "
                "the platform's runtime cannot load this tenant (never deleted by this tool)"
            )
        return "in the table (config_source 'database') with no client file; never deleted"
    return ""


def _change_label(change: Change, leaf: str) -> Text:
    from rich.text import Text

    change = _redact_change(change)
    label = Text(f"{_OP_SIGN[change.op]} {leaf}", style=_OP_STYLE[change.op])
    if change.op is Op.ADD:
        label.append(f" = {_short(change.new)}")
    elif change.op is Op.REMOVE:
        label.append(f" (was {_short(change.old)})")
    else:
        label.append(f": {_short(change.old)} → {_short(change.new)}")
    return label


def _changes_tree(tree: Tree, changes: Iterable[Change]) -> None:
    """Hang ``changes`` under ``tree``, one branch per path segment."""
    from tenant_migrator.planning import unescape

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
        branches[parent].add(_change_label(change, tokens[-1] if tokens else "/"))


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
        _changes_tree(
            tree.add(Text("drift: last import → database", style="magenta")), tenant.drift
        )
    changes = tenant.changes
    if tenant.action is Action.CREATE:
        changes = tuple(_create_summary(changes))
    if tenant.action is Action.BLOCKED and changes:
        _changes_tree(tree.add(Text("--force would write", style="dim")), changes)
    else:
        _changes_tree(tree, changes)
    return tree


def _create_summary(changes: Iterable[Change]) -> Iterable[Change]:
    # A new tenant's whole document is long; its top-level keys say enough here.
    for change in changes:
        if change.path == "/tenant_config" and isinstance(change.new, dict):
            yield Change(change.path, change.op, None, sorted(change.new))
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
