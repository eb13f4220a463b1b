"""``check-env``: which variables the tenants reference, and whether this environment
(and/or a dotenv file, ``--env-file``) sets them. Never returns a value, only
whether there is one and where it came from.

A dotenv file is read with python-dotenv (a runtime dependency for this): the file is
meant for the platform's environment, and the platform loads such files with
python-dotenv, so its reading — ``${VAR}`` expansion in every value, its escapes,
a line it cannot parse skipped with a warning — is the truth about what the
platform would see. A parser of our own would have to copy those quirks and drift
from them. Precedence is ``load_dotenv``'s default (``override=False``): a variable
the environment has, even empty, wins over the file; the file fills in the rest.
``env_file_only`` checks the file alone (what a fresh machine loading it would see).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenant_migrator.errors import UsageError
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
    # Where the value was found: ENVIRONMENT, ENV_FILE, or None (not found).
    source: str | None = None

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
            "source": self.source,
        }


ENVIRONMENT = "environment"
ENV_FILE = "env-file"


@dataclass(frozen=True, slots=True)
class Environment:
    """The variables to check against (values stay here; reports get only names) and
    where each came from."""

    values: Mapping[str, str]
    sources: Mapping[str, str]


def environment(
    env_file: Path | None = None,
    *,
    env_file_only: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Environment:
    """The process environment, and/or ``env_file`` beneath it (see the module
    docstring for the precedence)."""
    environ = os.environ if environ is None else environ
    base = {} if env_file_only else dict(environ)
    sources = dict.fromkeys(base, ENVIRONMENT)
    if env_file is not None:
        for name, value in read_env_file(env_file).items():
            if name not in base:
                base[name] = value
                sources[name] = ENV_FILE
    return Environment(base, sources)


def read_env_file(path: Path) -> dict[str, str]:
    """The file as python-dotenv's ``dotenv_values`` reads it; a name without ``=``
    (value None: ``load_dotenv`` sets nothing for it) is left out."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise UsageError(f"--env-file {path}: no such file; give the dotenv file to check")
    try:
        with open(path, encoding="utf-8") as stream:
            values = dotenv_values(stream=stream)
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or "not UTF-8 text"
        raise UsageError(f"--env-file {path}: cannot read it ({reason})") from None
    return {name: value for name, value in values.items() if value is not None}


def check_environment(
    results: Iterable[Any], environ: Mapping[str, str] | Environment | None = None
) -> tuple[EnvVariable, ...]:
    """Every variable referenced by the loaded tenants (TenantResults with a record),
    plus the variables of removed fields (the platform reads those from its
    environment too), with whether ``environ`` (a mapping, or an ``Environment``)
    provides it. Sorted by name."""
    if isinstance(environ, Environment):
        env, sources = environ.values, environ.sources
    else:
        env = os.environ if environ is None else environ
        sources = dict.fromkeys(env, ENVIRONMENT)
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
        variables.append(
            EnvVariable(name, status, required[name], tuple(sorted(uses[name])), sources.get(name))
        )
    return tuple(variables)
