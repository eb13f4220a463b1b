"""A platform's own migrations folder: never read unless named; when named
(``--migrations-dir``), duplicate numbers, ``baseline``, no-transaction files,
``repair`` of several at once, modified files refused.

The fixture ``tests/fixtures/platform_migrations`` has the platform's shape (our
own files): three files numbered 011, a CONCURRENTLY file, a file needing
``auth.users``, an equivalent of the tool's tenant_config under 014, and 012/013
unrelated to the tool's migrations of those numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from importhelpers import make_project
from migrationhelpers import COMPAT, PLATFORM_MIGRATIONS, ledger, psql_file

from tenant_migrator import migrations

TOOL = list(migrations.TOOL_NAMES)
FIXTURE_STEMS = sorted(p.stem for p in PLATFORM_MIGRATIONS.glob("*.sql"))


@pytest.fixture
def platform(tmp_path) -> Path:
    """A project root shaped like the platform's repository."""
    root = make_project(tmp_path / "platform", planted=False)
    shutil.copytree(PLATFORM_MIGRATIONS, root / "database" / "migrations")
    return root


def build_by_hand(url: str) -> None:
    """The platform's database as it was made: each file pasted into the SQL Editor,
    the registry first; the file needing auth.users failed and was skipped."""
    assert psql_file(url, COMPAT).returncode == 0
    order = ["011_tenant_table", *(s for s in FIXTURE_STEMS if s != "011_tenant_table")]
    for stem in order:
        result = psql_file(url, PLATFORM_MIGRATIONS / f"{stem}.sql")
        if stem == "001_agency_users":
            assert 'schema "auth"' in result.stderr or "auth.users" in result.stderr
        else:
            assert result.returncode == 0, (stem, result.stderr)


def fixture_objects(pg, url: str) -> dict[str, object]:
    """What the fixture files create that the tool's migrations do not."""
    return {
        "agency_users": pg.fetchval(url, "SELECT to_regclass('agency_users')"),
        "quotes": pg.fetchval(url, "SELECT to_regclass('quotes')"),
        "columns": pg.fetchval(
            url,
            """SELECT coalesce(array_agg(attname::text ORDER BY attname), '{}')
               FROM pg_attribute WHERE attrelid = to_regclass('public.tenants')
                 AND attname IN ('mail_from_name', 'menu_colour', 'login_background_url',
                                 'mail_logo_url')""",
        ),
    }


def states(run_cli, *args, folder=None, **options) -> dict[str, tuple[str, str]]:
    dirs = () if folder is None else ("--migrations-dir", folder)
    result = run_cli(*args, "migrate", "status", *dirs, "--format", "json", **options)
    assert result.returncode == 0, result.stderr
    return {r["name"]: (r["state"], r["source"]) for r in json.loads(result.stdout)}


def test_from_a_platform_root_no_command_reads_its_migrations_folder(
    pg, run_cli, database_url, platform
):
    args = ("--database-url", database_url)
    status = states(run_cli, *args, cwd=platform)
    assert list(status) == TOOL  # the tool's own, by name; none of the platform's files

    plan = run_cli(*args, "plan", "--format", "json", cwd=platform)
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["pending_migrations"] == TOOL

    migrated = run_cli(*args, "migrate", cwd=platform)
    assert migrated.returncode == 0, migrated.stderr
    imported = run_cli(*args, "import", cwd=platform)
    assert imported.returncode == 0, imported.stderr
    synced = run_cli(*args, "sync", "africastay", cwd=platform)
    assert synced.returncode == 0, synced.stderr
    assert fixture_objects(pg, database_url) == {
        "agency_users": None,
        "quotes": None,
        "columns": [],
    }
    assert set(ledger(pg, database_url)) == set(TOOL)


def test_import_on_a_hand_built_platform_database_creates_only_the_run_history(
    pg, run_cli, database_url, platform
):
    build_by_hand(database_url)
    before = fixture_objects(pg, database_url)
    result = run_cli("--database-url", database_url, "import", cwd=platform)
    assert result.returncode == 0, result.stderr
    assert fixture_objects(pg, database_url) == before
    rows = ledger(pg, database_url)
    assert {n: r["how"] for n, r in rows.items()} == {
        "tenants_registry": "satisfied",  # the platform's own 011 did it
        "tenant_config": "satisfied",  # ... and its 014
        "import_history": "migrate",
        "import_fingerprints": "migrate",
    }


def test_baseline_then_explicit_folder_runs_only_new_files(pg, run_cli, database_url, platform):
    build_by_hand(database_url)
    folder = platform / "database" / "migrations"
    args = ("--database-url", database_url)
    explicit = (*args, "migrate", "--migrations-dir", folder)

    status = states(run_cli, *args, folder=folder)
    assert status["tenant_config"] == ("satisfied", "catalog")
    assert status["import_history"] == ("pending", "catalog")
    assert status["import_fingerprints"] == ("pending", "catalog")
    assert {status[s] for s in FIXTURE_STEMS} == {("pending", "ledger")}

    no_dir = run_cli(*args, "migrate", "baseline", "014")
    assert no_dir.returncode == 2 and "--migrations-dir DIR baseline" in no_dir.stderr

    baseline = run_cli(*explicit, "baseline", "014")
    assert baseline.returncode == 0, baseline.stderr
    assert f"{len(FIXTURE_STEMS)} project migrations up to 014 marked applied" in baseline.stdout
    marked = ledger(pg, database_url)
    assert {marked[s]["how"] for s in FIXTURE_STEMS} == {"baseline"}
    assert sorted(s for s in marked if s.startswith("011_")) == [
        "011_add_mail_columns",
        "011_menu_colours",
        "011_tenant_table",
    ]

    (folder / "016_new_column.sql").write_text("ALTER TABLE tenants ADD COLUMN extra_016 int;\n")
    done = run_cli(*explicit)
    assert done.returncode == 0, done.stderr
    applied = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("applied")]
    assert applied == ["import_history", "import_fingerprints", "016_new_column.sql"]
    assert pg.fetchval(database_url, "SELECT to_regclass('quotes')") is not None  # by hand
    again = run_cli(*explicit)
    assert "Nothing to apply" in again.stdout

    # A baselined file edited afterwards stops `migrate --migrations-dir` (nothing
    # runs), never `plan` or `import`, which do not read the folder.
    (folder / "099_later.sql").write_text("CREATE TABLE later (id int);")
    edited = folder / "012_login_page.sql"
    edited.write_text(edited.read_text() + "\nALTER TABLE tenants ADD COLUMN sneaky int;\n")
    refused = run_cli(*explicit)
    assert refused.returncode == 1
    assert f"{edited}: changed after it was applied" in refused.stderr
    assert pg.fetchval(database_url, "SELECT to_regclass('later')") is None
    status = states(run_cli, *args, folder=folder)
    assert status["012_login_page"] == ("modified", "ledger")
    assert status["099_later"] == ("pending", "ledger")
    plan = run_cli(*args, "plan", cwd=platform)
    assert plan.returncode in (0, 2), plan.stderr

    # Several at once, by number (both files numbered 12/13) or stem.
    repaired = run_cli(*explicit, "repair", "012", "013_logo_for_mail", "--status", "applied")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.stdout.count("Marked migration") == 2
    assert states(run_cli, *args, folder=folder)["012_login_page"][0] == "applied"
    reverted = run_cli(*explicit, "repair", "011", "--status", "reverted")
    assert reverted.returncode == 0 and reverted.stdout.count("as reverted") == 3


def test_concurrently_in_a_transaction_fails_saying_how_to_mark_the_file(
    pg, database_url, tmp_path
):
    from migrationhelpers import apply

    folder = tmp_path / "own"
    folder.mkdir()
    body = (
        "CREATE TABLE IF NOT EXISTS quotes (id int, tenant_id text);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_quotes_tenant ON quotes (tenant_id);\n"
    )
    (folder / "006_indexes.sql").write_text(body)
    with pytest.raises(migrations.MigrationError) as err:
        apply(database_url, migrations.project_migrations(folder))
    assert f"first line `{migrations.NO_TRANSACTION_DIRECTIVE}`" in str(err.value)
    assert pg.fetchval(database_url, "SELECT to_regclass('quotes')") is None  # rolled back
    assert "006_indexes" not in ledger(pg, database_url)

    (folder / "006_indexes.sql").write_text(f"{migrations.NO_TRANSACTION_DIRECTIVE}\n{body}")
    applied = apply(database_url, migrations.project_migrations(folder))
    assert [a.migration.label for a in applied] == ["006_indexes.sql"]
    assert pg.fetchval(
        database_url,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('idx_quotes_tenant')",
    )
    assert ledger(pg, database_url)["006_indexes"]["how"] == "migrate"
    assert apply(database_url, migrations.project_migrations(folder)) == []
