"""Next to the Supabase CLI, both ways: we never leave a version in its history that
its ``supabase/migrations/`` cannot match; ``migrate emit`` writes our migrations
there for ``supabase db push``, and what the CLI applied is recognised;
``migrate --sql`` prints the script for the SQL Editor and writes nothing.

The coexistence tests run the REAL Supabase CLI: ``SUPABASE_CLI`` (CI installs
supabase@2.117.0 and sets it), else ``supabase`` on PATH. They skip only when it
is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from migrationhelpers import COMPAT, all_files, ledger, psql_file, supabase_versions
from test_migrations_ledger import OLD_HISTORY_SQL

from tenant_migrator import migrations
from tenant_migrator.migrations import supabase_cli

TOOL = list(migrations.TOOL_NAMES)
REPO = Path(__file__).resolve().parent.parent


def supabase_cli_path() -> str | None:
    candidates = [
        os.environ.get("SUPABASE_CLI"),
        shutil.which("supabase"),
        str(REPO / ".ci" / ".supabase-cli" / "node_modules" / ".bin" / "supabase"),
    ]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def cli_dsn(url: str) -> str:
    """``url`` for the CLI, which cannot parse a URL with an empty host (the embedded
    server's Unix socket): libpq keyword/value form, TLS off (a local server)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    fields = {
        "host": query.get("host") or parts.hostname or "localhost",
        "port": str(parts.port or query.get("port") or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/") or "postgres",
        "sslmode": "disable",
    }
    return " ".join(f"{k}={v}" for k, v in fields.items() if v)


@pytest.fixture
def supabase():
    path = supabase_cli_path()
    if path is None:
        pytest.skip("the Supabase CLI is absent (set SUPABASE_CLI; .ci/run installs it)")

    def run(project: Path, url: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [path, *args, "--db-url", cli_dsn(url)],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env={**os.environ, "DO_NOT_TRACK": "1", "SUPABASE_TELEMETRY_DISABLED": "1"},
        )

    return run


@pytest.fixture
def project(tmp_path) -> Path:
    """A project with the team's own Supabase CLI migration."""
    root = tmp_path / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "clients").mkdir()  # a project: commands refuse a directory without one
    (root / "supabase" / "migrations" / "20240101000000_team_file.sql").write_text(
        "CREATE TABLE IF NOT EXISTS team_things (id int);\n"
    )
    return root


def remote_only(listing: str) -> list[str]:
    """Rows of `supabase migration list` with a remote version and no local file."""
    out = []
    for line in listing.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 3 and not cells[0] and cells[1].strip("`").isdigit():
            out.append(cells[1])
    return out


# --- emit, without the CLI --------------------------------------------------------------


def test_emit_names_are_consecutive_utc_timestamps_after_every_existing_one(tmp_path):
    (tmp_path / "20300101000000_future.sql").write_text("")
    (tmp_path / "20300101000002_gap.sql").write_text("")
    (tmp_path / "README.md").write_text("")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    planned = supabase_cli.emit_paths(all_files(), tmp_path, now)
    assert [p.name for p, _ in planned] == [
        "20300101000003_tenant_migrator_tenants_registry.sql",
        "20300101000004_tenant_migrator_tenant_config.sql",
        "20300101000005_tenant_migrator_import_history.sql",
        "20300101000006_tenant_migrator_import_fingerprints.sql",
    ]
    empty = tmp_path / "empty"
    planned = supabase_cli.emit_paths(all_files()[:2], empty, now)
    assert [p.name[:14] for p, _ in planned] == ["20260101000000", "20260101000001"]
    # Every name matches the CLI's own rule, version = the timestamp.
    assert all(supabase_cli.CLI_FILE_RE.match(p.name) for p, _ in planned)


def test_emit_writes_pending_tool_migrations_once(pg, run_cli, database_url, project):
    args = ("--project-dir", project, "--database-url", database_url)
    # tenant_config, import_history and import_fingerprints pending; tenants_registry
    # satisfied by hand.
    assert psql_file(database_url, COMPAT).returncode == 0
    assert psql_file(database_url, all_files()[0].path).returncode == 0
    first = run_cli(*args, "migrate", "emit")
    assert first.returncode == 0, first.stderr
    written = sorted(p.name for p in (project / "supabase" / "migrations").iterdir())
    assert [n[15:] for n in written if "tenant_migrator" in n] == [
        "tenant_migrator_tenant_config.sql",
        "tenant_migrator_import_history.sql",
        "tenant_migrator_import_fingerprints.sql",
    ]
    text = next((project / "supabase" / "migrations").glob("*_tenant_config.sql")).read_text()
    assert all_files()[1].sql.strip() in text
    again = run_cli(*args, "migrate", "emit")
    assert again.returncode == 0 and "Nothing to emit" in again.stdout
    # emit only reads the database.
    assert pg.fetchval(database_url, "SELECT to_regnamespace('tenant_migrator')") is None
    elsewhere = run_cli(*args, "migrate", "emit", str(project / "other"))
    assert elsewhere.returncode == 0 and len(list((project / "other").iterdir())) == 3


# --- migrate --sql ----------------------------------------------------------------------


def test_migrate_sql_prints_one_script_writes_nothing_and_the_next_migrate_records_it(
    pg, run_cli, database_url, tmp_path
):
    result = run_cli("--database-url", database_url, "migrate", "--sql")
    assert result.returncode == 0, result.stderr
    script = result.stdout
    assert "-- === tenants_registry ===" in script and "-- === import_history ===" in script
    assert "CREATE ROLE" in script  # plain PostgreSQL: the compat part comes first
    assert pg.fetchval(database_url, "SELECT to_regclass('tenants')") is None
    assert pg.fetchval(database_url, "SELECT to_regnamespace('tenant_migrator')") is None

    # Pasted into the SQL Editor (here: psql -f), then migrate runs nothing.
    (tmp_path / "script.sql").write_text(script)
    pasted = psql_file(database_url, tmp_path / "script.sql")
    assert pasted.returncode == 0, pasted.stderr
    done = run_cli("--database-url", database_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("applied")]
    assert {r["how"] for r in ledger(pg, database_url).values()} == {"satisfied"}
    empty = run_cli("--database-url", database_url, "migrate", "--sql")
    assert empty.stdout.strip() == "-- Nothing to apply: the database is up to date."


# --- the real Supabase CLI --------------------------------------------------------------


def test_after_our_migrate_the_cli_sees_no_remote_only_version(
    pg, run_cli, database_url, project, supabase
):
    pushed = supabase(project, database_url, "db", "push", "--yes")
    assert pushed.returncode == 0, pushed.stderr + pushed.stdout
    migrated = run_cli("--project-dir", project, "--database-url", database_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert supabase_versions(pg, database_url) == ["20240101000000"]
    listing = supabase(project, database_url, "migration", "list")
    assert listing.returncode == 0, listing.stderr
    assert "20240101000000" in listing.stdout and remote_only(listing.stdout) == []
    again = supabase(project, database_url, "db", "push", "--yes")
    assert again.returncode == 0, again.stderr + again.stdout


def test_emit_then_db_push_is_recognised_as_applied_by_the_cli(
    pg, run_cli, database_url, project, supabase
):
    args = ("--project-dir", project, "--database-url", database_url)
    # A plain PostgreSQL: the Supabase roles and auth.role() a real project has.
    assert psql_file(database_url, COMPAT).returncode == 0
    assert run_cli(*args, "migrate", "emit").returncode == 0
    pushed = supabase(project, database_url, "db", "push", "--yes")
    assert pushed.returncode == 0, pushed.stderr + pushed.stdout

    status = run_cli(*args, "migrate", "status", "--format", "json")
    rows = {r["name"]: r for r in json.loads(status.stdout)}
    assert {n: (r["state"], r["source"]) for n, r in rows.items()} == dict.fromkeys(
        TOOL, ("applied", "supabase-cli")
    )
    done = run_cli(*args, "migrate")
    assert done.returncode == 0 and "Nothing to apply" in done.stdout, done.stderr
    assert not [line for line in done.stdout.splitlines() if line.startswith("applied")]
    listing = supabase(project, database_url, "migration", "list")
    assert listing.returncode == 0 and remote_only(listing.stdout) == []
    assert run_cli(*args, "migrate", "emit").stdout.startswith("Nothing to emit")


def test_the_rows_the_previous_version_wrote_stop_the_cli_until_migrate_removes_them(
    pg, run_cli, database_url, project, supabase
):
    migrations_applied = run_cli("--database-url", database_url, "migrate")
    assert migrations_applied.returncode == 0
    pg.execute(database_url, f"DROP TABLE {migrations.LEDGER_TABLE}")
    pg.execute(database_url, OLD_HISTORY_SQL)
    blocked = supabase(project, database_url, "db", "push", "--yes")
    assert blocked.returncode != 0
    assert "Remote migration versions not found" in blocked.stderr + blocked.stdout

    upgraded = run_cli("--project-dir", project, "--database-url", database_url, "migrate")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "removed version 012 (tenant_config)" in upgraded.stdout
    assert supabase_versions(pg, database_url) == ["20240101000000"]
    listing = supabase(project, database_url, "migration", "list")
    assert listing.returncode == 0 and remote_only(listing.stdout) == []
    pushed = supabase(project, database_url, "db", "push", "--yes")
    assert pushed.returncode == 0, pushed.stderr + pushed.stdout
