"""changes.py at its edges: jsonb equality deep inside documents, the create's adds,
list diffs at their ends, applying ``-`` and removals. Pure. Kills changes.py mutants
that survived the rest of the suite (tests/MUTATION.md).
"""

from __future__ import annotations

import pytest

from tenant_migrator.changes import (
    Change,
    DocumentAdd,
    Op,
    apply_changes,
    create_changes,
    diff_json,
    diff_snapshots,
    same,
)
from tests.test_planning import record

# (a, b, equal as jsonb sees them); a new case is one row.
EQUALITY = [
    (1, 1.0, True),
    (True, 1, False),
    (1, True, False),
    (False, 0, False),
    (None, None, True),
    ("a", "a", True),
    ([1, 2], [1.0, 2], True),
    ([True], [1], False),
    ([1], [True], False),
    ({"a": True}, {"a": 1}, False),
    ({"a": 1}, {"a": True}, False),
    ({"a": [{"b": True}]}, {"a": [{"b": 1}]}, False),
    ({"a": [{"b": 1}]}, {"a": [{"b": 1.0}]}, True),
    ([[True]], [[1]], False),
    ({"a": {"b": 1}}, {"a": {"b": 1}}, True),
    ([1, "x"], [1, "x"], True),
    ({"a": 1}, {"a": 2}, False),
]


@pytest.mark.parametrize(("a", "b", "equal"), EQUALITY)
def test_same_is_jsonb_equality_with_booleans_apart_from_numbers(a, b, equal):
    assert same(a, b) is equal
    assert same(b, a) is equal


def test_a_create_adds_the_insert_only_emails_only_when_there_is_an_email():
    with_email = {c.path for c in create_changes(record())}
    assert {"/columns/admin_email", "/columns/support_email"} <= with_email
    without = create_changes(record(primary_email=None))
    paths = [c.path for c in without]
    assert "/columns/admin_email" not in paths and "/columns/primary_email" not in paths
    assert paths[-2:] == ["/columns/config_source", "/tenant_config"]


def test_the_create_s_document_add_equals_a_plain_change_and_keeps_the_json_text():
    rec = record()
    add = create_changes(rec)[-1]
    assert isinstance(add, DocumentAdd)
    assert add == Change("/tenant_config", Op.ADD, None, rec.tenant_config)
    assert add != Change("/tenant_config", Op.ADD, None, {"other": 1})
    assert add != Change("/tenant_config", Op.REPLACE, None, rec.tenant_config)
    assert add.new_json == rec.config_json
    assert (add == "not a change") is False
    assert "record=" in repr(add) and add.to_json()["op"] == "add"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ([1, 2, 3], [1], [("/d/2", Op.REMOVE, 3, None), ("/d/1", Op.REMOVE, 2, None)]),
        ([1], [1, 2, 3], [("/d/1", Op.ADD, None, 2), ("/d/2", Op.ADD, None, 3)]),
        ([1, 2], [1, 5], [("/d/1", Op.REPLACE, 2, 5)]),
        ([], [7], [("/d/0", Op.ADD, None, 7)]),
        ([7], [], [("/d/0", Op.REMOVE, 7, None)]),
        ({"a": 1, "b": 2}, {"a": 1}, [("/d/b", Op.REMOVE, 2, None)]),
        ({"a": 1}, {"a": 1, "c~/": 3}, [("/d/c~0~1", Op.ADD, None, 3)]),
        ({"a": [1]}, {"a": {"x": 1}}, [("/d/a", Op.REPLACE, [1], {"x": 1})]),
    ],
)
def test_diff_json_gives_exactly_these_operations(old, new, expected):
    out: list[Change] = []
    diff_json(old, new, "/d", out)
    assert [(c.path, c.op, c.old, c.new) for c in out] == expected
    assert apply_changes(old, out, "/d") == new


def test_diff_snapshots_of_a_pre_012_row_adds_the_whole_document():
    changes = diff_snapshots({"name": "A"}, {"name": "A", "tenant_config": {"k": 1}})
    assert changes == (Change("/tenant_config", Op.ADD, None, {"k": 1}),)
    assert diff_snapshots({"name": "A"}, {"name": "A"}) == ()


def test_apply_changes_appends_with_a_dash_and_skips_other_roots():
    doc = {"items": [1]}
    changes = [
        Change("/tenant_config/items/-", Op.ADD, None, 2),
        Change("/columns/name", Op.REPLACE, "a", "b"),
        Change("/tenant_config/items/0", Op.REPLACE, 1, 0),
    ]
    assert apply_changes(doc, changes, "/tenant_config") == {"items": [0, 2]}
    assert doc == {"items": [1]}  # a copy, never the caller's document


def test_apply_changes_removes_a_key_and_replaces_the_whole_document():
    assert apply_changes({"a": 1, "b": 2}, [Change("/t/a", Op.REMOVE, 1)], "/t") == {"b": 2}
    assert apply_changes({"a": 1}, [Change("/t", Op.REPLACE, {"a": 1}, {"z": 0})], "/t") == {"z": 0}
    assert apply_changes({"a": 1}, [Change("/t", Op.REMOVE, {"a": 1})], "/t") is None
    nested = {"l": [{"k": 1}, {"k": 2}]}
    assert apply_changes(nested, [Change("/t/l/1/k", Op.REPLACE, 2, 3)], "/t") == {
        "l": [{"k": 1}, {"k": 3}]
    }


def test_a_change_is_frozen():
    import dataclasses

    change = Change("/columns/name", Op.REPLACE, "a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.new = "c"  # type: ignore[misc]
