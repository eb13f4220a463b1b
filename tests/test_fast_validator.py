"""The jsonschema-rs happy path (fastschema.py) agrees with jsonschema.

The tool trusts the Rust validator's "valid" and asks jsonschema for the report
of anything else, so the one thing that must never happen is Rust accepting a
document jsonschema rejects. These tests go further and require the same verdict
both ways, on every sample, every generated document, systematically mutated
documents, hypothesis-fuzzed documents and hypothesis-generated small schemas.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import random
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from clientdocs import SAMPLES, SCHEMA, dump, valid_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importhelpers import bench_generate

from tenant_migrator import fastschema, loader, validation
from tenant_migrator.errors import ClientFileError

REPO = Path(__file__).resolve().parent.parent


generate = bench_generate()
COMPILED = validation.compiled_schema(SCHEMA)
GENERATED = [generate.tenant_document(0, i) for i in range(300)]


def _verdicts(document: Any, compiled: validation.CompiledSchema = COMPILED) -> tuple[bool, bool]:
    assert compiled.happy_path is not None
    return compiled.happy_path(document), compiled.validator.is_valid(document)


def _assert_agree(document: Any, compiled: validation.CompiledSchema = COMPILED) -> bool:
    fast, slow = _verdicts(document, compiled)
    assert fast == slow, f"jsonschema-rs says {fast}, jsonschema says {slow} for {document!r:.300}"
    return slow


def _loaded(text: str) -> loader.LoadedDocument:
    return loader.load_bytes(text.encode(), Path("client.yaml"))


# --- the tool's schema ------------------------------------------------------------------


def test_the_tool_schema_gets_a_fast_validator_and_validate_uses_it():
    document = _loaded(dump(valid_document()))

    class Exploding:
        def iter_errors(self, _instance):
            raise AssertionError("jsonschema ran although the fast validator said valid")

    assert validation.validate(document, dataclasses.replace(COMPILED, validator=Exploding())) == []


def test_every_sample_agrees(reference_dir):
    paths = sorted(SAMPLES.glob("*/client.yaml"))
    paths.append(reference_dir / "platform-lite" / "client.yaml")
    assert len(paths) >= 6
    for path in paths:
        document = loader.load_file(path)
        assert _assert_agree(document.data), path


def test_every_generated_document_agrees():
    for document in GENERATED:
        assert _assert_agree(document)


def test_the_reference_schema_gets_a_fast_validator_that_agrees(reference_dir):
    schema = json.loads((reference_dir / "platform-lite" / "schema.json").read_text())
    compiled = _compiled_for(schema)
    for document in GENERATED[:50]:
        _assert_agree(document, compiled)
        for mutated in list(_mutations(document, random.Random(1)))[:40]:
            _assert_agree(mutated, compiled)


# Values that find where engines differ: regex classes (\s, \d, \w and $ before a
# trailing newline mean different things in Rust and Python), float arithmetic,
# big integers, bool-vs-number, Unicode lengths. (Not lone surrogates: the loader
# cannot produce them, see the last test.)
TRICKY_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    0.3,
    -0.0,
    2**53 + 1,
    2**64,
    -(2**63) - 1,
    1e308,
    65535,
    65536,
    70000,
    "",
    " ",
    "ZAR",
    "ZAR\n",
    "zar",
    "ZA R",
    "Africa/Johannesburg",
    "Africa/Johannesburg\n",
    "Africa/Joburg",
    "UTC",
    "localtime",
    "Etc/GMT+5",
    "../etc/passwd",
    "#aabbcc",
    "#AABBCC\n",
    "#aabbc",
    "#aabbcg",
    "sales@acme.example",
    "sales@acme",
    "sales @acme.example",
    "SBZAZAJJ",
    "SBZAZAJJXXX\n",
    "sbzazajj",
    "acme",
    "acme\n",
    "Acme",
    "١٢٣",
    "é",
    "\x1c",
    "\ufeff",
    "\u00a0",
    "a\x1cb",
    "ab\U0001f600",
    "${SENDGRID_API_KEY}",
    "x" * 300,
    [],
    [1, True],
    [1, 1.0],
    ["a", "a"],
    {},
    {"a": 1},
]


def _leaves(node: Any, path: tuple = ()):
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))


def _replaced(document: Any, path: tuple, value: Any) -> Any:
    """A copy with ``value`` at ``path`` (only the containers on the path are copied)."""
    if not path:
        return value
    out = copy.copy(document)
    out[path[0]] = value if len(path) == 1 else _replaced(document[path[0]], path[1:], value)
    return out


def _deleted(document: Any, path: tuple) -> Any:
    parent = copy.copy(_get(document, path[:-1]))
    del parent[path[-1]]
    return _replaced(document, path[:-1], parent)


def _mutations(document: dict, rng: random.Random, per_leaf: int = 3):
    """Each leaf and container replaced by a few tricky values, each key deleted,
    an unknown key added to each mapping."""
    for path in list(_leaves(document))[1:]:
        for value in rng.sample(TRICKY_VALUES, per_leaf):
            yield _replaced(document, path, value)
        yield _deleted(document, path)
        parent = _get(document, path[:-1])
        if isinstance(parent, dict):
            yield _replaced(document, (*path[:-1], "unknown_key"), "x")


def _get(document: Any, path: tuple) -> Any:
    for part in path:
        document = document[part]
    return document


def test_every_value_of_a_sample_replaced_by_every_tricky_value_agrees():
    document = valid_document()
    seen = {True: 0, False: 0}
    for path in list(_leaves(document))[1:]:
        for value in TRICKY_VALUES:
            seen[_assert_agree(_replaced(document, path, value))] += 1
    # Both verdicts were exercised, many times.
    assert seen[True] > 200 and seen[False] > 1000, seen


def test_mutated_generated_documents_agree():
    rng = random.Random(5)
    count = 0
    for document in GENERATED[:8]:
        for mutated in _mutations(document, rng, per_leaf=2):
            _assert_agree(mutated)
            count += 1
    assert count > 2_500


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from([v for v in TRICKY_VALUES if not isinstance(v, list | dict)]),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(GENERATED) - 1), choice=st.data(), value=JSON_VALUES)
def test_fuzzed_documents_agree(index, choice, value):
    document = GENERATED[index]
    paths = list(_leaves(document))[1:]
    path = choice.draw(st.sampled_from(paths))
    _assert_agree(_replaced(document, path, value))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_fuzzed_yaml_text_spliced_into_a_file_agrees(text):
    # Whatever a YAML file can hold in a string field, through the real loader.
    document = valid_document()
    document["branding"]["primary_color"] = text
    document["client"]["currency"] = text
    document["client"]["timezone"] = text
    try:
        loaded = _loaded(dump(document))
    except Exception:
        return
    _assert_agree(loaded.data)


# --- any schema a project may have ------------------------------------------------------

REGEXES = [
    "^[a-z0-9_-]+$",
    "^[A-Z]{3}$",
    "^#[0-9A-Fa-f]{6}$",
    "^\\S+$",
    "^\\s*$",
    "^\\d+$",
    "^\\w+$",
    "^\\W+$",
    "\\D",
    "^a.c$",
    "[éè]",
    "^.{2,4}$",
    "x|y$",
]


def _schemas(depth: int) -> st.SearchStrategy[dict]:
    leaf_keywords = {
        "type": st.sampled_from(
            ["string", "integer", "number", "boolean", "null", "array", "object"]
        )
        | st.lists(
            st.sampled_from(["string", "integer", "number", "null"]),
            min_size=1,
            max_size=3,
            unique=True,
        ),
        "pattern": st.sampled_from(REGEXES),
        "multipleOf": st.sampled_from([0.1, 0.01, 2, 3, 0.5, 1e-9]),
        "minimum": JSON_SCALARS.filter(
            lambda v: isinstance(v, int | float) and not isinstance(v, bool)
        ),
        "maximum": st.sampled_from([0, 10, 65535, 2**53, 9007199254740992.0, 1.5]),
        "exclusiveMaximum": st.sampled_from([0, 10, 65535, 1.5]),
        "minLength": st.integers(0, 5),
        "maxLength": st.integers(0, 5),
        "enum": st.lists(JSON_SCALARS, min_size=1, max_size=5),
        "const": JSON_SCALARS,
        "format": st.sampled_from(["email", "iana-timezone", "uri", "date", "regex", "ipv4"]),
        "uniqueItems": st.booleans(),
        "minItems": st.integers(0, 3),
        "required": st.lists(st.sampled_from(["a", "b", "pattern"]), max_size=2, unique=True),
    }
    leaf = st.fixed_dictionaries({}, optional=leaf_keywords)
    if depth == 0:
        return leaf
    child = _schemas(depth - 1) | st.booleans()
    nested = {
        "properties": st.dictionaries(
            st.sampled_from(["a", "b", "pattern", "format"]), child, max_size=3
        ),
        "items": child,
        "additionalProperties": child,
        "allOf": st.lists(child, min_size=1, max_size=2),
        "anyOf": st.lists(child, min_size=1, max_size=2),
        "oneOf": st.lists(child, min_size=1, max_size=2),
        "not": child,
        "propertyNames": _schemas(0),
    }
    return st.fixed_dictionaries({}, optional={**leaf_keywords, **nested})


DRAFTS = {
    "http://json-schema.org/draft-04/schema#": jsonschema.Draft4Validator,
    "http://json-schema.org/draft-06/schema#": jsonschema.Draft6Validator,
    "http://json-schema.org/draft-07/schema#": jsonschema.Draft7Validator,
    "https://json-schema.org/draft/2020-12/schema": jsonschema.Draft202012Validator,
}


def _compiled_for(schema: dict) -> validation.CompiledSchema:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    validator = cls(schema, format_checker=validation._format_checker())
    draft = cls.__name__.removesuffix("Validator")
    happy_path = fastschema.build(schema, draft, validation.FORMAT_CHECKS, lambda: validator)
    assert happy_path is not None
    return validation.CompiledSchema(Path("schema.json"), schema, validator, {}, happy_path)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    schema=_schemas(2),
    draft=st.sampled_from(sorted(DRAFTS)),
    instances=st.lists(JSON_VALUES, min_size=1, max_size=6),
)
def test_any_schema_and_instance_agree(schema, draft, instances):
    schema = {"$schema": draft, **schema}
    cls = DRAFTS[draft]
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return  # the tool refuses such a schema before validating anything
    compiled = _compiled_for(schema)
    for instance in instances:
        fast, slow = _verdicts(instance, compiled)
        # The guarantee the tool relies on: never valid where jsonschema says invalid.
        assert not (fast and not slow), (schema, instance)
        assert fast == slow, (schema, instance)


def test_pattern_properties_get_no_fast_validator():
    schema = {"patternProperties": {"^\\d+$": {"type": "string"}}}
    validator = jsonschema.Draft7Validator(schema)
    assert fastschema.build(schema, "Draft7", {}, lambda: validator) is None
    assert fastschema.known_valid(schema) is None  # jsonschema checks it


def test_keywords_inside_data_are_not_rewritten():
    schema = {
        "properties": {
            "pattern": {"enum": [{"pattern": "^x$"}]},
            "format": {"const": {"format": 1}},
        },
        "definitions": {"pattern": {"type": "string", "pattern": "^[a-z]+$"}},
        "default": {"multipleOf": 3},
    }
    rewritten = fastschema.rewrite(schema)
    assert rewritten["properties"]["pattern"] == {"enum": [{"pattern": "^x$"}]}
    assert rewritten["properties"]["format"] == {"const": {"format": 1}}
    assert rewritten["default"] == {"multipleOf": 3}
    assert rewritten["definitions"]["pattern"] == {
        "type": "string",
        fastschema.KEYWORD: {"pattern": "^[a-z]+$"},
    }


def test_a_value_rust_cannot_read_goes_to_jsonschema():
    # A lone surrogate cannot cross into Rust: the happy path says "not proven
    # valid" and jsonschema (which accepts it as a string) decides. YAML files
    # cannot produce one (the loader refuses the escape and invalid UTF-8).
    compiled = _compiled_for({"type": "string", "maxLength": 5})
    assert compiled.happy_path("\ud800") is False
    assert compiled.validator.is_valid("\ud800")
    with pytest.raises(ClientFileError):
        _loaded('client:\n  name: "\\ud800"\n')
    with pytest.raises(ClientFileError):
        loader.load_bytes(b"client:\n  name: \xed\xa0\x80\n", Path("client.yaml"))


def test_invalid_files_get_the_same_report_with_and_without_the_fast_validator(tmp_path):
    slow = dataclasses.replace(COMPILED, happy_path=None)
    rng = random.Random(9)
    document = GENERATED[3]
    compared = 0
    for mutated in _mutations(document, rng, per_leaf=1):
        try:
            loaded = _loaded(yaml.safe_dump(mutated, sort_keys=False, allow_unicode=True))
        except Exception:
            continue
        assert validation.validate(loaded, COMPILED) == validation.validate(loaded, slow)
        compared += 1
    assert compared > 200


# --- the schema check without jsonschema (known_valid, draft_of) -----------------------

_SCHEMA_IDS = [
    None,  # no $schema: the tool's default, Draft 7
    *DRAFTS,
    *(uri.removesuffix("#") for uri in DRAFTS),
    "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-03/schema#",
    "https://json-schema.org/draft-07/schema#",  # https: not what jsonschema maps
    "http://json-schema.org/draft-07/schema##",
    "http://example.com/my-meta-schema",
]


def _check_schema(schema: dict, cls: Any) -> bool:
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError:
        return False
    return True


def _jsonschema_class(schema: dict) -> Any:
    with warnings.catch_warnings():  # an unknown $schema: Draft 7, with a warning
        warnings.simplefilter("ignore", DeprecationWarning)
        return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)


def _jsonschema_accepts(schema: dict) -> bool:
    if not isinstance(schema.get("$schema", ""), str):
        return False  # validator_for cannot read it; the tool refuses the schema
    return _check_schema(schema, _jsonschema_class(schema))


@pytest.mark.parametrize("uri", _SCHEMA_IDS)
def test_draft_of_names_the_draft_jsonschema_validates_with(uri):
    schema = {"type": "object"} if uri is None else {"$schema": uri, "type": "object"}
    draft = fastschema.draft_of(schema)
    if draft is not None:
        assert f"{draft}Validator" == _jsonschema_class(schema).__name__
    else:  # left to jsonschema: a draft jsonschema-rs has no twin for, or not mapped
        assert uri not in _SCHEMA_IDS[: len(DRAFTS) * 2 + 2]


def test_the_tool_schema_is_checked_without_jsonschema_and_its_validator_waits():
    assert fastschema.known_valid(COMPILED.schema) == "Draft7"
    assert isinstance(COMPILED.validator, validation.JsonschemaOnFirstUse)
    assert COMPILED.happy_path is not None
    assert COMPILED.validator.is_valid(valid_document())  # built on first use


def test_the_check_uses_the_drafts_own_meta_schema_not_jsonschema_rs_default():
    # An array `items` is Draft 7 (the default without $schema), invalid in 2020-12,
    # which jsonschema-rs would take for a schema without $schema.
    schema = {"type": "array", "items": [{"type": "string"}]}
    assert _check_schema(schema, jsonschema.Draft7Validator)
    assert fastschema.known_valid(schema) == "Draft7"
    later = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    assert fastschema.known_valid(later) is None


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": {"pattern": "(?<name>x)"}}},  # a JavaScript group: not Python's
        {"properties": {"a": {"pattern": "[a-z"}}},
        {"definitions": {"a": {"pattern": 5}}},
        {"type": "strin"},
        {"required": "a"},
        {"properties": {"a": {"minLength": -1}}},
        {"patternProperties": {"^a": {"type": "string"}}},  # valid, but left to jsonschema
        {"$schema": 5, "type": "object"},  # jsonschema's validator_for cannot read it
        {"$schema": None, "type": "object"},
    ],
)
def test_a_schema_the_check_cannot_vouch_for_goes_to_jsonschema(schema, tmp_path):
    assert fastschema.known_valid(schema) is None
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    if _jsonschema_accepts(schema):
        assert validation.compiled_schema(path).validator.__class__ is jsonschema.Draft7Validator
    else:
        with pytest.raises(validation.SchemaError, match="not a valid JSON Schema at /"):
            validation.compiled_schema(path)


def test_with_a_uri_format_library_installed_jsonschema_checks_the_schema(monkeypatch):
    # The premise: without those libraries jsonschema checks no URI format in a schema.
    checked = set(jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)
    installed = [n for n in fastschema.URI_FORMAT_LIBRARIES if importlib.util.find_spec(n)]
    assert bool({"uri", "uri-reference"} & checked) == bool(installed)
    monkeypatch.setattr(fastschema, "URI_FORMAT_LIBRARIES", ("json",))  # one "installed"
    assert fastschema.known_valid(COMPILED.schema) is None


_KEYWORDS = [
    "type", "properties", "items", "additionalProperties", "required", "enum", "const",
    "pattern", "format", "minLength", "maximum", "exclusiveMinimum", "multipleOf",
    "allOf", "anyOf", "not", "if", "then", "definitions", "$defs", "$ref", "$id",
    "dependencies", "propertyNames", "contains", "uniqueItems", "prefixItems",
    "additionalItems", "dependentRequired", "unevaluatedProperties", "x-custom",
]  # fmt: skip
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.floats(-2, 3, allow_nan=False),
    st.sampled_from(["string", "object", "x", "(", "[a-z", "^a$", "(?<n>x)", "\\d+", "#/a"]),
    st.lists(st.sampled_from(["string", "a", 1, None]), max_size=3),
)
_JUNK_SCHEMAS = st.recursive(
    st.dictionaries(st.sampled_from(_KEYWORDS), _JUNK, max_size=4),
    lambda children: st.dictionaries(
        st.sampled_from(_KEYWORDS),
        st.one_of(
            _JUNK,
            children,
            st.lists(children, max_size=2),
            st.dictionaries(st.sampled_from(["a", "b"]), children, max_size=2),
        ),
        max_size=4,
    ),
    max_leaves=12,
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_JUNK_SCHEMAS, uri=st.sampled_from([None, *DRAFTS]))
def test_the_check_never_vouches_for_a_schema_jsonschema_refuses(schema, uri):
    if uri is not None:
        schema = {**schema, "$schema": uri}
    if fastschema.known_valid(schema) is not None:
        assert _jsonschema_accepts(schema), schema


def test_no_mutant_of_the_tool_schema_the_check_passes_is_refused_by_jsonschema():
    junk = [None, True, -1, 1.5, "x", "(", [], {}, ["a", "a"], {"type": 5}]
    vouched = refused = 0

    def nodes(node: Any, path: tuple = ()):
        if isinstance(node, dict):
            yield path, node
            for key, value in node.items():
                yield from nodes(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from nodes(value, (*path, i))

    for path, node in list(nodes(COMPILED.schema)):
        for key in list(node)[:6]:
            for value in junk:
                mutant = copy.deepcopy(COMPILED.schema)
                target = mutant
                for step in path:
                    target = target[step]
                target[key] = value
                ok = _jsonschema_accepts(mutant)
                refused += not ok
                if fastschema.known_valid(mutant) is not None:
                    vouched += 1
                    assert ok, (path, key, value)
    assert vouched > 100 and refused > 100  # both sides were exercised
