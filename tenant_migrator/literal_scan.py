"""Literal secrets in what the database holds, found with the rules extraction uses
on client files (schema ``x-secret`` fields, secret-looking key names, well-known
shapes), and taken out of a row before it goes anywhere we write.

Two users: the writer and rollback (``scrub_row``: a row's previous values go
into our history, or back into ``tenants``, only as what extraction would make of
them: ``${ENV}`` references, or nothing for ``store: false`` fields), and
``audit`` (the same walk, reporting where and what kind, never a value).

Paths are the plan's: ``/columns/<column>`` for a column of the row,
``/tenant_config/<pointer>`` inside the document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenant_migrator import secretrefs
from tenant_migrator.problems import Severity

if TYPE_CHECKING:
    from tenant_migrator.secretrefs import SecretRule
    from tenant_migrator.settings import Settings

# The kind of a finding whose *key* is shaped like a secret (extraction drops such
# a key: a key cannot become a reference).
SECRET_SHAPED_KEY = "secret-shaped-key"

_CONFIG = "tenant_config"
# How extraction words that error (secretrefs/extraction.py; matched, not imported: it is text).
_SHAPED_KEY_MESSAGE = "a key here looks like a secret"


@dataclass(frozen=True, slots=True)
class LiteralFinding:
    """One literal secret in a row: whose, where, why it is one. Never the value.

    ``path``: ``/columns/<name>`` or ``/tenant_config/<pointer>``. ``kind``: the
    detection reason (``schema``, ``key-name``, ``shape:<kind>``,
    ``reference-default``, ``secret-shaped-key``). ``becomes``: the ``${ENV}``
    reference stored instead, None when the field is dropped.
    """

    tenant: str
    path: str
    kind: str
    becomes: str | None

    def to_json(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "path": self.path, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class ScrubbedRow:
    """``row`` with every literal secret replaced (the same object when none was
    found), and what was found."""

    row: Mapping[str, Any]
    findings: tuple[LiteralFinding, ...]

    @property
    def changed(self) -> bool:
        return bool(self.findings)


def project_rules(settings: Settings) -> Mapping[str, SecretRule]:
    """The project schema's ``x-secret`` rules (plus the baseline ones).

    Read straight from the JSON, not compiled (the validator is not needed here).
    A schema that cannot be read falls back to the baseline rules: key names and
    shapes still apply, and the run that uses this reports the broken schema anyway.
    """
    from tenant_migrator import validation

    try:
        path, _own = validation.locate_schema(settings.schema_path)
        schema = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(schema, dict):
            return secretrefs.rules_from_schema(schema)
    except (OSError, ValueError, validation.SchemaError, secretrefs.SchemaRuleError):
        pass
    return secretrefs.BASELINE_RULES


def scrub_row(
    row: Mapping[str, Any], tenant_id: str, rules: Mapping[str, SecretRule] | None = None
) -> ScrubbedRow:
    """``row`` (a whole ``tenants`` row as JSON, or a snapshot) as extraction would
    leave it. ``tenant_config`` gets the schema's rules; the other columns (and any
    JSON inside them) key names and shapes only: the rules name document fields."""
    findings: list[LiteralFinding] = []
    out: dict[str, Any] | None = None

    config = row.get(_CONFIG)
    if isinstance(config, dict):
        cleaned = _scrub(config, tenant_id, rules, f"/{_CONFIG}", findings)
        if cleaned is not None:
            out = dict(row)
            out[_CONFIG] = cleaned

    columns = {k: v for k, v in row.items() if k != _CONFIG and _may_hold(v)}
    if columns:
        # Wrapped so that pointers (and the variable names built from them) say
        # /columns/<name>: AFRICASTAY_COLUMNS_NAME.
        cleaned = _scrub({"columns": columns}, tenant_id, {}, "", findings)
        if cleaned is not None:
            out = dict(row) if out is None else out
            out.update(cleaned.get("columns", {}))
            for name in columns:
                if name not in cleaned.get("columns", {}):
                    out.pop(name, None)
    return ScrubbedRow(row if out is None else out, tuple(findings))


def _may_hold(value: Any) -> bool:
    return isinstance(value, str | dict | list)


def _scrub(
    document: dict[str, Any],
    tenant_id: str,
    rules: Mapping[str, SecretRule] | None,
    prefix: str,
    findings: list[LiteralFinding],
) -> dict[str, Any] | None:
    """The extraction of ``document``, or None when it holds no literal."""
    extraction = secretrefs.extract(document, tenant_id, rules)
    found = False
    for ref in extraction.secrets:
        if ref.literal is None:  # already a reference
            continue
        found = True
        becomes = ref.reference if ref.action == secretrefs.REFERENCED else None
        findings.append(LiteralFinding(tenant_id, prefix + ref.json_path, ref.reason, becomes))
    for problem in extraction.problems:
        # A secret-shaped key is an error (and dropped); partial-value warnings come
        # with a reference already counted above; nesting too deep is no secret.
        if problem.severity is Severity.ERROR and _SHAPED_KEY_MESSAGE in problem.message:
            found = True
            pointer = prefix + (problem.json_path or "")
            findings.append(LiteralFinding(tenant_id, pointer, SECRET_SHAPED_KEY, None))
    return extraction.config if found else None
