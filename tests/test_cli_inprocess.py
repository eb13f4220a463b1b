"""``cli.main(argv) -> int``: the CLI as a function, what ``__main__`` and the
in-process ``cli`` fixture call. Exit codes, one-line errors, and no state carried
from one call to the next (consoles, the cyclic GC)."""

from __future__ import annotations

import gc

from clientdocs import make_project, valid_document


def test_main_returns_the_exit_code_instead_of_exiting(cli):
    from tenant_migrator import __version__

    shown = cli("--version")
    assert (shown.returncode, shown.stdout.strip()) == (0, f"tenant-migrator {__version__}")
    usage = cli("plan", "--no-such-option")
    assert usage.returncode == 2 and "No such option" in usage.stderr
    assert "Usage: tenant-migrator plan" in usage.stderr  # the installed script's name


def test_an_invalid_file_is_exit_1_with_file_and_line_and_no_traceback(tmp_path, cli):
    bad = valid_document("bad")
    bad["client"]["currency"] = "XYZ"
    project = make_project(tmp_path, {"good": valid_document("good"), "bad": bad})
    result = cli("validate", cwd=project)
    assert result.returncode == 1
    assert "clients/bad/client.yaml:" in result.stdout and "Traceback" not in result.output


def test_a_tool_error_is_one_line_on_stderr_with_its_exit_code(tmp_path, cli):
    # Not a project: neither clients/ nor .tenant-migrator/ (a usage error, exit 2).
    empty = tmp_path / "nowhere"
    empty.mkdir()
    result = cli("--project-dir", str(empty), "history")
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_each_call_writes_to_its_own_output(tmp_path, cli):
    project = make_project(tmp_path, {"one": valid_document("one")})
    first = cli("validate", cwd=project)
    second = cli("validate", "--format", "json", cwd=project)
    assert "1 of 1 tenants valid" in first.stdout
    assert second.stdout.lstrip().startswith("{") and "tenants valid" not in second.stdout


def test_the_cyclic_gc_is_on_again_after_a_bulk_command(tmp_path, cli):
    project = make_project(tmp_path, {"one": valid_document("one")})
    assert gc.isenabled()
    # plan turns the GC off for its own process (cli._bulk_mode); here it fails
    # fast on the database URL, after having done so.
    cli("plan", "--database-url", "postgresql://nobody@127.0.0.1:1/none", cwd=project)
    assert gc.isenabled()


# --- the target, resolved once per invocation -----------------------------------------


def _counting(monkeypatch, module, name: str) -> list[object]:
    """Wrap ``module.name`` (the real function still runs); returns its calls so far."""
    calls: list[object] = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_one_invocation_resolves_the_target_once(tmp_path, cli, migrated_database_url, monkeypatch):
    from tenant_migrator import database

    project = make_project(tmp_path / "p", {"one": valid_document("one")})
    resolved = _counting(monkeypatch, database, "resolve_target")
    # Each of these resolved it two or three times before: the target line, every
    # connection (a refused rollback's look at the history too), a plan's review.
    for command, exit_code, said in (
        (("import",), 0, "target: "),
        (("plan", "--format", "json"), 0, ""),
        (("rollback", "1"), 0, "target: "),
        (("rollback", "1"), 1, "run 1 was already rolled back by run 2"),
        (("history",), 0, ""),
    ):
        resolved.clear()
        result = cli("--database-url", migrated_database_url, *command, cwd=project)
        assert result.returncode == exit_code and said in result.stderr, result.output
        assert len(resolved) == 1, command


def test_each_invocation_starts_and_announces_the_embedded_server_once(tmp_path, cli, monkeypatch):
    from tenant_migrator import embedded

    project = make_project(tmp_path / "p", {"one": valid_document("one")})
    pgdata = embedded.pgdata_dir(project / ".tenant-migrator")
    started = _counting(monkeypatch, embedded, "start")
    notice = "Using a local embedded PostgreSQL in"
    try:
        for args in (("import",), ("rollback", "1"), ("history",)):
            started.clear()
            result = cli(*args, cwd=project)
            assert result.returncode == 0, result.output
            assert len(started) == 1, args
            # Once per invocation: also for the second one in this process.
            assert result.stderr.count(notice) == 1, (args, result.stderr)
        started.clear()
        quiet = cli("history", "-q", cwd=project)
        assert quiet.returncode == 0 and len(started) == 1
        assert notice not in quiet.stderr
    finally:
        embedded.destroy(pgdata)
