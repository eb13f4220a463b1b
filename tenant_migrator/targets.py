"""What ``validate`` was asked to check: tenant ids, or the file paths pre-commit passes.

pre-commit calls ``tenant-migrator validate clients/a/client.yaml config/schema.json``
from the repository root with the files a commit touches. Those arguments become
tenant ids here (a client file) or "every tenant" (the schema). The cross-tenant
rule (shared-secret conflicts) needs every file, so the selected tenants are
checked against all of them, and only the selected ones are reported.

A client file the settings' ``exclude`` leaves out is skipped silently when given
as a path (pre-commit passes whatever matches its ``files:`` pattern); naming an
excluded tenant by id stays a usage error (see ``discovery.refuse_excluded``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tenant_migrator import discovery
from tenant_migrator.errors import UsageError
from tenant_migrator.pipeline import LoadResult, load_tenants
from tenant_migrator.settings import DEFAULT_MAX_FILE_BYTES, Settings


@dataclass(frozen=True, slots=True)
class Targets:
    """``tenants`` None: every tenant (no argument, or the schema was given)."""

    tenants: tuple[str, ...] | None


def _is_path(argument: str) -> bool:
    return "/" in argument or os.sep in argument or argument.endswith((".yaml", ".yml", ".json"))


def _resolve(argument: str) -> Path:
    # Relative to the working directory, as a shell user (or pre-commit) means it.
    return Path(os.path.abspath(argument))


def _tenant_of(path: Path, clients_dir: Path) -> str | None:
    """The tenant id of ``clients/<id>/client.y(a)ml``, None for any other path."""
    if path.name not in discovery.CLIENT_FILE_NAMES:
        return None
    if Path(os.path.abspath(path.parent.parent)) != Path(os.path.abspath(clients_dir)):
        return None
    return path.parent.name


def resolve_targets(settings: Settings, arguments: Sequence[str] | None) -> Targets:
    """Tenant ids and paths → the tenants to report. Raises ``UsageError`` for a path
    that is neither a client file under clients/ nor the project's schema."""
    if not arguments:
        return Targets(None)
    schema = Path(os.path.abspath(settings.schema_path))
    tenants: list[str] = []
    whole = False
    for argument in arguments:
        if not _is_path(argument):
            discovery.refuse_excluded([argument], settings.exclude)
            tenants.append(argument)
            continue
        path = _resolve(argument)
        if path == schema:
            whole = True
            continue
        tenant_id = _tenant_of(path, settings.clients_dir)
        if tenant_id is None:
            raise UsageError(
                f"{argument}: not a client file (clients/<tenant>/client.yaml under "
                f"{settings.clients_dir}) nor the project's schema ({settings.schema_path}) "
                "— pass tenant ids or those files"
            )
        if not path.is_file():
            raise UsageError(f"{argument}: no such file")
        if settings.exclude and settings.exclude.match(tenant_id) is not None:
            continue
        tenants.append(tenant_id)
    if whole:
        return Targets(None)
    return Targets(tuple(dict.fromkeys(tenants)))


def load_targets(
    settings: Settings,
    arguments: Sequence[str] | None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    on_progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Every file loaded (so shared-secret conflicts with unnamed tenants are found),
    only the targets reported. Unknown tenant ids fail before anything is read.
    ``on_progress(done, total)`` as the files are read."""
    targets = resolve_targets(settings, arguments)
    if targets.tenants is not None and targets.tenants:
        discovery.select(settings.clients_dir, targets.tenants, settings.exclude)
    everything = load_tenants(settings, max_file_bytes=max_file_bytes, on_progress=on_progress)
    if targets.tenants is None:
        return everything
    wanted = set(targets.tenants)
    return LoadResult(
        tuple(r for r in everything.results if r.tenant_id in wanted),
        everything.problems,
        (),
    )
