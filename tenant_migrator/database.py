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

import json
import os
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from tenant_migrator.errors import DatabaseUnavailable, InvalidDatabaseURL, MigratorError
from tenant_migrator.settings import Settings, Target  # Target: re-exported

if TYPE_CHECKING:
    import asyncpg

POOLER_PORT = 6543
CONNECT_TIMEOUT_S = 10.0
APPLICATION_NAME = "tenant-migrator"
_SCHEMES = ("postgresql", "postgres")


def display(target: Target) -> str:
    """Where we connect, safe to print (no password)."""
    if target.url is None:
        return describe_env()
    return redact_url(target.url)


def target_of(settings: Settings) -> Target:
    """The database ``settings`` point at: the target they carry (the CLI resolved
    it once for the invocation), else resolved now (a Python-API caller's settings)."""
    return settings.target if settings.target is not None else resolve_target(settings)


def resolve_target(settings: Settings, *, announce: bool = True) -> Target:
    """The database this invocation talks to. Starts the embedded server if needed.

    With ``announce``, says (through ``settings.notify``) that the embedded server
    is used: each call says it, so a caller resolves once (``Settings.target``) and
    the notice is shown once.
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
    if settings.notify is None:
        return
    settings.notify(
        f"Using a local embedded PostgreSQL in {settings.state_dir / 'pgdata'}, not Supabase "
        "(pass --database-url or set DATABASE_URL for a real database; "
        "`tenant-migrator db-stop` stops it)."
    )


# --- URLs -------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages).

    A URL that ``url_problem`` refuses is not shown at all: where its password
    ends cannot be told (that is what is wrong with it).
    """
    if url_problem(url) is not None:
        return "<malformed database URL, not shown>"
    parts = urlsplit(url)
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


_ENCODE_HINT = (
    "percent-encode / ? # @ : [ ] % in it (%2F %3F %23 %40 %3A %5B %5D %25), or leave the "
    "password out of the URL and set PGPASSWORD or use a PGPASSFILE"
)


def url_problem(url: str) -> str | None:
    """What is structurally wrong with ``url``, in words that quote none of it; or None.

    Checked before asyncpg or urllib see the URL, because both report what they
    trip on verbatim (``invalid literal for int() with base 10: '<half of the
    password>'``): a password holding ``/ ? # @`` unencoded ends the user part
    early, and its pieces become a host, a port, a path.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        # Not echoed: something that is not a URL may well be a pasted password.
        return (
            "it must start with postgresql:// "
            "(e.g. postgresql://postgres:PASSWORD@db.PROJECT.supabase.co:5432/postgres)"
        )
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    after = rest[len(netloc) :]
    if netloc.count("@") > 1 or ("@" not in netloc and "@" in after):
        return f"the password (or user name) holds a character URLs reserve: {_ENCODE_HINT}"
    try:
        urlsplit(url)
    except ValueError:
        return f"it cannot be parsed ([ or ] outside an IPv6 host?); in a password, {_ENCODE_HINT}"
    hosts = netloc.rpartition("@")[2]
    for host in hosts.split(","):
        port = host.rpartition("]")[2].rpartition(":")[2] if ":" in host else ""
        if ":" in host.rpartition("]")[2] and not (port.isdigit() and 0 < int(port) < 65536):
            return f"a port is not a number from 1 to 65535; in a password, {_ENCODE_HINT}"
    return None


def check_url(url: str) -> None:
    """Refuse a malformed URL (exit 2), in words that quote none of it."""
    if problem := url_problem(url):
        raise InvalidDatabaseURL(f"invalid database URL: {problem}")


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
    check_url(url)
    parts = urlsplit(url)
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
        await _close(conn)


async def _close(conn: asyncpg.Connection) -> None:
    """Close, or drop a connection the server already lost (closing it politely
    would raise over the error that explains what happened)."""
    import asyncpg

    try:
        await conn.close()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError):
        conn.terminate()


def translate_connect_error(err: BaseException, target: Target) -> DatabaseUnavailable:
    """One line saying what failed and what to do, with any password redacted."""
    import asyncpg

    where = display(target)
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
    """Remove the target's password from ``message``: whole (raw and URL-encoded),
    and any piece of it a mis-parse could have cut out and quoted (see
    ``password_candidates``)."""
    whole: set[str] = set()
    pieces: set[str] = set()
    if target.url is not None:
        whole, pieces = password_candidates(target.url)
    if env_password := os.environ.get("PGPASSWORD"):
        whole.add(env_password)
    for secret in sorted(whole, key=len, reverse=True):
        message = message.replace(secret, "***")
    for piece in sorted(pieces - whole, key=len, reverse=True):
        # Pieces as whole tokens only: a short one must not eat ordinary words.
        message = re.sub(rf"(?<![A-Za-z0-9]){re.escape(piece)}(?![A-Za-z0-9])", "***", message)
    return message


def password_candidates(url: str) -> tuple[set[str], set[str]]:
    """(whole, pieces): what in ``url`` may be a password, however malformed it is.

    Whole: the password as parsed, the widest span it could be (from the first
    ``:`` of the user part to the last ``@``), their decoded forms, and
    ``password=`` query values; the whole text when it is no postgresql:// URL.
    Pieces: every run of the widest span between URL delimiters (``/ ? # @ : [ ]
    , & =``), which is what a parser that split there would quote.
    """
    whole: set[str] = set()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        return {url.strip()} - {""}, set()
    if (password := url_password(url)) is not None:
        whole |= {password, quote(password, safe="")}
    whole |= set(re.findall(r"[?&]password=([^&#]*)", url, flags=re.IGNORECASE))
    last_at = rest.rfind("@")
    userinfo = rest[:last_at] if last_at >= 0 else ""
    span = userinfo.partition(":")[2]
    whole |= {span, unquote(span)}
    tokens = re.split(r"([/?#@:\[\],&=])", span)
    runs = {
        "".join(tokens[i : j + 1]).strip("/?#@:[],&=")
        for i in range(0, len(tokens), 2)
        for j in range(i, len(tokens), 2)
    }
    whole = {w for w in whole if w}
    return whole, {r for r in runs if len(r) >= 2}


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
    outcome: str | Callable[[], str] = "",
) -> AsyncIterator[None]:
    """A server error (no privilege, connection lost, a constraint) as one clear
    line with the password redacted, never a traceback. ``outcome``: what it left
    behind (or a function saying it, asked when the error happens), appended after "; ".

    ``InternalClientError`` too: asyncpg raises it (not an ``InterfaceError``) when
    the server goes away in the middle of a COMMIT."""
    import asyncpg

    try:
        yield
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
    ) as err:
        if not isinstance(target, Target):
            target = Target(url=target)
        message = f"database error on {display(target)}: {describe_server_error(err)}"
        said = outcome() if callable(outcome) else outcome
        if said:
            message += f"; {said}"
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


# --- one round trip ---------------------------------------------------------------------


async def fetch_json(conn: asyncpg.Connection, expression: str) -> Any:
    """The JSON value of ``expression`` (json, jsonb, or text holding JSON; NULL
    reads as None), in ONE round trip.

    asyncpg prepares every statement that returns rows (a Parse/Describe round
    trip, then Bind/Execute: two against a remote server on every new
    connection, and always behind a transaction pooler). ``COPY (…) TO STDOUT``
    goes as a simple query: one round trip, and it works through the pooler. So
    ``expression`` takes no parameters: only constants of the code, or values
    quoted by ``literal``.
    """
    return await fetch_json_statement(conn, f"SELECT coalesce(({expression})::text, 'null')")


async def fetch_json_statement(conn: asyncpg.Connection, statement: str) -> Any:
    """As ``fetch_json``, for a whole statement selecting one row of one JSON
    column (a ``WITH`` that writes must be at the top: the writer's upsert)."""
    chunks: list[bytes] = []

    async def sink(data: bytes) -> None:
        chunks.append(bytes(data))

    await conn.copy_from_query(statement, output=sink, format="csv")
    return json.loads(field) if (field := csv_field(b"".join(chunks).decode("utf-8"))) else None


def csv_field(line: str) -> str:
    """The one field of a one-column CSV row as COPY writes it: quoted (inner
    quotes doubled) when it holds a comma, a quote or a line break; NULL empty.
    (The csv module refuses fields over 128 KB: a read of thousands of rows is one.)"""
    line = line.removesuffix("\n")
    if line.startswith('"'):
        return line[1:-1].replace('""', '"')
    return line


def literal(value: str | int | bool | None) -> str:
    """``value`` as an SQL literal, for the statements of ``fetch_json``.

    An escape string (``E'…'``): backslashes and quotes doubled, so the text
    means exactly ``value`` whatever ``standard_conforming_strings`` says. NUL
    cannot be sent at all (PostgreSQL text holds none): refused.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if "\0" in value:
        raise ValueError("a NUL character cannot be sent to PostgreSQL")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def text_array(values: Iterable[str]) -> str:
    """``values`` as a ``text[]`` literal expression (``ARRAY[…]::text[]``)."""
    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]::text[]"
