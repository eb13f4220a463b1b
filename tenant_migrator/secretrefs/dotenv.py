"""``--secrets-out FILE``: the extracted literals as dotenv ``NAME=value`` lines.

The only place a literal secret leaves the process. The file is private from its
first byte (mode 0600, ``O_CREAT|O_EXCL``, never through a symlink).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_migrator.errors import MigratorError
from tenant_migrator.secretrefs.model import KEPT


class SecretsFileError(MigratorError):
    """The secrets file could not be written (exists, conflicting values, I/O)."""


def collect_literals(items: Iterable[Any]) -> dict[str, str]:
    """{env var: literal} from TenantResults or SecretReferences.

    The same variable with two different literals cannot be written to one file:
    that raises (naming the variable and tenants, never the values).
    """
    values: dict[str, str] = {}
    owners: dict[str, set[str]] = {}
    conflicts: dict[str, set[str]] = {}
    for item in items:
        refs = getattr(item, "secrets", None)
        # A TenantResult's tenant_id, or a TenantPlan's id.
        tenant = getattr(item, "tenant_id", None) or getattr(item, "id", None)
        for ref in [item] if refs is None else refs:
            if ref.literal is None or ref.action == KEPT:
                continue
            previous = values.setdefault(ref.env_var, ref.literal)
            owners.setdefault(ref.env_var, set()).add(tenant or ref.json_path)
            if previous != ref.literal:
                conflicts[ref.env_var] = owners[ref.env_var]
    if conflicts:
        detail = "; ".join(
            f"{name} (from {', '.join(sorted(who))})" for name, who in sorted(conflicts.items())
        )
        raise SecretsFileError(
            f"different literal values for the same variable: {detail}. One environment "
            "variable cannot hold both; make the files agree or reference per-tenant variables"
        )
    return values


def refuse_existing(path: Path | str, *, force: bool) -> None:
    """Raise if ``path`` exists and ``force`` is not given: commands check this before
    any work, so a second run fails at once rather than after writing."""
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
    atomically by a new 0600 file. Values that are not plain words are written
    double-quoted with backslash escapes (``\\\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t``), the
    syntax python-dotenv and docker compose read.
    """
    target = Path(path)
    values = collect_literals(items)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [
        f"# Secrets taken out of client.yaml files by tenant-migrator, {stamp}.",
        "# Keep this file private: load it into the platform's environment, then delete it.",
    ]
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


_PLAIN_VALUE = re.compile(r"\A[A-Za-z0-9_./:@+,=-]*\Z")


def dotenv_quote(value: str) -> str:
    if _PLAIN_VALUE.match(value):
        return value
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def dotenv_unquote(text: str) -> str:
    """Inverse of ``dotenv_quote`` (for tests and tooling)."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    mapping = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
    return re.sub(r"\\(.)", lambda m: mapping.get(m.group(1), "\\" + m.group(1)), text[1:-1])


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_private(target: Path, payload: bytes) -> None:
    # O_EXCL: fails on an existing file or symlink, so nothing is ever overwritten
    # or followed; 0o600 applies from creation (umask can only remove bits).
    fd = os.open(target, _FLAGS, 0o600)
    try:
        os.write(fd, payload)
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
