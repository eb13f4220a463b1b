"""planning.py at its edges: column widths at, below and above each limit, NUL in keys
and list items, what --force marks as overwritten, what --detailed-exitcode counts as
a change, the secrets count of the import summary. Pure: no database, no files.

Each test here kills a mutant that survived the rest of the suite (tests/MUTATION.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tenant_migrator import planning
from tenant_migrator.planning import (
    COLUMN_SOURCES,
    COLUMN_WIDTHS,
    Action,
    BlockedReason,
    CurrentRow,
    ImportState,
    Plan,
    TenantPlan,
    nul_pointer,
    plan_tenant,
    record_problems,
)
from tenant_migrator.report import runs as runs_report
from tenant_migrator.secretrefs import SecretReference
from tenant_migrator.streaming import ImportOutcome
from tests.test_planning import ok, plan_of, record, row_for

# Every column with a width, as a table: a new column is one row. The id is the
# directory name, so it has no source field in client.yaml.
WIDTHS = [
    ("id", 50),
    ("name", 255),
    ("short_name", 50),
    ("timezone", 50),
    ("currency", 10),
    ("primary_email", 255),
    ("gcp_project_id", 100),
    ("gcp_dataset", 100),
]


def _with_length(column: str, length: int):
    value = "a" * length
    return record(value) if column == "id" else record(**{column: value})


@pytest.mark.parametrize(("column", "width"), WIDTHS)
@pytest.mark.parametrize("delta", [-1, 0])
def test_a_value_that_fits_its_column_is_no_problem(column, width, delta):
    assert record_problems(_with_length(column, width + delta), None) == ()


@pytest.mark.parametrize(("column", "width"), WIDTHS)
def test_one_character_over_the_width_is_an_error_naming_column_field_and_length(column, width):
    rec = _with_length(column, width + 1)
    path = Path(f"clients/{rec.id}/client.yaml")
    (problem,) = record_problems(rec, path)
    assert problem.path == path
    assert problem.json_path == ("" if column == "id" else COLUMN_SOURCES[column])
    assert problem.message == (
        f"{width + 1} characters is too long for the column {column} "
        f"(VARCHAR({width})); shorten {COLUMN_SOURCES[column]}"
    )


def test_the_width_table_is_planning_s_table():
    """The widths of migrations 011/012: a change to either side must be deliberate."""
    assert dict(WIDTHS) == dict(COLUMN_WIDTHS)


def test_a_256_character_name_makes_the_tenant_invalid_and_nothing_is_written():
    plan = plan_of([ok(record(name="n" * 256))])
    (tenant,) = plan.tenants
    assert tenant.action is Action.INVALID
    assert "256 characters is too long for the column name (VARCHAR(255))" in (
        tenant.errors[0].message
    )
    assert plan.to_write == () and plan.has_errors


def test_a_problem_without_a_path_names_the_tenant_directory():
    (problem,) = record_problems(record(currency="C" * 11), None)
    assert problem.path == Path("africastay")


# --- NUL characters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "pointer"),
    [
        ({"a": {"b\x00c": 1}}, "/a/b\x00c"),
        ({"a~/b\x00": "x"}, "/a~0~1b\x00"),
        ({"list": ["ok", "b\x00d"]}, "/list/1"),
        ({"list": [{"k": "fine"}, {"k": "x\x00"}]}, "/list/1/k"),
        ({"a": "fine", "b": {"c": "x\x00"}}, "/b/c"),
        ({"a": "no nul", "b": [1, True, None]}, None),
    ],
)
def test_nul_pointer_names_the_key_or_item_holding_a_nul(config, pointer):
    assert nul_pointer(config) == pointer


def test_a_nul_inside_a_key_makes_the_record_invalid_at_that_key():
    cfg = {"branding": {"tag\x00line": "x"}}
    (problem,) = record_problems(record(tenant_config=cfg), None)
    assert problem.json_path == "/branding/tag\x00line"
    assert "NUL character" in problem.message


def test_a_nul_inside_a_list_item_makes_the_record_invalid_at_that_index():
    cfg = {"destinations": ["Zanzibar", "Mauri\x00tius"]}
    (problem,) = record_problems(record(tenant_config=cfg), None)
    assert problem.json_path == "/destinations/1"


def test_a_literal_backslash_u0000_is_no_nul():
    # The JSON text holds \\u0000 then, which the pre-check sees; the walk must not.
    assert record_problems(record(tenant_config={"a": "\\u0000"}), None) == ()


# --- --force ------------------------------------------------------------------------------


def _forced_plan() -> Plan:
    """Two updates under --force: "edited" (its row edited since our import, so a
    refusal overridden) and "clean" (an ordinary update)."""
    edited, clean = record("edited"), record("clean")
    new = {"branding": {"company_name": "New"}}
    return plan_of(
        [ok(record("edited", tenant_config=new)), ok(record("clean", tenant_config=new))],
        [row_for(edited, "h-now"), row_for(clean, "h-clean")],
        states={"edited": ImportState(1, "h-then"), "clean": ImportState(1, "h-clean")},
        force=True,
    )


def test_force_marks_only_the_update_that_overrode_a_refusal():
    plan = _forced_plan()
    by_id = {t.id: t for t in plan.tenants}
    assert by_id["edited"].action is Action.UPDATE and by_id["edited"].forced
    assert by_id["edited"].reason is BlockedReason.EDITED
    assert by_id["clean"].action is Action.UPDATE and not by_id["clean"].forced
    assert by_id["clean"].reason is None


def test_the_import_summary_names_only_the_forced_updates_as_overwritten():
    plan = _forced_plan()
    outcome = ImportOutcome(plan, run_id=3, written={"edited": "update", "clean": "update"})
    text = _render(runs_report.import_summary(outcome))
    assert "overwrote database edits (--force): edited" in text
    assert "clean" not in text.split("overwrote database edits (--force):")[1].splitlines()[0]


def test_a_blocked_tenant_keeps_its_record_out_of_the_plan_and_is_not_forced():
    old = record()
    plan = plan_of(
        [ok(record(name="Changed"))],
        [row_for(old, "h-now")],
        states={"africastay": ImportState(7, "h-then")},
    )
    (tenant,) = plan.tenants
    assert tenant.action is Action.BLOCKED and tenant.record is None and not tenant.forced
    assert tenant.drift_run == 7 and tenant.expected_hash == "h-now"
    assert planning.blocked_words(tenant) == "edited in the database since run 7"


def test_force_recreates_a_deleted_tenant_and_marks_it_forced():
    rec = record()
    result = plan_tenant(ok(rec), None, ImportState(4, "h"), force=True)
    assert result.action is Action.CREATE and result.forced and result.record is rec
    assert result.reason is BlockedReason.DELETED and result.drift_run == 4
    blocked = plan_tenant(ok(rec), None, ImportState(4, "h"))
    assert blocked.action is Action.BLOCKED and blocked.record is None
    assert planning.blocked_words(blocked) == "deleted in the database since run 4"


def test_an_unchanged_row_read_whole_keeps_its_hash_for_the_write_check():
    rec = record()
    row = CurrentRow(id=rec.id, snapshot=row_for(rec).snapshot, hash="h9")
    assert plan_tenant(ok(rec), row, None).expected_hash == "h9"


# --- --detailed-exitcode ------------------------------------------------------------------


def test_pending_migrations_alone_are_changes():
    assert Plan(tenants=(), pending_migrations=("013_x",)).has_changes
    assert not Plan(tenants=()).has_changes


def test_plan_detailed_exitcode_is_2_when_only_migrations_are_pending(cli, database_url):
    """An empty database: no tenant to write, every migration pending."""
    result = cli("--database-url", database_url, "plan", "--detailed-exitcode")
    assert result.returncode == 2, result.output
    assert "No such option" not in result.output and "migration" in result.output
    plain = cli("--database-url", database_url, "plan")
    assert plain.returncode == 0, plain.output


# --- the secrets count --------------------------------------------------------------------


def _ref(action: str, path: str = "/email/smtp/password") -> SecretReference:
    return SecretReference(json_path=path, env_var="T_SMTP_PASSWORD", action=action, literal="x")


def test_secrets_referenced_counts_referenced_literals_of_tenants_written_only():
    plan = Plan(
        tenants=(
            TenantPlan("a", Action.CREATE, secrets=(_ref("referenced"), _ref("referenced", "/b"))),
            TenantPlan("b", Action.UPDATE, secrets=(_ref("referenced"), _ref("kept"))),
            TenantPlan("c", Action.UNCHANGED, secrets=(_ref("referenced"),)),
            TenantPlan("d", Action.INVALID, secrets=(_ref("referenced"),)),
        )
    )
    assert plan.secrets_referenced == 3


def test_the_import_summary_shows_the_secrets_count():
    plan = Plan(tenants=(TenantPlan("a", Action.CREATE, secrets=(_ref("referenced"),) * 2),))
    text = _render(runs_report.import_summary(ImportOutcome(plan, run_id=1, written={"a": "c"})))
    (line,) = [x for x in text.splitlines() if "secrets" in x]
    assert line.split()[:4] == ["secrets", "→", "${ENV}", "2"]


def _render(renderable) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(renderable)
    return buffer.getvalue()


# --- verdicts: left alone, errors, orphans --------------------------------------------------

LEFT_ALONE = [
    (Action.BLOCKED, BlockedReason.DATABASE_OWNED, True),
    (Action.BLOCKED, BlockedReason.DELETED, True),
    (Action.BLOCKED, BlockedReason.EDITED, False),
    (Action.UPDATE, BlockedReason.DATABASE_OWNED, False),  # forced: written, not left
    (Action.CREATE, BlockedReason.DELETED, False),
]


@pytest.mark.parametrize(("action", "reason", "left"), LEFT_ALONE)
def test_only_a_blocked_database_row_is_left_alone_and_only_a_drifted_one_is_an_error(
    action, reason, left
):
    tenant = TenantPlan("t", action, reason=reason, forced=action is not Action.BLOCKED)
    assert tenant.left_alone is left
    assert tenant.blocked_reason is (reason if action is Action.BLOCKED else None)
    assert Plan(tenants=(tenant,)).has_errors is (action is Action.BLOCKED and not left)


def test_a_warning_is_no_error_and_an_error_problem_is():
    from tenant_migrator.problems import Problem, Severity

    warning = Problem(Path("config/schema.json"), "w", severity=Severity.WARNING)
    error = Problem(Path("config/schema.json"), "e")
    assert not Plan(tenants=(), problems=(warning,)).has_errors
    assert Plan(tenants=(), problems=(warning, error)).has_errors


@pytest.mark.parametrize(
    ("config_source", "missing_yaml"), [("yaml", True), (None, True), ("database", False)]
)
def test_an_orphan_is_loud_only_when_the_platform_still_looks_for_its_file(
    config_source, missing_yaml
):
    row = CurrentRow(id="gone", snapshot={"config_source": config_source}, hash="h")
    orphan = planning.plan_orphan(row)
    assert orphan.action is Action.ORPHANED and orphan.missing_yaml is missing_yaml
    assert orphan.expected_hash == "h"


def test_a_database_owned_row_is_blocked_in_those_words():
    rec = record()
    tenant = plan_tenant(ok(rec), row_for(rec, "h", name="Other"), None)
    assert tenant.action is Action.BLOCKED and tenant.reason is BlockedReason.DATABASE_OWNED
    assert planning.blocked_words(tenant) == "owned by the database, never imported"
    assert tenant.left_alone and tenant.drift == () and tenant.drift_run is None


def test_summary_and_by_action_count_each_tenant_once():
    plan = Plan(
        tenants=(
            TenantPlan("a", Action.CREATE),
            TenantPlan("b", Action.CREATE),
            TenantPlan("c", Action.UNCHANGED),
        )
    )
    assert plan.summary() == {
        "create": 2,
        "update": 0,
        "unchanged": 1,
        "invalid": 0,
        "blocked": 0,
        "orphaned": 0,
    }
    assert [t.id for t in plan.by_action(Action.CREATE)] == ["a", "b"]
    assert [t.id for t in plan.to_write] == ["a", "b"]


@pytest.mark.parametrize(
    "value",
    [
        Plan(tenants=()),
        TenantPlan("t", Action.CREATE),
        CurrentRow(id="t", snapshot=None),
        ImportState(run_id=1, hash="h"),
    ],
    ids=lambda v: type(v).__name__,
)
def test_what_flows_between_the_steps_is_frozen(value):
    import dataclasses

    field = dataclasses.fields(value)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def test_build_plan_and_plan_tenant_do_not_force_unless_asked():
    from tenant_migrator.pipeline import LoadResult

    old = record()
    row, state = row_for(old, "h-now"), ImportState(2, "h-then")
    result = ok(record(name="Changed"))
    plan = planning.build_plan(LoadResult(results=(result,)), {old.id: row}, {old.id: state})
    assert [t.action for t in plan.tenants] == [Action.BLOCKED]
    assert plan_tenant(result, row, state).action is Action.BLOCKED
