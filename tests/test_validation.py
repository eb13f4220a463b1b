"""Schema validation: every error with file:line:col and JSON path, warnings, the schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clientdocs import SCHEMA, dump, make_project, valid_document

from tenant_migrator import validation
from tenant_migrator.errors import UsageError
from tenant_migrator.pipeline import load_tenants
from tenant_migrator.settings import Settings
from tenant_migrator.validation import SchemaError, compiled_schema


def _load_one(tmp_path: Path, content) -> object:
    project = make_project(tmp_path, {"acme": content})
    (result,) = load_tenants(Settings(project)).results
    return result


def _lines(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_valid_document_has_no_problems(tmp_path):
    result = _load_one(tmp_path, valid_document())
    assert result.ok
    assert result.problems == ()


def test_every_error_is_reported_with_line_column_and_path(tmp_path):
    document = valid_document()
    document["client"]["timezone"] = "Africa/Joburg"
    document["client"]["currency"] = "rand"
    document["client"]["short_name"] = "Acme1"
    document["branding"]["primary_color"] = "orange"
    document["email"]["primary"] = "not-an-email"
    document["email"]["smtp"]["port"] = 70000
    document["email"]["imap"]["port"] = "993"
    del document["infrastructure"]["gcp"]["dataset"]
    text = dump(document)
    result = _load_one(tmp_path, text)
    assert result.record is None
    found = {p.json_path: p for p in result.errors}
    assert set(found) == {
        "/client/timezone",
        "/client/currency",
        "/client/short_name",
        "/branding/primary_color",
        "/email/primary",
        "/email/smtp/port",
        "/email/imap/port",
        "/infrastructure/gcp/dataset",
    }
    assert found["/client/timezone"].line == _lines(text, "timezone:")
    assert found["/client/timezone"].column == len("  timezone: ") + 1
    assert "did you mean 'Africa/Johannesburg'" in found["/client/timezone"].message
    assert "ISO 4217" in found["/client/currency"].message
    assert "#rrggbb" in found["/branding/primary_color"].message
    assert "at most 65535" in found["/email/smtp/port"].message
    assert "must be a whole number, found a string" in found["/email/imap/port"].message
    # A missing key points at the mapping that should hold it.
    assert "required key 'dataset' is missing" in found["/infrastructure/gcp/dataset"].message
    assert found["/infrastructure/gcp/dataset"].line == _lines(text, "project_id:")
    assert all(p.path.name == "client.yaml" and p.line for p in result.errors)


@pytest.mark.parametrize("colour", ["#aabbcc", "#AABBCC", "#09aF3c", None])
def test_colours_accept_either_case(tmp_path, colour):
    document = valid_document()
    document["branding"]["secondary_color"] = colour
    assert _load_one(tmp_path, document).ok


@pytest.mark.parametrize("colour", ["#abc", "aabbcc", "#aabbccdd", "#gggggg"])
def test_colours_must_be_six_hex_digits(tmp_path, colour):
    document = valid_document()
    document["branding"]["accent_color"] = colour
    result = _load_one(tmp_path, document)
    assert [p.json_path for p in result.errors] == ["/branding/accent_color"]


@pytest.mark.parametrize("zone", ["Africa/Johannesburg", "UTC", "America/Argentina/Salta"])
def test_real_iana_zones_pass(tmp_path, zone):
    document = valid_document()
    document["client"]["timezone"] = zone
    assert _load_one(tmp_path, document).ok


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "Africa", "localtime", ""])
def test_other_time_zones_fail(tmp_path, zone):
    document = valid_document()
    document["client"]["timezone"] = zone
    result = _load_one(tmp_path, document)
    assert [p.json_path for p in result.errors] == ["/client/timezone"]


@pytest.mark.parametrize(("code", "ok"), [("ZAR", True), ("EUR", True), ("XYZ", False)])
def test_currency_is_an_iso_4217_code(tmp_path, code, ok):
    document = valid_document()
    document["client"]["currency"] = code
    assert _load_one(tmp_path, document).ok is ok


def test_unknown_keys_are_kept_and_listed_as_warnings(tmp_path):
    document = valid_document()
    document["branding"]["primary_colour"] = "#ffffff"
    document["loyalty"] = {"tiers": ["gold", "silver"]}
    document["client"]["website"] = "https://acme.example"
    text = dump(document)
    result = _load_one(tmp_path, text)
    assert result.ok
    warnings = {p.json_path: p for p in result.warnings}
    assert set(warnings) == {"/branding/primary_colour", "/loyalty", "/client/website"}
    assert "did you mean 'primary_color'" in warnings["/branding/primary_colour"].message
    assert warnings["/loyalty"].line == _lines(text, "loyalty:")
    config = result.record.tenant_config
    assert config["loyalty"] == {"tiers": ["gold", "silver"]}
    assert config["branding"]["primary_colour"] == "#ffffff"
    assert config["client"] == {"website": "https://acme.example"}


def test_values_of_secret_fields_never_appear_in_messages(tmp_path):
    document = valid_document()
    document["email"]["smtp"]["password"] = 918273645
    document["infrastructure"]["openai"]["api_key"] = ["sk-not-a-string-0000000000000000000000"]
    document["branding"]["company_name"] = 42
    result = _load_one(tmp_path, document)
    text = "\n".join(p.format() for p in result.problems)
    assert "918273645" not in text and "sk-not-a-string" not in text
    assert "/email/smtp/password" in text and "/infrastructure/openai/api_key" in text


def test_client_id_differing_from_directory_is_a_warning(tmp_path):
    document = valid_document("something_else")
    result = _load_one(tmp_path, document)
    assert result.ok and result.record.id == "acme"
    (warning,) = result.warnings
    assert warning.json_path == "/client/id" and "directory name" in warning.message


def test_reference_example_validates(tmp_path, reference_dir):
    project = make_project(tmp_path, {})
    shutil.copytree(reference_dir / "platform-lite", project / "clients" / "example")
    (result,) = load_tenants(Settings(project)).results
    assert result.ok, [p.format() for p in result.errors]
    assert [p.json_path for p in result.warnings] == ["/client/id"]
    assert result.record.id == "example"
    supabase = result.record.tenant_config["infrastructure"]["supabase"]
    assert supabase["anon_key"] == "${EXAMPLE_SUPABASE_ANON_KEY}"
    assert "service_key" not in supabase


def test_reference_schema_fields_all_exist_in_ours(reference_dir):
    """Our schema extends the platform's: every property it declares, we declare."""
    theirs = json.loads((reference_dir / "platform-lite" / "schema.json").read_text())
    ours = compiled_schema(SCHEMA).schema

    def props(schema, root, prefix=""):
        for name, sub in (schema.get("properties") or {}).items():
            while "$ref" in sub:
                sub = root["definitions"][sub["$ref"].split("/")[-1]]
            yield f"{prefix}/{name}"
            yield from props(sub, root, f"{prefix}/{name}")
            if isinstance(sub.get("items"), dict):
                yield from props(sub["items"], root, f"{prefix}/{name}/*")

    assert set(props(theirs, theirs)) <= set(props(ours, ours))


def test_validator_is_built_once_per_schema_version(tmp_path):
    schema_copy = tmp_path / "schema.json"
    shutil.copy(SCHEMA, schema_copy)
    first = compiled_schema(schema_copy)
    assert compiled_schema(schema_copy) is first
    schema_copy.write_text(schema_copy.read_text() + "\n")
    assert compiled_schema(schema_copy) is not first


def test_broken_schema_is_a_clear_error_with_its_position(tmp_path):
    project = make_project(tmp_path, {"acme": valid_document()})
    (project / "config" / "schema.json").write_text('{"type": "object",\n  "properties": }')
    with pytest.raises(SchemaError, match=r"schema.json:2:17: not valid JSON"):
        load_tenants(Settings(project))
    (project / "config" / "schema.json").write_text('{"type": 12}')
    with pytest.raises(SchemaError, match="not a valid JSON Schema"):
        load_tenants(Settings(project))


def test_missing_project_schema_falls_back_to_the_built_in_one(tmp_path):
    project = make_project(tmp_path, {"acme": valid_document()})
    (project / "config" / "schema.json").unlink()
    result = load_tenants(Settings(project))
    assert result.results[0].ok
    assert "built into tenant-migrator" in result.problems[0].message


def test_no_clients_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no clients/ directory"):
        load_tenants(Settings(tmp_path))


def test_unknown_keys_follow_refs_and_items():
    schema = {
        "type": "object",
        "definitions": {"item": {"type": "object", "properties": {"a": {}}}},
        "properties": {
            "list": {"type": "array", "items": {"$ref": "#/definitions/item"}},
            "free": {"type": "object"},
            "open": {"type": "object", "properties": {"x": {}}, "additionalProperties": True},
        },
    }
    data = {
        "list": [{"a": 1, "b": 2}],
        "free": {"anything": 1},
        "open": {"y": 1},
        "top": 1,
    }
    found = validation.unknown_keys(data, schema)
    assert [(pointer, key) for pointer, key, _ in found] == [("/list/0/b", "b"), ("/top", "top")]
