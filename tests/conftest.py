"""Shared fixtures: a real PostgreSQL server, fresh databases, and running the CLI.

Server: ``TEST_DATABASE_URL`` when set (CI points it at PostgreSQL 15), otherwise
an embedded PostgreSQL started once per test session in a temporary directory and
stopped at the end.

Fixtures other test files use:

- ``server_url``            (session) URL of a database on the server for this session
                            (one per xdist worker: with ``TEST_DATABASE_URL`` a database
                            created for the worker and dropped at the end).
- ``database_url``          a brand-new empty database, dropped afterwards.
- ``migrated_database_url`` same, with the tool's own migrations (database/migrations)
                            applied by the tool's own code (copied from a template
                            database migrated once per session).
- ``run_cli``               ``run_cli(*args, env=None, cwd=None, input=None)`` runs
                            ``python -m tenant_migrator`` in a subprocess; returns
                            ``CliResult(returncode, stdout, stderr)``.
- ``pg``                    ``pg.fetch(url, sql, *args)`` → list of dicts,
                            ``pg.fetchval(...)``, ``pg.execute(...)``: quick sync access.
- ``reference_dir``         ../shared/reference (skips the test when it is absent).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tenant_migrator import database, embedded, migrations
from tests import schemacheck

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = REPO / "database" / "migrations"
REFERENCE_DIR = REPO.parent / "shared" / "reference"

# No timing checks in the property tests (most already say so per test): under
# coverage, xdist and a busy CI machine, Hypothesis's 200 ms deadline and its
# too_slow health check would fail tests whose behaviour is right.
settings.register_profile(
    "tenant-migrator", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("tenant-migrator")

# Variables that would point a CLI subprocess at some other database than the one
# the test chose.
_DB_ENV_VARS = ("DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD")


# --- sync helpers over asyncpg ----------------------------------------------------------


async def _run_sql(url: str, method: str, sql: str, *args):
    async with database.connection(url) as conn:
        return await getattr(conn, method)(sql, *args)


class PG:
    """Blocking one-shot queries for tests: each call opens and closes a connection."""

    @staticmethod
    def fetch(url: str, sql: str, *args) -> list[dict]:
        return [dict(r) for r in asyncio.run(_run_sql(url, "fetch", sql, *args))]

    @staticmethod
    def fetchrow(url: str, sql: str, *args) -> dict | None:
        row = asyncio.run(_run_sql(url, "fetchrow", sql, *args))
        return None if row is None else dict(row)

    @staticmethod
    def fetchval(url: str, sql: str, *args):
        return asyncio.run(_run_sql(url, "fetchval", sql, *args))

    @staticmethod
    def execute(url: str, sql: str, *args) -> str:
        return asyncio.run(_run_sql(url, "execute", sql, *args))


@pytest.fixture(scope="session")
def pg() -> type[PG]:
    return PG


# --- the server -------------------------------------------------------------------------


def _worker_name() -> str:
    # "gw0", "gw1", … under pytest-xdist (-n); "main" in a serial run.
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def server_url():
    """URL of a database of the test server that only this session (this xdist worker)
    uses; tests create their own databases from it (see the module docstring)."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        # Workers share that server: each gets a database of its own, so that nothing
        # a test does in "the" database meets another worker's test.
        name = _create_database(url, f"tm_session_{_worker_name()}")
        try:
            yield database.url_with_database(url, name)
        finally:
            _drop_database(url, name)
        return
    # Embedded: one server per session, so one per xdist worker (Unix socket in a
    # directory of its own, no TCP port to share).
    root = Path(tempfile.mkdtemp(prefix=f"tm-test-pg-{_worker_name()}-"))
    pgdata = root / "pgdata"
    try:
        yield embedded.start(pgdata)
    finally:
        # destroy, not rmtree: as root the data may live under /var/lib/tenant-migrator.
        embedded.destroy(pgdata)
        shutil.rmtree(root, ignore_errors=True)


def _create_database(server_url: str, prefix: str, template: str | None = None) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    sql = f'CREATE DATABASE "{name}"'
    if template:
        sql += f' TEMPLATE "{template}"'
    PG.execute(server_url, sql)
    return name


def _drop_database(server_url: str, name: str) -> None:
    PG.execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url):
    """A brand-new empty database, dropped (WITH (FORCE)) after the test."""
    name = _create_database(server_url, "tm_test")
    try:
        yield database.url_with_database(server_url, name)
    finally:
        _drop_database(server_url, name)


async def _migrate(url: str) -> None:
    async with database.connection(url) as conn:
        await migrations.apply_pending(conn, migrations.tool_migrations())


@pytest.fixture(scope="session")
def _migrated_template(server_url):
    # Migrating takes tens of milliseconds per database; copying a template is
    # cheaper and gives every test the exact same starting catalog. Read at session
    # start, so every file in database/migrations (013+, too) is included.
    name = _create_database(server_url, "tm_template")
    try:
        asyncio.run(_migrate(database.url_with_database(server_url, name)))
        yield name
    finally:
        _drop_database(server_url, name)


def _migrated_database(server_url: str, template: str, prefix: str) -> Iterator[str]:
    name = _create_database(server_url, prefix, template=template)
    try:
        yield database.url_with_database(server_url, name)
    finally:
        _drop_database(server_url, name)


@pytest.fixture
def migrated_database_url(server_url, _migrated_template):
    """A fresh database with every migration applied (history tables included)."""
    yield from _migrated_database(server_url, _migrated_template, "tm_test")


@pytest.fixture
def reference_database_url(server_url, _migrated_template):
    """Another fresh migrated database, for a result to compare with."""
    yield from _migrated_database(server_url, _migrated_template, "tm_ref")


# --- the CLI ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a CLI subprocess: ours minus anything that picks a database,
    wide enough that Rich does not wrap lines, no progress lines, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _DB_ENV_VARS}
    env["COLUMNS"] = "200"
    env["PYTHONIOENCODING"] = "utf-8"
    # No "still …" progress lines on stderr because a loaded machine took over 10 s:
    # the tests about them set the interval themselves (tests/test_legible.py).
    env["TENANT_MIGRATOR_PROGRESS_INTERVAL"] = "3600"
    env.update(extra or {})
    return env


def _run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> CliResult:
    proc = subprocess.run(
        [sys.executable, "-m", "tenant_migrator", *map(str, args)],
        env=cli_env(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    # Every JSON report a test produces must match its published schema.
    schemacheck.check_output(args, proc.stdout, Path(cwd) if cwd is not None else None)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run the CLI in this process (``tenant_migrator.cli.main(argv)``): the same
    arguments, environment and result as ``run_cli``, without a new interpreter per
    call. For output and exit codes; ``run_cli`` (a real process) stays for crashes,
    Ctrl-C, the fork pool, the process list and the pseudo-terminal.
    """
    import contextlib
    import io

    from tenant_migrator.cli import main

    (tmp_path / "clients").mkdir(exist_ok=True)

    def run(*args, env=None, cwd=None, input=None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        where = tmp_path if cwd is None else Path(cwd)
        with monkeypatch.context() as patch:
            for name in _DB_ENV_VARS:
                patch.delenv(name, raising=False)
            wanted = cli_env(env)
            for name, value in wanted.items():
                if os.environ.get(name) != value:
                    patch.setenv(name, value)
            patch.chdir(where)
            patch.setattr(sys, "stdin", io.StringIO(input or ""))
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([str(a) for a in args])
        schemacheck.check_output(args, out.getvalue(), where)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def run_cli(tmp_path):
    """Run ``python -m tenant_migrator ARGS`` (default cwd: the test's tmp_path).

    tmp_path gets an empty ``clients/``, so that it is a project: every command
    refuses a directory that has no clients/, no .tenant-migrator/ and no settings
    file (tests/test_project_settings.py holds that refusal).
    Pass ``--database-url`` (or env={"DATABASE_URL": ...}) unless the test is about
    the embedded server; such tests use a tmp project dir and must stop it.
    """
    (tmp_path / "clients").mkdir(exist_ok=True)

    def run(*args, env=None, cwd=None, input=None, timeout=120) -> CliResult:
        return _run_cli(
            *args, env=env, cwd=tmp_path if cwd is None else cwd, input=input, timeout=timeout
        )

    return run


@pytest.fixture
def reference_dir() -> Path:
    """The real-format reference files; tests using them skip when ../shared is absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip("../shared/reference is absent on this machine")
    return REFERENCE_DIR


# --- markers ----------------------------------------------------------------------------

# What makes a test need PostgreSQL (the ``postgres`` marker; ``pytest -m "not
# postgres"`` runs the others with no server at all). Found by running the
# "not postgres" selection with the embedded server's wheel made unimportable:
# these are the tests that failed then without taking server_url.
_POSTGRES_FIXTURES = frozenset({"server_url", "password_server"})  # the latter: test_database
_POSTGRES_FILES = frozenset({"test_embedded_security.py"})  # the embedded server's own tests
_POSTGRES_TESTS = frozenset(
    {
        # The CLI without a URL: a project's own embedded server.
        "test_database.py::test_embedded_server_lifecycle",
        "test_cli_inprocess.py::test_each_invocation_starts_and_announces_the_embedded_server_once",
        "test_ci_workflow.py::test_the_pull_request_steps_validate_plan_and_write_the_comment",
    }
)


def _needs_postgres(item: pytest.Item) -> bool:
    return (
        not _POSTGRES_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        or item.path.name in _POSTGRES_FILES
        or f"{item.path.name}::{item.originalname}" in _POSTGRES_TESTS
    )


def _check_postgres_tests_exist(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A renamed test would silently lose its marker: refuse instead, whenever the
    # files were collected whole (no node ids on the command line).
    if any("::" in arg for arg in config.args):
        return
    files = {item.path.name for item in items}
    found = {f"{item.path.name}::{getattr(item, 'originalname', item.name)}" for item in items}
    for name in sorted(_POSTGRES_TESTS):
        if name.split("::")[0] in files and name not in found:
            raise pytest.UsageError(
                f"tests/conftest.py _POSTGRES_TESTS names {name}, which does not exist "
                "(renamed?): update the list"
            )


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Marked here from what a test uses, not by hand in each file: a new test that
    # takes a database fixture is a postgres test without anyone remembering to say so.
    _check_postgres_tests_exist(config, items)
    for item in items:
        if _needs_postgres(item):
            item.add_marker(pytest.mark.postgres)
