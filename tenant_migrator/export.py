"""A tenants row → client.yaml text: the way back to YAML mode. Pure.

The inverse of record.build_record: the columns go back into the ``client``
section (and ``email.primary``, ``infrastructure.gcp.project_id``/``dataset``),
``tenant_config`` is written as is with its ``${ENV}`` references unresolved.
Importing the output again gives the same row, so ``plan`` shows the tenant as
unchanged. Where the row cannot round-trip (a column disagreeing with its copy
inside ``tenant_config``) the export says so in ``warnings``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# client.yaml field → column, for the fields that live in the `client` section.
CLIENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("short_name", "short_name"),
    ("timezone", "timezone"),
    ("currency", "currency"),
)
# Columns that are copies of a value nested in the document (tenant_config keeps it too).
NESTED_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("primary_email", ("email", "primary")),
    ("gcp_project_id", ("infrastructure", "gcp", "project_id")),
    ("gcp_dataset", ("infrastructure", "gcp", "dataset")),
)
_MISSING = object()
_YAML_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


@dataclass(frozen=True, slots=True)
class Exported:
    tenant_id: str
    text: str
    # Why this export would not import back to exactly the same row (never values).
    warnings: tuple[str, ...] = ()


def export_tenant(tenant_id: str, snapshot: Mapping[str, Any]) -> Exported:
    """``snapshot``: the row's owned columns and ``tenant_config`` (see planning.CurrentRow)."""
    document, warnings = client_document(tenant_id, snapshot)
    header = (
        f"# {tenant_id}: exported from the tenants table by `tenant-migrator export`.\n"
        "# Secrets are ${ENV} references; the runtime resolves them from its environment.\n"
    )
    return Exported(tenant_id, header + dump_yaml(document), tuple(warnings))


def client_document(tenant_id: str, snapshot: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """The client.yaml document for a row, and the reasons it may not round-trip."""
    warnings: list[str] = []
    config = snapshot.get("tenant_config")
    config = copy.deepcopy(config) if isinstance(config, dict) else {}
    if "client" in config:
        # Import takes `client` from the columns; a stray copy in the JSON would be lost.
        warnings.append(
            "tenant_config has a top-level `client` key; the export replaces it with the columns"
        )

    client: dict[str, Any] = {"id": tenant_id}
    for field_name, column in CLIENT_FIELDS:
        if snapshot.get(column) is not None:
            client[field_name] = snapshot[column]

    for column, keys in NESTED_FIELDS:
        value = snapshot.get(column)
        current = _get(config, keys)
        where = ".".join(keys)
        if value is None:
            if current is not _MISSING and current is not None:
                warnings.append(
                    f"column {column} is empty but tenant_config has {where}; importing "
                    f"this file sets the column from {where}"
                )
            continue
        if current is _MISSING:
            if not _set(config, keys, value):
                warnings.append(f"cannot place column {column} at {where}: a parent is not a map")
            else:
                warnings.append(
                    f"{where} was added from column {column}; importing this file adds it "
                    "to tenant_config too"
                )
        elif current != value:
            warnings.append(
                f"column {column} differs from tenant_config's {where}; the file keeps "
                f"tenant_config's value, so importing it would change the column"
            )

    return {"client": client, **_sorted(config)}, warnings


def _get(doc: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return _MISSING
        doc = doc[key]
    return doc


def _set(doc: dict, keys: tuple[str, ...], value: Any) -> bool:
    for key in keys[:-1]:
        doc = doc.setdefault(key, {})
        if not isinstance(doc, dict):
            return False
    doc[keys[-1]] = value
    return True


def _sorted(value: Any) -> Any:
    # jsonb hands keys back sorted by length; alphabetical reads better and is how
    # the platform's own files are laid out.
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def dump_yaml(document: Mapping[str, Any]) -> str:
    """YAML that yaml.safe_load reads back to exactly ``document``.

    PyYAML quotes every string that would otherwise load as something else
    (``'yes'``, ``'2024-01-05'``, ``'0777'``), so YAML 1.1 typing cannot change a
    value. Multi-line strings use the literal block style when PyYAML allows it.
    """
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None
        if any(ch in data for ch in _YAML_LINE_BREAKS):
            # PyYAML writes these raw in single-quoted style, where YAML reads them
            # as line breaks; double quotes escape them (\N \L \P).
            style = '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=4096,
    )
