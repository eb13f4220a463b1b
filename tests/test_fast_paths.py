"""The per-file shortcuts taken for speed mean exactly what the long way means.

loader: strings are taken straight from their nodes, the nodes of an alias-free
document are built by their tag's constructor directly, and implicit tags come
from a per-first-character table with a cache, instead of PyYAML's
``construct_object`` and ``BaseResolver.resolve``. secrets: a length check and a
boundary-free pre-check run before the secret-shape regex, and values that need
no look at all are copied straight in the walk's inner loop.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from importhelpers import bench_generate
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from tenant_migrator import loader
from tenant_migrator.secretrefs import extraction, shapes

REPO = Path(__file__).resolve().parent.parent


# Plain scalars YAML 1.1 reads as something other than a string, and near misses.
SCALARS = [
    "",
    "~",
    "null",
    "Null",
    "NULL",
    "nUll",
    "yes",
    "Yes",
    "YES",
    "yEs",
    "no",
    "on",
    "Off",
    "true",
    "False",
    "y",
    "n",
    "0",
    "-0",
    "+1",
    "007",
    "0o17",
    "0x1F",
    "0x1G",
    "0b101",
    "1_000",
    "190:20:30",
    "1:2",
    "1.5",
    ".5",
    "-.5e3",
    "1e3",
    "1.0e+3",
    "6.8523015e+5",
    "685.230_15e+03",
    ".inf",
    "-.Inf",
    "+.INF",
    ".nan",
    ".NaN",
    "2024-01-05",
    "2024-1-5",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "<<",
    "=",
    "a",
    "ZAR",
    "+27 21 555 0100",
    "#aabbcc",
    "é",
]
_plain = st.text(alphabet="0123456789+-._:eExXoObB~nNuUlLyYtTrRfFaA sS<=", max_size=12)


def _base_resolve(value: str, implicit: tuple[bool, bool]) -> str:
    return yaml.resolver.Resolver().resolve(ScalarNode, value, implicit)


def _our_resolve(value: str, implicit: tuple[bool, bool]) -> str:
    return loader._Loader(b"", Path("f.yaml")).resolve(ScalarNode, value, implicit)


@pytest.mark.parametrize("implicit", [(True, False), (False, True), (False, False)])
def test_implicit_tags_are_pyyamls_for_every_tricky_scalar(implicit):
    for value in SCALARS:
        # Twice: the second answer comes from the cache.
        assert _our_resolve(value, implicit) == _base_resolve(value, implicit), value
        assert _our_resolve(value, implicit) == _base_resolve(value, implicit), value


def test_collections_get_pyyamls_tags():
    ours = loader._Loader(b"", Path("f.yaml"))
    base = yaml.resolver.Resolver()
    for kind in (MappingNode, SequenceNode):
        assert ours.resolve(kind, None, (True, False)) == base.resolve(kind, None, (True, False))


@settings(max_examples=500, deadline=None)
@given(value=_plain | st.sampled_from(SCALARS) | st.text(max_size=20))
def test_implicit_tags_are_pyyamls_for_any_scalar(value):
    for implicit in ((True, False), (False, True)):
        assert _our_resolve(value, implicit) == _base_resolve(value, implicit)


def _expected(data):
    # The tool turns dates into the ISO strings they denote (with a warning).
    if isinstance(data, dict):
        return {k: _expected(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_expected(v) for v in data]
    if isinstance(data, datetime.date):
        return data.isoformat()
    return data


def _is_plain_value(value: str) -> bool:
    # Written after "key: " it stays one scalar (no nested mapping, no comment).
    return (
        value.strip() == value
        and value[:1] not in "-?:"
        and not value.endswith(":")
        and ": " not in value  # "0: 0" would be a nested mapping (with a non-string key)
        and " #" not in value
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.dictionaries(
        st.text(alphabet="abcdefgh_", min_size=1, max_size=6),
        _plain.filter(_is_plain_value) | st.sampled_from(SCALARS),
        max_size=8,
    ),
    as_list=st.booleans(),
)
def test_plain_scalars_in_mappings_and_lists_load_like_safe_load(pairs, as_list):
    if as_list:
        text = "items:\n" + "".join(f"  - {value}\n" for value in pairs.values())
    else:
        text = "".join(f"{key}: {value}\n" for key, value in pairs.items())
    try:
        expected = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):
        return
    if not isinstance(expected, dict):
        return
    try:
        loaded = loader.load_bytes(text.encode(), Path("f.yaml"))
    except loader.ClientFileError as err:
        # Only what the tool refuses on purpose (NaN/Infinity) may differ.
        assert all("finite" in p.message for p in err.problems)
        return
    assert loaded.data == _expected(expected)


def test_generated_files_load_exactly_like_safe_load():
    generate = bench_generate()
    for index in range(100):
        text = generate.tenant_text(11, index)
        assert loader.load_bytes(text.encode(), Path("f.yaml")).data == yaml.safe_load(text)


def test_aliased_strings_and_merges_still_load_like_safe_load():
    text = (
        "base: &b {name: x, tz: Africa/Johannesburg, n: 1}\n"
        "one: {<<: *b, name: y}\n"
        "list: [&s shared, *s, plain, 'quoted', 12]\n"
        "same: *s\n"
    )
    assert loader.load_bytes(text.encode(), Path("f.yaml")).data == yaml.safe_load(text)


# --- secret shapes -----------------------------------------------------------------------


def test_the_shape_regex_is_boundary_plus_body_of_every_shape():
    assert shapes.SHAPE_RE.pattern == "|".join(
        f"(?P<{name}>{shape.boundary}(?:{shape.body}))" for name, shape in shapes.SHAPES.items()
    )
    assert shapes.SHAPE_MIN == 15  # a Slack token: "xoxb-" and ten characters
    assert shapes.URL_MIN == 8  # shorter, only a URL with a password: "a://:p@h"


@pytest.mark.parametrize("name", sorted(shapes.SHAPES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), before=st.text(max_size=8), after=st.text(max_size=8))
def test_the_pre_checks_never_hide_a_shape(name, data, before, after):
    boundary, body = shapes.SHAPES[name].boundary, shapes.SHAPES[name].body
    shape = data.draw(st.from_regex(f"{boundary}(?:{body})", fullmatch=True))
    assert len(shape) >= (shapes.URL_MIN if name == "url_credentials" else shapes.SHAPE_MIN)
    assert len(shape) >= shapes.SHAPE_MIN or shapes.URL_MARK in shape
    text = before + shape + after
    full = shapes.SHAPE_RE.search(text)
    fast = shapes.shape_match(text)
    assert (fast is None) == (full is None)
    if full is not None:
        assert (fast.lastgroup, fast.span()) == (full.lastgroup, full.span())


@settings(max_examples=1000, deadline=None)
@given(
    text=st.text(max_size=60)
    | st.text(alphabet="SGskrx_oAIzaeyJ-.0123456789abcdefXYZ_live_test", max_size=60)
)
def test_the_pre_checks_agree_with_the_regex_on_any_text(text):
    full = shapes.SHAPE_RE.search(text)
    fast = shapes.shape_match(text)
    assert (fast is None) == (full is None)
    assert shapes.find_secret_shape(text) == (full.lastgroup if full else None)


@settings(max_examples=1000, deadline=None)
@given(
    value=st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=60)
    | st.text(alphabet="SGskrx_oAIzaeyJ-.0123456789abcdef${}:XYZ_live_test", max_size=60)
    | st.sampled_from(["${SMTP_PASSWORD}", "${X:-sk-" + "a" * 24 + "}", "SG." + "a" * 22])
)
def test_a_value_the_extractor_copies_straight_is_one_the_long_way_leaves_alone(value):
    # The inner loop copies a value as it is when ``_plain`` says so; the long way
    # (``_Extractor.value`` with no rule and an ordinary key name) must agree.
    walker = extraction._Extractor("acme", {})
    walker.parts.append("field")
    long_way = walker.value(value, None, None, 0, by_name=False)
    if extraction._plain(value):
        assert long_way is value
        assert walker.secrets == [] and walker.problems == []
    if isinstance(value, str) and (walker.secrets or long_way != value):
        assert not extraction._plain(value)
    # Copied straight or not, extract() gives what the long way gives.
    assert extraction.extract({"field": value}, "acme", {}).config == {"field": long_way}
