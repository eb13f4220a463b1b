"""Client files → tenant results: the per-file steps chained together.

discover → load → validate → extract secrets → build record. Pure apart from
reading the files; no database. The bulk path (many files) may run these steps
in a process pool; it must produce exactly what the single-process path produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tenant_migrator.problems import Problem
from tenant_migrator.record import TenantRecord
from tenant_migrator.secrets import SecretReference


@dataclass(frozen=True, slots=True)
class TenantResult:
    """What the pipeline made of one client file.

    ``record`` is None exactly when ``problems`` holds at least one error.
    ``problems`` holds errors and warnings (see ``Problem.severity``).
    ``secrets`` lists every literal turned into a reference (and removed fields).
    """

    tenant_id: str
    path: Path
    record: TenantRecord | None
    problems: tuple[Problem, ...] = ()
    secrets: tuple[SecretReference, ...] = ()

    @property
    def ok(self) -> bool:
        return self.record is not None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Every selected tenant's result, sorted by tenant id, plus problems that
    belong to no single tenant (e.g. config/schema.json itself is broken)."""

    results: tuple[TenantResult, ...]
    problems: tuple[Problem, ...] = ()
