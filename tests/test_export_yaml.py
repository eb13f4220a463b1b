"""export.py without a database: row → client.yaml text that reads back to the same row."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_migrator.export import client_document, dump_yaml, export_tenant
from tenant_migrator.planning import same

SNAPSHOT = {
    "name": "Africa Stay",
    "short_name": "africastay",
    "timezone": "Africa/Johannesburg",
    "currency": "ZAR",
    "primary_email": "sales@africastay.example",
    "gcp_project_id": "p-1",
    "gcp_dataset": "d_1",
    "config_source": "database",
    "tenant_config": {
        "email": {"primary": "sales@africastay.example", "smtp": {"password": "${X_PW}"}},
        "infrastructure": {"gcp": {"project_id": "p-1", "dataset": "d_1"}},
        "branding": {"email_signature": "Best regards,\n\nThe team 📞\n"},
    },
}


def test_columns_go_back_into_client_and_config_is_kept_with_references():
    exported = export_tenant("africastay", SNAPSHOT)
    doc = yaml.safe_load(exported.text)
    assert doc["client"] == {
        "id": "africastay",
        "name": "Africa Stay",
        "short_name": "africastay",
        "timezone": "Africa/Johannesburg",
        "currency": "ZAR",
    }
    assert {k: v for k, v in doc.items() if k != "client"} == SNAPSHOT["tenant_config"]
    assert "${X_PW}" in exported.text
    assert exported.warnings == ()
    # client first, then sections alphabetically; multi-line strings as literal blocks.
    lines = [line for line in exported.text.splitlines() if not line.startswith("#")]
    assert lines[0] == "client:"
    assert "email_signature: |" in exported.text


def test_columns_missing_from_the_document_are_added_and_reported():
    snapshot = {**SNAPSHOT, "tenant_config": {"branding": {}}}
    exported = export_tenant("africastay", snapshot)
    doc = yaml.safe_load(exported.text)
    assert doc["email"]["primary"] == "sales@africastay.example"
    assert doc["infrastructure"]["gcp"] == {"project_id": "p-1", "dataset": "d_1"}
    assert len(exported.warnings) == 3


def test_column_disagreeing_with_the_document_is_reported_without_values():
    snapshot = {**SNAPSHOT, "primary_email": "admin-changed@x.example"}
    _, warnings = client_document("africastay", snapshot)
    assert len(warnings) == 1 and "primary_email" in warnings[0]
    assert "admin-changed" not in warnings[0]


# YAML 1.1 would turn many plain strings into other types; the dump must quote them.
tricky_text = st.sampled_from(
    [
        "yes",
        "no",
        "on",
        "off",
        "null",
        "~",
        "2024-01-05",
        "0777",
        "1e3",
        "1_000",
        "0x1F",
        ".inf",
        "-",
        "a: b",
        "# not a comment",
        "  leading",
        "trailing  ",
        "multi\nline\n",
        "tab\there",
        "${VAR}",
        "${VAR:-default}",
        "'quoted'",
        '"dq"',
        "é 📞",
        "",
    ]
) | st.text(max_size=20)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(tricky_text.filter(lambda k: k != "client"), json_values, max_size=6))
def test_any_json_document_round_trips_through_yaml(config):
    document = {"client": {"id": "t", "name": "N"}, **config}
    loaded = yaml.safe_load(dump_yaml(document))
    assert same(loaded, document)
