"""``check-env``: which variables the tenants reference, and whether this environment
sets them. Never reads or returns a value, only whether there is one."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tenant_migrator.secretrefs.model import REMOVED
from tenant_migrator.secretrefs.runtime import references
from tenant_migrator.secretrefs.syntax import resolvable

SET = "set"
EMPTY = "empty"
DEFAULT = "default"
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class EnvVariable:
    """One variable the tenants reference. ``status``: "set"; "empty" (set to "" and
    needed without a default); "default" (unset or empty, every use has a default);
    "missing" (unset, some use has no default; or a name the runtime cannot
    resolve, ``${smtp_password}``, whatever the environment holds). Never carries
    the value."""

    name: str
    status: str
    required: bool
    uses: tuple[tuple[str, str], ...]  # (tenant id, JSON pointer)

    @property
    def tenants(self) -> tuple[str, ...]:
        return tuple(sorted({tenant for tenant, _ in self.uses}))

    @property
    def ok(self) -> bool:
        return self.status in (SET, DEFAULT)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "required": self.required,
            "tenants": list(self.tenants),
            "uses": [{"tenant": t, "path": p} for t, p in self.uses],
        }


def check_environment(
    results: Iterable[Any], environ: Mapping[str, str] | None = None
) -> tuple[EnvVariable, ...]:
    """Every variable referenced by the loaded tenants (TenantResults with a record),
    plus the variables of removed fields (the platform reads those from its
    environment too), with whether ``environ`` provides it. Sorted by name."""
    env = os.environ if environ is None else environ
    uses: dict[str, list[tuple[str, str]]] = {}
    required: dict[str, bool] = {}
    for result in results:
        if result.record is None:
            continue
        found = references(result.record.tenant_config)  # a fresh list per call
        found += [
            (ref.json_path, ref.env_var, None) for ref in result.secrets if ref.action == REMOVED
        ]
        for pointer, name, default in found:
            uses.setdefault(name, []).append((result.tenant_id, pointer or "/"))
            required[name] = required.get(name, False) or default is None
    variables = []
    for name in sorted(uses):
        value = env.get(name)
        if not resolvable(name):
            # The platform's runtime reads no such name: it can never be set for it.
            variables.append(EnvVariable(name, MISSING, True, tuple(sorted(uses[name]))))
            continue
        if value:
            status = SET
        elif required[name]:
            status = MISSING if value is None else EMPTY
        else:
            status = DEFAULT
        variables.append(EnvVariable(name, status, required[name], tuple(sorted(uses[name]))))
    return tuple(variables)
