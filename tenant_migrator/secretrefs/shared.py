"""Shared variables hold one value: the cross-file check.

A shared variable (``OPENAI_API_KEY``, ``scope: shared``) is one value for every
tenant. Two tenants whose literals for it differ cannot both be imported as they
are, since one would silently start using the other's key. The verdict needs every
file, so it is given once every tenant has been added (``SharedSecrets.conflicts``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tenant_migrator.problems import Problem
from tenant_migrator.secretrefs.model import SHARED, SecretReference


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

    def add(self, result: HasSecrets) -> bool:
        """Note ``result``'s shared literals; True if it has any (it may conflict)."""
        found = False
        for ref in result.secrets:
            if ref.scope == SHARED and ref.literal is not None:
                fingerprint = literal_fingerprint(ref.literal)
                by_value = self._seen.setdefault(ref.env_var, {})
                by_value.setdefault(fingerprint, []).append(
                    (result.tenant_id, result.path, _without_literal(ref))
                )
                found = True
        return found

    def conflicts(self) -> dict[str, list[Problem]]:
        """Tenant id → one error per shared variable it disagrees on."""
        broken: dict[str, list[Problem]] = {}
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


def _without_literal(ref: SecretReference) -> SecretReference:
    # Kept until every file is read: no reason to keep the secret itself that long.
    return dataclasses.replace(ref, literal=None)
