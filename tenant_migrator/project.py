"""The project's settings file, and the checks that run before any command does.

Settings live in ``[tool.tenant-migrator]`` of the project directory's
``pyproject.toml`` (the platform has one, with other ``[tool.*]`` tables and none
of ours: that is simply "no settings"), or at the top level of a
``tenant-migrator.toml`` with the same keys. Both defining settings is an error
naming both files: two sources of truth would disagree sooner or later.

Keys (every one optional)::

    exclude        = ["example", "demo-*"]   # tenant ids or fnmatch globs
    clients_dir    = "clients"               # relative to the project directory
    schema         = "config/schema.json"
    migrations_dir = "database/migrations"   # the project's own migrations folder

Every problem (TOML syntax, an unknown key, a wrong type, a path that does not
exist, a pattern no tenant id could match) is a ``UsageError`` (exit 2) naming the
file, the key, its line when it can be found, and what is allowed; all of them
at once, before anything is started or created.

``load_settings`` also refuses what would make a command act somewhere
unexpected: an empty ``DATABASE_URL`` (a CI secret that failed to load), and a
``--project-dir`` that is not a project (no clients directory, no
``.tenant-migrator/``, no settings file), which would otherwise get a
``.tenant-migrator/`` and a server started in it.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenant_migrator.errors import UsageError
from tenant_migrator.settings import Exclusion, ProjectSettings, Settings

PYPROJECT = "pyproject.toml"
OWN_FILE = "tenant-migrator.toml"
TABLE = "tenant-migrator"  # [tool.tenant-migrator]

# A pattern may only hold what a tenant id can (see discovery.TENANT_ID_RE) plus
# fnmatch's wildcards; anything else could never match and is surely a mistake.
_PATTERN_CHARS = re.compile(r"\A[a-z0-9_\-*?\[\]!]+\Z")
_TENANT_ID = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,49}\Z")


class ProjectSettingsError(UsageError):
    """The settings file is wrong; the message lists every problem in it."""


@dataclass(frozen=True, slots=True)
class _Source:
    """The settings table found, and where (for messages and line numbers)."""

    path: Path
    text: str
    table: Mapping[str, Any]
    in_pyproject: bool

    @property
    def label(self) -> str:
        return f"{self.path} [tool.{TABLE}]" if self.in_pyproject else str(self.path)

    def key_line(self, key: str) -> int | None:
        """The line ``key`` is written on (best effort: tomllib keeps no positions)."""
        k = rf"[\"']?{re.escape(key)}[\"']?"
        ours = rf"tool\s*\.\s*[\"']?{re.escape(TABLE)}[\"']?" if self.in_pyproject else ""
        prefix = rf"{ours}\s*\.\s*" if ours else ""
        # `[tool.tenant-migrator.key]` / `[key]`, `[[...key]]`: a table under ours.
        as_table = re.compile(rf"^\s*\[+\s*{prefix}{k}\s*[\].]")
        # `key = ...` inside our table (the top level of tenant-migrator.toml).
        assignment = re.compile(rf"^\s*{k}\s*=")
        our_header = re.compile(rf"^\s*\[\s*{ours}\s*\]") if ours else None
        inside = our_header is None
        for number, line in enumerate(self.text.splitlines(), start=1):
            if as_table.match(line):
                return number
            if line.lstrip().startswith("["):
                inside = our_header is not None and our_header.match(line) is not None
            elif inside and assignment.match(line):
                return number
        return None


# --- reading ---------------------------------------------------------------------------


def _parse(path: Path, text: str, *, ours: bool) -> dict[str, Any] | None:
    import tomllib  # only with a settings file: most projects have none (~3 ms)

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        if not ours:
            return None
        raise ProjectSettingsError(
            f"{path}: not valid TOML: {err}; fix the syntax (https://toml.io)"
        ) from None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise ProjectSettingsError(f"{path}: cannot read the settings file: {err}") from None


def _pyproject_source(project_dir: Path) -> _Source | None:
    path = project_dir / PYPROJECT
    text = _read_text(path)
    if text is None:
        return None
    # A pyproject.toml that never mentions us is not ours to judge (even if broken).
    parsed = _parse(path, text, ours=TABLE in text)
    if parsed is None:
        return None
    tool = parsed.get("tool")
    if not isinstance(tool, Mapping) or TABLE not in tool:
        return None
    table = tool[TABLE]
    if not isinstance(table, Mapping):
        raise ProjectSettingsError(
            f"{path}: tool.{TABLE} must be a table ([tool.{TABLE}] with keys under it), "
            f"not a {_type_name(table)}"
        )
    return _Source(path, text, table, in_pyproject=True)


def _own_source(project_dir: Path) -> _Source | None:
    path = project_dir / OWN_FILE
    text = _read_text(path)
    if text is None:
        return None
    parsed = _parse(path, text, ours=True)
    assert parsed is not None
    return _Source(path, text, parsed, in_pyproject=False)


def _find_source(project_dir: Path) -> _Source | None:
    pyproject, own = _pyproject_source(project_dir), _own_source(project_dir)
    if pyproject is not None and own is not None:
        raise ProjectSettingsError(
            f"tenant-migrator settings are defined twice: in {pyproject.label} and in "
            f"{own.path}; keep them in one of the two files and delete the other"
        )
    return pyproject or own


# --- checking each key ----------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Mapping):
        return "table"
    return {str: "string", int: "integer", float: "float", list: "array"}.get(
        type(value), type(value).__name__
    )


def _pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str):
        return f"must hold strings, not a {_type_name(pattern)} ({pattern!r})"
    if not pattern:
        return "holds an empty string; give a tenant id or a glob such as 'demo-*'"
    if not any(c in pattern for c in "*?["):
        if _TENANT_ID.match(pattern):
            return None
        return (
            f"{pattern!r} is not a tenant id (a directory name under the clients directory: "
            "lower-case letters, digits, '_' and '-'), nor a glob"
        )
    if not _PATTERN_CHARS.match(pattern):
        return (
            f"glob {pattern!r} can never match a tenant id (only lower-case letters, digits, "
            "'_', '-' and the wildcards * ? [...] are possible)"
        )
    depth = 0
    for char in pattern:
        if char == "[":
            if depth:
                return f"glob {pattern!r} has a '[' inside '[...]'"
            depth = 1
        elif char == "]" and depth:
            depth = 0
    if depth:
        return f"glob {pattern!r} has a '[' without its closing ']'"
    return None


def _exclude(value: Any) -> tuple[tuple[str, ...], list[str]]:
    if not isinstance(value, list):
        return (), [
            f'must be an array of tenant ids or globs, e.g. exclude = ["example"], '
            f"not a {_type_name(value)}"
        ]
    problems = [p for p in map(_pattern_problem, value) if p is not None]
    return tuple(value) if not problems else (), problems


def _path(project_dir: Path, value: Any, *, want_dir: bool) -> tuple[Path | None, list[str]]:
    kind = "directory" if want_dir else "file"
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if isinstance(value, str) else f"a {_type_name(value)}"
        return None, [f"must be a path to a {kind}, relative to {project_dir}; not {shown}"]
    path = (project_dir / value).resolve()
    exists = path.is_dir() if want_dir else path.is_file()
    if not exists:
        found = " (it is a file)" if want_dir and path.exists() else ""
        found = found or (" (it is a directory)" if not want_dir and path.exists() else "")
        return None, [
            f"{value!r} is not a {kind}{found}: {path} does not exist; paths are relative "
            f"to the project directory {project_dir}"
        ]
    return path, []


_Checker = Callable[[Path, Any], tuple[Any, list[str]]]
KEYS: dict[str, _Checker] = {
    "exclude": lambda _dir, value: _exclude(value),
    "clients_dir": lambda project_dir, value: _path(project_dir, value, want_dir=True),
    "schema": lambda project_dir, value: _path(project_dir, value, want_dir=False),
    "migrations_dir": lambda project_dir, value: _path(project_dir, value, want_dir=True),
}


def _where(source: _Source, key: str) -> str:
    line = source.key_line(key)
    return f"{source.path}:{line}" if line is not None else str(source.path)


def read_project_settings(project_dir: Path) -> ProjectSettings:
    """The project's settings (empty when it has no settings file). Raises
    ``ProjectSettingsError`` listing every problem in the file."""
    source = _find_source(project_dir)
    if source is None:
        return ProjectSettings()
    values: dict[str, Any] = {}
    problems: list[str] = []
    table_name = f"[tool.{TABLE}]" if source.in_pyproject else "the top level"
    for key, value in source.table.items():
        checker = KEYS.get(key)
        if checker is None:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f" — did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"{_where(source, key)}: unknown key {key!r} in {table_name}{hint} "
                f"(allowed: {', '.join(sorted(KEYS))})"
            )
            continue
        value, errors = checker(project_dir, value)
        problems += [f"{_where(source, key)}: {key} {error}" for error in errors]
        values[key] = value
    if problems:
        raise ProjectSettingsError(
            f"{source.label}: {len(problems)} problem(s) in the tenant-migrator settings; "
            "nothing was started:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return ProjectSettings(
        source=source.path,
        exclude=Exclusion(values.get("exclude", ()), source.label),
        clients_dir=values.get("clients_dir"),
        schema=values.get("schema"),
        migrations_dir=values.get("migrations_dir"),
    )


# --- before any command ------------------------------------------------------------------


def check_database_url(database_url: str | None, environ: Mapping[str, str]) -> str | None:
    """The URL given, refusing an empty one (as a CI secret that failed to load
    renders): silently using the embedded server instead would "succeed" against
    the wrong database. Click reads an empty variable as unset, hence ``environ``."""
    from_env = environ.get("DATABASE_URL")
    if from_env is not None and not from_env.strip() and database_url in (None, from_env):
        raise UsageError(
            "DATABASE_URL is set but empty (a secret that failed to load?); set it to a "
            "postgresql:// URL, or unset it (`unset DATABASE_URL`) to use the local embedded "
            "server"
        )
    if database_url is not None and not database_url.strip():
        raise UsageError(
            "--database-url is empty; give a postgresql:// URL, or leave the option out "
            "to use the local embedded server"
        )
    return database_url


def check_project_dir(project_dir: Path, project: ProjectSettings) -> None:
    """Refuse a directory that is not a tenant-migrator project (a mistyped
    --project-dir), before anything is created or started in it."""
    if not project_dir.is_dir():
        raise UsageError(
            f"--project-dir {project_dir} does not exist; run from the project directory "
            "or pass the right --project-dir"
        )
    clients = project.clients_dir or project_dir / "clients"
    if (
        project.source is not None
        or clients.is_dir()
        or (project_dir / ".tenant-migrator").is_dir()
    ):
        return
    raise UsageError(
        f"{project_dir} is not a tenant-migrator project: it has no clients/ directory, no "
        f".tenant-migrator/ and no settings file ({OWN_FILE}, or [tool.{TABLE}] in "
        f"{PYPROJECT}); run from the project directory or pass the right --project-dir "
        "(nothing was created or started)"
    )


def load_settings(
    project_dir: Path,
    database_url: str | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Everything a command needs to know about where it works, checked."""
    url = check_database_url(database_url, os.environ if environ is None else environ)
    project = read_project_settings(project_dir) if project_dir.is_dir() else ProjectSettings()
    check_project_dir(project_dir, project)
    return Settings(
        project_dir=project_dir,
        database_url=url,
        migrations_dir=project.migrations_dir,
        project=project,
    )
