"""The tenant record: client.yaml → the row's columns and tenant_config."""

from __future__ import annotations

import json

from clientdocs import copy_samples, valid_document

from tenant_migrator.pipeline import load_tenants
from tenant_migrator.record import CONFIG_SOURCE, build_record
from tenant_migrator.settings import Settings


def test_columns_come_from_client_email_and_gcp():
    document = valid_document("ignored")
    record = build_record("acme", document)
    assert record.id == "acme"
    assert record.columns() == {
        "name": "Acme Travel",
        "short_name": "acme",
        "timezone": "Africa/Johannesburg",
        "currency": "ZAR",
        "primary_email": "sales@acme.example",
        "gcp_project_id": "acme-prod",
        "gcp_dataset": "acme_data",
    }
    assert CONFIG_SOURCE == "database"


def test_tenant_config_is_the_document_without_client():
    document = valid_document()
    record = build_record("acme", document)
    assert "client" not in record.tenant_config
    assert record.tenant_config == {k: v for k, v in document.items() if k != "client"}
    # gcp and email.primary stay in tenant_config too (the columns are denormalized).
    assert record.tenant_config["infrastructure"]["gcp"]["dataset"] == "acme_data"


def test_client_keys_without_a_column_are_kept():
    document = valid_document()
    document["client"]["website"] = "https://acme.example"
    record = build_record("acme", document)
    assert record.tenant_config["client"] == {"website": "https://acme.example"}


def test_optional_fields_may_be_absent():
    document = valid_document()
    del document["client"]["currency"]
    record = build_record("acme", document)
    assert record.currency is None


def test_records_are_values_and_json_serialisable(tmp_path):
    project = copy_samples(tmp_path)
    first = load_tenants(Settings(project))
    second = load_tenants(Settings(project))
    assert first.records == second.records
    for record in first.records:
        json.dumps(record.tenant_config)


def test_sample_tenants_are_all_valid_and_look_like_the_issue_says(tmp_path):
    project = copy_samples(tmp_path)
    result = load_tenants(Settings(project))
    ids = [r.tenant_id for r in result.results]
    assert ids == ["africastay", "beachresorts", "example", "safariexplore-kvph", "safarirun-t0vc"]
    assert all(r.ok for r in result.results), [p.format() for r in result.results for p in r.errors]
    africastay = result.results[0].record
    assert (africastay.currency, africastay.timezone) == ("ZAR", "Africa/Johannesburg")
    names = {d["name"] for d in africastay.tenant_config["destinations"]}
    assert {"Zanzibar", "Mauritius", "Cape Town"} <= names
    assert set(africastay.tenant_config["agents"]) == {"inbound", "helpdesk", "outbound"}
    assert africastay.tenant_config["banking"]["account_number"] == "62845531907"
    assert len(africastay.tenant_config["consultants"]) >= 2
    # Some samples carry fake literal secrets, so extraction shows on a first run.
    assert sum(len(r.referenced) for r in result.results) >= 3
