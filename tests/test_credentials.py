"""No part of a database password in any message, whatever the URL looks like;
none in the process list either (issue 11, "Credentials").

Every URL below plants a password made of distinctive fragments (``Qx1a``,
``Qx1b`` …) around the characters a URL reserves; the CLI must say what is wrong
without any fragment in stdout or stderr.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

from tenant_migrator import database, process_title

# (URL, what the one-line error says). {a} {b} {c}: fragments of the password.
MALFORMED = [
    ("postgresql://postgres:{a}/{b}@127.0.0.1:5432/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}#{b}@127.0.0.1:5432/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}?{b}@127.0.0.1:5432/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}@{b}@127.0.0.1:5432/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}/{b}#{c}@127.0.0.1/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}?x={b}&y=@127.0.0.1/postgres", "invalid database URL"),
    ("postgresql://postgres:4417/{b}@127.0.0.1/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}[{b}@127.0.0.1/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}]{b}@127.0.0.1/postgres", "invalid database URL"),
    ("postgresql://postgres:{a}@127.0.0.1:{b}/postgres", "a port is not a number"),
    ("postgresql://postgres:{a}@h1:5432,127.0.0.1:{b}/postgres", "a port is not a number"),
    ("postgresql://postgres:{a}:{b}@127.0.0.1:1/postgres", "connection refused"),
    ("postgresql://postgres:{a}%zz{b}@127.0.0.1:1/postgres", "connection refused"),
    ("postgresql://postgres:{a} {b}@127.0.0.1:1/postgres", "connection refused"),
    ("postgresql://postgres@127.0.0.1:1/postgres?password={a}", "connection refused"),
    ("postgresql://postgres:{a}%2F{b}@127.0.0.1:1/postgres", "connection refused"),
    ("http://postgres:{a}/{b}@127.0.0.1/postgres", "must start with postgresql://"),
    ("{a}/{b}#{c}", "must start with postgresql://"),
]


def _plant(template: str, n: int) -> tuple[str, list[str]]:
    fragments = [f"Qx{n}a", f"Qx{n}b", f"Qx{n}c"]
    return template.format(a=fragments[0], b=fragments[1], c=fragments[2]), fragments


def _exit_code(expected: str) -> int:
    """A URL refused before connecting is a usage error (2); a failed connection is 1."""
    return 1 if expected == "connection refused" else 2


def _assert_clean(result, expected: str, fragments: list[str]) -> None:
    assert result.returncode == _exit_code(expected), result
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    for fragment in fragments:
        assert fragment not in result.output, (fragment, result.output)


@pytest.mark.parametrize(("template", "expected"), MALFORMED)
def test_no_fragment_of_the_password_in_any_message_from_the_option(run_cli, template, expected):
    url, fragments = _plant(template, MALFORMED.index((template, expected)))
    # db-url prints a well-formed URL as given (that is its job); a refused one not.
    refused = expected != "connection refused"
    for command in [("migrate", "status")] + [("db-url",)] * refused:
        _assert_clean(run_cli("--database-url", url, *command), expected, fragments)


@pytest.mark.parametrize(("template", "expected"), MALFORMED)
def test_no_fragment_of_the_password_in_any_message_from_database_url(run_cli, template, expected):
    url, fragments = _plant(template, MALFORMED.index((template, expected)))
    _assert_clean(run_cli("plan", env={"DATABASE_URL": url}), expected, fragments)


def test_an_unencoded_password_is_refused_with_how_to_encode_it(run_cli):
    result = run_cli("--database-url", "postgresql://u:Qx9a/Qx9b@db.example.com/postgres", "plan")
    assert "%2F" in result.stderr and "PGPASSWORD" in result.stderr
    assert "Qx9" not in result.output


def test_redact_removes_every_piece_a_parser_could_quote():
    target = database.Target(url="postgresql://u:Zq7a/Frag1#Tail9@h:5432/db")
    message = "invalid literal for int() with base 10: 'Zq7a'; path /Frag1; #Tail9@h"
    redacted = database.redact(message, target)
    for piece in ("Zq7a", "Frag1", "Tail9"):
        assert piece not in redacted
    # Pieces are removed as whole tokens, not out of ordinary words.
    assert database.redact("database", database.Target(url="postgresql://u:ab/ta@h/d")) == (
        "database"
    )


def test_a_well_formed_url_still_connects_after_the_checks(database_url, pg):
    # The structural checks refuse nothing a real server URL looks like.
    assert database.url_problem(database_url) is None
    assert pg.fetchval(database_url, "SELECT 1") == 1
    for url in (
        "postgresql://postgres.abcdefghijklmnop:p%2Fw%40rd@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?pgbouncer=true",
        "postgresql://postgres@/postgres?host=/tmp/tenant-migrator-x",
        "postgresql://u:p@[::1]:5432/db",
        "postgresql://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write",
        "postgres://u@h/db",
    ):
        assert database.url_problem(url) is None, url


# --- the process list -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://u:Qx5a/Qx5b#Qx5c@h:5432/db",
        "postgresql://u:Qx5a@h/db?sslmode=require&password=Qx5b",
        "Qx5a-a-pasted-password-Qx5b",
        "postgresql://u:Qx5a@Qx5b@h/db",
    ],
)
def test_mask_url_keeps_the_length_and_no_fragment(value):
    masked = process_title.mask_url(value.encode())
    assert len(masked) == len(value.encode())
    assert b"Qx5" not in masked


def test_masked_cmdline_covers_both_option_forms():
    raw = b"python\0-m\0tenant_migrator\0--database-url\0postgresql://u:Qx6a@h/db\0plan\0"
    assert b"Qx6" not in process_title.masked_cmdline(raw)
    raw = b"tenant-migrator\0--database-url=postgresql://u:Qx6b@h/db\0plan\0"
    masked = process_title.masked_cmdline(raw)
    assert b"Qx6" not in masked and masked.startswith(b"tenant-migrator\0--database-url=")


def _cmdline(pid: int | str = "self") -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _worker_cmdlines() -> tuple[bytes, bytes]:
    return _cmdline(), _cmdline(os.getppid())


_FORK_PROGRAM = """
import multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
from tenant_migrator.process_title import hide_database_url
sys.path.insert(0, sys.argv[1])
import test_credentials
hide_database_url()
pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
mine, parent = pool.submit(test_credentials._worker_cmdlines).result()
pool.shutdown()
main = open("/proc/self/cmdline", "rb").read()
sys.stdout.buffer.write(mine + b"\\n--\\n" + parent + b"\\n--\\n" + main)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/PID/cmdline is Linux's")
def test_forked_pool_workers_and_the_main_process_show_no_password():
    """The pool's mechanism (ProcessPoolExecutor, fork), measured in /proc."""
    url = "postgresql://postgres:Qx7a/Qx7b@db.example.com:5432/postgres"
    assert "fork" in multiprocessing.get_all_start_methods()
    out = subprocess.run(
        [sys.executable, "-c", _FORK_PROGRAM, str(Path(__file__).parent), "--database-url", url],
        capture_output=True,
        check=True,
    ).stdout
    worker, parent, main = out.split(b"\n--\n")
    for cmdline in (worker, parent, main):
        assert b"--database-url" in cmdline and b"db.example.com" in cmdline
        assert b"Qx7" not in cmdline, cmdline


def _entry_points() -> list[list[str]]:
    script = Path(sys.executable).parent / "tenant-migrator"
    return [[sys.executable, "-m", "tenant_migrator"]] + (
        [[str(script)]] if script.exists() else []
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/PID/cmdline is Linux's")
@pytest.mark.parametrize("entry", _entry_points(), ids=lambda e: Path(e[-1]).name)
def test_the_running_cli_shows_no_password_in_the_process_list(tmp_path, entry):
    """Caught mid-run: it connects to a socket of ours, which we hold unanswered
    while reading its /proc/PID/cmdline (what ps shows every local user)."""
    (tmp_path / "clients").mkdir()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"postgresql://postgres:Qx8a%2FQx8b@127.0.0.1:{port}/postgres"
        proc = subprocess.Popen(
            [*entry, "--database-url", url, "migrate", "status"],
            cwd=tmp_path,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            listener.settimeout(60)
            connection, _ = listener.accept()
            cmdline = _cmdline(proc.pid)
            connection.close()
        finally:
            _, stderr = proc.communicate(timeout=60)
    assert b"--database-url" in cmdline and f"127.0.0.1:{port}".encode() in cmdline
    assert b"Qx8" not in cmdline, cmdline
    assert proc.returncode == 1 and b"Qx8" not in stderr


def test_help_says_the_command_line_is_visible_and_what_to_use_instead(run_cli):
    text = re.sub(r"[\s│]+", " ", run_cli("--help").stdout)
    assert "visible to every local user in the process list" in text
    for name in ("DATABASE_URL", "PGPASSWORD", "PGPASSFILE"):
        assert name in text
