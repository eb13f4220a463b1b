"""plan --format markdown as a pull-request comment: under GitHub's 65,536 characters."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tenant_migrator.planning import Action, Change, Op, Plan, TenantPlan
from tenant_migrator.report.comment import GITHUB_COMMENT_LIMIT, MARKER, render_comment
from tests.importhelpers import bench_generate

REPO = Path(__file__).resolve().parent.parent
generate = bench_generate()
COUNT = 3000


def test_a_plan_of_3000_changed_tenants_fits_one_comment_grouped_and_cut(
    tmp_path, run_cli, migrated_database_url
):
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "schema.json", tmp_path / "config" / "schema.json")
    generate.generate(tmp_path, COUNT)
    db = ("--database-url", migrated_database_url)
    imported = run_cli(*db, "import", timeout=600)
    assert imported.returncode == 0, imported.output
    changes = generate.change_files(tmp_path, COUNT, fraction=1.0)
    assert len(changes) == COUNT

    result = run_cli(*db, "plan", "--format", "markdown", timeout=600)
    assert result.returncode == 0, result.output
    comment = result.stdout
    assert len(comment) <= GITHUB_COMMENT_LIMIT
    assert comment.splitlines()[0] == MARKER
    assert "| 0 | 3,000 | 0 | 0 | 0 | 0 |" in comment  # counts first
    groups = re.findall(r"^- \*\*([\d,]+) tenants?\*\*: `(/[^`]+)`", comment, re.M)
    counts = [int(n.replace(",", "")) for n, _ in groups]
    assert counts == sorted(counts, reverse=True) and counts[0] > 1
    cut = re.findall(r"^… ([\d,]+) more tenants — see the JSON plan$", comment, re.M)
    left_out = int(cut[0].replace(",", "")) if cut else 0
    # Every tenant made one change: those in no shown group are the ones cut.
    assert left_out == COUNT - sum(counts)
    assert len(counts) < COUNT // 5  # grouped: far fewer lines than tenants


def _update(tid: str, path: str, old, new) -> TenantPlan:
    return TenantPlan(tid, Action.UPDATE, (Change(path, Op.REPLACE, old, new),))


def test_identical_changes_are_one_line_naming_the_count():
    tenants = [
        _update(f"t{i:04}", "/tenant_config/quotes/auto_send", False, True) for i in range(1503)
    ]
    tenants += [_update(f"u{i:04}", f"/tenant_config/x/{i}", 1, 2) for i in range(2000)]
    comment = render_comment(Plan(tuple(tenants)))
    assert len(comment) <= GITHUB_COMMENT_LIMIT
    assert "**1,503 tenants**: `/tenant_config/quotes/auto_send` `false` → `true`" in comment
    assert "**2,000 tenants**" not in comment  # different paths: nothing to group


def test_changes_to_one_path_with_different_values_are_one_line():
    tenants = [
        _update(f"t{i:04}", "/tenant_config/branding/c", "#000", f"#{i:04}") for i in range(3000)
    ]
    comment = render_comment(Plan(tuple(tenants)))
    assert "**3,000 tenants**: `/tenant_config/branding/c` changed (to different values)" in comment
    assert "more tenants" not in comment


def test_a_small_plan_keeps_every_value_and_the_marker():
    plan = Plan((_update("solo", "/tenant_config/quotes/auto_send", False, True),))
    comment = render_comment(plan)
    assert comment.startswith(MARKER + "\n")
    assert "more tenants" not in comment and "`solo`" in comment and "`true`" in comment


def test_the_budget_holds_for_any_size():
    tenants = [
        _update(f"t{i:05}", f"/tenant_config/k{i}", "a" * 50, "b" * 50) for i in range(20000)
    ]
    for budget in (2_000, 10_000, GITHUB_COMMENT_LIMIT):
        comment = render_comment(Plan(tuple(tenants)), budget)
        assert len(comment) <= budget and "more tenants — see the JSON plan" in comment
