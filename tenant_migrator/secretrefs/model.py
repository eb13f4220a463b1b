"""``SecretReference``: one secret found in a client file, and its vocabulary.

Every other module of the package makes or reads these. ``literal`` is the only
place a secret value is ever kept; it is excluded from repr and equality.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

# What happened to the secret (``SecretReference.action``).
REFERENCED = "referenced"  # the literal was replaced by ${env_var}
KEPT = "kept"  # the file already held a reference
REMOVED = "removed"  # the field was dropped (``store: false``: the Supabase service key)

# Whose variable it is (``SecretReference.scope``, ``SecretRule.scope``).
TENANT = "tenant"  # ``{TENANT_ID}_{env}``: each tenant its own
SHARED = "shared"  # ``{env}``: one value for every tenant

# What a process pool sends for one reference: the fields in declaration order
# (see ``to_wire``; tests/test_wire.py fails when a field is added and not sent).
Wire = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SecretReference:
    """One secret found in a client file.

    ``json_path``: RFC 6901 pointer of the field (``/email/smtp/password``).
    ``env_var``: the variable the reference names (``AFRICASTAY_SMTP_PASSWORD``).
    ``action``: "referenced" (literal replaced by ``${env_var}``), "kept" (already a
    reference), or "removed" (field dropped, e.g. the Supabase service key).
    ``literal``: the secret value itself; only ``--secrets-out`` may ever write it.
    It is excluded from repr so it cannot leak through logs or tracebacks.
    ``scope``: "tenant" (variable prefixed with the tenant id) or "shared".
    ``reason``: why it is a secret — "schema" (x-secret annotation), "key-name",
    or "shape:<kind>" (e.g. "shape:sendgrid"); "reference-default" when the literal
    was the default of a ``${VAR:-default}``.
    ``line``/``column``: where it is in the file (1-based), when known.
    """

    json_path: str
    env_var: str
    action: str
    literal: str | None = field(default=None, repr=False, compare=False)
    scope: str = TENANT
    reason: str = "schema"
    line: int | None = None
    column: int | None = None

    @property
    def reference(self) -> str:
        return "${" + self.env_var + "}"

    def to_json(self) -> dict[str, Any]:
        """The public description (never the literal)."""
        return {
            "path": self.json_path,
            "env_var": self.env_var,
            "action": self.action,
            "scope": self.scope,
            "reason": self.reason,
            "line": self.line,
            "column": self.column,
        }

    def to_wire(self) -> Wire:
        """Every field, as a plain tuple for a process pool (cheap to pickle). The
        literal travels too: the parent writes ``--secrets-out`` from it."""
        return (
            self.json_path,
            self.env_var,
            self.action,
            self.literal,
            self.scope,
            self.reason,
            self.line,
            self.column,
        )

    @classmethod
    def from_wire(cls, wire: Wire) -> SecretReference:
        """The reference ``to_wire`` sent. Paths, actions, scopes and reasons repeat
        across thousands of tenants, and so do shared variables' names (tenant-scoped
        ones are each tenant's own): the parent keeps one copy of each."""
        json_path, env_var, action, literal, scope, reason, line, column = wire
        intern = sys.intern
        return cls(
            intern(json_path),
            intern(env_var) if scope == SHARED else env_var,
            intern(action),
            literal,
            intern(scope),
            intern(reason),
            line,
            column,
        )
