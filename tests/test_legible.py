"""Output people can read, at 5 tenants and at 10,000, and the conventions people type
without thinking (issue 12). Every test runs the CLI as a subprocess."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from clientdocs import make_project, valid_document, write_client

from tests.conftest import cli_env

LONG_LOGO = "https://cdn.acme.example/branding/" + "/".join(f"segment{i:02d}" for i in range(14))


def _documents(count: int) -> dict[str, dict]:
    return {f"t{n:03d}": valid_document(f"t{n:03d}") for n in range(count)}


@pytest.fixture
def imported_25(tmp_path, run_cli, migrated_database_url):
    """25 tenants imported; returns (project, tm) where tm runs against the database."""
    project = make_project(tmp_path / "p", _documents(25))

    def tm(*args, env=None):
        return run_cli(
            "--project-dir", project, "--database-url", migrated_database_url, *args, env=env
        )

    # Progress without a terminal: with the interval at 0, a line at every update.
    imported = tm("import", env={"TENANT_MIGRATOR_PROGRESS_INTERVAL": "0"})
    assert imported.returncode == 0, imported.output
    assert re.search(
        r"^still loading client files, planning and writing: 25 of 25 \[\d+s elapsed\]$",
        imported.stderr,
        re.MULTILINE,
    ), imported.stderr
    return project, tm


# --- conventions ------------------------------------------------------------------------


def test_version_and_short_help(run_cli):
    from tenant_migrator import __version__

    assert run_cli("--version").stdout.strip() == f"tenant-migrator {__version__}"
    short, long = run_cli("plan", "-h"), run_cli("plan", "--help")
    assert short.returncode == 0 and short.stdout == long.stdout
    assert "--install-completion" in run_cli("-h").stdout
    # Typer detects the shell from the process tree, which depends on how pytest was
    # started; its own switch makes --show-completion take the shell by name.
    shown = run_cli(
        "--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    )
    assert shown.returncode == 0 and "complete -o default -F" in shown.stdout


def test_help_lists_commands_in_pipeline_order_without_type_placeholders(run_cli):
    top = run_cli("--help").stdout
    order = [
        "validate",
        "check-env",
        "plan",
        "import",
        "sync",
        "history",
        "rollback",
        "audit",
        "export",
        "migrate",
        "db-url",
        "db-stop",
    ]
    listed = [m.group(1) for m in re.finditer(r"^│ ([a-z-]+)\s{2,}", top, re.MULTILINE)]
    assert [name for name in listed if name in order] == order
    for args in (["--help"], ["plan", "--help"], ["sync", "--help"], ["migrate", "repair", "-h"]):
        shown = run_cli(*args).stdout
        assert "<bool>" not in shown and "<list[str]>" not in shown, args
        assert not re.search(r"(?<!\$)\{[A-Z_.]+\}", shown), args
    assert re.search(r"Usage: .* sync \[OPTIONS\] TENANT\s", run_cli("sync", "-h").stdout)


def test_usage_errors_carry_no_internal_prefix(run_cli):
    result = run_cli("plan", "--format", "xml")
    assert result.returncode == 2
    assert "is not one of" in result.stderr and "Value error" not in result.stderr


def test_global_options_after_the_command(tmp_path, run_cli, migrated_database_url):
    project = make_project(tmp_path / "p", _documents(2))
    before = run_cli("--project-dir", project, "--database-url", migrated_database_url, "plan")
    after = run_cli("plan", "--project-dir", project, "--database-url", migrated_database_url)
    assert after.returncode == before.returncode == 0, after.output
    assert "No such option" not in after.stderr and after.stdout == before.stdout
    assert "Plan: 2 to create" in after.stdout
    # The option after the command wins over the environment's DATABASE_URL.
    env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    over = run_cli(
        "plan", "--project-dir", project, "--database-url", migrated_database_url, env=env
    )
    assert over.returncode == 0, over.output
    history = run_cli(
        "migrate", "status", "--database-url", migrated_database_url, "-q", "--project-dir", project
    )
    assert history.returncode == 0 and "tenant_config" in history.stdout


def test_quiet_silences_notices_not_errors(tmp_path, run_cli):
    project = make_project(tmp_path / "p", {"acme": valid_document("acme")})
    loud = run_cli("--project-dir", project, "validate", "--secrets-out", tmp_path / "a.env")
    assert "wrote 0 secret value(s)" in loud.stderr
    quiet = run_cli("validate", "-q", "--project-dir", project, "--secrets-out", tmp_path / "b.env")
    assert quiet.returncode == 0 and quiet.stderr == ""
    failed = run_cli("-q", "--project-dir", project, "validate", "nosuchtenant")
    assert failed.returncode == 2 and "nosuchtenant" in failed.stderr


def test_quiet_silences_the_embedded_server_notice(run_cli):
    # A short path: a word longer than the terminal (pytest's tmp paths are) can only
    # be folded.
    project = Path(tempfile.mkdtemp(prefix="tm-", dir="/tmp"))
    (project / "clients").mkdir()
    try:
        loud = run_cli("db-url", cwd=project)
        assert "local embedded PostgreSQL" in loud.stderr
        # The notice is one whole line in a pipe, whatever the width.
        assert len(loud.stderr.strip().splitlines()) == 1
        quiet = run_cli("db-url", "-q", cwd=project)
        assert quiet.returncode == 0 and quiet.stderr == ""
        assert quiet.stdout == loud.stdout
        # On an 80-column terminal the notice wraps between words, never inside one.
        code, _, shown = _stderr_on_a_terminal(["db-url"], project, {"COLUMNS": "80"})
        assert code == 0
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in shown.splitlines()]
        lines = [line.rstrip() for line in lines if line.strip()]
        assert len(lines) > 1 and all(len(line) <= 80 for line in lines), lines
        assert " ".join(lines) == loud.stderr.strip()
    finally:
        run_cli("db-stop", cwd=project)
        shutil.rmtree(project, ignore_errors=True)


# --- output at scale --------------------------------------------------------------------


def test_identical_changes_are_one_line_and_the_summary_is_last(imported_25):
    project, tm = imported_25
    for n in range(25):
        document = valid_document(f"t{n:03d}")
        document["destinations"][0]["enabled"] = False
        write_client(project, f"t{n:03d}", document)
    plan = tm("plan")
    assert plan.returncode == 0, plan.output
    lines = plan.stdout.rstrip().splitlines()
    grouped = [line for line in lines if "25 tenants:" in line]
    assert grouped == [
        "~ 25 tenants: /tenant_config/destinations/0/enabled true → false  "
        "(t000, t001, t002 and 22 more)"
    ]
    assert not any(line.startswith("~ t0") for line in lines)  # no tree per tenant
    assert lines[-1].startswith("Plan: 0 to create, 25 to update")
    verbose = tm("plan", "--verbose")
    assert verbose.stdout.count("~ t0") == 25 and "25 tenants:" not in verbose.stdout
    assert verbose.stdout.rstrip().splitlines()[-1] == lines[-1]


def test_validate_at_scale_prints_a_screenful(tmp_path, run_cli):
    documents = _documents(120)
    for document in documents.values():
        document["infrastructure"]["supabase"]["service_key"] = "fake-service-key-value"
    project = make_project(tmp_path / "p", documents)
    terse = run_cli("--project-dir", project, "validate")
    assert terse.returncode == 0, terse.output
    assert len(terse.stdout.splitlines()) < 15
    assert "120 tenants: /infrastructure/supabase/service_key  removed from tenant_config" in (
        terse.stdout
    )
    assert terse.stdout.rstrip().splitlines()[-1].startswith("120 of 120 tenants valid")
    verbose = run_cli("--project-dir", project, "validate", "-v")
    assert verbose.stdout.count("removed from tenant_config (never stored") == 120


def test_check_env_groups_per_tenant_variables_and_has_markdown(tmp_path, run_cli):
    documents = _documents(60)
    for tenant_id, document in documents.items():
        document["email"]["smtp"]["password"] = f"${{{tenant_id.upper()}_SMTP_PASSWORD}}"
    project = make_project(tmp_path / "p", documents)
    text = run_cli("--project-dir", project, "check-env")
    assert text.returncode == 1
    assert len(text.stdout.splitlines()) < 15, text.stdout
    assert re.search(r"T000_SMTP_PASSWORD … \(60, one per tenant\)\s+│ MISSING", text.stdout)
    assert text.stdout.rstrip().splitlines()[-1].startswith("62 of 62 variables are not set") or (
        "variables are not set" in text.stdout.rstrip().splitlines()[-1]
    )
    every = run_cli("--project-dir", project, "check-env", "--verbose")
    assert every.stdout.count("_SMTP_PASSWORD") == 60
    markdown = run_cli("--project-dir", project, "check-env", "--format", "markdown")
    assert markdown.returncode == 1
    assert markdown.stdout.startswith("| variable | status | tenants |\n| --- | --- | --- |\n")
    assert "| **missing** |" in markdown.stdout and "variables are not set" in markdown.stdout


# --- values whole, 80 columns, pipes ----------------------------------------------------


def test_values_are_shown_whole_in_text_and_markdown(imported_25):
    project, tm = imported_25
    document = valid_document("t003")
    document["branding"]["logo_url"] = LONG_LOGO
    write_client(project, "t003", document)
    text = tm("plan", env={"COLUMNS": "80"})
    assert text.returncode == 0, text.output
    assert all(len(line) <= 80 for line in text.stdout.splitlines())
    # Wrapped, never cut: the value's pieces, joined again, are the whole value.
    unwrapped = re.sub(r"\s*\n[\s│└├─]*", "", text.stdout)
    assert f'"{LONG_LOGO}"' in unwrapped and "…" not in text.stdout
    markdown = tm("plan", "--format", "markdown")
    assert f'`"{LONG_LOGO}"`' in markdown.stdout


def test_no_trailing_spaces_in_a_pipe_and_problem_lines_whole_at_80(tmp_path, run_cli):
    project = make_project(
        tmp_path / "p",
        {"acme": valid_document("acme"), "broken": "client:\n  id: broken\n  name: [unclosed\n"},
    )
    (project / "clients" / "empty").mkdir()
    result = run_cli("--project-dir", project, "validate", env={"COLUMNS": "80"})
    assert result.returncode == 1
    assert all(line == line.rstrip() for line in result.stdout.splitlines())
    problem = [line for line in result.stdout.splitlines() if "clients/broken/client.yaml:" in line]
    assert problem and problem[0].endswith("(error)")  # one line, not broken mid-word
    assert "clients/empty" in result.stdout and str(project) not in result.stdout


def test_history_at_80_columns_breaks_no_word(imported_25):
    _project, tm = imported_25
    assert tm("rollback", "1").returncode == 0
    shown = tm("history", env={"COLUMNS": "80"})
    assert shown.returncode == 0, shown.output
    lines = shown.stdout.splitlines()
    assert all(len(line) <= 80 and line == line.rstrip() for line in lines)
    text = " ".join(lines)
    assert "rolled back by run 2" in text and "rolled back run 1:" in text
    wide = tm("history", env={"COLUMNS": "200"})
    assert wide.stdout.splitlines()[0].split() == [
        "run",
        "command",
        "started",
        "took",
        "by",
        "tenants",
        "what",
    ]


# --- messages ---------------------------------------------------------------------------


def test_rolling_back_a_rolled_back_run_says_which_run_undid_it(imported_25):
    _project, tm = imported_25
    assert tm("rollback", "1").returncode == 0
    again = tm("rollback", "1")
    assert again.returncode == 1
    assert "run 1 was already rolled back by run 2" in again.stderr
    assert "--force" not in again.stderr and "Traceback" not in again.stderr


def test_history_of_an_unknown_tenant_suggests_close_ones(imported_25):
    _project, tm = imported_25
    result = tm("history", "t001x")
    assert result.returncode == 0
    assert "did you mean t001" in result.stderr


def test_plan_labels_a_directory_without_client_yaml_as_a_warning(imported_25):
    project, tm = imported_25
    (project / "clients" / "stray").mkdir()
    plan = tm("plan")
    line = next(line for line in plan.stdout.splitlines() if "stray" in line)
    assert line.startswith("warning: clients/stray"), line
    markdown = tm("plan", "--format", "markdown")
    assert "- **warning** `clients/stray" in markdown.stdout


# --- progress ---------------------------------------------------------------------------


def test_progress_without_a_terminal_is_a_line_now_and_then(tmp_path, run_cli):
    project = make_project(tmp_path / "p", _documents(150))
    every_batch = {"TENANT_MIGRATOR_PROGRESS_INTERVAL": "0"}
    shown = run_cli("--project-dir", project, "validate", env=every_batch)
    assert shown.returncode == 0
    lines = [line for line in shown.stderr.splitlines() if line.startswith("still ")]
    assert [re.sub(r"\[\d+s elapsed\]", "[Ns elapsed]", line) for line in lines] == [
        "still validating… 100/150 files [Ns elapsed]",
        "still validating… 150/150 files [Ns elapsed]",
    ]
    rarely = run_cli(
        "--project-dir", project, "validate", env={"TENANT_MIGRATOR_PROGRESS_INTERVAL": "3600"}
    )
    assert "still" not in rarely.stderr
    assert run_cli("-q", "--project-dir", project, "validate", env=every_batch).stderr == ""


def _stderr_on_a_terminal(args: list[str], cwd, extra_env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal: (exit code, stdout, what the
    terminal received)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenant_migrator", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=cli_env({"TERM": "xterm", **extra_env}),
        cwd=cwd,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, stdout.decode(), seen.decode("utf-8", "replace")


def test_progress_on_a_terminal_shows_counts(tmp_path):
    project = make_project(tmp_path / "p", _documents(150))
    code, stdout, shown = _stderr_on_a_terminal(
        ["--project-dir", str(project), "validate"],
        tmp_path,
        {"TENANT_MIGRATOR_PROGRESS_INTERVAL": "0"},
    )
    assert code == 0
    assert re.search(r"validating… \d+/150 files", shown), shown
    assert "still " not in shown  # the terminal gets the live line, not the log lines
    assert "150 of 150 tenants valid" in stdout
