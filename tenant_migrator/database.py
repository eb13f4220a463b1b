"""Which database we talk to, connecting to it, and turning connection failures
into one clear line.

Target resolution, in order:

1. ``--database-url`` / ``DATABASE_URL``;
2. libpq's environment (``PGHOST`` or ``PGDATABASE`` set): asyncpg reads
   PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE … itself;
3. the embedded server of the project directory (started when needed).

Supabase specifics: ``sslmode`` in the URL is honoured by asyncpg. The transaction
pooler (port 6543, or ``pgbouncer=true`` in the URL) hands each transaction to
any server connection, so prepared statements cannot be cached across them:
we connect with ``statement_cache_size=0``. ``pgbouncer`` is a Prisma-style
flag, not a PostgreSQL setting; asyncpg would send it to the server as a
startup parameter (and fail), so it is removed before asyncpg sees the URL.

Usage::

    async with database.connection(target) as conn:
        ...

or ``conn = await database.connect(target)`` and ``await conn.close()``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from tenant_migrator.errors import DatabaseUnavailable, MigratorError
from tenant_migrator.settings import Settings

if TYPE_CHECKING:
    import asyncpg

POOLER_PORT = 6543
CONNECT_TIMEOUT_S = 10.0
APPLICATION_NAME = "tenant-migrator"
_SCHEMES = ("postgresql", "postgres")

# One notice per process, however many times the target is resolved.
_embedded_notice_shown = False


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect.

    ``url`` is None when libpq's environment variables describe the server.
    ``embedded`` is True for the project's local embedded server.
    """

    url: str | None
    embedded: bool = False

    @property
    def display(self) -> str:
        """Where we connect, safe to print (no password)."""
        if self.url is None:
            return describe_env()
        return redact_url(self.url)


def resolve_target(settings: Settings, *, announce: bool = True) -> Target:
    """The database this invocation talks to. Starts the embedded server if needed.

    With ``announce``, says once on stderr that the embedded server is used.
    """
    if settings.database_url:
        return Target(url=settings.database_url)
    if os.environ.get("PGHOST") or os.environ.get("PGDATABASE"):
        return Target(url=None)

    from tenant_migrator import embedded

    url = embedded.start(embedded.pgdata_dir(settings.state_dir))
    if announce:
        _announce_embedded(settings)
    return Target(url=url, embedded=True)


def _announce_embedded(settings: Settings) -> None:
    global _embedded_notice_shown
    if _embedded_notice_shown:
        return
    _embedded_notice_shown = True
    from tenant_migrator.render import notice

    notice(
        f"Using a local embedded PostgreSQL in {settings.state_dir / 'pgdata'}, not Supabase "
        "(pass --database-url or set DATABASE_URL for a real database; "
        "`tenant-migrator db-stop` stops it)."
    )


# --- URLs -------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hostinfo}" if has_password else f"{user}@{hostinfo}"
    query = urlencode(
        [
            (k, "***" if k.lower() == "password" else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="/,*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_password(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        from_query = dict(parse_qsl(parts.query)).get("password")
        return unquote(parts.password) if parts.password else from_query
    except ValueError:
        return None


def url_with_database(url: str, database: str) -> str:
    """The same server, another database."""
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme, parts.netloc, "/" + quote(database, safe=""), parts.query, parts.fragment)
    )


@dataclass(frozen=True, slots=True)
class ConnectOptions:
    """What asyncpg gets: the cleaned URL and whether a transaction pooler is in between."""

    dsn: str | None
    pooled: bool


def connect_options(url: str | None) -> ConnectOptions:
    """Validate ``url`` and adapt it for asyncpg (see the module docstring)."""
    if url is None:
        return ConnectOptions(dsn=None, pooled=os.environ.get("PGPORT") == str(POOLER_PORT))
    try:
        parts = urlsplit(url)
    except ValueError as err:
        raise DatabaseUnavailable(f"invalid database URL {redact_url(url)}: {err}") from None
    if parts.scheme not in _SCHEMES:
        # Not echoed: something that is not a URL may well be a pasted password.
        raise DatabaseUnavailable(
            "invalid database URL: it must start with postgresql:// "
            "(e.g. postgresql://postgres:PASSWORD@db.PROJECT.supabase.co:5432/postgres)"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    pgbouncer = any(k == "pgbouncer" and v.lower() in ("true", "1", "yes") for k, v in query)
    kept = [(k, v) for k, v in query if k != "pgbouncer"]
    try:
        port = parts.port
    except ValueError:
        # Multi-host URLs ("h1:5432,h2:5433") have no single port; asyncpg parses those.
        port = None
    dsn = urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(kept, safe="/,"), parts.fragment)
    )
    return ConnectOptions(dsn=dsn, pooled=pgbouncer or port == POOLER_PORT)


def describe_env() -> str:
    host = os.environ.get("PGHOST", "localhost")
    port = os.environ.get("PGPORT", "5432")
    db = os.environ.get("PGDATABASE", os.environ.get("PGUSER", "postgres"))
    return f"{host}:{port}/{db} (from PGHOST/PGDATABASE)"


# --- connecting -------------------------------------------------------------------------


async def connect(
    target: Target | str | None, *, timeout: float = CONNECT_TIMEOUT_S
) -> asyncpg.Connection:
    """Open a connection, or raise ``DatabaseUnavailable`` with one clear line.

    ``target`` may be a ``Target``, a URL, or None (libpq environment).
    The caller closes the connection (or use ``connection()``).
    """
    import asyncpg

    if not isinstance(target, Target):
        target = Target(url=target)
    opts = connect_options(target.url)
    kwargs: dict = {
        "timeout": timeout,
        "server_settings": {"application_name": APPLICATION_NAME},
    }
    if opts.pooled:
        kwargs["statement_cache_size"] = 0
    try:
        return await asyncpg.connect(opts.dsn, **kwargs)
    except Exception as err:  # every failure becomes one clear line
        raise translate_connect_error(err, target) from None


@asynccontextmanager
async def connection(
    target: Target | str | None, *, timeout: float = CONNECT_TIMEOUT_S
) -> AsyncIterator[asyncpg.Connection]:
    """``async with connection(target) as conn:`` — connect, and always close."""
    conn = await connect(target, timeout=timeout)
    try:
        yield conn
    finally:
        await conn.close()


def translate_connect_error(err: BaseException, target: Target) -> DatabaseUnavailable:
    """One line saying what failed and what to do, with any password redacted."""
    import asyncpg

    where = target.display
    if isinstance(
        err, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        what = "authentication failed (wrong user or password)"
        todo = "check the user and password in the URL (Supabase: Project Settings → Database)"
    elif isinstance(err, asyncpg.InvalidCatalogNameError):
        what = "the database does not exist"
        todo = "check the database name at the end of the URL"
    elif isinstance(err, TimeoutError):
        what = "timed out"
        todo = "check the host and port, and that your network allows the connection"
    elif isinstance(err, socket.gaierror):
        what = "unknown host"
        todo = "check the host name in the URL"
    elif isinstance(err, ConnectionRefusedError):
        what = "connection refused"
        todo = "is the server running and listening on that host and port?"
    elif isinstance(err, OSError):
        what = err.strerror or type(err).__name__
        todo = "check the host and port, and that the server is running"
    elif isinstance(err, ValueError | asyncpg.ClientConfigurationError):
        what = f"invalid connection settings: {err}"
        todo = "check the URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
    elif isinstance(err, asyncpg.PostgresError):
        what = f"the server refused the connection: {err}"
        todo = "check the URL and the server's access rules"
    else:
        what = f"{type(err).__name__}: {err}"
        todo = "check the URL"
    message = f"cannot connect to {where}: {what}; {todo}"
    return DatabaseUnavailable(redact(message, target))


def redact(message: str, target: Target) -> str:
    """Remove the target's password (raw and URL-encoded) from ``message``."""
    secrets = set()
    if target.url is not None:
        password = url_password(target.url)
        if password:
            secrets |= {password, quote(password, safe="")}
    if env_password := os.environ.get("PGPASSWORD"):
        secrets.add(env_password)
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def describe_server_error(err: BaseException) -> str:
    """``Type: message (detail)`` of a server error, without what must not be shown.

    str(err) would append DETAIL, and "Failing row contains (…)" prints a whole
    row: banking details, and whatever an admin pasted into it. Other details name
    keys only, and help (which row still references a tenant).
    """
    what = getattr(err, "message", None) or str(err)
    detail = getattr(err, "detail", None) or ""
    detail = f" ({detail})" if detail and not detail.startswith("Failing row") else ""
    return f"{type(err).__name__}: {what}{detail}"


@asynccontextmanager
async def server_errors(
    target: Target | str | None,
    error: type[MigratorError] = MigratorError,
    outcome: str = "",
) -> AsyncIterator[None]:
    """A server error (no privilege, connection lost, a constraint) as one clear
    line with the password redacted, never a traceback. ``outcome``: what it left
    behind, appended after "; "."""
    import asyncpg

    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as err:
        if not isinstance(target, Target):
            target = Target(url=target)
        message = f"database error on {target.display}: {describe_server_error(err)}"
        if outcome:
            message += f"; {outcome}"
        raise error(redact(message, target)) from None


def shell_url(target: Target) -> str:
    """A URL for psql and other libpq tools that reaches the same database.

    Includes the password the user gave (``psql "$(tenant-migrator db-url)"`` must
    log in); drops the ``pgbouncer`` flag libpq does not know; turns libpq
    environment variables into a URL (PGPASSWORD stays in the environment).
    """
    if target.url is not None:
        return connect_options(target.url).dsn or target.url
    params = [
        (key, os.environ[var])
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"))
        if os.environ.get(var)
    ]
    dbname = quote(os.environ.get("PGDATABASE", ""), safe="")
    query = urlencode(params, safe="/")
    return f"postgresql:///{dbname}" + (f"?{query}" if query else "")
