"""planning.py and report/plan.py: pure tests, no database, no files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tenant_migrator import redaction
from tenant_migrator.pipeline import LoadResult, TenantResult
from tenant_migrator.planning import (
    Action,
    Change,
    CurrentRow,
    ImportState,
    Op,
    apply_changes,
    build_plan,
    diff_json,
    escape,
    record_snapshot,
    same,
)
from tenant_migrator.problems import Problem
from tenant_migrator.record import TenantRecord
from tenant_migrator.report import plan as plan_report
from tenant_migrator.secretrefs import SecretReference

CONFIG = {
    "branding": {"company_name": "Africa Stay", "primary_color": "#FF6B6B"},
    "destinations": [
        {"name": "Zanzibar", "code": "ZNZ", "enabled": True},
        {"name": "Mauritius", "code": "MRU", "enabled": True},
    ],
    "email": {"primary": "sales@africastay.example", "smtp": {"password": "${X_SMTP_PASSWORD}"}},
    "infrastructure": {"gcp": {"project_id": "p-1", "dataset": "d_1"}},
}


def record(tenant_id: str = "africastay", **overrides) -> TenantRecord:
    values = {
        "id": tenant_id,
        "name": "Africa Stay",
        "short_name": "africastay",
        "timezone": "Africa/Johannesburg",
        "currency": "ZAR",
        "primary_email": "sales@africastay.example",
        "gcp_project_id": "p-1",
        "gcp_dataset": "d_1",
        "tenant_config": copy.deepcopy(CONFIG),
    }
    values.update(overrides)
    return TenantRecord(**values)


def ok(rec: TenantRecord, secrets=()) -> TenantResult:
    return TenantResult(
        tenant_id=rec.id, path=Path(f"clients/{rec.id}/client.yaml"), record=rec, secrets=secrets
    )


def row_for(rec: TenantRecord, hash_: str = "h1", **changes) -> CurrentRow:
    """The row an import of ``rec`` leaves behind, round-tripped through JSON like jsonb."""
    snapshot = json.loads(json.dumps(record_snapshot(rec)))
    snapshot.update(changes)
    return CurrentRow(id=rec.id, snapshot=snapshot, hash=hash_)


def plan_of(results, rows=(), states=None, pending=(), force=False):
    """``states`` default: each row is the one our last import left (baseline = its
    hash), as ``row_for`` builds it; a row no run of ours wrote needs ``states={}``."""
    if states is None:
        states = {r.id: ImportState(run_id=1, hash=r.hash) for r in rows if r.hash}
    return build_plan(
        LoadResult(results=tuple(results)),
        {r.id: r for r in rows},
        states,
        pending,
        force=force,
    )


# --- classification ---------------------------------------------------------------------


def test_new_tenant_is_create_with_every_column_and_the_document():
    plan = plan_of([ok(record())])
    (tenant,) = plan.tenants
    assert tenant.action is Action.CREATE
    paths = {c.path: c for c in tenant.changes}
    assert paths["/columns/name"] == Change("/columns/name", Op.ADD, None, "Africa Stay")
    # The platform copied email.primary into admin/support email on insert.
    assert paths["/columns/admin_email"].new == "sales@africastay.example"
    assert paths["/columns/support_email"].new == "sales@africastay.example"
    assert paths["/columns/config_source"].new == "database"
    assert paths["/tenant_config"].new == CONFIG
    assert all(c.op is Op.ADD for c in tenant.changes)
    assert plan.summary()["create"] == 1
    assert plan.has_changes and not plan.has_errors


def test_identical_row_is_unchanged_and_nothing_to_do():
    rec = record()
    plan = plan_of([ok(rec)], [row_for(rec)])
    assert [t.action for t in plan.tenants] == [Action.UNCHANGED]
    assert not plan.has_changes
    assert plan.tenants[0].expected_hash == "h1"


def test_a_row_the_database_found_equal_is_unchanged_without_its_values():
    # The database compared the row with the record itself: no snapshot, no hash.
    rec = record()
    matching = CurrentRow(id=rec.id, snapshot=None, matches=True)
    (tenant,) = plan_of([ok(rec)], [matching], states={}).tenants
    assert tenant.action is Action.UNCHANGED
    assert (tenant.changes, tenant.expected_hash, tenant.missing_yaml) == ((), None, False)


def test_only_a_yaml_orphan_is_said_to_miss_its_file():
    created, changed = record("created"), record("changed")
    rows = [row_for(changed, name="Old"), CurrentRow("db-orphan", {"config_source": "database"})]
    plan = plan_of([ok(created), ok(changed)], rows)
    assert {t.id: t.missing_yaml for t in plan.tenants} == {
        "changed": False,
        "created": False,
        "db-orphan": False,
    }
    shown = [plan_report.tenant_to_json(t)["missing_yaml"] for t in plan.tenants]
    assert shown == [False] * 3


def test_one_yaml_edit_is_exactly_one_json_path():
    old = record()
    new_config = copy.deepcopy(CONFIG)
    new_config["branding"]["primary_color"] = "#00AAFF"
    plan = plan_of([ok(record(tenant_config=new_config))], [row_for(old)])
    (tenant,) = plan.tenants
    assert tenant.action is Action.UPDATE
    assert tenant.changes == (
        Change("/tenant_config/branding/primary_color", Op.REPLACE, "#FF6B6B", "#00AAFF"),
    )


def test_column_change_and_yaml_row_flip_config_source():
    old = record()
    plan = plan_of([ok(record(timezone="Indian/Mauritius"))], [row_for(old, config_source="yaml")])
    assert plan.tenants[0].changes == (
        Change("/columns/timezone", Op.REPLACE, "Africa/Johannesburg", "Indian/Mauritius"),
        Change("/columns/config_source", Op.REPLACE, "yaml", "database"),
    )


def test_list_item_edit_append_and_removal_paths():
    old = record()
    cfg = copy.deepcopy(CONFIG)
    cfg["destinations"][1]["enabled"] = False
    cfg["destinations"].append({"name": "Cape Town", "code": "CPT", "enabled": True})
    del cfg["email"]["smtp"]
    changes = plan_of([ok(record(tenant_config=cfg))], [row_for(old)]).tenants[0].changes
    assert changes == (
        Change("/tenant_config/destinations/1/enabled", Op.REPLACE, True, False),
        Change("/tenant_config/destinations/2", Op.ADD, None, cfg["destinations"][2]),
        Change("/tenant_config/email/smtp", Op.REMOVE, {"password": "${X_SMTP_PASSWORD}"}, None),
    )


def test_keys_with_slash_and_tilde_are_escaped_per_rfc6901():
    assert escape("a/b~c") == "a~1b~0c"
    out: list[Change] = []
    diff_json({"a/b": 1, "~": 2}, {"a/b": 3, "~": 2}, "/tenant_config", out)
    assert out == [Change("/tenant_config/a~1b", Op.REPLACE, 1, 3)]


def test_bool_versus_number_is_a_change_but_int_versus_float_is_not():
    # Python says True == 1; jsonb does not. And jsonb says 1 == 1.0.
    assert not same({"a": [True]}, {"a": [1]})
    assert same({"a": [1]}, {"a": [1.0]})
    old = record()
    cfg = copy.deepcopy(CONFIG)
    cfg["destinations"][0]["enabled"] = 1
    changes = plan_of([ok(record(tenant_config=cfg))], [row_for(old)]).tenants[0].changes
    assert changes == (Change("/tenant_config/destinations/0/enabled", Op.REPLACE, True, 1),)


def test_invalid_file_is_invalid_with_its_errors_and_nothing_to_write():
    problem = Problem(Path("clients/bad/client.yaml"), "not a mapping", "", 1, 1)
    result = TenantResult(tenant_id="bad", path=problem.path, record=None, problems=(problem,))
    plan = plan_of([result])
    (tenant,) = plan.tenants
    assert tenant.action is Action.INVALID and tenant.errors == (problem,)
    assert plan.has_errors and not plan.to_write


def test_value_too_long_for_its_column_is_invalid_before_any_write():
    plan = plan_of([ok(record(currency="X" * 11))])
    (tenant,) = plan.tenants
    assert tenant.action is Action.INVALID
    assert "VARCHAR(10)" in tenant.errors[0].message
    assert tenant.errors[0].json_path == "/client/currency"


def test_nul_character_is_invalid_but_a_literal_backslash_u0000_is_fine():
    cfg = copy.deepcopy(CONFIG)
    cfg["branding"]["company_name"] = "bad\x00name"
    assert plan_of([ok(record(tenant_config=cfg))]).tenants[0].action is Action.INVALID
    cfg["branding"]["company_name"] = "literal \\u0000 text"
    assert plan_of([ok(record(tenant_config=cfg))]).tenants[0].action is Action.CREATE


def test_drifted_row_is_blocked_with_the_drift_diff():
    imported = record()
    admin = row_for(imported, hash_="admin", name="Africa Stay (edited by admin)")
    state = ImportState(run_id=7, hash="h1", snapshot=record_snapshot(imported))
    yaml_edit = record(timezone="Indian/Mauritius")
    plan = plan_of([ok(yaml_edit)], [admin], {"africastay": state})
    (tenant,) = plan.tenants
    assert tenant.action is Action.BLOCKED
    assert tenant.drift_run == 7
    assert tenant.drift == (
        Change("/columns/name", Op.REPLACE, "Africa Stay", "Africa Stay (edited by admin)"),
    )
    # What --force would write: the admin's name back to YAML's, and the timezone.
    assert {c.path for c in tenant.changes} == {"/columns/name", "/columns/timezone"}
    assert tenant.record is None and plan.has_errors and not plan.to_write


def test_force_turns_blocked_into_a_forced_update():
    imported = record()
    admin = row_for(imported, hash_="admin", name="Edited")
    state = ImportState(run_id=7, hash="h1", snapshot=record_snapshot(imported))
    plan = plan_of([ok(imported)], [admin], {"africastay": state}, force=True)
    (tenant,) = plan.tenants
    assert tenant.action is Action.UPDATE and tenant.forced and tenant.drift
    assert tenant.record == imported and tenant.expected_hash == "admin"


def test_drifted_row_equal_to_the_file_is_unchanged():
    rec = record()
    plan = plan_of([ok(rec)], [row_for(rec, hash_="other")], {"africastay": ImportState(1, "h1")})
    assert plan.tenants[0].action is Action.UNCHANGED


def test_row_never_imported_is_a_normal_update_not_drift():
    legacy = row_for(record(name="Legacy"), hash_="x", config_source="yaml")
    plan = plan_of([ok(record())], [legacy])
    assert plan.tenants[0].action is Action.UPDATE and not plan.tenants[0].forced


def test_orphans_are_reported_and_yaml_orphans_flagged_louder():
    db_orphan = row_for(record("gone-db"), config_source="database")
    yaml_orphan = row_for(record("gone-yaml"), config_source="yaml")
    plan = plan_of([], [db_orphan, yaml_orphan])
    by_id = {t.id: t for t in plan.tenants}
    assert by_id["gone-db"].action is Action.ORPHANED and not by_id["gone-db"].missing_yaml
    assert by_id["gone-yaml"].action is Action.ORPHANED and by_id["gone-yaml"].missing_yaml
    # Orphans are not errors and nothing is written for them.
    assert not plan.has_errors and not plan.has_changes


def test_pre_012_row_without_tenant_config_column():
    snapshot = {"name": "Africa Stay", "short_name": "africastay"}
    plan = plan_of([ok(record())], [CurrentRow("africastay", snapshot, None)], pending=["012"])
    (tenant,) = plan.tenants
    assert tenant.action is Action.UPDATE
    assert Change("/tenant_config", Op.ADD, None, CONFIG) in tenant.changes
    assert plan.pending_migrations == ("012",) and plan.has_changes


def test_summary_has_every_action_and_tenants_are_sorted():
    rec_b, rec_a = record("b"), record("a")
    plan = plan_of([ok(rec_b), ok(rec_a)], [row_for(rec_b)])
    assert [t.id for t in plan.tenants] == ["a", "b"]
    assert plan.summary() == {
        "create": 1,
        "update": 0,
        "unchanged": 1,
        "invalid": 0,
        "blocked": 0,
        "orphaned": 0,
    }


# --- the diff is exact: applying it gives the new document -------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c/d", "~e", ""]), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_applying_the_diff_turns_old_into_new(old, new):
    out: list[Change] = []
    diff_json(old, new, "/tenant_config", out)
    assert same(apply_changes(old, out, "/tenant_config"), new)
    assert (out == []) == same(old, new)


# --- report -------------------------------------------------------------------------------


LITERAL_REF = SecretReference("/x/api_key", "NEW_ONE_X", "referenced", "sk-live-literal")


def mixed_plan():
    imported = record("blocked-one")
    cfg = copy.deepcopy(CONFIG)
    cfg["branding"]["primary_color"] = "#00AAFF"
    problem = Problem(Path("clients/bad/client.yaml"), "bad timezone", "/client/timezone", 3, 13)
    return plan_of(
        [
            ok(
                record("new-one"),
                secrets=(
                    SecretReference("/x/api_key", "NEW_ONE_X", "referenced", "sk-live-literal"),
                ),
            ),
            ok(record("changed", tenant_config=cfg)),
            ok(record("same")),
            TenantResult("bad", problem.path, None, (problem,)),
            ok(imported),
        ],
        [
            row_for(record("changed")),
            row_for(record("same")),
            row_for(imported, hash_="admin", name="Admin's"),
            row_for(record("orphan"), config_source="yaml"),
        ],
        {
            "blocked-one": ImportState(3, "h1", record_snapshot(imported)),
            "changed": ImportState(2, "h1"),  # written by run 2, unchanged since
        },
        pending=["013_import_history.sql"],
    )


def test_json_report_has_the_documented_keys():
    data = json.loads(plan_report.render_json(mixed_plan()))
    assert set(data["summary"]) == {
        "create",
        "update",
        "unchanged",
        "invalid",
        "blocked",
        "orphaned",
    }
    assert data["summary"] == {
        "create": 1,
        "update": 1,
        "unchanged": 1,
        "invalid": 1,
        "blocked": 1,
        "orphaned": 1,
    }
    assert data["pending_migrations"] == ["013_import_history.sql"]
    by_id = {t["id"]: t for t in data["tenants"]}
    for tenant in data["tenants"]:
        assert {"id", "action", "changes", "errors"} <= set(tenant)
    assert by_id["changed"]["changes"] == [
        {
            "path": "/tenant_config/branding/primary_color",
            "op": "replace",
            "old": "#FF6B6B",
            "new": "#00AAFF",
        }
    ]
    assert by_id["bad"]["errors"][0]["line"] == 3
    assert by_id["blocked-one"]["drift"][0]["new"] == "Admin's"
    assert by_id["orphan"]["missing_yaml"] is True
    assert by_id["new-one"]["secrets"] == [
        {"path": "/x/api_key", "env_var": "NEW_ONE_X", "action": "referenced"}
    ]


def test_reports_never_show_a_literal_secret():
    plan = mixed_plan()
    console = Console(record=True, width=200)
    plan_report.render_text(plan, console)
    for text in (
        console.export_text(),
        plan_report.render_json(plan),
        plan_report.render_markdown(plan),
    ):
        assert "sk-live-literal" not in text


def test_text_report_is_a_tree_with_signs():
    console = Console(record=True, width=200, color_system="truecolor")
    plan_report.render_text(mixed_plan(), console)
    text = console.export_text(clear=False)
    assert "+ new-one" in text
    assert "~ changed" in text
    assert '~ primary_color: "#FF6B6B" → "#00AAFF"' in text
    assert "! blocked-one" in text and "drift: last import → database" in text
    assert "clients/bad/client.yaml:3:13" in text
    assert "runtime cannot load this tenant" in text
    assert "013_import_history.sql" in text
    assert "Plan: 1 to create, 1 to update, 1 unchanged, 1 invalid, 1 blocked, 1 orphaned." in text
    # Colours: + green, ~ yellow, - red (ANSI SGR codes 32, 33, 31).
    ansi = console.export_text(styles=True)
    assert "\x1b[1;32m+ new-one" in ansi
    assert "\x1b[33m~ primary_color" in ansi


def test_many_creates_are_listed_one_line_each():
    plan = plan_of([ok(record(f"t{i:03}")) for i in range(plan_report.CREATE_TREES_UP_TO + 5)])
    console = Console(record=True, width=200)
    plan_report.render_text(plan, console)
    text = console.export_text()
    assert text.count("+ t0") == plan_report.CREATE_TREES_UP_TO + 5
    assert "tenant_config" not in text


def test_markdown_report_tables_escape_pipes():
    cfg = copy.deepcopy(CONFIG)
    cfg["branding"]["company_name"] = "A | B `x`"
    plan = plan_of([ok(record(tenant_config=cfg))], [row_for(record())])
    md = plan_report.render_markdown(plan)
    assert "| op | path | old | new |" in md
    assert "A \\| B `x`" in md
    assert "#### ~ `africastay` — update" in md


@pytest.mark.parametrize(
    ("value", "shown"),
    [("short", '"short"'), ({"a": 1}, '{"a": 1}'), (list(range(40)), "[40 items]")],
)
def test_values_are_shortened_for_display(value, shown):
    assert redaction.short_value(value) == shown
