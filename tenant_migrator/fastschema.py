"""A jsonschema-rs validator for the happy path, with jsonschema's own meaning.

jsonschema (pure Python) costs about 0.65 ms per client file, as much as parsing
the YAML; jsonschema-rs (Rust) gives the same verdict in about 0.025 ms. We use
the Rust one only to answer "is this file valid?": when it says yes the file has
no schema errors; when it says no (or cannot tell), jsonschema runs as before and
its errors are the report. So the Rust validator must never accept a document
jsonschema rejects. Rejecting one jsonschema accepts would only cost time.

Where the two engines do not mean the same thing, the keyword is not left to
Rust: a copy of the schema moves those keywords into one custom keyword that
checks them in Python, as jsonschema does:

* ``pattern``: Rust's regex engine is not Python's (``\\s``, ``\\d``, ``\\W`` and
  ``$`` before a trailing newline all differ); checked as jsonschema's ``pattern``
  does, ``re.search`` on strings only;
* ``format``: the tool's own checks (IANA time zone, email), and no others, the
  very functions the jsonschema validator's FormatChecker is given (a format it has
  no check for passes there too);
* ``multipleOf``: float arithmetic differs (0.3 is a multiple of 0.1 in Rust);
  jsonschema's own function (``VALIDATORS["multipleOf"]``), with its ``Fraction``
  fallback, imported only for a schema that uses it.

``patternProperties`` cannot be moved this way (the regex decides which
subschema applies), so a schema using it gets no fast validator at all: slower,
never different. tests/test_fast_validator.py checks the verdicts agree on every
sample, generated, mutated and fuzzed document.

Why not jsonschema's own functions for the first two: so that a valid file never
imports jsonschema at all. Importing it and checking the schema with it cost about
0.12 s per process on a slow core, more than everything else ``sync`` does to
validate its file. For the same reason the schema itself is checked here first
(``known_valid``): jsonschema-rs's meta-schema check, Python's ``re.compile`` of
every ``pattern`` (jsonschema's ``regex`` format) and no URI-format library
installed (with one, jsonschema would also check ``$ref`` and ``$id`` as URIs). Only
a schema passing all three is taken without asking jsonschema; anything else is
checked by jsonschema's ``check_schema`` as before, which writes the error.
tests/test_fast_validator.py holds that this check never passes a schema
jsonschema refuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from importlib.util import find_spec
from typing import Any

# The custom keyword that carries the delegated keywords of one schema object.
KEYWORD = "x-tenant-migrator-python"
DELEGATED = frozenset({"pattern", "format", "multipleOf"})

# The drafts jsonschema-rs mirrors, each with its meta-schema's id; jsonschema's
# validator_for maps that id to the draft with or without the empty fragment. No
# `$schema`: the tool's default.
META_SCHEMA_IDS: Mapping[str, str] = {
    "Draft4": "http://json-schema.org/draft-04/schema#",
    "Draft6": "http://json-schema.org/draft-06/schema#",
    "Draft7": "http://json-schema.org/draft-07/schema#",
    "Draft201909": "https://json-schema.org/draft/2019-09/schema",
    "Draft202012": "https://json-schema.org/draft/2020-12/schema",
}
_DRAFTS_BY_ID = {uri.removesuffix("#"): draft for draft, uri in META_SCHEMA_IDS.items()}
DEFAULT_DRAFT = "Draft7"
# With any of these installed, jsonschema's check_schema also checks the meta-schemas'
# "uri" and "uri-reference" formats ($schema, $id, $ref), which the fast check does not.
URI_FORMAT_LIBRARIES = ("rfc3987", "rfc3986_validator", "rfc3987_syntax")

# Keywords whose value is a subschema / a list of them / a name → subschema map.
_ONE = frozenset(
    {
        "additionalProperties",
        "additionalItems",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP = frozenset({"properties", "definitions", "$defs", "dependentSchemas"})
_UNSUPPORTED = frozenset({"patternProperties", KEYWORD})
_MAX_DEPTH = 200


class _Unsupported(Exception):
    """The schema uses something the fast validator cannot mirror exactly."""


def draft_of(schema: Mapping[str, Any]) -> str | None:
    """The draft jsonschema validates ``schema`` with (``validator_for``, Draft 7 by
    default) when it is one jsonschema-rs mirrors; None for any other ``$schema``."""
    if "$schema" not in schema:
        return DEFAULT_DRAFT
    uri = schema["$schema"]
    return _DRAFTS_BY_ID.get(uri.removesuffix("#")) if isinstance(uri, str) else None


def known_valid(schema: Mapping[str, Any]) -> str | None:
    """The draft (``draft_of``) when jsonschema's ``check_schema`` accepts ``schema``
    too, known without importing jsonschema (see the module docstring); None means
    "ask jsonschema", not "invalid"."""
    draft = draft_of(schema)
    if draft is None or any(find_spec(name) is not None for name in URI_FORMAT_LIBRARIES):
        return None
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - it is a dependency; stay correct without it
        return None
    delegated: list[dict[str, Any]] = []
    try:
        rewrite(schema, found=delegated)
        for keywords in delegated:
            if "pattern" in keywords:
                re.compile(keywords["pattern"])
    except (_Unsupported, re.error, TypeError, ValueError, RecursionError, OverflowError):
        return None
    # jsonschema-rs picks the meta-schema by `$schema`, and its default is not ours.
    explicit = {**schema, "$schema": META_SCHEMA_IDS[draft]}
    try:
        return draft if jsonschema_rs.meta.is_valid(explicit) else None
    except Exception:  # e.g. a value that cannot cross into Rust: let jsonschema say
        return None


def build(
    schema: Mapping[str, Any],
    draft: str,
    formats: Mapping[str, Callable[[Any], bool]],
    jsonschema_validator: Callable[[], Any],
) -> Callable[[Any], bool] | None:
    """``is_valid(instance)`` agreeing with jsonschema's ``draft`` validator for
    ``schema`` with the format checks ``formats`` whenever it returns True; None if
    jsonschema-rs is unavailable or cannot mirror this schema.
    ``jsonschema_validator()`` gives that validator; it is called only for a schema
    using ``multipleOf``."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - it is a dependency; stay correct without it
        return None
    if draft not in META_SCHEMA_IDS:  # Draft 3: jsonschema-rs has no twin
        return None
    rs_class = getattr(jsonschema_rs, f"{draft}Validator")
    try:
        rewritten = rewrite(schema)
    except _Unsupported:
        return None
    try:
        fast = rs_class(
            rewritten,
            validate_formats=False,
            keywords={KEYWORD: _python_keywords(formats, jsonschema_validator)},
            offline=True,
        )
    except Exception:  # anything it cannot compile is left to jsonschema
        return None
    is_valid = fast.is_valid

    def happy(instance: Any) -> bool:
        try:
            return bool(is_valid(instance))
        except Exception:  # e.g. a lone surrogate cannot cross into Rust: let jsonschema say
            return False

    return happy


def rewrite(node: Any, depth: int = 0, found: list[dict[str, Any]] | None = None) -> Any:
    """A copy of schema ``node`` with the DELEGATED keywords of every schema object
    gathered under KEYWORD (each such dict also appended to ``found``). Only keywords
    that hold subschemas are descended into: ``enum``/``const``/``default`` values
    and annotations are data, kept as they are."""
    if not isinstance(node, dict):
        return node  # true/false schemas; anything else check_schema already refused
    if depth > _MAX_DEPTH or not _UNSUPPORTED.isdisjoint(node):
        raise _Unsupported
    out: dict[str, Any] = {}
    delegated: dict[str, Any] = {}
    for key, value in node.items():
        if key in DELEGATED:
            delegated[key] = value
        elif key in _ONE:
            out[key] = rewrite(value, depth + 1, found)
        elif key in _LIST or (key == "items" and isinstance(value, list)):
            out[key] = (
                [rewrite(v, depth + 1, found) for v in value] if isinstance(value, list) else value
            )
        elif key == "items":
            out[key] = rewrite(value, depth + 1, found)
        elif key in _MAP and isinstance(value, dict):
            out[key] = {name: rewrite(sub, depth + 1, found) for name, sub in value.items()}
        elif key == "dependencies" and isinstance(value, dict):
            # Each value is a subschema or a list of required property names.
            out[key] = {
                name: sub if isinstance(sub, list) else rewrite(sub, depth + 1, found)
                for name, sub in value.items()
            }
        else:
            out[key] = value
    if delegated:
        out[KEYWORD] = delegated
        if found is not None:
            found.append(delegated)
    return out


def _python_keywords(
    formats: Mapping[str, Callable[[Any], bool]], jsonschema_validator: Callable[[], Any]
) -> type:
    """The custom keyword: the delegated keywords checked as jsonschema checks them."""

    def pattern(value: Any) -> Callable[[Any], bool]:
        search = re.compile(value).search  # jsonschema: re.search(pattern, instance)
        return lambda instance: not isinstance(instance, str) or search(instance) is not None

    def format_(value: Any) -> Callable[[Any], bool]:
        # jsonschema's FormatChecker: a format it has no check for passes.
        check = formats.get(value) if isinstance(value, str) else None
        return (lambda _instance: True) if check is None else check

    def multiple_of(value: Any) -> Callable[[Any], bool]:
        validator = jsonschema_validator()
        function = type(validator).VALIDATORS["multipleOf"]
        return lambda instance: next(function(validator, value, instance, {}), None) is None

    makers = {"pattern": pattern, "format": format_, "multipleOf": multiple_of}

    class PythonKeywords:
        __slots__ = ("checks",)

        def __init__(self, parent_schema: Any, value: dict[str, Any], schema_path: Any) -> None:
            self.checks = [makers[k](v) for k, v in value.items()]

        def validate(self, instance: Any) -> None:
            for check in self.checks:
                if not check(instance):
                    # The message is never shown: a rejected file is re-checked by jsonschema.
                    raise ValueError("invalid")

    return PythonKeywords
