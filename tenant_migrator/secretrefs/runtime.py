"""At run time, for the platform: ``${ENV}`` references → values from the environment.

    from tenant_migrator.secretrefs import resolve
    config = resolve(row["tenant_config"])            # os.environ
    config = resolve(row["tenant_config"], environ)   # any mapping

Imports nothing of the tool but the reference syntax, the secret shapes (never to
echo a name shaped like a secret) and the error base class.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from tenant_migrator.errors import MigratorError
from tenant_migrator.problems import escape
from tenant_migrator.secretrefs.shapes import looks_like_secret
from tenant_migrator.secretrefs.syntax import MAX_DEPTH, REFERENCE, resolvable


class MissingEnvironment(MigratorError):
    """``resolve`` found references to variables that are not set."""

    def __init__(self, missing: Mapping[str, list[str]]) -> None:
        self.missing = dict(missing)
        names = ", ".join(
            f"{name} (used at {', '.join(paths)})" for name, paths in sorted(self.missing.items())
        )
        count = len(self.missing)
        super().__init__(
            f"{count} environment variable{'s are' if count != 1 else ' is'} not set: {names}; "
            "set them (e.g. from the --secrets-out file) before starting the tenant"
        )


class UnresolvableReference(MissingEnvironment):
    """``resolve`` found references whose names the runtime cannot resolve
    (``${smtp_password}``, ``${9LIVES_SMTP_PASSWORD}``): no environment can set them
    for the platform, so they are missing whatever the environment holds."""

    def __init__(self, missing: Mapping[str, list[str]]) -> None:
        self.missing = dict(missing)
        names = ", ".join(
            f"{_shown(name)} (used at {', '.join(paths)})"
            for name, paths in sorted(self.missing.items())
        )
        count = len(self.missing)
        MigratorError.__init__(
            self,
            f"{count} reference{'s name variables' if count != 1 else ' names a variable'} "
            f"the runtime cannot resolve: {names}; names are [A-Z_][A-Z0-9_]* — rename "
            "the variable in the file (a tenant id starting with a digit gets a leading _)",
        )


def _shown(name: str) -> str:
    return "(a name shaped like a secret)" if looks_like_secret(name) else name


def references(config: Any) -> list[tuple[str, str, str | None]]:
    """Every ``${VAR}`` / ``${VAR:-default}`` in ``config``: (pointer, VAR, default or None)."""
    found: list[tuple[str, str, str | None]] = []

    def visit(value: Any, pointer: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, str):
            if "${" in value:
                for match in REFERENCE.finditer(value):
                    found.append((pointer, match.group(1), match.group(2)))
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{pointer}/{escape(key)}", depth + 1)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{pointer}/{index}", depth + 1)

    visit(config, "", 0)
    return found


def resolve(config: Any, environ: Mapping[str, str] | None = None) -> Any:
    """``tenant_config`` with every reference replaced by its value from ``environ``.

    Shell semantics: ``${VAR}`` needs VAR set (empty is a value); ``${VAR:-default}``
    uses the default when VAR is unset or empty. Every missing variable is collected
    and reported in one ``MissingEnvironment`` error (names and paths, never values).
    A reference whose name the runtime cannot resolve (lower case, a leading digit:
    only ``[A-Z_][A-Z0-9_]*``) raises ``UnresolvableReference`` (a
    ``MissingEnvironment``) whatever ``environ`` holds: it is never left in place.
    Returns a new structure; ``config`` is not modified.
    """
    env = os.environ if environ is None else environ
    missing: dict[str, list[str]] = {}
    invalid: dict[str, list[str]] = {}

    def substitute(match: re.Match[str], pointer: str) -> str:
        name, default = match.group(1), match.group(2)
        if not resolvable(name):
            invalid.setdefault(name, []).append(pointer or "/")
            return ""
        value = env.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            missing.setdefault(name, []).append(pointer or "/")
            return ""
        return value

    def visit(value: Any, pointer: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise MigratorError(f"configuration nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            if "${" not in value:
                return value
            return REFERENCE.sub(lambda m: substitute(m, pointer), value)
        if isinstance(value, dict):
            return {k: visit(v, f"{pointer}/{escape(k)}", depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, f"{pointer}/{i}", depth + 1) for i, v in enumerate(value)]
        return value

    result = visit(config, "", 0)
    if invalid:
        raise UnresolvableReference(invalid)
    if missing:
        raise MissingEnvironment(missing)
    return result
