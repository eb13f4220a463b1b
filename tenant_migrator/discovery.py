"""Which client files exist: ``clients/<tenant_id>/client.yaml`` (or ``.yml``).

The directory name is the tenant id (the platform's runtime found a tenant's file
at that path). Hidden and ``_``-prefixed entries and ``*.template`` are skipped,
and so are the tenants the project's settings ``exclude`` (ids or globs): not
listed, not warned about; naming one on the command line is a usage error.
Selecting tenants by name never lists ``clients/`` (it must stay fast with
100,000 tenants); only an unknown name lists it, to suggest close matches.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tenant_migrator.errors import UsageError
from tenant_migrator.problems import Problem, Severity
from tenant_migrator.settings import Exclusion

# The id column is VARCHAR(50); lower case so the env-var prefix rule is unambiguous.
TENANT_ID_RE = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,49}\Z")
CLIENT_FILE_NAMES = ("client.yaml", "client.yml")
_NOTHING = Exclusion()


@dataclass(frozen=True, slots=True)
class ClientFile:
    """One tenant's file. ``problem`` is set when the directory itself is wrong
    (both client.yaml and client.yml present); the pipeline reports it."""

    tenant_id: str
    path: Path
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Discovery:
    files: tuple[ClientFile, ...]
    problems: tuple[Problem, ...] = ()  # about clients/ itself, not one tenant
    excluded: tuple[str, ...] = ()  # directories left out by the settings' `exclude`


def tenant_id_problem(tenant_id: str) -> str | None:
    """Why ``tenant_id`` cannot be a tenant id, or None if it can."""
    if TENANT_ID_RE.match(tenant_id):
        return None
    if len(tenant_id) > 50:
        return (
            f"directory name is {len(tenant_id)} characters; a tenant id has at most 50 "
            "(the id column is VARCHAR(50)) — rename the directory"
        )
    return (
        f"directory name {tenant_id!r} is not a valid tenant id: use lower-case letters, "
        "digits, '_' and '-', starting with a letter or digit — rename the directory"
    )


def _skipped(name: str) -> bool:
    return name.startswith((".", "_")) or name.endswith(".template")


def _client_file(directory: Path, tenant_id: str) -> ClientFile | None:
    # os.path on strings: 100,000 tenants mean 200,000 checks here, and a Path per
    # check costs more than the stat itself.
    where = os.fspath(directory)
    present = [name for name in CLIENT_FILE_NAMES if os.path.isfile(os.path.join(where, name))]
    if not present:
        return None
    problem = None
    if len(present) > 1:
        problem = (
            "both client.yaml and client.yml exist; the platform reads only one — delete the other"
        )
    return ClientFile(tenant_id, directory / present[0], problem)


def _require_clients_dir(clients_dir: Path) -> None:
    if not clients_dir.is_dir():
        raise UsageError(
            f"no clients/ directory at {clients_dir}; run from the project directory "
            "or pass --project-dir (or set clients_dir in the project's settings)"
        )


def discover(clients_dir: Path, exclude: Exclusion = _NOTHING) -> Discovery:
    """Every tenant directory under ``clients_dir``, sorted by tenant id, but
    those ``exclude`` matches."""
    _require_clients_dir(clients_dir)
    files: list[ClientFile] = []
    problems: list[Problem] = []
    excluded: list[str] = []
    with os.scandir(clients_dir) as entries:
        for entry in entries:
            if _skipped(entry.name) or not entry.is_dir():
                continue
            if exclude and exclude.match(entry.name) is not None:
                excluded.append(entry.name)
                continue
            # Joined onto clients_dir, so every path shares its parent's parts (memory).
            found = _client_file(clients_dir / entry.name, entry.name)
            if found is None:
                problems.append(
                    Problem(
                        Path(entry.path),
                        "directory has no client.yaml; skipped (not a tenant)",
                        severity=Severity.WARNING,
                    )
                )
            else:
                files.append(found)
    files.sort(key=lambda f: f.tenant_id)
    return Discovery(tuple(files), tuple(problems), tuple(sorted(excluded)))


def find(clients_dir: Path, tenant_id: str, exclude: Exclusion = _NOTHING) -> ClientFile:
    """Just this tenant's file, without listing ``clients_dir``."""
    return select(clients_dir, [tenant_id], exclude).files[0]


def select(clients_dir: Path, names: Sequence[str], exclude: Exclusion = _NOTHING) -> Discovery:
    """The named tenants only. Unknown names → ``UsageError`` with close matches;
    an excluded name → ``UsageError`` naming the pattern and the settings file."""
    _require_clients_dir(clients_dir)
    refuse_excluded(names, exclude)
    files: dict[str, ClientFile] = {}
    unknown: list[str] = []
    for name in names:
        if not name or "/" in name or os.sep in name or name in (".", ".."):
            raise UsageError(f"{name!r} is not a tenant name (a directory name under clients/)")
        found = None if _skipped(name) else _client_file(clients_dir / name, name)
        if found is None:
            unknown.append(name)
        else:
            files[name] = found
    if unknown:
        raise UsageError(_unknown_message(clients_dir, unknown, exclude))
    return Discovery(tuple(sorted(files.values(), key=lambda f: f.tenant_id)))


def refuse_excluded(names: Sequence[str], exclude: Exclusion) -> None:
    """A tenant the settings exclude, named on the command line, is a mistake either
    way: say so rather than silently doing nothing for it."""
    if not exclude:
        return
    lines = [
        f"tenant {name!r} is excluded (exclude pattern {pattern!r} in {exclude.source}); "
        "the tool never plans, imports, syncs or validates it — drop it from the command "
        "line, or remove the pattern from exclude to work on it"
        for name in names
        if (pattern := exclude.match(name)) is not None
    ]
    if lines:
        raise UsageError("\n".join(lines))


def _unknown_message(clients_dir: Path, unknown: list[str], exclude: Exclusion) -> str:
    # Listing the directory is fine here: this is the error path.
    known = [f.tenant_id for f in discover(clients_dir, exclude).files]
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        parts.append(f"unknown tenant {name!r} (no {clients_dir / name / 'client.yaml'}){hint}")
    return "\n".join(parts)
