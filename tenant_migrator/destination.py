"""Which database a command writes to, said without the password: host, port,
database, user (``Destination``).

Used for the one ``target: …`` line every writing command prints on stderr, for
the confirmation prompt, and for the ``target`` a reviewed plan file carries (an
``import --plan`` against another database is refused).

Only the fallback is "the embedded one": a URL given explicitly (``--database-url``,
``DATABASE_URL``) or libpq's environment counts as another database even when it
points at the project's own embedded server — whoever typed a URL gets asked.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from tenant_migrator.settings import Settings, Target

DEFAULT_PORT = 5432


@dataclass(frozen=True, slots=True)
class Destination:
    embedded: bool
    host: str | None
    port: int | None
    database: str | None
    user: str | None
    data_dir: str | None = None  # the embedded server's data directory

    def describe(self) -> str:
        """``user@host:port/database``, or the embedded server and its data dir."""
        if self.embedded:
            return f"embedded PostgreSQL in {self.data_dir}"
        host = self.host or "localhost"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # an IPv6 address
        return f"{self.user}@{host}:{self.port}/{self.database}"

    def line(self) -> str:
        return f"target: {self.describe()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "embedded": self.embedded,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "data_dir": self.data_dir,
        }

    def same_database(self, other: Destination) -> bool:
        """The same server and database; the user may differ (a read-only role may
        make the plan a writing role applies)."""
        if self.embedded or other.embedded:
            return self.embedded == other.embedded and self.data_dir == other.data_dir
        return (self.host, self.port, self.database) == (other.host, other.port, other.database)

    @classmethod
    def from_json(cls, data: Any) -> Destination | None:
        if not isinstance(data, dict):
            return None
        port = data.get("port")
        return cls(
            embedded=bool(data.get("embedded")),
            host=_str(data.get("host")),
            port=port if isinstance(port, int) else None,
            database=_str(data.get("database")),
            user=_str(data.get("user")),
            data_dir=_str(data.get("data_dir")),
        )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def of_target(target: Target, settings: Settings) -> Destination:
    if target.embedded:
        from tenant_migrator import embedded

        return Destination(
            True, None, None, None, None, str(embedded.pgdata_dir(settings.state_dir))
        )
    if target.url is None:
        return from_environment(os.environ)
    from tenant_migrator.database import check_url

    check_url(target.url)
    return from_url(target.url, os.environ)


def from_environment(environ: Any) -> Destination:
    """libpq's variables, with libpq's defaults."""
    user = environ.get("PGUSER") or _os_user()
    port = environ.get("PGPORT", "")
    return Destination(
        False,
        environ.get("PGHOST") or "localhost",
        int(port) if port.isdigit() else DEFAULT_PORT,
        environ.get("PGDATABASE") or user,
        user,
    )


def from_url(url: str, environ: Any) -> Destination:
    """The parts of a URL ``database.url_problem`` accepted (query ``host=``, ``port=``,
    ``user=``, ``dbname=`` as libpq reads them; the rest from libpq's environment)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    netloc = parts.netloc.rpartition("@")[2]
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    user = unquote(userinfo.partition(":")[0]) or query.get("user") or environ.get("PGUSER")
    user = user or _os_user()
    host, port = _host_port(netloc)
    host = host or query.get("host") or environ.get("PGHOST") or "localhost"
    port_text = port or query.get("port") or environ.get("PGPORT") or ""
    database = unquote(parts.path.lstrip("/")) or query.get("dbname") or environ.get("PGDATABASE")
    return Destination(
        False,
        host,
        int(port_text) if port_text.isdigit() else DEFAULT_PORT,
        database or user,
        user,
    )


def _host_port(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, rest.lstrip(":")
    host, _, port = netloc.partition(":")
    return unquote(host), port


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return "postgres"


def resolve(settings: Settings) -> Destination:
    """The destination of this invocation: of the target ``settings`` carry, else
    resolved now (which starts the embedded server if it is that)."""
    from tenant_migrator import database

    return of_target(database.target_of(settings), settings)
