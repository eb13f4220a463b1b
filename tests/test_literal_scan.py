"""``literal_scan.scrub_row``: a database row as extraction would leave it, with the
same rules as for client files, and findings that never carry a value."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_migrator import secretrefs
from tenant_migrator.literal_scan import SECRET_SHAPED_KEY, scrub_row

SG = "SG.scanFAKE00000001.scanFAKEsecret000000001"


def test_a_clean_row_comes_back_as_the_same_object_with_no_findings():
    row = {
        "id": "beach",
        "name": "Beach",
        "tenant_config": {"email": {"smtp": {"password": "${BEACH_SMTP_PASSWORD}"}}},
    }
    scrubbed = scrub_row(row, "beach")
    assert scrubbed.row is row and scrubbed.findings == () and not scrubbed.changed


def test_literals_become_the_references_extraction_gives_and_store_false_fields_go():
    row = {
        "id": "beach",
        "name": "Beach",
        "features_enabled": {"api_token": "tok-literal-in-a-column"},
        "tenant_config": {
            "email": {"sendgrid": {"api_key": SG}, "smtp": {"password": "hunter2"}},
            "infrastructure": {"supabase": {"service_key": "svc-literal", "url": "https://x"}},
            "notes": f"old key {SG} here",
            "pricing": {"markup": 12},
        },
    }
    scrubbed = scrub_row(row, "beach")
    config = scrubbed.row["tenant_config"]
    assert config["email"]["sendgrid"]["api_key"] == "${BEACH_SENDGRID_API_KEY}"
    assert config["email"]["smtp"]["password"] == "${BEACH_SMTP_PASSWORD}"
    assert config["infrastructure"]["supabase"] == {"url": "https://x"}  # store: false
    assert config["notes"] == "${BEACH_NOTES}" and config["pricing"] == {"markup": 12}
    assert scrubbed.row["features_enabled"] == {
        "api_token": "${BEACH_COLUMNS_FEATURES_ENABLED_API_TOKEN}"
    }
    assert {(f.path, f.kind, f.becomes) for f in scrubbed.findings} == {
        ("/tenant_config/email/sendgrid/api_key", "schema", "${BEACH_SENDGRID_API_KEY}"),
        ("/tenant_config/email/smtp/password", "schema", "${BEACH_SMTP_PASSWORD}"),
        ("/tenant_config/infrastructure/supabase/service_key", "schema", None),
        ("/tenant_config/notes", "shape:sendgrid", "${BEACH_NOTES}"),
        (
            "/columns/features_enabled/api_token",
            "key-name",
            "${BEACH_COLUMNS_FEATURES_ENABLED_API_TOKEN}",
        ),
    }
    assert row["tenant_config"]["email"]["sendgrid"]["api_key"] == SG  # input untouched
    text = json.dumps([f.to_json() for f in scrubbed.findings]) + repr(scrubbed.findings)
    assert SG not in text and "hunter2" not in text and "svc-literal" not in text


def test_a_key_shaped_like_a_secret_is_dropped_and_reported():
    row = {"id": "beach", "tenant_config": {"webhooks": {SG: "https://hook"}}}
    scrubbed = scrub_row(row, "beach")
    assert scrubbed.row["tenant_config"] == {"webhooks": {}}
    assert [(f.path, f.kind) for f in scrubbed.findings] == [
        ("/tenant_config/webhooks", SECRET_SHAPED_KEY)
    ]


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.sampled_from([SG]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "password", "api_key", "x"]), children, max_size=3)
    ),
    max_leaves=12,
)


# Generation, not the test, is what slows down on a loaded machine (CI runs two suites).
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.dictionaries(st.sampled_from(["email", "notes", "b"]), _values, max_size=3))
def test_a_scrubbed_row_holds_no_literal_extraction_would_take_out(config):
    scrubbed = scrub_row({"id": "t", "tenant_config": config}, "t")
    again = secretrefs.extract(scrubbed.row["tenant_config"], "t")
    assert not [s for s in again.secrets if s.literal is not None]
    assert scrubbed.changed == bool(scrubbed.findings)
