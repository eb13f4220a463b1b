"""config/schema.json → one compiled validator; every error with its position.

The validator is built once per process (``compiled_schema`` is cached by path and
modification time) because building it costs about as much as validating many
documents. Every error is reported (``iter_errors``), each as a plain sentence
with the file, line, column and JSON path. Messages never quote a value that
could be a secret: values are shown only for non-secret fields, when short, and
when they do not look like a key.

Unknown keys are not errors: the team's files carry fields the schema does not
know yet. They are kept in ``tenant_config`` and listed as warnings.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from tenant_migrator.errors import MigratorError
from tenant_migrator.loader import LoadedDocument
from tenant_migrator.problems import Problem, Severity, escape, problem_order
from tenant_migrator.record import ColumnDefaults, column_defaults
from tenant_migrator.secretrefs import (
    SecretRule,
    find_secret_shape,
    is_secret_key,
    resolve_local_ref,
    rules_from_schema,
    shown_key,
)

# Where the schema comes from when the project has no config/schema.json: the copy
# inside the wheel, else the source checkout (editable installs).
_BUNDLED = Path(__file__).with_name("_bundled_schema.json")
_SOURCE = Path(__file__).resolve().parent.parent / "config" / "schema.json"


class SchemaError(MigratorError):
    """config/schema.json is missing, not JSON, or not a valid JSON Schema."""


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    path: Path
    schema: dict[str, Any] = field(repr=False)
    # jsonschema's validator, which writes every error report. A ``JsonschemaOnFirstUse``
    # when the schema was checked without jsonschema: a valid file never needs it.
    validator: Any = field(repr=False)
    secret_rules: Mapping[str, SecretRule] = field(repr=False)
    # jsonschema-rs answering "valid?" (see fastschema.py); None: jsonschema alone.
    happy_path: Callable[[Any], bool] | None = field(default=None, repr=False)
    # The schema's `default` for column-backed fields (record.column_defaults).
    column_defaults: ColumnDefaults = field(default=(), repr=False)


class JsonschemaOnFirstUse:
    """jsonschema's validator for a schema already known valid, built (and jsonschema
    imported) on first use: only a file the fast validator does not accept needs it."""

    __slots__ = ("_built", "_draft", "_schema")

    def __init__(self, schema: dict[str, Any], draft: str) -> None:
        self._schema, self._draft, self._built = schema, draft, None

    def get(self) -> Any:
        if self._built is None:
            import jsonschema

            cls = getattr(jsonschema, f"{self._draft}Validator")
            self._built = cls(self._schema, format_checker=_format_checker())
        return self._built

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and typing probe these; not jsonschema's
            raise AttributeError(name)
        return getattr(self.get(), name)


def locate_schema(project_schema: Path) -> tuple[Path, bool]:
    """(path, is the project's own). Falls back to the schema shipped with the tool."""
    if project_schema.is_file():
        return project_schema, True
    for candidate in (_BUNDLED, _SOURCE):
        if candidate.is_file():
            return candidate, False
    raise SchemaError(
        f"{project_schema} not found and no built-in schema is installed; "
        "create config/schema.json or reinstall tenant-migrator"
    )


def compiled_schema(path: Path) -> CompiledSchema:
    """The compiled schema at ``path``, built at most once per process and version.

    With the jsonschema-rs happy path when it can mirror the schema (fastschema.py);
    jsonschema itself is imported only for a file that path does not accept, or a
    schema only jsonschema can check.
    """
    try:
        stat = os.stat(path)
    except OSError as err:
        raise SchemaError(f"{path}: cannot read the schema: {err.strerror or err}") from None
    return _compile(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _compile(path_text: str, _mtime_ns: int, _size: int) -> CompiledSchema:
    from tenant_migrator import fastschema

    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SchemaError(f"{path}: cannot read the schema: {err}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaError(f"{path}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}") from None
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: a JSON Schema must be an object")
    draft = fastschema.known_valid(schema)
    if draft is not None:
        validator: Any = JsonschemaOnFirstUse(schema, draft)
        jsonschema_validator = validator.get
    else:
        validator = _checked_by_jsonschema(path, schema)
        draft = type(validator).__name__.removesuffix("Validator")
        jsonschema_validator = lambda: validator  # noqa: E731
    happy_path = fastschema.build(schema, draft, FORMAT_CHECKS, jsonschema_validator)
    return CompiledSchema(
        path, schema, validator, rules_from_schema(schema), happy_path, column_defaults(schema)
    )


def _checked_by_jsonschema(path: Path, schema: dict[str, Any]) -> Any:
    """jsonschema's validator for ``schema``, after its own ``check_schema``."""
    import jsonschema
    from jsonschema.validators import validator_for

    if not isinstance(schema.get("$schema", ""), str):  # validator_for would raise
        raise SchemaError(f"{path}: not a valid JSON Schema at /$schema: must be a URI string")
    cls = validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        where = "/" + "/".join(str(p) for p in err.absolute_path)
        raise SchemaError(f"{path}: not a valid JSON Schema at {where}: {err.message}") from None
    return cls(schema, format_checker=_format_checker())


# --- formats ---------------------------------------------------------------------------

_ZONE_SHAPE = re.compile(r"\A[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}\Z")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")


@cache
def is_iana_zone(name: str) -> bool:
    """A real IANA zone name (e.g. Africa/Johannesburg); loads just that zone's data.

    ``zoneinfo.available_timezones()`` would be exact too but scans every file
    (~50 ms per process); the shape check keeps paths and oddities out.
    """
    import zoneinfo

    if not _ZONE_SHAPE.match(name) or name in _NOT_ZONES:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# The only formats checked (the schema's own), as jsonschema's FormatChecker and the
# fast validator both check them; any other format passes.
FORMAT_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "iana-timezone": lambda v: not isinstance(v, str) or is_iana_zone(v),
    "email": lambda v: not isinstance(v, str) or _EMAIL.match(v) is not None,
}


def _format_checker() -> Any:
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, check in FORMAT_CHECKS.items():
        checker.checks(name)(check)
    return checker


@cache
def _zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted; read once per process (~50 ms: it scans every file)."""
    import zoneinfo

    return tuple(sorted(zoneinfo.available_timezones()))


def _zone_suggestion(name: str) -> str:
    close = difflib.get_close_matches(name, _zone_names(), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else " (e.g. 'Africa/Johannesburg')"


# --- validating ------------------------------------------------------------------------


def validate(document: LoadedDocument, compiled: CompiledSchema) -> list[Problem]:
    """Every schema error (and unknown-key warning) in ``document``, in file order."""
    problems = [_problem(document, compiled, error) for error in schema_errors(document, compiled)]
    for pointer, key, suggestion in unknown_keys(document.data, compiled.schema):
        hint = f"did you mean {suggestion!r}? " if suggestion else ""
        problems.append(
            document.problem(
                pointer,
                f"unknown key {shown_key(key, _NAME_HIDDEN)} is not in the schema; kept in "
                f"tenant_config as is ({hint}fix the spelling or add it to config/schema.json)",
                Severity.WARNING,
                key=True,
            )
        )
    problems.sort(key=problem_order)
    return problems


def schema_errors(document: LoadedDocument, compiled: CompiledSchema) -> Iterable[Any]:
    """jsonschema's errors for ``document``; none without asking it when the fast
    validator says the document is valid (it never accepts what jsonschema rejects)."""
    if compiled.happy_path is not None and compiled.happy_path(document.data):
        return ()
    return compiled.validator.iter_errors(document.data)


def _problem(document: LoadedDocument, compiled: CompiledSchema, error: Any) -> Problem:
    parts = list(error.absolute_path)
    pointer = _pointer(parts)
    if error.validator == "required":
        missing = _quoted_name(error.message)
        child = f"{pointer}/{escape(missing)}" if missing else pointer
        message = f"required key {missing!r} is missing" if missing else "a required key is missing"
        line, column = document.locate(pointer)
        return Problem(document.path, message, child, line, column, Severity.ERROR)
    message = _message(error, _shown(error.instance, parts, compiled.secret_rules))
    return document.problem(pointer, message)


_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty (null)",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _message(error: Any, shown: str | None) -> str:
    custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
    subject = f"{shown} " if shown else ""
    kind, expected = error.validator, error.validator_value
    if custom:
        return f"{subject}{'is not valid: ' if subject else ''}{custom}"
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        hint = ""
        if "string" in names and isinstance(error.instance, int | float | bool):
            hint = "; quote the value to make it a string"
        return f"must be {wanted}, found {_kind(error.instance)}{hint}"
    if kind == "format":
        if expected == "iana-timezone":
            suggestion = _zone_suggestion(error.instance) if isinstance(error.instance, str) else ""
            return f"{subject}is not an IANA time zone{suggestion}"
        if expected == "email":
            return f"{subject}is not an email address"
        return f"{subject}is not a valid {expected}"
    if kind == "pattern":
        return f"{subject}does not match the required pattern {expected}"
    if kind == "enum":
        options = ", ".join(json.dumps(v) for v in expected[:10])
        more = f" (and {len(expected) - 10} more)" if len(expected) > 10 else ""
        return f"{subject}must be one of {options}{more}"
    if kind == "const":
        return f"{subject}must be {json.dumps(expected)}"
    if kind in ("minLength", "maxLength"):
        word = "at least" if kind == "minLength" else "at most"
        return f"must be {word} {expected} characters long"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }[kind]
        return f"{subject}must be {word} {expected}"
    if kind in ("minItems", "maxItems"):
        word = "at least" if kind == "minItems" else "at most"
        return f"must have {word} {expected} items"
    if kind == "uniqueItems":
        return "items must be unique"
    if kind == "additionalProperties":
        return "has keys the schema does not allow here"
    return f"does not satisfy the schema rule {kind!r}"


def _shown(value: Any, parts: list[Any], rules: Mapping[str, SecretRule]) -> str | None:
    """``repr(value)`` if it is safe to print in a message, else None.

    Safe: a short string or number, not in a secret field (annotated or by key
    name), and not shaped like any known secret.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    if len(text) > 60 or find_secret_shape(text):
        return None
    if any(isinstance(p, str) and is_secret_key(p) for p in parts):
        return None
    pattern = "".join("/*" if isinstance(p, int) else "/" + escape(p) for p in parts)
    if pattern in rules:
        return None
    return repr(value)


_NAME_HIDDEN = "(name not shown)"


def _quoted_name(message: str) -> str | None:
    match = re.match(r"\A'(.*)' is a required property\Z", message, re.DOTALL)
    return match.group(1) if match else None


def _pointer(parts: list[Any]) -> str:
    return "".join("/" + escape(p) for p in parts)


# --- unknown keys ----------------------------------------------------------------------


def unknown_keys(data: Any, schema: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    """Keys the schema does not declare: (pointer of the key, key, closest known key).

    Only objects whose schema lists ``properties`` and says nothing about other
    keys are checked; free-form objects (no ``properties``) accept anything.
    """
    return _unknown(data, _key_tree(schema))


def _unknown(data: Any, tree: _KeyTree) -> list[tuple[str, str, str | None]]:
    found: list[tuple[str, str, str | None]] = []
    # The path of the value being visited; a pointer is built only for a key found.
    parts: list[Any] = []

    def visit(value: Any, node: _KeyTree, depth: int) -> None:
        if depth > 30:
            return
        if isinstance(value, dict):
            props = node.props
            if props is None:
                return
            for key, item in value.items():
                child = props.get(key, _MISSING)
                if child is _MISSING:
                    if node.strict:
                        close = difflib.get_close_matches(key, list(props), n=1, cutoff=0.75)
                        pointer = _pointer([*parts, key])
                        found.append((pointer, key, close[0] if close else None))
                elif child is not None and (child.props is not None or child.items is not None):
                    parts.append(key)
                    visit(item, child, depth + 1)
                    parts.pop()
        elif isinstance(value, list) and node.items is not None:
            for index, item in enumerate(value):
                parts.append(index)
                visit(item, node.items, depth + 1)
                parts.pop()

    visit(data, tree, 0)
    return found


class _KeyTree:
    """What unknown-key checking needs from one schema node, with $refs resolved."""

    __slots__ = ("items", "props", "strict")

    def __init__(self) -> None:
        self.props: dict[str, _KeyTree | None] | None = None
        self.strict = False
        self.items: _KeyTree | None = None


_MISSING = _KeyTree()
_TREES: dict[int, tuple[Mapping[str, Any], _KeyTree]] = {}


def _key_tree(schema: Mapping[str, Any]) -> _KeyTree:
    cached = _TREES.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    built: dict[int, _KeyTree] = {}

    def build(node: Any) -> _KeyTree | None:
        node = resolve_local_ref(schema, node)
        if not isinstance(node, Mapping):
            return None
        if id(node) in built:  # shared or recursive definitions
            return built[id(node)]
        tree = built[id(node)] = _KeyTree()
        props = node.get("properties")
        if isinstance(props, Mapping):
            tree.props = {name: build(sub) for name, sub in props.items()}
            tree.strict = "additionalProperties" not in node and "patternProperties" not in node
        items = node.get("items")
        if isinstance(items, Mapping):
            tree.items = build(items)
        return tree

    tree = build(schema) or _KeyTree()
    if len(_TREES) > 8:
        _TREES.clear()
    _TREES[id(schema)] = (schema, tree)  # holds ``schema`` so its id stays unique
    return tree
