"""What the extraction walk does with secrets in every kind of place: lists and
mappings under secret names, numbers, references, the baseline rules."""

from __future__ import annotations

import pytest

from tenant_migrator.secretrefs import KEPT, REFERENCED, REMOVED, extract, rules_from_schema

PASSWORDS = ["FAKE-pass-one", "FAKE-pass-two"]


def test_a_list_of_plain_strings_under_a_secret_key_becomes_references():
    result = extract({"extras": {"backup_passwords": [*PASSWORDS, ""]}}, "acme", {})
    assert result.config == {
        "extras": {
            "backup_passwords": [
                "${ACME_EXTRAS_BACKUP_PASSWORDS_0}",
                "${ACME_EXTRAS_BACKUP_PASSWORDS_1}",
                "",
            ]
        }
    }
    assert [s.literal for s in result.secrets] == PASSWORDS


@pytest.mark.parametrize("container", ["secrets", "credentials", "api_keys", "apiKeys"])
def test_every_value_of_a_secrets_mapping_is_a_secret(container):
    document = {
        "integrations": {
            container: {
                "stripe": "FAKE-stripe-value",
                "pin": 4321,
                "nested": {"anything": "FAKE-nested", "list": ["FAKE-item"]},
                "enabled": True,
                "unset": None,
            }
        }
    }
    result = extract(document, "acme", {})
    inner = result.config["integrations"][container]
    prefix = "${ACME_INTEGRATIONS_" + container.upper()
    assert inner["stripe"] == prefix + "_STRIPE}"
    assert inner["pin"] == prefix + "_PIN}"
    assert inner["nested"] == {
        "anything": prefix + "_NESTED_ANYTHING}",
        "list": [prefix + "_NESTED_LIST_0}"],
    }
    assert (inner["enabled"], inner["unset"]) == (True, None)  # nothing to hide
    assert sorted(s.literal for s in result.secrets) == sorted(
        ["FAKE-stripe-value", "4321", "FAKE-nested", "FAKE-item"]
    )


def test_a_number_under_a_secret_key_becomes_a_reference_with_a_warning():
    document = {"email": {"smtp": {"password": 123456}}, "pbx": {"pin_pwd": 0.5}}
    result = extract(document, "acme", {})
    assert result.config == {
        "email": {"smtp": {"password": "${ACME_EMAIL_SMTP_PASSWORD}"}},
        "pbx": {"pin_pwd": "${ACME_PBX_PIN_PWD}"},
    }
    assert [s.literal for s in result.secrets] == ["123456", "0.5"]
    assert len(result.problems) == 2
    for warning in result.problems:
        assert not warning.is_error and "quote it" in warning.message
        assert "123456" not in warning.message


def test_a_number_in_an_annotated_field_becomes_a_reference_too():
    rules = rules_from_schema({})
    result = extract({"email": {"smtp": {"password": 1234}}}, "acme", rules)
    assert result.config == {"email": {"smtp": {"password": "${ACME_SMTP_PASSWORD}"}}}
    (found,) = result.secrets
    assert (found.literal, found.reason) == ("1234", "schema")


def test_settings_named_like_secrets_stay():
    document = {
        "openai": {"max_tokens": 4096},
        "policy": {"password_min_length": 12, "password_reset_enabled": True},
        "secret": None,
        "token": "",
    }
    result = extract(document, "acme", {})
    assert result.config == document and result.secrets == ()


def test_the_baseline_rules_apply_when_the_schema_has_no_annotations():
    rules = rules_from_schema({"type": "object", "properties": {"client": {"type": "object"}}})
    document = {
        "infrastructure": {
            "supabase": {
                "url": "https://x.supabase.example",
                "anon_key": "FAKE-anon",
                "service_key": "FAKE-service",
            },
            "openai": {"api_key": "FAKE-openai"},
        }
    }
    result = extract(document, "acme", rules)
    assert result.config == {
        "infrastructure": {
            "supabase": {
                "url": "https://x.supabase.example",
                "anon_key": "${ACME_SUPABASE_ANON_KEY}",
            },
            "openai": {"api_key": "${OPENAI_API_KEY}"},
        }
    }
    found = {s.json_path: (s.action, s.env_var, s.literal) for s in result.secrets}
    assert found["/infrastructure/supabase/service_key"] == (
        REMOVED,
        "SUPABASE_SERVICE_KEY",
        "FAKE-service",
    )
    assert found["/infrastructure/supabase/anon_key"][0] == REFERENCED


@pytest.mark.parametrize("reference", ["${smtp_password}", "${SMTP_PASSWORD:-}", "${Mixed_1}"])
def test_lower_case_and_empty_default_references_are_kept_not_taken_for_literals(reference):
    result = extract({"email": {"smtp": {"password": reference}}}, "acme", rules_from_schema({}))
    assert result.config == {"email": {"smtp": {"password": reference}}}
    (kept,) = result.secrets
    assert (kept.action, kept.literal) == (KEPT, None)


def test_a_reference_the_runtime_cannot_resolve_is_a_warning_where_it_is():
    positions = {"/email/smtp/password": (7, 17), "/notes": (9, 8)}
    document = {
        "email": {"smtp": {"password": "${smtp_password}"}},
        "notes": "call ${9LIVES_HOTLINE} or ${OK_NAME}",
    }
    result = extract(document, "acme", rules_from_schema({}), locate=positions.get)
    warnings = {(p.json_path, p.line, p.column): p.message for p in result.problems}
    assert set(warnings) == {("/email/smtp/password", 7, 17), ("/notes", 9, 8)}
    assert not any(p.is_error for p in result.problems)
    assert "${smtp_password}" in warnings["/email/smtp/password", 7, 17]
    assert "write ${SMTP_PASSWORD}" in warnings["/email/smtp/password", 7, 17]
    assert "write ${_9LIVES_HOTLINE}" in warnings["/notes", 9, 8]


def test_a_third_path_with_the_same_name_gets_its_own_suffix():
    document = {"a_b": {"token": "x1"}, "a": {"b_token": "x2", "b": {"token": "x3"}}}
    result = extract(document, "acme", {})
    assert sorted(s.env_var for s in result.secrets) == [
        "ACME_A_B_TOKEN",
        "ACME_A_B_TOKEN_2",
        "ACME_A_B_TOKEN_3",
    ]
    assert len({s.json_path for s in result.secrets}) == 3


def test_displays_of_database_values_hide_what_extraction_would_take_out():
    from tenant_migrator.redaction import REDACTED, redact

    row = {
        "secrets": {"one": "FAKE-one", "deep": {"x": "FAKE-deep"}, "on": True},
        "pbx": {"pwd": 918273, "max_tokens": 4096},
        "twilio": {"auth": "0123456789abcdef" * 2},
        "report": {"target": "postgres://u:FAKE@db.example/x", "name": "Reports"},
        "list_passwords": ["FAKE-a", "${OK}"],
    }
    assert redact(row) == {
        "secrets": {"one": REDACTED, "deep": {"x": REDACTED}, "on": True},
        "pbx": {"pwd": REDACTED, "max_tokens": 4096},
        "twilio": {"auth": REDACTED},
        "report": {"target": REDACTED, "name": "Reports"},
        "list_passwords": [REDACTED, "${OK}"],
    }
