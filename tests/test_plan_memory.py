"""Memory per tenant at 100,000 tenants: what a create and a pooled record share.

A plan of 100,000 creates held ~10 changes per tenant, each with its own freshly
formatted "/columns/…" pointer; the pool's records each held their own copy of
the timezone and currency strings. These tests pin the sharing down, and that
the values did not change.
"""

from __future__ import annotations

from tenant_migrator import pipeline
from tenant_migrator.discovery import ClientFile
from tenant_migrator.planning import Change, Op, create_changes
from tenant_migrator.record import CONFIG_SOURCE, build_record


def _document(tenant_id: str) -> dict:
    return {
        "client": {
            "id": tenant_id,
            "name": f"Tenant {tenant_id}",
            "short_name": tenant_id[:8],
            "timezone": "Africa/Johannesburg",
            "currency": "ZAR",
        },
        "email": {"primary": f"ops@{tenant_id}.example"},
        "infrastructure": {"gcp": {"project_id": f"{tenant_id}-gcp", "dataset": "analytics"}},
    }


def test_creates_share_their_column_pointers_and_config_source_change():
    first = create_changes(build_record("alpha-tours", _document("alpha-tours")))
    second = create_changes(build_record("beta-travel", _document("beta-travel")))
    assert [c.path for c in first] == [c.path for c in second]
    for a, b in zip(first[:-1], second[:-1], strict=True):
        assert a.path is b.path, a.path
    config_source = [c for c in first if c.path == "/columns/config_source"]
    assert config_source == [Change("/columns/config_source", Op.ADD, None, CONFIG_SOURCE)]
    assert config_source[0] is next(c for c in second if c.path == "/columns/config_source")
    # The values are still each tenant's own.
    assert Change("/columns/name", Op.ADD, None, "Tenant alpha-tours") in first
    assert Change("/columns/admin_email", Op.ADD, None, "ops@beta-travel.example") in second


def _from_wire(batch, shipped):
    return [pipeline.TenantResult.from_wire(f, w) for f, w in zip(batch, shipped, strict=True)]


def test_unpacked_records_share_timezone_and_currency():
    batch = [ClientFile(t, pipeline.Path(f"/x/{t}/client.yaml")) for t in ("a-one", "b-two")]
    shipped = []
    for tenant_id in ("a-one", "b-two"):
        record = build_record(tenant_id, _document(tenant_id), compress=True)
        # Fresh string objects, as unpickling in the parent makes them.
        shipped.append(
            (
                (
                    *(f"{v}" if v is not None else None for v in record.columns().values()),
                    record.config_data,
                ),
                (),
                (),
                None,  # the file's sha256
            )
        )
    first, second = (r.record for r in _from_wire(batch, shipped))
    assert first.timezone == "Africa/Johannesburg" and first.currency == "ZAR"
    assert first.timezone is second.timezone and first.currency is second.currency
    assert first.name == "Tenant a-one" and second.gcp_project_id == "b-two-gcp"
    assert first == build_record("a-one", _document("a-one"))


def test_unpacked_shared_variable_names_are_shared():
    batch = [ClientFile(t, pipeline.Path(f"/x/{t}/client.yaml")) for t in ("a-one", "b-two")]
    shipped = [
        (
            None,
            (),
            (
                (
                    "/vapi/api_key",
                    "".join(["OPENAI_", "API_KEY"]),
                    "kept",
                    None,
                    "shared",
                    "schema",
                    3,
                    5,
                ),
                (
                    "/email/smtp/password",
                    f"{tenant}_SMTP".upper(),
                    "kept",
                    None,
                    "tenant",
                    "schema",
                    4,
                    7,
                ),
            ),
            None,  # the file's sha256
        )
        for tenant in ("a-one", "b-two")
    ]
    first, second = _from_wire(batch, shipped)
    assert first.secrets[0].env_var == "OPENAI_API_KEY"
    assert first.secrets[0].env_var is second.secrets[0].env_var
    assert [s.env_var for s in second.secrets] == ["OPENAI_API_KEY", "B-TWO_SMTP"]
