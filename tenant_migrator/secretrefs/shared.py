"""Shared variables hold one value, per-tenant variables have one tenant: the
cross-file check.

A shared variable (``OPENAI_API_KEY``, ``scope: shared``) is one value for every
tenant. Two tenants whose literals for it differ cannot both be imported as they
are, since one would silently start using the other's key.

A per-tenant variable the extraction named (``{TENANT_ID}_{env}``,
``{TENANT_ID}_{JSON_PATH}``) belongs to one tenant. The names follow the platform's
convention, which is not injective: ``a-b`` and ``a_b`` both give
``A_B_SMTP_PASSWORD``, and ``foo`` + ``/bar/x_password`` gives what ``foo-bar`` +
``/x_password`` gives. Renaming the variables of every tenant to make the scheme
injective would break the environments already set up for them; a clash is rare,
so both tenants are refused instead, each naming the other's file, until one of
them gets a reference of its own (or another id).

Both verdicts need every file, so they are given once every tenant has been added
(``SharedSecrets.conflicts``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tenant_migrator.problems import Problem
from tenant_migrator.secretrefs.model import REFERENCED, REMOVED, SHARED, SecretReference


class HasSecrets(Protocol):
    """What the check reads of a tenant's result (a ``pipeline.TenantResult``)."""

    @property
    def tenant_id(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def secrets(self) -> Sequence[SecretReference]: ...


def literal_fingerprint(literal: str) -> str:
    """A stable, non-reversible tag for comparing literals without holding them."""
    return hashlib.sha256(literal.encode("utf-8")).hexdigest()


class SharedSecrets:
    """The literals given to shared variables, across every tenant added so far.

    A conflict between the first and the last file makes both invalid, so the
    verdict comes only once every tenant is in (``conflicts``). Memory is small: one
    entry per shared literal, which few tenants have; the literal itself is kept
    only as a fingerprint.
    """

    def __init__(self) -> None:
        # env var → fingerprint → where each tenant gave that value
        self._seen: dict[str, dict[str, list[tuple[str, Path, SecretReference]]]] = {}
        # per-tenant variable we named → the first tenant it was named for, and where
        self._owner: dict[str, _Use] = {}
        # per-tenant variable → every other tenant it was also named for
        self._clashes: dict[str, list[_Use]] = {}

    def add(self, result: HasSecrets) -> bool:
        """Note ``result``'s shared literals and the per-tenant variables named for
        it; True if it has any (it may conflict)."""
        found = False
        for ref in result.secrets:
            if _named_for_tenant(ref):
                use = (result.tenant_id, result.path, ref.json_path, ref.line, ref.column)
                owner = self._owner.setdefault(ref.env_var, use)
                if owner[0] != result.tenant_id:
                    self._clashes.setdefault(ref.env_var, []).append(use)
                found = True
            elif ref.scope == SHARED and ref.literal is not None:
                fingerprint = literal_fingerprint(ref.literal)
                by_value = self._seen.setdefault(ref.env_var, {})
                by_value.setdefault(fingerprint, []).append(
                    (result.tenant_id, result.path, _without_literal(ref))
                )
                found = True
        return found

    def conflicts(self) -> dict[str, list[Problem]]:
        """Tenant id → one error per shared variable it disagrees on, and per
        per-tenant variable another tenant would get too."""
        broken: dict[str, list[Problem]] = {}
        for env_var, others in self._clashes.items():
            uses = [self._owner[env_var], *others]
            for tenant_id, path, pointer, line, column in uses:
                files = sorted({str(p) for t, p, *_ in uses if t != tenant_id})
                broken.setdefault(tenant_id, []).append(
                    Problem(
                        path,
                        f"this secret would become ${{{env_var}}}, but that name is also "
                        f"what {', '.join(files)} gets: two tenants cannot share a per-tenant "
                        "variable (the names are the tenant id upper-cased, - and _ alike) — "
                        "write a reference with a name of your own here "
                        f"(${{{env_var}_OWN}}) or in the other file, or rename a tenant",
                        pointer,
                        line,
                        column,
                    )
                )
        for env_var, by_value in self._seen.items():
            if len(by_value) < 2:
                continue
            members = [member for group in by_value.values() for member in group]
            tenants = {tenant_id for tenant_id, _, _ in members}
            for tenant_id, path, ref in members:
                others = sorted(tenants - {tenant_id})
                broken.setdefault(tenant_id, []).append(
                    Problem(
                        path,
                        f"this literal differs from the one in {', '.join(others)}, but both "
                        f"would become the shared ${{{env_var}}}, which holds one value — make "
                        "them the same, or put a per-tenant reference here and set that variable",
                        ref.json_path,
                        ref.line,
                        ref.column,
                    )
                )
        return broken


# Where a per-tenant variable was named: tenant id, file, JSON pointer, line, column.
_Use = tuple[str, Path, str, int | None, int | None]


def _named_for_tenant(ref: SecretReference) -> bool:
    """True for a per-tenant variable whose name the extraction made from the tenant
    id (not one the file wrote, ``${DB_PASSWORD:-…}``, nor a shared one)."""
    return (
        ref.scope != SHARED
        and ref.action in (REFERENCED, REMOVED)
        and ref.reason != "reference-default"
    )


def _without_literal(ref: SecretReference) -> SecretReference:
    # Kept until every file is read: no reason to keep the secret itself that long.
    return dataclasses.replace(ref, literal=None)
