"""The YAML loader: safe_load semantics, every unsafe-input class, positions, fuzzing."""

from __future__ import annotations

import contextlib
import copy
import math
import tracemalloc
from pathlib import Path

import pytest
import yaml
from clientdocs import BAD_INPUTS, BOMB, SAMPLES, dump, make_project, valid_document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_migrator import loader, secretrefs
from tenant_migrator.errors import ClientFileError, MigratorError
from tenant_migrator.pipeline import load_tenants
from tenant_migrator.record import build_record
from tenant_migrator.settings import Settings


@pytest.mark.parametrize(
    ("tenant", "content", "line", "column", "fragment"),
    BAD_INPUTS,
    ids=[case[0] for case in BAD_INPUTS],
)
def test_each_bad_input_class_is_an_error_at_file_line_and_produces_nothing(
    tmp_path, tenant, content, line, column, fragment
):
    project = make_project(tmp_path, {tenant: content, "good": valid_document("good")})
    result = load_tenants(Settings(project))
    by_id = {r.tenant_id: r for r in result.results}
    bad = by_id[tenant]
    assert bad.record is None and bad.secrets == ()
    first = bad.errors[0]
    assert first.path == project / "clients" / tenant / "client.yaml"
    assert (first.line, first.column if column else None) == (line, column)
    text = "\n".join(p.format() for p in bad.errors)
    assert fragment in text
    assert f"clients/{tenant}/client.yaml:{line}:" in text
    # One bad file never stops the others.
    assert by_id["good"].ok


def test_oversized_file_is_refused_before_parsing(tmp_path):
    project = make_project(tmp_path, {"big": "client:\n  name: " + "x" * 5000 + "\n"})
    result = load_tenants(Settings(project), max_file_bytes=1000)
    (bad,) = result.results
    assert bad.record is None
    assert bad.errors[0].line == 1
    assert "larger than the 1,000-byte limit" in bad.errors[0].message


def test_every_duplicate_and_bad_key_is_reported_not_just_the_first():
    data = b"a: 1\na: 2\nb:\n  1: x\n  c: 1\n  c: 2\nd: .nan\n"
    with pytest.raises(ClientFileError) as caught:
        loader.load_bytes(data, Path("f.yaml"))
    assert [(p.line, p.json_path) for p in caught.value.problems] == [
        (2, "/a"),
        (4, "/b/1"),
        (6, "/b/c"),
        (7, "/d"),
    ]


def test_alias_bomb_fails_fast_in_bounded_memory():
    tracemalloc.start()
    try:
        with pytest.raises(ClientFileError):
            loader.load_bytes(BOMB, Path("bomb.yaml"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 1024 * 1024


def test_small_aliases_and_merge_keys_keep_safe_load_meaning():
    data = b"base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  y: 3\nsame: *b\nlist: [&v 5, *v]\n"
    loaded = loader.load_bytes(data, Path("f.yaml")).data
    assert loaded == yaml.safe_load(data)
    assert loaded["child"] == {"x": 1, "y": 3}


def test_yaml_11_values_mean_what_they_meant_on_the_platform():
    data = b"a: yes\nb: on\nc: no\nd: off\ne: 0x1F\nf: 1_000\ng: ~\nh: 010\ni: '010'\n"
    loaded = loader.load_bytes(data, Path("f.yaml")).data
    assert loaded == {
        "a": True,
        "b": True,
        "c": False,
        "d": False,
        "e": 31,
        "f": 1000,
        "g": None,
        "h": 8,
        "i": "010",
    }


def test_dates_become_iso_strings_with_a_warning_at_their_line():
    data = b"client:\n  since: 2024-01-05\n  at: 2024-01-05 10:30:00+02:00\n  note: '2024-01-05'\n"
    document = loader.load_bytes(data, Path("f.yaml"))
    assert document.data["client"] == {
        "since": "2024-01-05",
        "at": "2024-01-05T10:30:00+02:00",
        "note": "2024-01-05",
    }
    assert [(p.line, p.json_path, p.is_error) for p in document.notes] == [
        (2, "/client/since", False),
        (3, "/client/at", False),
    ]
    assert all("ISO-8601" in p.message for p in document.notes)


def test_deep_nesting_below_the_parser_cap_is_an_error_not_a_crash(tmp_path):
    document = valid_document("deep")
    document["extras"] = "placeholder"
    text = dump(document).replace("extras: placeholder", "extras: " + "[" * 200 + "]" * 200)
    project = make_project(tmp_path, {"deep": text})
    (result,) = load_tenants(Settings(project)).results
    assert result.record is None
    assert "nested more than" in result.errors[0].message
    assert result.errors[0].line is not None


def test_locate_points_at_values_and_keys():
    data = b"client:\n  name: A\nemail:\n  smtp:\n    port: 587\nlist:\n  - x\n  - y\n"
    document = loader.load_bytes(data, Path("f.yaml"))
    assert document.locate("/email/smtp/port") == (5, 11)
    assert document.locate("/email/smtp/port", key=True) == (5, 5)
    assert document.locate("/list/1") == (8, 5)
    # A path that does not exist points at its deepest existing ancestor.
    assert document.locate("/email/smtp/missing") == (5, 5)


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.iterdir() if p.is_dir()))
def test_samples_load_exactly_like_yaml_safe_load(sample):
    data = (SAMPLES / sample / "client.yaml").read_bytes()
    assert loader.load_bytes(data, Path("f.yaml")).data == yaml.safe_load(data)


def test_pure_python_fallback_has_the_same_rules(monkeypatch):
    """Without libyaml the same subclass sits on yaml.SafeLoader; same answers."""
    import importlib

    monkeypatch.setattr(yaml, "CSafeLoader", None, raising=False)
    monkeypatch.delattr(yaml, "CSafeLoader")
    fallback = importlib.reload(loader)
    try:
        assert not fallback.HAVE_LIBYAML
        data = (SAMPLES / "africastay" / "client.yaml").read_bytes()
        assert fallback.load_bytes(data, Path("f.yaml")).data == yaml.safe_load(data)
        with pytest.raises(ClientFileError) as caught:
            fallback.load_bytes(b"a: 1\na: 2\n", Path("f.yaml"))
        assert caught.value.problems[0].line == 2
        with pytest.raises(ClientFileError):
            fallback.load_bytes(b"a: " + b"[" * 3000 + b"]" * 3000, Path("f.yaml"))
    finally:
        monkeypatch.undo()
        importlib.reload(loader)


# --- property-based -------------------------------------------------------------------

# No NUL: a document holding one is an error (test_a_nul_anywhere_is_an_error_at_its_place).
_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)
_scalars = (
    _text
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_text, _json, max_size=6))
def test_any_json_document_round_trips_through_dump_and_load(document):
    # ASCII output: PyYAML's emitter folds a raw NEL (U+0085) when allow_unicode is on.
    data = yaml.safe_dump(document, sort_keys=False).encode("utf-8")
    loaded = loader.load_bytes(data, Path("f.yaml")).data
    assert loaded == document
    assert loaded == yaml.safe_load(data)
    for a, b in zip(_floats(loaded), _floats(document), strict=True):
        assert math.copysign(1, a) == math.copysign(1, b)


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extras=st.dictionaries(_text, _json, max_size=5), company=_text)
def test_random_documents_round_trip_to_the_same_record(tmp_path_factory, extras, company):
    document = valid_document("prop")
    document["branding"]["company_name"] = company
    document["extras"] = extras
    project = make_project(tmp_path_factory.mktemp("p"), {"prop": document})
    (result,) = load_tenants(Settings(project)).results
    if result.record is None:
        # Only a secret-shaped key can make an otherwise valid document invalid.
        assert all("looks like a secret" in p.message for p in result.errors)
        return
    expected = secretrefs.extract(document, "prop", None).config
    assert result.record == build_record("prop", expected)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_nothing_but_the_tools_own_error(data):
    with contextlib.suppress(MigratorError):
        loader.load_bytes(data, Path("f.yaml"))


_yamlish = st.lists(
    st.sampled_from(
        [
            *list("ab1:- \n\t[]{}&*!|>'\",#%@`?~<=."),
            "yes",
            "!!set",
            "!!binary",
            "<<",
            "---",
            ".nan",
            "2024-01-05",
            "&x",
            "*x",
            "é",
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_yamlish)
def test_random_yaml_like_text_raises_nothing_but_the_tools_own_error(text):
    with contextlib.suppress(MigratorError):
        loader.load_bytes(text.encode("utf-8"), Path("f.yaml"))


@settings(max_examples=100, deadline=None)
@given(document=st.dictionaries(_text, _json, min_size=1, max_size=4), data=st.data())
def test_a_nul_anywhere_is_an_error_at_its_place(document, data):
    """Wherever a NUL goes (a column-backed field, a JSONB value, a key, a list item),
    the loader refuses the file at that string's line and column, as PostgreSQL
    would refuse the write."""
    paths = list(_string_paths(document))
    pointer, is_key = data.draw(st.sampled_from([("/nul", True), *paths]))
    poisoned = _poison(document, pointer, is_key)
    text = yaml.safe_dump(poisoned, sort_keys=False)
    with pytest.raises(ClientFileError) as caught:
        loader.load_bytes(text.encode("utf-8"), Path("f.yaml"))
    (problem,) = [p for p in caught.value.problems if "NUL" in p.message]
    where = "key" if is_key else "string"
    assert f"this {where} contains the NUL character" in problem.message
    assert problem.line is not None and problem.column is not None
    assert problem.json_path.replace("\x00", "") == pointer.replace("\x00", "")


def _string_paths(value, pointer=""):
    if isinstance(value, str):
        yield pointer, False
    elif isinstance(value, dict):
        for key, child in value.items():
            here = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
            yield here, True
            yield from _string_paths(child, here)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _string_paths(child, f"{pointer}/{index}")


def _poison(document, pointer, is_key):
    """``document`` with a NUL added to the string (or key) at ``pointer``."""
    if pointer == "/nul":
        return {**document, "n\x00ul": 1}
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    document = copy.deepcopy(document)
    parent = document
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if is_key:
        parent[last + "\x00"] = parent.pop(last)
    elif isinstance(parent, list):
        parent[int(last)] += "\x00"
    else:
        parent[last] += "\x00"
    return document
