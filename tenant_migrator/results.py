"""What the per-file steps hand back: one client file's result, and all of them.

The bottom layer of loading: ``pipeline`` builds these, ``planning`` plans them,
the reports draw them (``report/validation.py``), none importing the others for
them (as check-jsonschema's ``result.py`` serves both its checker and its
reporter). ``pipeline`` re-exports them. The results of whole runs (an import, a
rollback, the history) are ``outcomes.py``.
"""

from __future__ import annotations

import dataclasses
import operator
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_migrator import secretrefs
from tenant_migrator.problems import Problem, Severity
from tenant_migrator.record import TenantRecord
from tenant_migrator.secretrefs import SecretReference

if TYPE_CHECKING:
    from tenant_migrator import discovery


@dataclass(frozen=True, slots=True)
class TenantResult:
    """What the pipeline made of one client file.

    ``record`` is None exactly when ``problems`` holds at least one error.
    ``problems`` holds errors and warnings (see ``Problem.severity``).
    ``secrets`` lists every literal turned into a reference (and removed fields).
    ``source_sha256``: of the bytes the result was made from (None when the file
    could not be read), for a reviewed plan's fingerprint of the file.
    """

    tenant_id: str
    path: Path
    record: TenantRecord | None
    problems: tuple[Problem, ...] = ()
    secrets: tuple[SecretReference, ...] = ()
    source_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.record is not None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def notes(self) -> tuple[Problem, ...]:
        """Info-level: e.g. a schema default written for a field the file leaves out."""
        return tuple(p for p in self.problems if p.severity is Severity.INFO)

    @property
    def referenced(self) -> tuple[SecretReference, ...]:
        """Literals turned into ${ENV} references."""
        return tuple(s for s in self.secrets if s.action == secretrefs.REFERENCED)

    def to_wire(self) -> ResultWire:
        """This result as plain tuples, for a pool worker to send (cheap to pickle):
        the record's fields but its id, the problems, each secret's ``to_wire``. The
        tenant id and path stay behind: the parent has them (its ``ClientFile``)."""
        record = self.record
        return (
            None if record is None else _record_wire(record),
            self.problems,
            tuple(ref.to_wire() for ref in self.secrets),
            self.source_sha256,
        )

    @classmethod
    def from_wire(cls, client_file: discovery.ClientFile, wire: ResultWire) -> TenantResult:
        """The result ``to_wire`` sent for ``client_file``. Time zones and currencies
        are a few dozen values across any number of tenants: one copy of each."""
        values, problems, secret_wires, source_sha256 = wire
        tenant_id = client_file.tenant_id
        record = None
        if values is not None:
            columns = list(values[:-1])
            for index in _INTERNED_COLUMNS:
                value = columns[index]
                if type(value) is str:
                    columns[index] = sys.intern(value)
            record = TenantRecord(tenant_id, *columns, config_data=values[-1])
        secrets = tuple(map(SecretReference.from_wire, secret_wires))
        return cls(tenant_id, client_file.path, record, problems, secrets, source_sha256)


# What a worker sends for one TenantResult (see ``TenantResult.to_wire``).
ResultWire = tuple[
    tuple[Any, ...] | None, tuple[Problem, ...], tuple[secretrefs.model.Wire, ...], str | None
]

# A record on the wire: every field of TenantRecord but ``id``, in field order (id,
# the owned columns, config_data: record.py checks that order), which is also the
# order of its constructor's arguments. tests/test_wire.py round-trips every field.
_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(TenantRecord))
_record_wire = operator.attrgetter(*_RECORD_FIELDS[1:])
_INTERNED_COLUMNS = tuple(_RECORD_FIELDS.index(name) - 1 for name in ("timezone", "currency"))


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Every selected tenant's result, sorted by tenant id, plus problems that
    belong to no single tenant (e.g. config/schema.json itself is broken)."""

    results: tuple[TenantResult, ...]
    problems: tuple[Problem, ...] = ()
    excluded: tuple[str, ...] = ()  # tenant directories the settings' `exclude` left out

    @property
    def ok(self) -> bool:
        """Every tenant loaded and no error outside a tenant."""
        return all(r.ok for r in self.results) and not any(p.is_error for p in self.problems)

    @property
    def records(self) -> tuple[TenantRecord, ...]:
        return tuple(r.record for r in self.results if r.record is not None)

    @property
    def invalid(self) -> tuple[TenantResult, ...]:
        return tuple(r for r in self.results if not r.ok)
