"""Which fields hold secrets: the schema's ``x-secret`` annotations, plus a baseline.

    "password": {"type": ["string", "null"],
                 "x-secret": {"env": "SMTP_PASSWORD", "scope": "tenant"}}

``scope: tenant`` names the variable ``{TENANT_ID}_{env}``, ``scope: shared`` names
it ``{env}``; ``store: false`` removes the field from ``tenant_config`` altogether
(the Supabase service key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tenant_migrator.errors import MigratorError
from tenant_migrator.problems import escape, unescape
from tenant_migrator.secretrefs.model import SHARED, TENANT


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One annotated field: its variable's base name, scope, and whether it is stored."""

    env: str
    scope: str = TENANT
    store: bool = field(default=True, kw_only=True)


# The fields the platform is known to keep secrets in. The schema's annotations are
# the rules; these only apply if a project's schema forgets one of them, so a stale
# schema can never let one of these reach the database.
BASELINE_RULES: Mapping[str, SecretRule] = {
    "/infrastructure/openai/api_key": SecretRule("OPENAI_API_KEY", SHARED),
    "/infrastructure/vapi/api_key": SecretRule("VAPI_API_KEY", TENANT),
    "/infrastructure/supabase/anon_key": SecretRule("SUPABASE_ANON_KEY", TENANT),
    "/infrastructure/supabase/service_key": SecretRule("SUPABASE_SERVICE_KEY", SHARED, store=False),
    "/email/sendgrid/api_key": SecretRule("SENDGRID_API_KEY", TENANT),
    "/email/smtp/password": SecretRule("SMTP_PASSWORD", TENANT),
}

_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


class SchemaRuleError(MigratorError):
    """An x-secret annotation in the schema is malformed."""


def rules_from_schema(schema: Mapping[str, Any]) -> dict[str, SecretRule]:
    """``x-secret`` annotations → {schema path: rule}; array items appear as ``*``.

    Follows ``properties``, ``items`` and local ``$ref``s. Baseline rules fill gaps.
    """
    rules: dict[str, SecretRule] = {}

    def visit(node: Any, pointer: str, depth: int) -> None:
        node = resolve_local_ref(schema, node)
        if not isinstance(node, Mapping) or depth > 30:
            return
        annotation = node.get("x-secret")
        if annotation is not None:
            rules[pointer] = _parse_rule(annotation, pointer)
        for name, sub in (node.get("properties") or {}).items():
            visit(sub, f"{pointer}/{escape(name)}", depth + 1)
        items = node.get("items")
        if isinstance(items, Mapping):
            visit(items, f"{pointer}/*", depth + 1)

    visit(schema, "", 0)
    for pointer, rule in BASELINE_RULES.items():
        rules.setdefault(pointer, rule)
    return rules


def resolve_local_ref(schema: Mapping[str, Any], node: Any) -> Any:
    """``node`` with its local ``$ref`` (``#/definitions/...``) followed, up to 20 hops.

    A ref into ``schema`` that does not exist gives ``{}``; a non-local ref is left as is.
    """
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(unescape(part), {})
        node, seen = target, seen + 1
    return node


def _parse_rule(annotation: Any, pointer: str) -> SecretRule:
    where = f"config/schema.json: x-secret at {pointer or '/'}"
    if not isinstance(annotation, Mapping):
        raise SchemaRuleError(
            f"{where} must be an object like {{'env': 'NAME', 'scope': 'tenant'}}"
        )
    env = annotation.get("env")
    scope = annotation.get("scope", TENANT)
    store = annotation.get("store", True)
    if not isinstance(env, str) or not _ENV_NAME.match(env):
        raise SchemaRuleError(f"{where}: 'env' must be an environment variable name")
    if scope not in (TENANT, SHARED):
        raise SchemaRuleError(f"{where}: 'scope' must be 'tenant' or 'shared'")
    if not isinstance(store, bool):
        raise SchemaRuleError(f"{where}: 'store' must be true or false")
    return SecretRule(env, scope, store=store)
