"""The tenant record: the row the import writes for one tenant (a plain value).

Mapping from client.yaml (documented in README "How client.yaml maps to the row"):

    id              <- the directory name under clients/
    name            <- client.name
    short_name      <- client.short_name
    timezone        <- client.timezone
    currency        <- client.currency
    primary_email   <- email.primary   (also admin_email/support_email on insert)
    gcp_project_id  <- infrastructure.gcp.project_id
    gcp_dataset     <- infrastructure.gcp.dataset
    tenant_config   <- the document without `client`, secrets replaced by ${ENV} references
    config_source   =  'database'

A column-backed field the file leaves out is written as the schema's ``default``
for it (``column_defaults``; e.g. ``client.currency`` → ``USD``), not NULL: that is
the value the platform's YAML path read for such a file (its loader falls back to
the schema's default), while its database path reads a NULL column its own way
(``currency`` as ``ZAR``). The same config must read the same from either source.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenant_migrator.problems import Problem, Severity
from tenant_migrator.secretrefs import resolve_local_ref

if TYPE_CHECKING:
    from tenant_migrator.loader import LoadedDocument

CONFIG_SOURCE = "database"

# Columns the tool owns and rewrites on every import, in write order.
OWNED_COLUMNS: tuple[str, ...] = (
    "name",
    "short_name",
    "timezone",
    "currency",
    "primary_email",
    "gcp_project_id",
    "gcp_dataset",
)
# Written only when the row is created (the platform copied email.primary there).
INSERT_ONLY_COLUMNS: tuple[str, ...] = ("admin_email", "support_email")


def config_json(config: Mapping[str, Any]) -> str:
    """``tenant_config`` as the JSON text the database receives (no ASCII escaping:
    jsonb stores the characters; NaN/Infinity refused, as jsonb refuses them)."""
    return json.dumps(config, ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True, init=False, eq=False, repr=False)
class TenantRecord:
    """One tenant's row. ``tenant_config`` is kept serialized, not as a dict.

    A 3 KB client file becomes ~16 KB of dicts, lists and strings in Python but
    3 KB of JSON text (1.4 KB compressed), and the JSON text is what the database
    is sent anyway: 100,000 records must fit in memory for the plan. So
    ``config_data`` holds the JSON text (``config_json``), or for very large runs
    its zlib-compressed UTF-8; ``tenant_config`` decodes a fresh dict on each access
    (which also means no caller can change a record through it).
    """

    id: str
    name: str
    short_name: str | None
    timezone: str | None
    currency: str | None
    primary_email: str | None
    gcp_project_id: str | None
    gcp_dataset: str | None
    config_data: str | bytes

    def __init__(
        self,
        id: str,
        name: str,
        short_name: str | None,
        timezone: str | None,
        currency: str | None,
        primary_email: str | None,
        gcp_project_id: str | None,
        gcp_dataset: str | None,
        tenant_config: Mapping[str, Any] | None = None,
        *,
        config_data: str | bytes | None = None,
    ) -> None:
        if tenant_config is not None or config_data is None:
            config_data = config_json(tenant_config if tenant_config is not None else {})
        values = (
            id,
            name,
            short_name,
            timezone,
            currency,
            primary_email,
            gcp_project_id,
            gcp_dataset,
            config_data,
        )
        for slot, value in zip(_SLOTS, values, strict=True):
            object.__setattr__(self, slot, value)

    @property
    def config_json(self) -> str:
        """``tenant_config`` as JSON text, exactly ``config_json(self.tenant_config)``."""
        data = self.config_data
        if type(data) is str:
            return data
        return zlib.decompress(data).decode("utf-8", "surrogatepass")

    @property
    def tenant_config(self) -> dict[str, Any]:
        """The document without ``client`` (a new dict on every access)."""
        return json.loads(self.config_json)

    def columns(self) -> dict[str, Any]:
        """The owned scalar columns, by name (not tenant_config, not config_source)."""
        return {name: getattr(self, name) for name in OWNED_COLUMNS}

    def compressed(self) -> TenantRecord:
        """The same record holding its JSON zlib-compressed (about 45 % of the size)."""
        if type(self.config_data) is bytes:
            return self
        packed = zlib.compress(self.config_data.encode("utf-8", "surrogatepass"), 1)
        return TenantRecord(*self._column_values(), config_data=packed)

    def _column_values(self) -> tuple[Any, ...]:
        return (self.id, *(getattr(self, name) for name in OWNED_COLUMNS))

    def __eq__(self, other: object) -> bool:
        # Value semantics of the dict it stands for: the same JSON text is the fast
        # answer; otherwise decode (key order, 1 vs 1.0 do not make records differ).
        if not isinstance(other, TenantRecord):
            return NotImplemented
        if self._column_values() != other._column_values():
            return False
        return (
            self.config_data == other.config_data
            or self.config_json == other.config_json
            or self.tenant_config == other.tenant_config
        )

    __hash__ = None  # type: ignore[assignment]  # equal records may differ in representation

    def __repr__(self) -> str:
        # Not the document: reprs end up in logs and error reports, and a plan of
        # 10,000 records gets repr'd whole by asyncio.run on Python 3.11 (see the
        # benchmark notes); the size says enough to tell records apart.
        columns = ", ".join(f"{name}={value!r}" for name, value in self.columns().items())
        size = len(self.config_data)
        form = "JSON characters" if type(self.config_data) is str else "compressed JSON bytes"
        return f"TenantRecord(id={self.id!r}, {columns}, tenant_config=<{size:,} {form}>)"


_SLOTS = ("id", *OWNED_COLUMNS, "config_data")
if TenantRecord.__slots__ != _SLOTS:  # pragma: no cover - guards the field order above
    raise AssertionError("TenantRecord fields must be id, the owned columns, config_data")


# Keys of the `client` section that become columns (id is the directory name).
_CLIENT_COLUMNS = ("id", "name", "short_name", "timezone", "currency")


def build_record(
    tenant_id: str,
    document: Mapping[str, Any],
    *,
    compress: bool = False,
    defaults: ColumnDefaults = (),
) -> TenantRecord:
    """The row for one tenant from its (validated, secrets-replaced) document.

    Pure. ``tenant_config`` is the document without the ``client`` section, whose
    fields live in columns; keys of ``client`` that have no column are kept under
    ``tenant_config.client`` so nothing is dropped (``client.id`` is not kept: the
    directory name is the id, and a mismatch is reported by validation).
    ``defaults`` (``column_defaults``) fill the column-backed fields the document
    leaves out, see ``with_defaults``.
    """
    if defaults:
        document = with_defaults(document, defaults)
    client = document.get("client")
    client = client if isinstance(client, Mapping) else {}
    email = document.get("email")
    gcp = _section(document, "infrastructure", "gcp")
    config = {key: value for key, value in document.items() if key != "client"}
    extra = {key: value for key, value in client.items() if key not in _CLIENT_COLUMNS}
    if extra:
        config = {"client": extra, **config}
    name = _text(client.get("name"))
    record = TenantRecord(
        id=tenant_id,
        name=name if name is not None else tenant_id,
        short_name=_text(client.get("short_name")),
        timezone=_text(client.get("timezone")),
        currency=_text(client.get("currency")),
        primary_email=_text(email.get("primary")) if isinstance(email, Mapping) else None,
        gcp_project_id=_text(gcp.get("project_id")),
        gcp_dataset=_text(gcp.get("dataset")),
        tenant_config=config,
    )
    return record.compressed() if compress else record


def _section(document: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    node: Any = document
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _text(value: Any) -> str | None:
    # The schema guarantees strings for validated files; stay total for other callers.
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


# --- schema defaults for column-backed fields -------------------------------------------

# Where each owned column comes from in client.yaml.
COLUMN_SOURCES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("name", ("client", "name")),
    ("short_name", ("client", "short_name")),
    ("timezone", ("client", "timezone")),
    ("currency", ("client", "currency")),
    ("primary_email", ("email", "primary")),
    ("gcp_project_id", ("infrastructure", "gcp", "project_id")),
    ("gcp_dataset", ("infrastructure", "gcp", "dataset")),
)

# (column, keys in the document, the schema's default), for the columns that have one.
ColumnDefaults = tuple[tuple[str, tuple[str, ...], Any], ...]


def column_defaults(schema: Mapping[str, Any]) -> ColumnDefaults:
    """The schema's ``default`` at each column-backed path (``$ref`` and ``allOf``
    followed; a ``default`` beside a ``$ref`` counts too). Scalars only: a column
    holds text. ``client.currency`` → ``USD`` in the platform's schema and ours."""
    found = []
    for column, keys in COLUMN_SOURCES:
        default = _schema_default(schema, keys)
        if default is not None and isinstance(default, str | int | float):
            found.append((column, keys, default))
    return tuple(found)


def _schema_default(schema: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    nodes: list[Any] = [schema]
    for key in keys:
        nodes = [
            branch["properties"][key]
            for node in nodes
            for branch in _branches(schema, node)
            if isinstance(branch.get("properties"), Mapping) and key in branch["properties"]
        ]
    for node in nodes:
        for branch in _branches(schema, node):
            if "default" in branch:
                return branch["default"]
    return None


def _branches(schema: Mapping[str, Any], node: Any) -> list[Mapping[str, Any]]:
    """``node``, what its local ``$ref`` points at, and its ``allOf`` members (in that
    order, so a default written beside a ``$ref`` wins over the target's)."""
    found: list[Mapping[str, Any]] = []
    todo = [node]
    while todo and len(found) < 50:  # a cycle of refs ends here
        current = todo.pop(0)
        if not isinstance(current, Mapping):
            continue
        found.append(current)
        if isinstance(current.get("$ref"), str):
            todo.append(resolve_local_ref(schema, {"$ref": current["$ref"]}))
        if isinstance(current.get("allOf"), list):
            todo.extend(current["allOf"])
    return found


def missing_defaults(
    document: Mapping[str, Any], defaults: ColumnDefaults
) -> list[tuple[str, tuple[str, ...], Any]]:
    """The defaults that apply: the file leaves the key out (an explicit value,
    even null, is the file's own and is kept)."""
    missing = []
    for column, keys, default in defaults:
        node: Any = document
        for key in keys[:-1]:
            node = node.get(key, {}) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and keys[-1] not in node:
            missing.append((column, keys, default))
    return missing


def with_defaults(document: Mapping[str, Any], defaults: ColumnDefaults) -> Mapping[str, Any]:
    """``document`` with each missing column-backed field set to its schema default.

    Where it is written: where the file would have had it. So ``client.*`` lands
    in its column only (the ``client`` section never goes into tenant_config), and
    ``email.primary`` / ``infrastructure.gcp.*`` in the column *and* in
    tenant_config, whose copies must agree (the platform's database path prefers
    the column and falls back to tenant_config: either reads the default; an
    export's round-trip check stays quiet). Defaults of fields without a column
    (``openai.model``, ``agents.*.enabled``) are not filled: the platform's
    database path applies those very values in code when it reads a row, so both
    paths already agree, and filling them would add keys the file does not have
    (a change in every plan, an export that no longer matches the file).
    Copies only the mappings on the way to a filled key; the input is not changed.
    """
    missing = missing_defaults(document, defaults)
    if not missing:
        return document
    result = dict(document)
    for _column, keys, default in missing:
        node = result
        for key in keys[:-1]:
            child = node.get(key)
            child = dict(child) if isinstance(child, Mapping) else {}
            node[key] = child
            node = child
        node[keys[-1]] = default
    return result


def default_notes(document: LoadedDocument, defaults: ColumnDefaults) -> list[Problem]:
    """One info-level note per default ``build_record`` fills in for this file."""
    return [
        document.problem(
            "/" + "/".join(keys),
            f"{'.'.join(keys)} is not set; {column} is written as the schema's default "
            f"{default!r} (what the platform's YAML path read), not NULL",
            Severity.INFO,
        )
        for column, keys, default in missing_defaults(document.data, defaults)
    ]
