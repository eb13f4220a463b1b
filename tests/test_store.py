"""store/ against a real PostgreSQL: the database-side comparison agrees with the
write's IS DISTINCT FROM, drift hashes are computed in SQL, and bad values never
reach a half-done transaction."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_migrator import database, store
from tenant_migrator.pipeline import LoadResult, TenantResult
from tenant_migrator.planning import Action
from tenant_migrator.record import TenantRecord

CONFIG = {
    "branding": {"company_name": "Acme", "primary_color": "#aabbcc"},
    "destinations": [{"name": "Zanzibar", "code": "ZNZ", "enabled": True}],
    "email": {"primary": "a@acme.example", "smtp": {"port": 465}},
}


def record(tenant_id: str = "acme", config=None) -> TenantRecord:
    return TenantRecord(
        id=tenant_id,
        name="Acme",
        short_name="acme",
        timezone="Africa/Johannesburg",
        currency="ZAR",
        primary_email="a@acme.example",
        gcp_project_id="acme-prod",
        gcp_dataset="acme_data",
        tenant_config=copy.deepcopy(CONFIG if config is None else config),
    )


def loaded(*records: TenantRecord) -> LoadResult:
    return LoadResult(
        tuple(TenantResult(r.id, Path(f"clients/{r.id}/client.yaml"), r) for r in records)
    )


async def _import(url: str, load: LoadResult) -> dict[str, str]:
    async with database.connection(url) as conn, conn.transaction():
        the_plan = await store.make_plan(conn, load, None)
        if not the_plan.to_write:
            return {}
        run_id = await store.start_run(conn, "import", _now())
        return await store.write_plan(conn, the_plan, run_id)


async def _plan(url: str, load: LoadResult):
    async with database.connection(url) as conn:
        return await store.make_plan(conn, load, None)


def _now():
    from datetime import datetime

    return datetime.now().astimezone()


def test_rows_equal_to_their_record_are_matched_in_the_database(migrated_database_url):
    url = migrated_database_url
    load = loaded(record("a"), record("b"))
    assert asyncio.run(_import(url, load)) == {"a": "create", "b": "create"}
    plan = asyncio.run(_plan(url, load))
    assert [t.action for t in plan.tenants] == [Action.UNCHANGED, Action.UNCHANGED]

    # Matched rows are not even shipped back: no values, no hash.
    async def rows():
        async with database.connection(url) as conn:
            schema = await store.read_schema(conn)
            return await store.read_rows(conn, schema, None, store.payloads(load))

    current, _ = asyncio.run(rows())
    assert all(r.matches and r.snapshot is None for r in current.values())


def test_database_equality_is_jsonb_equality(migrated_database_url, pg):
    url = migrated_database_url
    load = loaded(record())
    asyncio.run(_import(url, load))
    # 465 → 465.0: numerically equal for jsonb, so unchanged (and the write agrees).
    pg.execute(
        url,
        "UPDATE tenants SET tenant_config = jsonb_set(tenant_config, '{email,smtp,port}', '465.0')",
    )
    assert asyncio.run(_plan(url, load)).tenants[0].action is Action.UNCHANGED
    # true → 1: different for jsonb; the plan names exactly that path.
    pg.execute(
        url,
        "UPDATE tenants SET tenant_config = "
        "jsonb_set(tenant_config, '{destinations,0,enabled}', '1')",
    )
    (tenant,) = asyncio.run(_plan(url, load)).tenants
    assert tenant.action is Action.BLOCKED  # an edit in the database after our import
    assert [(c.path, c.old, c.new) for c in tenant.changes] == [
        ("/tenant_config/destinations/0/enabled", 1, True)
    ]


def test_nul_character_is_an_invalid_tenant_naming_the_field(migrated_database_url, pg):
    config = copy.deepcopy(CONFIG)
    config["branding"]["company_name"] = "Ac\x00me"
    plan = asyncio.run(_plan(migrated_database_url, loaded(record(config=config))))
    (tenant,) = plan.tenants
    assert tenant.action is Action.INVALID
    assert tenant.errors[0].json_path == "/branding/company_name"
    assert "NUL" in tenant.errors[0].message


# Any text jsonb can hold (NUL cannot: that is an invalid tenant, tested above).
def texts(max_size: int):
    return st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=max_size
    )


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | texts(8)
)
documents = st.dictionaries(
    texts(6),
    st.recursive(
        json_leaves,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(texts(3), c, max_size=3),
        max_leaves=12,
    ),
    max_size=5,
)


@pytest.mark.timeout(120)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents, documents)
def test_plan_and_write_agree_on_any_documents(migrated_database_url, pg, first, second):
    """For any two documents: import the first, plan the second. The plan says
    unchanged exactly when the write would write nothing, and after writing the
    second the row holds exactly it and plans as unchanged."""
    url = migrated_database_url
    pg.execute(url, "TRUNCATE tenants, tenant_migrator.import_runs CASCADE")
    asyncio.run(_import(url, loaded(record(config=first))))
    plan = asyncio.run(_plan(url, loaded(record(config=second))))
    written = asyncio.run(_import(url, loaded(record(config=second))))
    assert (plan.tenants[0].action is Action.UNCHANGED) == (written == {})
    # jsonb equality, not Python's: 2.533806097504993e+16 is stored as the exact
    # numeric 25338060975049930, which json.loads would read back as an int.
    assert pg.fetchval(url, "SELECT tenant_config = $1::jsonb FROM tenants", json.dumps(second))
    after = asyncio.run(_plan(url, loaded(record(config=second))))
    assert after.tenants[0].action is Action.UNCHANGED
