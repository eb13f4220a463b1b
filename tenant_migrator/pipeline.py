"""Client files → tenant results: the per-file steps chained together.

discover → load → validate → extract secrets → build record. Pure apart from
reading the files; no database. The bulk path (many files) may run these steps
in a process pool; it must produce exactly what the single-process path produces.

``process_client_file`` is the unit of work: a top-level function of picklable
arguments returning a picklable ``TenantResult``; the compiled schema it needs is
cached per process (``validation.compiled_schema``), so a pool worker builds it
once. ``load_files`` is the seam where a pool can replace the plain loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tenant_migrator import discovery, loader, secrets, validation
from tenant_migrator.errors import ClientFileError
from tenant_migrator.problems import Problem, Severity
from tenant_migrator.record import TenantRecord, build_record
from tenant_migrator.secrets import SecretReference
from tenant_migrator.settings import DEFAULT_MAX_FILE_BYTES, Settings

DEFAULT_MAX_FILE_BYTES = DEFAULT_MAX_FILE_BYTES  # re-exported: part of this module's API


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

    @property
    def referenced(self) -> tuple[SecretReference, ...]:
        """Literals turned into ${ENV} references."""
        return tuple(s for s in self.secrets if s.action == secrets.REFERENCED)

    @property
    def removed(self) -> tuple[SecretReference, ...]:
        """Fields dropped from tenant_config (the Supabase service key)."""
        return tuple(s for s in self.secrets if s.action == secrets.REMOVED)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Every selected tenant's result, sorted by tenant id, plus problems that
    belong to no single tenant (e.g. config/schema.json itself is broken)."""

    results: tuple[TenantResult, ...]
    problems: tuple[Problem, ...] = ()

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


# --- one file --------------------------------------------------------------------------


def process_client_file(
    client_file: discovery.ClientFile,
    schema_path: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> TenantResult:
    """Load, validate, extract secrets and build the record of one tenant.

    Never raises for anything wrong with the file: problems go into the result.
    (A broken schema raises ``SchemaError``; callers compile it first.)
    """
    tenant_id, path = client_file.tenant_id, client_file.path
    id_problem = discovery.tenant_id_problem(tenant_id)
    if id_problem is not None:
        return _failed(client_file, [Problem(path, id_problem)])
    if client_file.problem is not None:
        return _failed(client_file, [Problem(path, client_file.problem)])
    compiled = validation.compiled_schema(schema_path)
    try:
        document = loader.load_file(path, max_file_bytes)
    except ClientFileError as err:
        return _failed(client_file, err.problems)
    problems = [*document.notes, *validation.validate(document, compiled)]
    problems += _client_id_warning(document, tenant_id)
    if any(p.is_error for p in problems):
        # No secret extraction for an invalid file: nothing of it goes anywhere.
        return _failed(client_file, problems)
    extraction = secrets.extract(
        document.data, tenant_id, compiled.secret_rules, path=path, locate=document.locate
    )
    problems += extraction.problems
    if any(p.is_error for p in problems):
        return _failed(client_file, problems)
    record = build_record(tenant_id, extraction.config)
    return TenantResult(tenant_id, path, record, _sorted(problems), extraction.secrets)


def _failed(client_file: discovery.ClientFile, problems: Iterable[Problem]) -> TenantResult:
    return TenantResult(client_file.tenant_id, client_file.path, None, _sorted(problems))


def _sorted(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.json_path)))


def _client_id_warning(document: loader.LoadedDocument, tenant_id: str) -> list[Problem]:
    client = document.data.get("client")
    client_id = client.get("id") if isinstance(client, dict) else None
    if not isinstance(client_id, str) or client_id == tenant_id:
        return []
    shown = repr(client_id) if secrets.find_secret_shape(client_id) is None else "(not shown)"
    return [
        document.problem(
            "/client/id",
            f"client.id {shown} differs from the directory name {tenant_id!r}; the directory "
            f"name is the tenant id (the platform found the file by it), so this tenant is "
            f"{tenant_id!r} — rename one of them to make them agree",
            Severity.WARNING,
        )
    ]


# --- many files ------------------------------------------------------------------------


def load_files(
    files: Sequence[discovery.ClientFile],
    schema_path: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> list[TenantResult]:
    """Process ``files`` (single process; the bulk path may fan this out)."""
    return [process_client_file(f, schema_path, max_file_bytes) for f in files]


def load_tenants(
    settings: Settings,
    only: Sequence[str] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> LoadResult:
    """Every tenant under ``settings.clients_dir`` (or just ``only``), sorted by id.

    Raises ``UsageError`` for an unknown tenant name (naming close matches) or a
    missing clients/ directory, ``SchemaError`` for a broken schema. Everything
    wrong with a client file is in its ``TenantResult``.
    """
    schema_path, own = validation.locate_schema(settings.schema_path)
    validation.compiled_schema(schema_path)  # a broken schema fails before any file
    found = (
        discovery.select(settings.clients_dir, only)
        if only
        else discovery.discover(settings.clients_dir)
    )
    results = check_shared_secrets(load_files(found.files, schema_path, max_file_bytes))
    problems = list(found.problems)
    if not own:
        problems.append(_builtin_schema_notice(settings.schema_path))
    results.sort(key=lambda r: r.tenant_id)
    return LoadResult(tuple(results), tuple(problems))


def load_one(
    settings: Settings, tenant_id: str, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> TenantResult:
    """One tenant, reading only its own directory (never lists clients/)."""
    schema_path, _own = validation.locate_schema(settings.schema_path)
    validation.compiled_schema(schema_path)
    client_file = discovery.find(settings.clients_dir, tenant_id)
    return process_client_file(client_file, schema_path, max_file_bytes)


def _builtin_schema_notice(project_schema: Path) -> Problem:
    return Problem(
        project_schema,
        "no config/schema.json in the project; validated against the schema built into "
        "tenant-migrator",
        severity=Severity.WARNING,
    )


def check_shared_secrets(results: list[TenantResult]) -> list[TenantResult]:
    """Shared variables (OPENAI_API_KEY…) hold one value for every tenant: tenants
    whose literals for the same shared variable differ cannot be imported as is,
    since one of them would silently start using another's key."""
    groups: dict[str, dict[str, list[tuple[int, SecretReference]]]] = {}
    for index, result in enumerate(results):
        for ref in result.secrets:
            if ref.scope == secrets.SHARED and ref.literal is not None:
                fingerprint = secrets.literal_fingerprint(ref.literal)
                groups.setdefault(ref.env_var, {}).setdefault(fingerprint, []).append((index, ref))
    broken: dict[int, list[Problem]] = {}
    for env_var, by_value in groups.items():
        if len(by_value) < 2:
            continue
        members = [member for group in by_value.values() for member in group]
        for index, ref in members:
            others = sorted({results[i].tenant_id for i, _ in members} - {results[index].tenant_id})
            broken.setdefault(index, []).append(
                Problem(
                    results[index].path,
                    f"this literal differs from the one in {', '.join(others)}, but both would "
                    f"become the shared ${{{env_var}}}, which holds one value — make them the "
                    "same, or put a per-tenant reference here and set that variable",
                    ref.json_path,
                    ref.line,
                    ref.column,
                )
            )
    for index, extra in broken.items():
        result = results[index]
        results[index] = dataclasses.replace(
            result, record=None, problems=_sorted([*result.problems, *extra]), secrets=()
        )
    return results
