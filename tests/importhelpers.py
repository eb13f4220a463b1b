"""Helpers for the plan/import/sync/rollback/export tests: projects with the sample
tenants plus one full of planted fake secrets, whole-database dumps, a secret scan."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tenant_migrator.pipeline import load_tenants
from tenant_migrator.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def bench_module(name: str) -> ModuleType:
    """``benchmarks/<name>.py``, loaded once (as ``bench_<name>``: "generate" and
    "measure" are too generic for sys.modules)."""
    key = f"bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def bench_generate() -> ModuleType:
    """``benchmarks/generate.py``: deterministic generated tenants."""
    return bench_module("generate")


SAMPLE_IDS = ("africastay", "beachresorts", "example", "safariexplore-kvph", "safarirun-t0vc")

# Fake secrets of every kind, planted where they are expected (schema fields,
# secret-looking keys) and where nobody expects them (a signature, a note, a list).
PLANTED: dict[str, str] = {
    "sendgrid": "SG.plantedFAKE0000001.plantedFAKEsecret00000000000001",
    "smtp": "planted-fake-smtp-password-000001",
    "vapi": "planted-fake-vapi-key-000001",
    "anon_jwt": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiIsInBsYW50ZWQiOjF9.plantedFAKEsig000001",
    "service": "planted-fake-service-key-000001",
    "signature_openai": "sk-proj-plantedFAKE0000000000000000000001",
    "aws": "AKIAPLANTEDFAKE00001",
    "github": "ghp_plantedFAKE00000000000000000000000001",
    "webhook_token": "planted-fake-webhook-token-000001",
    "consultant_password": "planted-fake-consultant-password-1",
    "stripe": "sk_live_plantedFAKE0000000001",
}


# Literals planted in the database itself: a row "the old importer" wrote, with a
# literal SendGrid key and passwords (schema fields, a secret-looking key, a key
# pasted into a signature). The scan after each test looks for these too: no test
# may leave one behind in any table.
DATABASE_PLANTED: dict[str, str] = {
    "sendgrid": "SG.oldimporterFAKE01.oldimporterFAKEsecret0000001",
    "smtp_password": "old-importer-fake-smtp-password-01",
    "db_password": "old-importer-fake-db-password-01",
    "signature_sendgrid": "SG.oldsignatureFAKE1.oldsignatureFAKEsecret000001",
}


def old_importer_config() -> dict[str, Any]:
    """The tenant_config the old importer left in africastay's row: literals in place,
    and a key (pricing) no client file has."""
    p = DATABASE_PLANTED
    return {
        "pricing": {"markup_percent": 12},
        "branding": {"email_signature": f"Thanks!\nkey {p['signature_sendgrid']}"},
        "email": {
            "primary": "sales@africastay.example",
            "sendgrid": {"api_key": p["sendgrid"], "from_email": "q@africastay.example"},
            "smtp": {"host": "smtp.africastay.example", "password": p["smtp_password"]},
        },
        "integrations": {"db_password": p["db_password"]},
    }


def plant_old_importer_row(pg, url: str, config_source: str = "yaml") -> None:
    """africastay's row as the old importer wrote it (literals in tenant_config)."""
    pg.execute(
        url,
        "INSERT INTO tenants (id, name, config_source, tenant_config) "
        "VALUES ('africastay', 'Africa Stay (old)', $1, $2::text::jsonb)",
        config_source,
        json.dumps(old_importer_config()),
    )


def planted_document() -> dict[str, Any]:
    p = PLANTED
    return {
        "client": {
            "id": "planted",
            "name": "Planted Secrets Travel",
            "short_name": "planted",
            "timezone": "Africa/Johannesburg",
            "currency": "ZAR",
        },
        "branding": {
            "company_name": "Planted",
            "primary_color": "#112233",
            # A key pasted into a signature: the whole value must go.
            "email_signature": f"Regards,\nPlanted team\nkey: {p['signature_openai']}\n",
        },
        "destinations": [{"name": "Zanzibar", "code": "ZNZ", "enabled": True}],
        "infrastructure": {
            "gcp": {"project_id": "planted-prod", "region": "africa-south1", "dataset": "pl_data"},
            "supabase": {
                "url": "https://planted.supabase.co",
                "anon_key": p["anon_jwt"],
                "service_key": p["service"],
            },
            "vapi": {"api_key": p["vapi"], "assistant_id": "a-1"},
            "openai": {"api_key": "${OPENAI_API_KEY}", "model": "gpt-4o-mini"},
        },
        "email": {
            "primary": "sales@planted.example",
            "sendgrid": {"api_key": p["sendgrid"], "from_email": "q@planted.example"},
            "smtp": {
                "host": "smtp.planted.example",
                "port": 587,
                "username": "sales@planted.example",
                "password": p["smtp"],
            },
            "imap": {"host": "imap.planted.example", "port": 993},
        },
        "banking": {
            "bank_name": "Planted Bank",
            "account_name": "Planted Travel",
            "account_number": "1234567890",
            "notes": f"old integration used {p['aws']}",
        },
        "consultants": [
            {
                "id": "c1",
                "name": "Ann",
                "email": "ann@planted.example",
                "active": True,
                "password": p["consultant_password"],
            }
        ],
        "integrations": {
            "webhook_token": p["webhook_token"],
            "ci": p["github"],
            "billing": p["stripe"],
        },
    }


def make_project(root: Path, *, planted: bool = True) -> Path:
    """A project dir: config/schema.json, the sample tenants and (optionally) `planted`.

    No database/ directory: migrations come from the source checkout.
    """
    (root / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "schema.json", root / "config" / "schema.json")
    shutil.copytree(REPO / "clients", root / "clients", dirs_exist_ok=True)
    if planted:
        write_client(root, "planted", planted_document())
    return root


def write_client(root: Path, tenant_id: str, document: dict[str, Any] | str) -> Path:
    path = root / "clients" / tenant_id / "client.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def read_client(root: Path, tenant_id: str) -> dict[str, Any]:
    return yaml.safe_load((root / "clients" / tenant_id / "client.yaml").read_text("utf-8"))


def secret_literals(root: Path) -> set[str]:
    """Every literal the pipeline took out of the project's files, plus the planted ones
    (in files and in the database)."""
    result = load_tenants(Settings(project_dir=root))
    found = {s.literal for r in result.results for s in r.secrets if s.literal}
    return found | set(PLANTED.values()) | set(DATABASE_PLANTED.values())


def dump_database(pg, url: str) -> dict[str, list[str]]:
    """Every row of every table outside the system schemas, as sorted JSON text."""
    tables = pg.fetch(
        url,
        """
        SELECT format('%I.%I', table_schema, table_name) AS name
        FROM information_schema.tables
        WHERE table_type = 'BASE TABLE'
          AND table_schema NOT IN ('pg_catalog', 'information_schema')
        ORDER BY 1
        """,
    )
    return {
        t["name"]: sorted(
            r["row"] for r in pg.fetch(url, f"SELECT to_jsonb(t)::text AS row FROM {t['name']} t")
        )
        for t in tables
    }


def assert_no_secrets(pg, url: str, literals: set[str], *outputs: str) -> None:
    """No table, column or JSON value in the database (and no given output) holds any
    of ``literals``: neither the raw text nor its JSON-escaped form."""
    assert literals
    forms = {form for lit in literals for form in (lit, json.dumps(lit)[1:-1])}
    dump = "\n".join(row for rows in dump_database(pg, url).values() for row in rows)
    leaked = sorted(f for f in forms if f in dump)
    assert not leaked, f"secrets in the database: {len(leaked)}"
    for output in outputs:
        assert not [f for f in forms if f in output], "secret in command output"


def tenants_rows(pg, url: str) -> dict[str, dict[str, Any]]:
    rows = pg.fetch(url, "SELECT to_jsonb(t)::text AS row FROM tenants t")
    return {row["id"]: row for row in (json.loads(r["row"]) for r in rows)}


@pytest.fixture(name="project")
def sample_project(tmp_path) -> Path:
    """``project``: the sample project with the planted tenant, in the test's tmp
    dir. Import it (and ``sample_tm``) into a test module to use it there."""
    return make_project(tmp_path / "project")


@pytest.fixture(name="tm")
def sample_tm(cli, project):
    """Run the CLI in-process on ``project`` against a URL: tm(url, "plan", ...)."""

    def run(url, *args, **kwargs):
        return cli("--project-dir", project, "--database-url", url, *args, **kwargs)

    return run


@pytest.fixture(autouse=True)
def no_secrets_left_behind(request, pg):
    """After each test: no literal secret of the test's project is anywhere in the
    database it used. Import this fixture into a test module to apply it there."""
    urls = [
        request.getfixturevalue(name)
        for name in ("database_url", "migrated_database_url")
        if name in request.fixturenames
    ]
    project = request.getfixturevalue("project") if "project" in request.fixturenames else None
    yield
    if project is None:
        return
    literals = secret_literals(project)
    for url in urls:
        assert_no_secrets(pg, url, literals)


async def plan_edit_write(url: str, settings: Settings, admin_sql: str) -> None:
    """Plan ``example``'s update, let an admin commit ``admin_sql`` after our read
    and before our write, then write the plan (the write must refuse it)."""
    from datetime import datetime

    from tenant_migrator import database, store

    load = load_tenants(settings, ["example"])
    async with (
        database.connection(url) as conn,
        database.connection(url) as admin,
        conn.transaction(),
    ):
        the_plan = await store.make_plan(conn, load, ["example"])
        assert [t.action.value for t in the_plan.tenants] == ["update"]
        await admin.execute(admin_sql)
        run_id = await store.start_run(conn, "import", datetime.now().astimezone())
        await store.write_plan(conn, the_plan, run_id)


def project_cli(run_cli, project: Path, database_url: str):
    """``run(*args)``: the CLI on ``project`` against ``database_url``."""

    def run(*args):
        return run_cli("--project-dir", project, "--database-url", database_url, *args)

    return run
