"""The drift refusals carry their data, and the report writes the words.

``BlockedTenants``, ``RollbackRefused`` and ``ChangedWhileWriting`` (``drift_errors``)
come out of the library's entry points with what they refused; their ``str()`` names
ids, counts, run numbers and paths, never a value read from the database;
``report/errors.py`` writes what the CLI prints (a blocked tenant's drifted values,
redacted). A fake secret an admin pasted into a row reaches neither.
"""

from __future__ import annotations

import asyncio
import pickle

import pytest
from importhelpers import (
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    plan_edit_write,
    read_client,
    tenants_rows,
    write_client,
)

from tenant_migrator import store
from tenant_migrator.drift_errors import BlockedTenants, ChangedWhileWriting, RollbackRefused
from tenant_migrator.errors import DriftError
from tenant_migrator.pipeline import stream_tenants
from tenant_migrator.planning import Action, BlockedReason, Change, Op, TenantPlan
from tenant_migrator.report.errors import error_text
from tenant_migrator.settings import Settings
from tenant_migrator.streaming import ImportOptions, import_tenants

# Pasted into example's row by "an admin": a SendGrid-shaped key in a colour field,
# a literal password where the file has a reference.
PASTED_KEY = "SG.errordataFAKE0001.errordataFAKEsecret0000000001"
PASTED_PASSWORD = "errordata-fake-smtp-password-01"
ADMIN_EDIT = f"""
UPDATE tenants SET name = 'Example (admin)',
    tenant_config = jsonb_set(jsonb_set(tenant_config,
        '{{branding,primary_color}}', '"{PASTED_KEY}"'),
        '{{email,smtp,password}}', '"{PASTED_PASSWORD}"')
WHERE id = 'example'
"""
HINT = (
    "Keep the database version (export it back to YAML with `tenant-migrator export "
    "TENANT`), or overwrite it with --force (the overwritten values go into history)."
)


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


@pytest.fixture
def settings(project, migrated_database_url):
    return Settings(project_dir=project, database_url=migrated_database_url)


def _import(settings: Settings, **options) -> object:
    stream = stream_tenants(settings)
    return asyncio.run(import_tenants(settings, stream, None, ImportOptions(**options)))


def _no_pasted_value(*texts: str) -> None:
    for text in texts:
        assert PASTED_KEY not in text and PASTED_PASSWORD not in text
        assert "errordata" not in text  # not even a piece of one


# --- blocked tenants --------------------------------------------------------------------


def test_a_blocked_import_carries_the_plans_and_only_the_report_shows_values(
    settings, project, migrated_database_url, pg, cli
):
    url = migrated_database_url
    _import(settings)  # run 1
    name = tenants_rows(pg, url)["example"]["name"]
    pg.execute(url, ADMIN_EDIT)
    with pytest.raises(BlockedTenants) as raised:
        _import(settings)
    err = raised.value
    assert isinstance(err, DriftError) and err.exit_code == 1

    # The data: the blocked tenant's plan, with the database's values in its drift.
    (tenant,) = err.tenants
    assert (tenant.id, tenant.action, tenant.reason, tenant.drift_run) == (
        "example",
        Action.BLOCKED,
        BlockedReason.EDITED,
        1,
    )
    drift = {c.path: (c.op, c.old, c.new) for c in tenant.drift}
    assert drift == {
        "/columns/name": (Op.REPLACE, name, "Example (admin)"),
        "/tenant_config/branding/primary_color": (Op.REPLACE, "#FF6B6B", PASTED_KEY),
        "/tenant_config/email/smtp/password": (Op.REPLACE, "${SMTP_PASSWORD}", PASTED_PASSWORD),
    }

    # str(): ids, counts and paths only; no value the database holds, pasted or not.
    message = str(err)
    paths = "\n".join(f"    replace {c.path}" for c in tenant.drift)
    assert message == (
        "1 tenant(s) changed in the database after our last import, or never imported by "
        f"this tool; nothing was written:\nexample: edited in the database since run 1:\n"
        f"{paths}\n{HINT}"
    )
    _no_pasted_value(message)
    assert "Example (admin)" not in message

    # The report: the drifted values too, the pasted ones redacted.
    text = error_text(err)
    for line in (
        f'    replace /columns/name: "{name}" (last import) → "Example (admin)" (database)',
        '    replace /tenant_config/branding/primary_color: "#FF6B6B" (last import) → '
        '"<redacted>" (database)',
        '    replace /tenant_config/email/smtp/password: "${SMTP_PASSWORD}" (last import) → '
        '"<redacted>" (database)',
    ):
        assert line in text.splitlines()
    assert text == message.replace(paths, "\n".join(_with_values(tenant.drift, name)))
    _no_pasted_value(text)

    # What the CLI prints is the report's text, and nothing was written.
    before = tenants_rows(pg, url)
    refused = cli("--project-dir", project, "--database-url", url, "import")
    assert refused.returncode == 1
    assert refused.stderr.endswith(f"error: {text}\n")
    _no_pasted_value(refused.stdout, refused.stderr)
    assert tenants_rows(pg, url) == before


def _with_values(drift: tuple[Change, ...], name: str) -> list[str]:
    shown = {
        "/columns/name": (f'"{name}"', '"Example (admin)"'),
        "/tenant_config/branding/primary_color": ('"#FF6B6B"', '"<redacted>"'),
        "/tenant_config/email/smtp/password": ('"${SMTP_PASSWORD}"', '"<redacted>"'),
    }
    return [
        f"    replace {c.path}: {shown[c.path][0]} (last import) → {shown[c.path][1]} (database)"
        for c in drift
    ]


def _blocked(tenant_id: str, reason: BlockedReason, **fields) -> TenantPlan:
    return TenantPlan(tenant_id, Action.BLOCKED, reason=reason, drift_run=3, **fields)


def test_the_report_writes_every_kind_of_blocked_tenant_from_the_data():
    removes = tuple(Change(f"/tenant_config/k{i:02}", Op.REMOVE, i) for i in range(12))
    err = BlockedTenants(
        [
            _blocked(
                "edited",
                BlockedReason.EDITED,
                drift=(
                    Change("/tenant_config/api_key", Op.ADD, None, PASTED_PASSWORD),
                    Change("/tenant_config/note", Op.REPLACE, "x" * 70, "short"),
                ),
            ),
            _blocked("unknown", BlockedReason.EDITED),
            _blocked(
                "owned",
                BlockedReason.DATABASE_OWNED,
                changes=(*removes, Change("/columns/name", Op.REPLACE, "A", "B")),
            ),
            _blocked("gone", BlockedReason.DELETED),
        ]
    )
    owned = [f"    --force would remove /tenant_config/k{i:02}" for i in range(10)]
    common = [
        "4 tenant(s) changed in the database after our last import, or never imported by "
        "this tool; nothing was written:",
        "edited: edited in the database since run 3:",
        "unknown: edited in the database since run 3:",
        "    (values unavailable)",
        "owned: owned by the database, never imported:",
        *owned,
        "    … and 2 more",
        "    --force would write 13 change(s) in all",
        "gone: deleted in the database since run 3:",
        "    --force would create it again from its client file",
        HINT,
    ]
    assert str(err).splitlines() == [
        *common[:2],
        "    add /tenant_config/api_key",
        "    replace /tenant_config/note",
        *common[2:],
    ]
    assert error_text(err).splitlines() == [
        *common[:2],
        '    add /tenant_config/api_key: null (last import) → "<redacted>" (database)',
        f'    replace /tenant_config/note: "{"x" * 58}… (last import) → "short" (database)',
        *common[2:],
    ]
    assert [t.id for t in err.tenants] == ["edited", "unknown", "owned", "gone"]
    _no_pasted_value(str(err), error_text(err))
    # Sent to another process, it arrives whole: rebuilt from its data.
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.tenants, str(copy)) == (BlockedTenants, err.tenants, str(err))


# --- rollback ---------------------------------------------------------------------------


def test_a_refused_rollback_carries_the_run_the_rows_and_who_rolled_it_back(
    settings, project, migrated_database_url, pg, cli
):
    url = migrated_database_url
    _import(settings)  # run 1
    pg.execute(url, ADMIN_EDIT)
    with pytest.raises(RollbackRefused) as raised:
        asyncio.run(store.rollback(settings, 1))
    err = raised.value
    assert isinstance(err, DriftError)
    assert (err.run_id, err.rolled_back_by) == (1, ())
    assert [(e.tenant_id, e.changed_since) for e in err.changed] == [
        ("example", "edited in the database")
    ]
    # The entry holds the row as it is (the rollback would delete it: run 1 created it).
    assert PASTED_KEY in str([c.old for c in err.changed[0].changes])
    assert str(err) == (
        "cannot roll back run 1: 1 tenant(s) changed since:\n"
        "  example: edited in the database\n"
        "Nothing was written. Pass --force to restore run 1's previous values over those "
        "changes."
    )
    assert error_text(err) == str(err)
    _no_pasted_value(str(err))

    # Rolled back (run 2), and again with --force (run 4, after run 3 undid run 2):
    # the refusal names both, found in the rollback's own transaction.
    asyncio.run(store.rollback(settings, 1, force=True))
    asyncio.run(store.rollback(settings, 2, force=True))
    asyncio.run(store.rollback(settings, 1, force=True))
    with pytest.raises(RollbackRefused) as again:
        asyncio.run(store.rollback(settings, 1))
    assert (again.value.run_id, again.value.rolled_back_by) == (1, (2, 4))
    assert {e.changed_since for e in again.value.changed} == {"written again by run 4"}
    assert str(again.value) == (
        "run 1 was already rolled back by run 2, 4; nothing was written "
        "(to undo that rollback instead: tenant-migrator rollback 4)"
    )
    assert error_text(again.value) == str(again.value)
    copy = pickle.loads(pickle.dumps(again.value))
    assert (copy.run_id, copy.changed, copy.rolled_back_by) == (1, again.value.changed, (2, 4))
    # A dry run and --force do not refuse, so do not say it.
    assert asyncio.run(store.rollback(settings, 1, dry_run=True)).dry_run

    shown = cli("--project-dir", project, "--database-url", url, "rollback", "1")
    assert shown.returncode == 1
    assert shown.stderr.endswith(f"error: {again.value}\n")


# --- rows changed while writing ---------------------------------------------------------


def test_rows_changed_while_writing_carry_their_ids(settings, project, migrated_database_url, pg):
    url = migrated_database_url
    _import(settings)
    doc = read_client(project, "example")
    doc["client"]["name"] = "Example v2"
    write_client(project, "example", doc)
    # The plan updates example; the admin edits it before the write.
    with pytest.raises(ChangedWhileWriting) as raised:
        asyncio.run(plan_edit_write(url, settings, ADMIN_EDIT))
    err = raised.value
    assert isinstance(err, DriftError) and err.tenant_ids == ("example",)
    assert str(err) == (
        "1 tenant(s) changed in the database while this run was writing: example; "
        "nothing was written. Run the command again to see the new plan."
    )
    assert error_text(err) == str(err)
    _no_pasted_value(str(err))
    assert pickle.loads(pickle.dumps(err)).tenant_ids == ("example",)
    assert tenants_rows(pg, url)["example"]["name"] == "Example (admin)"  # the admin's
