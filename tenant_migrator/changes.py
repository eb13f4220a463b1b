"""RFC 6902 changes between what a row holds and what a file says, and the diff that
finds them. Pure.

Paths follow RFC 6902/6901: ``/columns/<column>`` for a column,
``/tenant_config/<key>/<key or index>…`` inside the JSONB document, with ``~``
and ``/`` in keys escaped as ``~0`` and ``~1``. Objects are diffed key by key,
lists index by index (then trailing adds or removes).

Equality is JSON equality as PostgreSQL's jsonb sees it, except that ``true``
is never equal to ``1`` (Python says it is; the database does not): a change
that only flips a type must show up, or the plan would call a row unchanged
that the write would then rewrite.

Its own module because planning (the verdict per tenant), rollback (what a run
undoes) and the reports all speak this vocabulary; ``planning`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tenant_migrator.problems import escape, unescape
from tenant_migrator.record import CONFIG_SOURCE, INSERT_ONLY_COLUMNS, OWNED_COLUMNS, TenantRecord

# What the drift hash covers, in this order: the owned columns, config_source and
# tenant_config. store/tables.py builds the same object in SQL (jsonb_build_object).
SNAPSHOT_COLUMNS: tuple[str, ...] = (*OWNED_COLUMNS, "config_source")


class Op(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True, slots=True)
class Change:
    """One RFC 6902 operation: ``old`` is None for add, ``new`` is None for remove."""

    path: str
    op: Op
    old: Any = None
    new: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op.value, "old": self.old, "new": self.new}


class DocumentAdd(Change):
    """A create's add of the whole ``tenant_config``, decoded only when ``new`` is read.

    A plan of 10,000 creates holding every document as dicts took 157 MB, while the
    record keeps the same document as JSON text anyway and most reports show a
    create as one line. ``new_json`` is that text (``record.config_json``), exactly
    what ``json.dumps(new, ensure_ascii=False)`` gives, so a compact JSON report can
    copy it without decoding. Equal to a ``Change`` with the same values.
    """

    __slots__ = ("record",)
    record: TenantRecord

    def __init__(self, record: TenantRecord) -> None:
        object.__setattr__(self, "path", "/tenant_config")
        object.__setattr__(self, "op", Op.ADD)
        object.__setattr__(self, "old", None)
        object.__setattr__(self, "record", record)

    @property  # type: ignore[override]  # a read-only view of the slot Change stores
    def new(self) -> dict[str, Any]:
        return self.record.tenant_config

    @property
    def new_json(self) -> str:
        return self.record.config_json

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Change):
            return NotImplemented
        mine = (self.path, self.op, self.old)
        return mine == (other.path, other.op, other.old) and self.new == other.new

    __hash__ = Change.__hash__

    def __repr__(self) -> str:
        return f"DocumentAdd(path='/tenant_config', op=add, record={self.record!r})"


def record_snapshot(record: TenantRecord) -> dict[str, Any]:
    """The snapshot an import of ``record`` leaves in the row."""
    return {
        **record.columns(),
        "config_source": CONFIG_SOURCE,
        "tenant_config": record.tenant_config,
    }


# One copy of each column's pointer, and one config_source add, for every create:
# formatting them per tenant cost ~600 bytes a create (60 MB at 100,000 tenants).
_COLUMN_POINTERS: Mapping[str, str] = {
    name: f"/columns/{name}" for name in (*OWNED_COLUMNS, *INSERT_ONLY_COLUMNS)
}
_ADD_CONFIG_SOURCE = Change("/columns/config_source", Op.ADD, None, CONFIG_SOURCE)


def create_changes(record: TenantRecord) -> tuple[Change, ...]:
    """The row a create writes, as adds: set columns, then the whole document."""
    changes = [
        Change(_COLUMN_POINTERS[name], Op.ADD, None, value)
        for name in OWNED_COLUMNS
        if (value := getattr(record, name)) is not None
    ]
    if record.primary_email is not None:
        changes += [
            Change(_COLUMN_POINTERS[name], Op.ADD, None, record.primary_email)
            for name in INSERT_ONLY_COLUMNS
        ]
    changes.append(_ADD_CONFIG_SOURCE)
    changes.append(DocumentAdd(record))
    return tuple(changes)


def diff_snapshots(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Change, ...]:
    """Changes turning snapshot ``old`` into ``new``: columns first, then tenant_config."""
    changes: list[Change] = []
    for name in SNAPSHOT_COLUMNS:
        before, after = old.get(name), new.get(name)
        if not same(before, after):
            changes.append(Change(f"/columns/{name}", Op.REPLACE, before, after))
    before, after = old.get("tenant_config"), new.get("tenant_config")
    if before is None:
        # Pre-012 row: the column does not exist yet, so the whole document is new.
        if after is not None:
            changes.append(Change("/tenant_config", Op.ADD, None, after))
    else:
        diff_json(before, after, "/tenant_config", changes)
    return tuple(changes)


def diff_json(old: Any, new: Any, path: str, out: list[Change]) -> None:
    """Append to ``out`` the RFC 6902 operations turning ``old`` into ``new``.

    Objects are diffed key by key and lists index by index (then trailing
    removes, highest index first, or trailing adds), so editing one value in
    client.yaml yields exactly that one path. Applied in order, the operations
    turn ``old`` into ``new``.
    """
    if same(old, new):
        return
    if type(old) is dict and type(new) is dict:
        for key, value in new.items():
            child = f"{path}/{escape(key)}"
            if key in old:
                diff_json(old[key], value, child, out)
            else:
                out.append(Change(child, Op.ADD, None, value))
        for key, value in old.items():
            if key not in new:
                out.append(Change(f"{path}/{escape(key)}", Op.REMOVE, value, None))
    elif type(old) is list and type(new) is list:
        common = min(len(old), len(new))
        for i in range(common):
            diff_json(old[i], new[i], f"{path}/{i}", out)
        for i in range(len(old) - 1, common - 1, -1):
            out.append(Change(f"{path}/{i}", Op.REMOVE, old[i], None))
        for i in range(common, len(new)):
            out.append(Change(f"{path}/{i}", Op.ADD, None, new[i]))
    else:
        out.append(Change(path, Op.REPLACE, old, new))


def same(a: Any, b: Any) -> bool:
    """JSON equality as jsonb sees it (1 == 1.0), but with booleans apart from numbers."""
    if a is b:
        return True
    # Python's == is looser than ours, never stricter: unequal there means unequal.
    # When it says equal, only a bool standing where the other has a number (True
    # == 1) can still make them differ; that check is a walk over types only.
    return a == b and _types_match(a, b)


def _types_match(a: Any, b: Any) -> bool:
    # Precondition: a == b, so containers have the same keys and lengths. This is
    # on the hot path (every unchanged tenant of a 10,000-tenant plan): keep it flat.
    ta = type(a)
    if ta is dict:
        pairs = ((v, b[k]) for k, v in a.items())
    elif ta is list:
        pairs = zip(a, b, strict=True)
    else:
        tb = type(b)
        return ta is tb or (ta is not bool and tb is not bool)
    for v, w in pairs:
        tv = type(v)
        if tv is not type(w):
            if tv is bool or type(w) is bool:
                return False
        elif (tv is dict or tv is list) and not _types_match(v, w):
            return False
    return True


def apply_changes(document: Any, changes: Iterable[Change], root: str) -> Any:
    """Apply the changes under ``root`` (e.g. ``/tenant_config``) to a copy of ``document``.

    The inverse of ``diff_json``; used by tests and to prove a plan is exact.
    """
    import copy

    doc = copy.deepcopy(document)
    for change in changes:
        if not change.path.startswith(root):
            continue
        tokens = [unescape(t) for t in change.path[len(root) :].split("/")[1:]]
        if not tokens:
            doc = copy.deepcopy(change.new) if change.op is not Op.REMOVE else None
            continue
        parent = doc
        for token in tokens[:-1]:
            parent = parent[int(token)] if type(parent) is list else parent[token]
        last = tokens[-1]
        if type(parent) is list:
            index = len(parent) if last == "-" else int(last)
            if change.op is Op.ADD:
                parent.insert(index, copy.deepcopy(change.new))
            elif change.op is Op.REMOVE:
                del parent[index]
            else:
                parent[index] = copy.deepcopy(change.new)
        elif change.op is Op.REMOVE:
            del parent[last]
        else:
            parent[last] = copy.deepcopy(change.new)
    return doc
