"""A jsonschema-rs validator for the happy path, with jsonschema's own meaning.

jsonschema (pure Python) costs about 0.65 ms per client file, as much as parsing
the YAML; jsonschema-rs (Rust) gives the same verdict in about 0.025 ms. We use
the Rust one only to answer "is this file valid?": when it says yes the file has
no schema errors; when it says no (or cannot tell), jsonschema runs as before and
its errors are the report. So the Rust validator must never accept a document
jsonschema rejects. Rejecting one jsonschema accepts would only cost time.

Where the two engines do not mean the same thing, the keyword is not left to
Rust: a copy of the schema moves those keywords into one custom keyword that
calls jsonschema's own implementation of them (``VALIDATORS[keyword]``), so the
result is jsonschema's by construction:

* ``pattern``: Rust's regex engine is not Python's (``\\s``, ``\\d``, ``\\W`` and
  ``$`` before a trailing newline all differ);
* ``format``: the tool's own checks (IANA time zone, email), and no others,
  exactly as the jsonschema validator is configured;
* ``multipleOf``: float arithmetic differs (0.3 is a multiple of 0.1 in Rust).

``patternProperties`` cannot be moved this way (the regex decides which
subschema applies), so a schema using it gets no fast validator at all: slower,
never different. tests/test_fast_validator.py checks the verdicts agree on every
sample, generated, mutated and fuzzed document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# The custom keyword that carries the delegated keywords of one schema object.
KEYWORD = "x-tenant-migrator-python"
DELEGATED = frozenset({"pattern", "format", "multipleOf"})

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


def build(schema: Mapping[str, Any], validator: Any) -> Callable[[Any], bool] | None:
    """``is_valid(instance)`` agreeing with ``validator`` (a jsonschema validator for
    ``schema``) whenever it returns True; None if jsonschema-rs is unavailable or
    cannot mirror this schema."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - it is a dependency; stay correct without it
        return None
    rs_class = _rs_class(type(validator), jsonschema_rs)
    if rs_class is None:
        return None
    try:
        rewritten = rewrite(schema)
    except _Unsupported:
        return None
    try:
        fast = rs_class(
            rewritten,
            validate_formats=False,
            keywords={KEYWORD: _python_keywords(validator)},
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


def _rs_class(cls: type, jsonschema_rs: Any) -> Any:
    import jsonschema

    return {
        jsonschema.Draft4Validator: jsonschema_rs.Draft4Validator,
        jsonschema.Draft6Validator: jsonschema_rs.Draft6Validator,
        jsonschema.Draft7Validator: jsonschema_rs.Draft7Validator,
        jsonschema.Draft201909Validator: jsonschema_rs.Draft201909Validator,
        jsonschema.Draft202012Validator: jsonschema_rs.Draft202012Validator,
    }.get(cls)


def rewrite(node: Any, depth: int = 0) -> Any:
    """A copy of schema ``node`` with the DELEGATED keywords of every schema object
    gathered under KEYWORD. Only keywords that hold subschemas are descended into:
    ``enum``/``const``/``default`` values and annotations are data, kept as they are."""
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
            out[key] = rewrite(value, depth + 1)
        elif key in _LIST or (key == "items" and isinstance(value, list)):
            out[key] = [rewrite(v, depth + 1) for v in value] if isinstance(value, list) else value
        elif key == "items":
            out[key] = rewrite(value, depth + 1)
        elif key in _MAP and isinstance(value, dict):
            out[key] = {name: rewrite(sub, depth + 1) for name, sub in value.items()}
        elif key == "dependencies" and isinstance(value, dict):
            # Each value is a subschema or a list of required property names.
            out[key] = {
                name: sub if isinstance(sub, list) else rewrite(sub, depth + 1)
                for name, sub in value.items()
            }
        else:
            out[key] = value
    if delegated:
        out[KEYWORD] = delegated
    return out


def _python_keywords(validator: Any) -> type:
    """The custom keyword: jsonschema's own functions for the delegated keywords,
    run with ``validator`` (its type checker and format checker)."""
    functions = type(validator).VALIDATORS

    class PythonKeywords:
        __slots__ = ("checks",)

        def __init__(self, parent_schema: Any, value: dict[str, Any], schema_path: Any) -> None:
            self.checks = [(functions[k], v, value) for k, v in value.items() if k in functions]

        def validate(self, instance: Any) -> None:
            for function, keyword_value, schema in self.checks:
                for _error in function(validator, keyword_value, instance, schema):
                    # The message is never shown: a rejected file is re-checked by jsonschema.
                    raise ValueError("invalid")

    return PythonKeywords
