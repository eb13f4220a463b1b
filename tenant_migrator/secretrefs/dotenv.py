r"""``--secrets-out FILE``: the extracted literals as dotenv ``NAME=value`` lines.

The only place a literal secret leaves the process. The file is private from its
first byte (mode 0600, ``O_CREAT|O_EXCL``, never through a symlink).

One quoting is read back identically by the three readers the file is meant for:
python-dotenv (``dotenv_values``/``load_dotenv``), and ``set -a; . FILE`` in sh
(dash) and bash (held by tests/test_dotenv_readers.py). Measured, not assumed:

- python-dotenv expands ``${NAME}`` (not ``$NAME``) in *every* value, single-quoted
  ones too, after decoding escapes, and reads the file in text mode, so a raw
  carriage return becomes a newline;
- in single quotes it decodes ``\\`` and ``\'``; sh takes single quotes literally
  and has no escape inside them at all;
- in double quotes both read ``\\`` as ``\`` and ``\"`` as ``"``, and a raw newline
  as itself; sh also expands ``$`` and backticks there, python-dotenv does not
  (and keeps a backslash before them).

So a value that is not a plain word is double-quoted, ``\`` and ``"`` escaped,
newlines raw, and each ``$`` and backtick is written as a reference to a helper
variable the file defines first (``TENANT_MIGRATOR_DOLLAR='$'``, ``…_BACKTICK``),
which all three expand to the character. A carriage return has no spelling both
python-dotenv and sh read (dotenv only knows the escape ``\r``, sh only the raw
byte), and a NUL cannot be in any environment: such a value is refused, naming its
tenant and path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_migrator.errors import MigratorError, UsageError
from tenant_migrator.secretrefs.model import KEPT


class SecretsFileError(MigratorError):
    """The secrets file could not be written (exists, conflicting values, I/O)."""


# The helper variables a value's ``$`` and backticks refer to (defined only when used).
DOLLAR_VAR = "TENANT_MIGRATOR_DOLLAR"
BACKTICK_VAR = "TENANT_MIGRATOR_BACKTICK"
_HELPERS = {"$": DOLLAR_VAR, "`": BACKTICK_VAR}
_UNWRITABLE = {
    "\r": "a carriage return (\\r), which python-dotenv and sh cannot both read back",
    "\x00": "a NUL character, which no environment variable can hold",
}


def collect_literals(items: Iterable[Any]) -> dict[str, str]:
    """{env var: literal} from TenantResults or SecretReferences.

    The same variable with two different literals cannot be written to one file:
    that raises (naming the variable and tenants, never the values).
    """
    return _collect(items)[0]


def _collect(items: Iterable[Any]) -> tuple[dict[str, str], dict[str, list[tuple[str, str]]]]:
    """The literals, and for each variable where it came from (tenant, JSON path)."""
    values: dict[str, str] = {}
    sources: dict[str, list[tuple[str, str]]] = {}
    conflicts: set[str] = set()
    for item in items:
        refs = getattr(item, "secrets", None)
        # A TenantResult's tenant_id, or a TenantPlan's id.
        tenant = getattr(item, "tenant_id", None) or getattr(item, "id", None)
        for ref in [item] if refs is None else refs:
            if ref.literal is None or ref.action == KEPT:
                continue
            previous = values.setdefault(ref.env_var, ref.literal)
            sources.setdefault(ref.env_var, []).append((tenant or "", ref.json_path))
            if previous != ref.literal:
                conflicts.add(ref.env_var)
    if conflicts:
        detail = "; ".join(
            f"{name} (from {', '.join(sorted({t or p for t, p in sources[name]}))})"
            for name in sorted(conflicts)
        )
        raise SecretsFileError(
            f"different literal values for the same variable: {detail}. One environment "
            "variable cannot hold both; make the files agree or reference per-tenant variables"
        )
    return values, sources


def check_target(path: Path | str, *, force: bool) -> None:
    """Refuse a secrets file that could not be written, before any work: commands
    call this first, so a run fails at once rather than after its commit.

    An existing file (unless ``force``) is refused as ``SecretsFileError`` (exit 1); a
    path whose directory is missing, not a directory or not writable, or that is a
    directory itself, is a usage error (exit 2)."""
    target = Path(path)
    parent = target.parent
    problem = None
    if target.is_dir():
        problem = "is a directory; give a file name"
    elif not parent.is_dir():
        problem = f"cannot be created: the directory {parent} does not exist; create it first"
    elif not os.access(parent, os.W_OK | os.X_OK):
        problem = f"cannot be created: the directory {parent} is not writable"
    if problem:
        raise UsageError(f"--secrets-out {target} {problem}; nothing was done")
    refuse_existing(target, force=force)


def refuse_existing(path: Path | str, *, force: bool) -> None:
    """Raise if ``path`` exists and ``force`` is not given."""
    if not force and Path(path).exists():
        raise _exists(Path(path))


def _exists(path: Path) -> SecretsFileError:
    return SecretsFileError(
        f"{path} already exists; refusing to overwrite a secrets file (use --force)"
    )


def write_secrets_file(path: Path | str, items: Iterable[Any], *, force: bool = False) -> int:
    """Write every extracted literal as dotenv ``NAME=value`` lines; returns the count.

    ``items``: TenantResults or TenantPlans (their ``secrets``), or SecretReferences. The file is
    created with mode 0600 from the start (never world-readable, not even for a
    moment) and refused if it exists, unless ``force`` — then it is replaced
    atomically by a new 0600 file. Nothing is written when any value cannot be
    (see the module docstring): the error names each tenant, path and variable.
    """
    target = Path(path)
    values, sources = _collect(items)
    _refuse_unwritable(values, sources)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [
        f"# Secrets taken out of client.yaml files by tenant-migrator, {stamp}.",
        "# Keep this file private: load it into the platform's environment, then delete it.",
    ]
    used = {char for value in values.values() for char in _HELPERS if char in value}
    if used:
        lines.append(f"# {' and '.join(_HELPERS[c] for c in sorted(used))}: spell $ and ` below.")
        lines += [f"{_HELPERS[char]}='{char}'" for char in sorted(used)]
    lines += [f"{name}={dotenv_quote(value)}" for name, value in sorted(values.items())]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        if force:
            _replace_private(target, payload)
        else:
            _create_private(target, payload)
    except FileExistsError:
        raise _exists(target) from None
    except OSError as err:
        raise SecretsFileError(f"cannot write {target}: {err.strerror or err}") from None
    return len(values)


def _refuse_unwritable(values: dict[str, str], sources: dict[str, list[tuple[str, str]]]) -> None:
    refused = []
    for name, value in sorted(values.items()):
        where = ", ".join(f"{t} {p}" if t else p for t, p in sources[name])
        if name in _HELPERS.values():
            refused.append(f"{where} → {name}: the file uses that name itself")
        for char, why in _UNWRITABLE.items():
            if char in value:
                refused.append(f"{where} → {name}: the value holds {why}")
    if refused:
        raise SecretsFileError(
            "cannot write these secrets to a dotenv file (nothing was written): "
            + "; ".join(refused)
            + ". Change the secret, or set the variable some other way and reference it"
        )


_PLAIN_VALUE = re.compile(r"\A[A-Za-z0-9_./:@+,=-]*\Z")
_NEEDS_ESCAPE = re.compile(r'[\\"$`]')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": f"${{{DOLLAR_VAR}}}", "`": f"${{{BACKTICK_VAR}}}"}


def dotenv_quote(value: str) -> str:
    """The value as written after ``NAME=`` (see the module docstring). A carriage
    return or NUL has no such spelling: ``write_secrets_file`` refuses those first."""
    if _PLAIN_VALUE.match(value):
        return value
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value) + '"'


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_private(target: Path, payload: bytes) -> None:
    # O_EXCL: fails on an existing file or symlink, so nothing is ever overwritten
    # or followed; 0o600 applies from creation (umask can only remove bits).
    fd = os.open(target, _FLAGS, 0o600)
    try:
        # os.write may write less than it was given (a file size limit, a full disk):
        # write the rest until it is all written or the next write raises.
        rest = memoryview(payload)
        while rest:
            rest = rest[os.write(fd, rest) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)


def _replace_private(target: Path, payload: bytes) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _create_private(temp, payload)
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
