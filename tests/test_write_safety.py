"""Production runs, safe by default (issue 12): the confirmation on a terminal, the
`target:` line, reviewed plans (`import --plan`), Ctrl-C and the server dying at
commit as one line, the exit codes for automation, `--output -`, `--format json` of
the writing commands.

Every test runs the CLI in a subprocess (a pseudo-terminal for the prompt) against a
real PostgreSQL. A URL given explicitly is "not the embedded one" (destination.py), so
the test server's URL passed as --database-url gets the question. Deterministic points
are reached by holding a lock the CLI needs and polling pg_locks until it waits.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from conftest import cli_env
from importhelpers import (
    dump_database,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    read_client,
    tenants_rows,
    write_client,
)
from processes import alive as _alive
from processes import children as _children
from test_crash import Session, start_cli, tool_backends_waiting, wait_until

from tests import schemacheck

# Trust authentication ignores it; the output must never show it.
FAKE_PASSWORD = "fake-pw-Zq81not-real"
PROMPT = "Write this? [y/N]"


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project", planted=False)


def with_password(url: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user or 'postgres'}:{FAKE_PASSWORD}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def cli(project: Path, url: str, *args: str, input: str | None = None):
    """The CLI in a subprocess without a terminal; JSON outputs checked against the schemas."""
    argv = ["--project-dir", str(project), "--database-url", url, *args]
    proc = subprocess.run(
        [sys.executable, "-m", "tenant_migrator", *argv],
        env=cli_env(),
        cwd=project,
        input=input,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    schemacheck.check_output(argv, proc.stdout, project)
    return proc


def in_terminal(project: Path, url: str, *args: str, answer: str | None) -> tuple[int, str, str]:
    """The CLI with stdin and stderr on a pseudo-terminal (stdout a pipe). When the
    prompt appears, ``answer`` is typed (None: the test expects no prompt, and fails
    the run if one appears). Returns (exit code, terminal output, stdout)."""
    master, slave = os.openpty()
    proc = start_cli(project, url, *args, stdin=slave, stderr=slave, text=False, close_fds=True)
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not answered and PROMPT.encode() in seen:
                answered = True
                assert answer is not None, f"unexpected prompt: {seen.decode(errors='replace')}"
                os.write(master, answer.encode() + b"\n")
        stdout = proc.stdout.read().decode() if proc.stdout else ""
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, seen.decode(errors="replace").replace("\r\n", "\n"), stdout


def _target_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("target: ")]


# --- the question ----------------------------------------------------------------------


def test_on_a_terminal_import_shows_counts_and_target_and_no_writes_without_yes(
    project, database_url, pg
):
    url = with_password(database_url)
    before = dump_database(pg, database_url)
    code, terminal, _ = in_terminal(project, url, "import", answer="n")
    assert code == 1, terminal
    assert PROMPT in terminal
    assert "import will write: 5 to create" in terminal
    assert "first apply 4 migration(s)" in terminal  # a migration is a write: asked first
    database = urlsplit(database_url).path.lstrip("/")
    assert f"/{database}" in terminal and "into " in terminal
    assert "not confirmed; nothing was written" in terminal
    assert FAKE_PASSWORD not in terminal
    # Not even migrated.
    assert dump_database(pg, database_url) == before
    assert pg.fetchval(database_url, "SELECT to_regclass('tenants') IS NULL")


def test_yes_typed_at_the_prompt_writes_exactly_what_was_shown(project, database_url, pg):
    code, terminal, _ = in_terminal(project, with_password(database_url), "import", answer="y")
    assert code == 0, terminal
    assert sorted(tenants_rows(pg, database_url)) == sorted(
        p.name for p in (project / "clients").iterdir()
    )
    assert len(_target_lines(terminal)) == 1
    assert FAKE_PASSWORD not in terminal


@pytest.mark.parametrize("answer", ["", "nope", "Y E S"])
def test_anything_but_y_or_yes_aborts(project, migrated_database_url, pg, answer):
    before = dump_database(pg, migrated_database_url)
    code, terminal, _ = in_terminal(project, migrated_database_url, "import", answer=answer)
    assert code == 1 and "not confirmed" in terminal
    assert dump_database(pg, migrated_database_url) == before


def test_yes_flag_skips_the_question_and_sync_and_rollback_ask_too(
    project, migrated_database_url, pg
):
    url = migrated_database_url
    code, terminal, _ = in_terminal(project, url, "import", "-y", answer=None)
    assert code == 0 and PROMPT not in terminal, terminal
    doc = read_client(project, "beachresorts")
    doc["branding"]["primary_color"] = "#010203"
    write_client(project, "beachresorts", doc)
    code, terminal, _ = in_terminal(project, url, "sync", "beachresorts", answer="no")
    assert code == 1 and "sync will write: 1 to update" in terminal
    assert tenants_rows(pg, url)["beachresorts"]["tenant_config"]["branding"]["primary_color"] != (
        "#010203"
    )
    code, terminal, _ = in_terminal(project, url, "sync", "beachresorts", answer="yes")
    assert code == 0, terminal
    run = pg.fetchval(url, "SELECT max(id) FROM tenant_migrator.import_runs")
    before = dump_database(pg, url)
    code, terminal, _ = in_terminal(project, url, "rollback", str(run), answer="n")
    assert code == 1 and f"rollback of run {run} will write: 1 to restore" in terminal
    assert dump_database(pg, url) == before
    code, terminal, _ = in_terminal(project, url, "rollback", str(run), "--yes", answer=None)
    assert code == 0, terminal


def test_without_a_terminal_nothing_is_asked_and_the_target_is_one_line(
    project, migrated_database_url
):
    result = cli(project, migrated_database_url, "import", input="n\n")
    assert result.returncode == 0, result.stderr
    assert PROMPT not in result.stderr
    (line,) = _target_lines(result.stderr)
    assert line.endswith("/" + urlsplit(migrated_database_url).path.lstrip("/"))


# --- reviewed plans ----------------------------------------------------------------------


def _changed_project(project: Path, url: str) -> None:
    """Imported once, then one file edited: the next plan has one update."""
    assert cli(project, url, "import").returncode == 0
    doc = read_client(project, "beachresorts")
    doc["branding"]["primary_color"] = "#010203"
    write_client(project, "beachresorts", doc)


def _plan(project: Path, url: str) -> dict:
    result = cli(project, url, "plan", "--format", "json", "--output", "plan.json", "--force")
    assert result.returncode == 0, result.stderr
    return json.loads((project / "plan.json").read_text())


def test_a_reviewed_plan_is_applied_exactly(project, migrated_database_url, pg):
    url = migrated_database_url
    _changed_project(project, url)
    plan = _plan(project, url)
    assert plan["review"]["tenants"]["beachresorts"]["action"] == "update"
    result = cli(project, url, "import", "--plan", "plan.json", "--yes", "--format", "json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)  # checked against import.schema.json by cli()
    assert outcome["written"] == [{"id": "beachresorts", "action": "update"}]
    row = tenants_rows(pg, url)["beachresorts"]
    assert row["tenant_config"]["branding"]["primary_color"] == "#010203"


def test_a_client_file_changed_since_the_plan_is_named_and_nothing_written(
    project, migrated_database_url, pg
):
    url = migrated_database_url
    _changed_project(project, url)
    _plan(project, url)
    doc = read_client(project, "africastay")
    doc["client"]["name"] = "Changed after review"
    write_client(project, "africastay", doc)
    before = dump_database(pg, url)
    result = cli(project, url, "import", "--plan", "plan.json")
    assert result.returncode == 1
    assert "clients/africastay/client.yaml (africastay) changed since the plan" in result.stderr
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert dump_database(pg, url) == before


def test_a_row_edited_in_the_database_since_the_plan_is_named_and_nothing_written(
    project, migrated_database_url, pg
):
    url = migrated_database_url
    _changed_project(project, url)
    _plan(project, url)
    pg.execute(url, "UPDATE tenants SET name = 'Edited after review' WHERE id = 'beachresorts'")
    before = dump_database(pg, url)
    result = cli(project, url, "import", "--plan", "plan.json")
    assert result.returncode == 1
    assert "tenant beachresorts: its row changed in the database since the plan" in result.stderr
    assert dump_database(pg, url) == before


def test_a_plan_of_another_version_or_database_is_refused(
    project, migrated_database_url, reference_database_url, pg
):
    url = migrated_database_url
    _changed_project(project, url)
    plan = _plan(project, url)
    plan["review"]["tool_version"] = "0.0.1"
    (project / "old.json").write_text(json.dumps(plan))
    before = dump_database(pg, url)
    result = cli(project, url, "import", "--plan", "old.json")
    assert result.returncode == 1
    assert "made by tenant-migrator 0.0.1, this is" in result.stderr
    other = cli(project, reference_database_url, "import", "--plan", "plan.json")
    assert other.returncode == 1 and "the plan was made for" in other.stderr
    assert dump_database(pg, url) == before
    assert pg.fetchval(reference_database_url, "SELECT count(*) FROM tenants") == 0


def test_plan_options_that_would_change_a_reviewed_plan_are_usage_errors(
    project, migrated_database_url
):
    _plan(project, migrated_database_url)
    result = cli(project, migrated_database_url, "import", "--plan", "plan.json", "africastay")
    assert result.returncode == 2 and "drop TENANT" in result.stderr
    (project / "junk.json").write_text("{not json")
    result = cli(project, migrated_database_url, "import", "--plan", "junk.json")
    assert result.returncode == 2 and "junk.json:1:2: not JSON" in result.stderr


# --- files ---------------------------------------------------------------------------------


def test_plan_output_refuses_an_existing_file_and_dash_is_stdout(project, migrated_database_url):
    (project / "plan.json").write_text("keep me")
    result = cli(
        project, migrated_database_url, "plan", "--format", "json", "--output", "plan.json"
    )
    assert result.returncode == 1 and "already exists; pass --force" in result.stderr
    assert (project / "plan.json").read_text() == "keep me"
    result = cli(project, migrated_database_url, "plan", "--format", "json", "--output", "-")
    assert result.returncode == 0 and json.loads(result.stdout)["summary"]["create"] == 5
    assert not (project / "-").exists()


# --- exit codes and JSON -----------------------------------------------------------------


def test_migrate_status_check_and_migrate_json(project, database_url):
    status = cli(project, database_url, "migrate", "status", "--check", "--format", "json")
    assert status.returncode == 1 and {r["state"] for r in json.loads(status.stdout)} == {"pending"}
    migrated = cli(project, database_url, "migrate", "--format", "json")
    assert migrated.returncode == 0, migrated.stderr
    assert [a["name"] for a in json.loads(migrated.stdout)["applied"]] == [
        "tenants_registry",
        "tenant_config",
        "import_history",
        "import_fingerprints",
    ]
    assert len(_target_lines(migrated.stderr)) == 1
    assert cli(project, database_url, "migrate", "status", "--check").returncode == 0


def test_rollback_dry_run_exits_1_when_the_rollback_would_refuse(
    project, migrated_database_url, pg
):
    url = migrated_database_url
    assert cli(project, url, "import").returncode == 0
    clean = cli(project, url, "rollback", "1", "--dry-run", "--format", "json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["would_refuse"] is False
    pg.execute(url, "UPDATE tenants SET name = 'Admin' WHERE id = 'africastay'")
    refused = cli(project, url, "rollback", "1", "--dry-run", "--format", "json")
    assert refused.returncode == 1
    report = json.loads(refused.stdout)
    assert report["would_refuse"] and report["ok"] is False
    assert [e["tenant"] for e in report["entries"] if e["changed_since"]] == ["africastay"]
    assert cli(project, url, "rollback", "1").returncode == 1  # as the dry run said
    forced = cli(project, url, "rollback", "1", "--dry-run", "--force")
    assert forced.returncode == 0


def test_sync_and_export_json(project, migrated_database_url):
    url = migrated_database_url
    synced = cli(project, url, "sync", "africastay", "--format", "json")
    assert synced.returncode == 0, synced.stderr
    outcome = json.loads(synced.stdout)
    assert outcome["command"] == "sync" and outcome["written"] == [
        {"id": "africastay", "action": "create"}
    ]
    exported = cli(project, url, "export", "africastay", "--format", "json")
    assert exported.returncode == 0
    meta = json.loads(exported.stdout)
    assert meta["tenant"] == "africastay" and "\nclient:\n" in meta["yaml"]
    to_file = cli(project, url, "export", "africastay", "--format", "json", "--output", "out.yaml")
    assert json.loads(to_file.stdout)["file"] == "out.yaml"
    assert (project / "out.yaml").read_text() == meta["yaml"]


# --- Ctrl-C and the server dying -----------------------------------------------------------


def _as_from_a_terminal() -> None:
    # A shell's background job (CI runners, `nohup … &`) starts with SIGINT ignored,
    # and an ignored signal stays ignored across exec: Ctrl-C would never reach the
    # CLI. From a terminal it has the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(project: Path, url: str, *args: str) -> subprocess.Popen:
    """In its own process group, so a SIGINT to the group is a terminal's Ctrl-C."""
    return start_cli(project, url, *args, start_new_session=True, preexec_fn=_as_from_a_terminal)


def _many_tenants(project: Path, count: int) -> None:
    """Above pipeline.POOL_MIN_FILES, so the files go through the process pool."""
    doc = read_client(project, "safariexplore-kvph")
    for i in range(count):
        tid = f"bulk{i:04d}"
        copy = json.loads(json.dumps(doc))
        copy["client"]["id"] = tid
        write_client(project, tid, copy)


@pytest.mark.parametrize("command", ["plan", "import"])
def test_ctrl_c_is_one_line_exit_130_no_worker_left_nothing_written(
    project, migrated_database_url, pg, command
):
    url = migrated_database_url
    _many_tenants(project, 240)
    before = dump_database(pg, url)
    holder, watcher = Session(url), Session(url)
    try:
        holder.execute("BEGIN")
        # plan: its first read of the table waits; import: its first write waits,
        # while the process pool holds the next batches.
        mode = "ACCESS EXCLUSIVE" if command == "plan" else "SHARE"
        holder.execute(f"LOCK TABLE tenants IN {mode} MODE")
        proc = _start(project, url, command)
        wait_until(lambda: tool_backends_waiting(watcher, "tenants"), "the CLI waits on tenants")
        workers = _children(proc.pid)
        # import: the pool started with its first batch and waits for the next; plan
        # waits before it reads a file (its first query of the table).
        assert bool(workers) == (command == "import"), workers
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        watcher.close()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("target: ")]
    assert lines == ["interrupted; nothing was written"], stderr
    assert not [w for w in workers if _alive(w)]
    assert dump_database(pg, url) == before


def test_server_gone_at_commit_is_one_line_exit_1_and_nothing_committed(
    project, migrated_database_url, pg
):
    url = migrated_database_url
    # A deferred constraint trigger fires at COMMIT and waits for an advisory lock the
    # test holds: the import is stopped exactly at its commit.
    pg.execute(
        url,
        """
        CREATE FUNCTION test_wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_lock(4242); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER test_wait_at_commit AFTER INSERT ON tenants
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_wait_at_commit();
        """,
    )
    before = dump_database(pg, url)
    holder, watcher = Session(url), Session(url)
    try:
        holder.execute("SELECT pg_advisory_lock(4242)")
        proc = _start(project, url, "import")
        (pid,) = wait_until(
            lambda: tool_backends_waiting(watcher, None), "the import waits at its commit"
        )
        watcher.execute("SELECT pg_terminate_backend($1)", pid)
        _, stderr = proc.communicate(timeout=120)
    finally:
        holder.close()
        watcher.close()
    assert proc.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("target: ")]
    assert len(lines) == 1 and lines[0].startswith("error: database error on "), stderr
    assert "may or may not have been committed" in lines[0]
    assert dump_database(pg, url) == before
