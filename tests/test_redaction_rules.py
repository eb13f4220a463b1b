"""Survivors of the mutation run after the secret-shapes merge (tests/MUTATION.md):
what redaction leaves alone, numbers under secret keys, and the schema walk's depth
limit on a schema that refers to itself."""

from __future__ import annotations

import pytest

from tenant_migrator.redaction import REDACTED, redact
from tenant_migrator.secretrefs import rules_from_schema


@pytest.mark.parametrize("value", ["Cape Town", ["Zanzibar", "Kruger"], {"city": "Nairobi"}, 42])
def test_values_under_no_key_and_no_secret_shape_are_shown(value):
    assert redact(value) == value


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("smtp_password", 1234, False),  # the key ends with the word: a number is a secret
        ("pin_code", 1234, True),
        ("password_min_length", 12, True),  # the word, but not at the end: a setting
        ("max_tokens", 4096, True),
    ],
)
def test_a_number_is_redacted_only_under_a_key_that_names_a_secret_value(key, value, shown):
    assert redact(value, key) == (value if shown else REDACTED)


def test_a_schema_that_refers_to_itself_is_walked_to_its_depth_limit_and_no_further():
    schema = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "token": {
                        "type": "string",
                        "x-secret": {"env": "NODE_TOKEN", "scope": "tenant"},
                    },
                    "child": {"$ref": "#/$defs/node"},
                },
            }
        },
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/node"}},
    }
    rules = rules_from_schema(schema)  # no RecursionError
    tokens = [p for p in rules if p.endswith("/token")]
    # One rule per level the walk went down, a bounded number of them.
    assert "/tree/token" in rules and "/tree/child/token" in rules
    assert 10 < len(tokens) <= 31


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://db.example.com:5432/postgres",
        "postgresql://db.example.com:5432/postgres?sslmode=require",
        "postgres:///tenants?host=/run/postgresql",
    ],
)
def test_a_url_without_credentials_has_no_password_to_hide(url):
    # Hiding "password" candidates of a URL that has none would hide its host, port
    # or database from the message that names them (kills database.py's
    # `last_at >= 0` → `>= -1` mutant, tests/MUTATION.md).
    from tenant_migrator.database import password_candidates

    assert password_candidates(url) == (set(), set())


@pytest.mark.parametrize(
    ("key", "shown"), [("twilio", False), ("auth", False), ("region", True), ("", True)]
)
def test_32_hex_is_redacted_only_under_a_twilio_or_auth_key(key, shown):
    # Twilio's auth token has no shape of its own: only its key says it is a secret.
    value = "0123456789abcdef0123456789abcdef"
    assert redact(value, key) == (value if shown else REDACTED)


def test_a_mapping_under_a_password_key_is_walked_but_one_under_secrets_is_hidden_whole():
    # A password-ish key names a secret value (a string or a number), not a container:
    # the mapping under it is walked key by key; under ``secrets`` / ``api_keys`` /
    # ``apikeys`` every value is a secret.
    assert redact({"smtp_password": {"note": "shown"}}) == {"smtp_password": {"note": "shown"}}
    for container in ("secrets", "api_keys", "apikeys", "credentials"):
        assert redact({container: {"note": "hidden"}}) == {container: {"note": REDACTED}}
