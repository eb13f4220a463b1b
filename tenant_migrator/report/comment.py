"""``plan --format markdown``: a pull-request comment that fits GitHub's limit.

GitHub refuses a comment over 65,536 characters; a plan of 3,000 changed tenants
listed one by one is more than twice that. So the comment says the counts first,
then problems (the reason a plan fails), then changes *grouped*: the same change
made to many tenants is one line ("1,503 tenants: /tenant_config/quotes/auto_send
false → true"). Whatever does not fit within ``budget`` is cut with "… N more
tenants — see the JSON plan". The first line is a hidden marker so a bot can find
its own comment and update it in place rather than adding one per push.

Values come through ``redaction.redact_change`` and are shown whole (a reviewer
must see the new ``logo_url``), as in every other plan report: no secret can get
in. What does not fit is cut by whole lines, never inside a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tenant_migrator.planning import Action, Change, Op, Plan, TenantPlan
from tenant_migrator.redaction import redact_change
from tenant_migrator.report.plan import _code, relative_problem, whole_value

MARKER = "<!-- tenant-migrator:plan -->"
GITHUB_COMMENT_LIMIT = 65_536
# Room kept for the cut line and the closing text, whatever the budget.
_RESERVE = 400
# Tenant ids named on one grouped line before "and N more".
_IDS_PER_GROUP = 5
_ICON = {Action.INVALID: "✗", Action.BLOCKED: "!", Action.ORPHANED: "?"}


@dataclass
class _Writer:
    """Lines added while they fit; the tenants each line covers are counted as
    shown only when every line about them made it in."""

    budget: int
    lines: list[str] = field(default_factory=list)
    size: int = 0
    full: bool = False

    def add(self, *lines: str) -> bool:
        if self.full:
            return False
        cost = sum(len(line) + 1 for line in lines)
        if self.size + cost > self.budget - _RESERVE:
            self.full = True
            return False
        self.lines += lines
        self.size += cost
        return True


def _ids(ids: list[str]) -> str:
    named = ", ".join(_code(i) for i in ids[:_IDS_PER_GROUP])
    rest = len(ids) - _IDS_PER_GROUP
    return f"{named} and {rest:,} more" if rest > 0 else named


def _change_text(change: Change) -> str:
    c = redact_change(change, new_from_record=True)
    if c.op is Op.ADD:
        return f"{_code(c.path)} added {_code(whole_value(c.new))}"
    if c.op is Op.REMOVE:
        return f"{_code(c.path)} removed (was {_code(whole_value(c.old))})"
    return f"{_code(c.path)} {_code(whole_value(c.old))} → {_code(whole_value(c.new))}"


def _groups(tenants: Iterable[TenantPlan]) -> list[tuple[str, list[str]]]:
    """Identical changes (same text once redacted) → the tenants making
    them, biggest group first. Changes made by one tenant each but to the same path
    (a colour set to a different value everywhere) are one line per path."""
    exact: dict[tuple[str, str], list[str]] = {}
    for tenant in tenants:
        for change in tenant.changes:
            exact.setdefault((change.path, _change_text(change)), []).append(tenant.id)
    lone: dict[str, list[tuple[str, str]]] = {}
    for (path, text), ids in exact.items():
        if len(ids) == 1:
            lone.setdefault(path, []).append((text, ids[0]))
    groups = [
        (text, ids)
        for (path, text), ids in exact.items()
        if len(lone.get(path, ())) < 2 or len(ids) > 1
    ]
    for path, members in lone.items():
        if len(members) > 1:
            groups.append((f"{_code(path)} changed (to different values)", [i for _, i in members]))
    return sorted(groups, key=lambda item: (-len(item[1]), item[0]))


def _count_table(plan: Plan) -> list[str]:
    summary = plan.summary()
    return [
        "| " + " | ".join(summary) + " |",
        "|" + "---:|" * len(summary),
        "| " + " | ".join(f"{n:,}" for n in summary.values()) + " |",
        "",
    ]


def render_comment(
    plan: Plan, budget: int = GITHUB_COMMENT_LIMIT, project_dir: Path | None = None
) -> str:
    """The comment, at most ``budget`` characters: the full per-tenant Markdown
    report when it fits (a small pull request shows every old and new value), else
    the grouped summary."""
    from tenant_migrator.report.plan import render_markdown

    full = f"{MARKER}\n{render_markdown(plan, project_dir)}"
    if len(full) <= budget:
        return full if full.endswith("\n") else full + "\n"
    return render_grouped(plan, budget, project_dir)


def render_grouped(
    plan: Plan, budget: int = GITHUB_COMMENT_LIMIT, project_dir: Path | None = None
) -> str:
    """Counts, problems, then identical changes grouped; cut to ``budget``."""
    w = _Writer(budget)
    w.add(MARKER, "### tenant-migrator plan", "", *_count_table(plan))
    if plan.pending_migrations:
        names = ", ".join(_code(m) for m in plan.pending_migrations)
        w.add(f"> **Pending migrations** (`import` applies them first): {names}", "")
    for problem in plan.problems:
        shown = relative_problem(problem, project_dir).format()
        w.add(f"- **{problem.severity.value}** {_code(shown)}")
    # Tenants that still need a line; each is dropped once all of its lines are in.
    unshown: dict[str, int] = {}
    for tenant in plan.tenants:
        if tenant.action in _ICON:
            unshown[tenant.id] = 1
        elif tenant.action is Action.UPDATE:
            unshown[tenant.id] = len(tenant.changes) or 1
        elif tenant.action is Action.CREATE:
            unshown[tenant.id] = 1

    def shown(ids: Iterable[str]) -> None:
        for tenant_id in ids:
            left = unshown.get(tenant_id)
            if left is None:
                continue
            if left <= 1:
                del unshown[tenant_id]
            else:
                unshown[tenant_id] = left - 1

    troubled = [t for t in plan.tenants if t.action in _ICON]
    if troubled and w.add("#### Needs attention", ""):
        for tenant in troubled:
            reasons = [p.message for p in tenant.errors][:3] or [_reason(tenant)]
            text = "; ".join(reasons)
            line = f"- {_ICON[tenant.action]} {_code(tenant.id)} — {tenant.action.value}: {text}"
            if not w.add(line):
                break
            shown([tenant.id])
        w.add("")
    updates = plan.by_action(Action.UPDATE)
    if updates and w.add(f"#### ~ Changes ({len(updates):,} tenants to update)", ""):
        for text, ids in _groups(updates):
            noun = "tenant" if len(ids) == 1 else "tenants"
            if not w.add(f"- **{len(ids):,} {noun}**: {text} — {_ids(ids)}"):
                break
            shown(ids)
        w.add("")
    creates = plan.by_action(Action.CREATE)
    if creates and w.add(f"#### + {len(creates):,} tenants to create", ""):
        for start in range(0, len(creates), 20):
            chunk = creates[start : start + 20]
            if not w.add(", ".join(_code(t.id) for t in chunk)):
                break
            shown(t.id for t in chunk)
        w.add("")
    unchanged = len(plan.by_action(Action.UNCHANGED))
    if unchanged:
        w.add(f"{unchanged:,} tenants unchanged.", "")
    out = w.lines
    if unshown:
        out += ["", f"… {len(unshown):,} more tenants — see the JSON plan"]
    return "\n".join(out) + "\n"


def _reason(tenant: TenantPlan) -> str:
    if tenant.action is Action.BLOCKED:
        since = f" since run {tenant.drift_run}" if tenant.drift_run else ""
        return f"edited in the database{since}; import refuses to overwrite it without --force"
    if tenant.action is Action.ORPHANED:
        return "a row in the database without a client file"
    return "invalid"
