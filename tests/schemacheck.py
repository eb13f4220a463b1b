"""Every ``--format json`` output a CLI test produces, checked against the published
schema of its command (tenant_migrator/schemas/). Called by conftest's ``run_cli``, so
the documented contract and the output cannot drift apart.

Outputs over ``MAX_CHECKED_CHARS`` (the benchmark-sized plans) are not walked by
jsonschema: seconds each, and their shape is the small plans' shape.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

from tenant_migrator import schemas

MAX_CHECKED_CHARS = 2_000_000
_GLOBAL_WITH_VALUE = {"--project-dir", "--database-url"}
checked: list[str] = []  # command names checked in this session (the test of the check)


@cache
def validator(name: str) -> Draft202012Validator:
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def command_of(args: Sequence[str]) -> str | None:
    """The command name in ``args`` (after the global options)."""
    words = list(args)
    i = 0
    while i < len(words) and words[i].startswith("--"):
        i += 1 if "=" in words[i] or words[i] not in _GLOBAL_WITH_VALUE else 2
    return words[i] if i < len(words) else None


# Commands whose JSON another command's schema describes.
_SAME_SCHEMA = {"sync": "import"}


def schema_of(args: Sequence[str]) -> str | None:
    """The schema name for the command in ``args`` (``migrate status`` → migrate-status)."""
    name = command_of(args)
    if name == "migrate":
        words = list(args)
        rest = words[words.index("migrate") + 1 :]
        return "migrate-status" if "status" in rest else "migrate"
    return _SAME_SCHEMA.get(name or "", name)


def _option(args: Sequence[str], name: str) -> str | None:
    for i, word in enumerate(args):
        if word == name and i + 1 < len(args):
            return args[i + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def check_output(args: Sequence[str], stdout: str, cwd: Path | None) -> None:
    """Raise ``AssertionError`` when a JSON report does not match its schema."""
    args = [str(a) for a in args]
    name = schema_of(args)
    if name not in schemas.NAMES or _option(args, "--format") != "json":
        return
    text = stdout
    output = _option(args, "--output")
    if output is not None and output != "-" and name == "plan":
        path = Path(output) if cwd is None else Path(cwd) / output
        text = path.read_text("utf-8") if path.is_file() else ""
    if not text.strip() or len(text) > MAX_CHECKED_CHARS:
        return  # a usage error prints nothing on stdout
    if output is not None and not text.lstrip().startswith("{"):
        return  # a refused --output FILE: the file is what was there before
    document = json.loads(text)
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{name} --format json breaks {name}.schema.json: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )
    checked.append(name)
