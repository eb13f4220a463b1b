""".ci/run cannot pass by skipping: each of its checks (.ci/checks.py) fails on a
missing server, a server of another major version, a skip the expected-skips file
does not list, a coverage drop, and a missing ../shared; `.ci/run` itself stops at
once on the first two, and clears every PG* variable before both runs.

Here in the suite rather than in a selftest script .ci/run would call: they then
run with every `pytest`, so whoever edits a check sees it break before CI does,
and they cost a second or two (canned pytest output and coverage data, no suite
run inside the suite)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CI_RUN = REPO / ".ci" / "run"


def _load_checks():
    spec = importlib.util.spec_from_file_location("ci_checks", REPO / ".ci" / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


checks = _load_checks()

# What pytest -q -ra prints, trimmed: two skip lines, then the summary.
SUPABASE_ABSENT = "the Supabase CLI is absent (set SUPABASE_CLI; .ci/run installs it)"
PYTEST_OUTPUT = f"""\
........s..s.s                                                          [100%]
=========================== short test summary info ============================
SKIPPED [2] tests/test_migrations_supabase.py:61: {SUPABASE_ABSENT}
SKIPPED [1] tests/test_ci_workflow.py:140: import --plan/--yes: another issue
11 passed, 3 skipped in 4.20s
"""

EXPECTED = """\
# comment
embedded 1 tests/test_ci_workflow.py: import --plan/--yes: another issue
pg15     1 tests/test_ci_workflow.py: import --plan/--yes: another issue
"""


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nobody listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- skips -------------------------------------------------------------------------------


def test_the_skips_listed_for_a_run_pass_the_skip_check():
    output = PYTEST_OUTPUT.replace("SKIPPED [2] tests/test_migrations_supabase.py:61: ", "X ")
    output = output.replace("3 skipped", "1 skipped")
    assert checks.check_skips("embedded", output, checks.parse_expected(EXPECTED)) == []


def test_an_unexpected_skip_fails_the_skip_check_naming_file_and_reason():
    problems = checks.check_skips("embedded", PYTEST_OUTPUT, checks.parse_expected(EXPECTED))
    assert problems[0] == (
        f"embedded: 2 skipped in tests/test_migrations_supabase.py ({SUPABASE_ABSENT!r}), "
        "expected 0"
    )
    assert len(problems) == 2  # and where the expectations are written


def test_a_listed_skip_that_no_longer_happens_fails_too():
    # The count is an expectation, not a ceiling: a test that stopped skipping (or
    # stopped existing) shows up as well.
    output = "11 passed in 4.20s\n"
    problems = checks.check_skips("pg15", output, checks.parse_expected(EXPECTED))
    assert problems[0].startswith("pg15: 0 skipped in tests/test_ci_workflow.py")


def test_skips_the_summary_counts_but_no_ra_line_names_fail_the_check():
    output = "11 passed, 1 skipped in 4.20s\n"  # pytest without -ra
    problems = checks.check_skips("pg15", output, {"pg15": checks.parse_expected("")})
    assert "the summary says 1 skipped, the -ra lines list 0" in problems[0]


def test_the_committed_expected_skips_file_parses_and_names_existing_files():
    expected = checks.parse_expected(checks.EXPECTED_SKIPS.read_text())
    assert set(expected) <= {"embedded", "pg15"}
    for counts in expected.values():
        assert all((REPO / path).is_file() for path, _ in counts)


def test_a_malformed_expected_skips_line_is_refused_with_its_line_number():
    with pytest.raises(ValueError, match="line 2: not 'RUN COUNT FILE: REASON'"):
        checks.parse_expected("# ok\nembedded two tests/x.py: why\n")


# --- coverage ----------------------------------------------------------------------------


def _totals(lines: int, branches: int) -> dict:
    # Coverage's own arithmetic: (covered lines + covered branches) / (lines + branches).
    statements, num_branches = 1000, 400
    return {
        "covered_lines": lines,
        "num_statements": statements,
        "covered_branches": branches,
        "num_branches": num_branches,
        "percent_covered": 100 * (lines + branches) / (statements + num_branches),
    }


def test_coverage_at_the_floor_passes_and_is_reported_as_lines_and_branches():
    totals = _totals(950, 360)  # 93.57 %
    assert checks.check_coverage(totals, 93.5) == []
    assert checks.describe_coverage(totals) == (
        "coverage: lines 95.0% (950/1000), branches 90.0% (360/400), total 93.57%"
    )


def test_a_coverage_drop_below_the_floor_fails_the_coverage_check():
    problems = checks.check_coverage(_totals(950, 300), 93.5)  # branches dropped: 89.29 %
    assert problems == [
        "coverage dropped to 89.29% (lines and branches), below the floor of 93.5% "
        "([tool.coverage.report] fail_under in pyproject.toml)"
    ]


def test_coverage_without_branches_fails_the_coverage_check():
    totals = {**_totals(950, 0), "num_branches": 0, "percent_covered": 95.0}
    assert "branch = true is lost" in checks.check_coverage(totals, 90)[0]


def test_the_coverage_floor_is_read_from_pyproject():
    assert 50 < checks.coverage_floor() <= 100


# --- the server and ../shared ------------------------------------------------------------


def test_no_server_at_the_url_fails_the_server_checks():
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    assert checks.check_tcp(url)[0].startswith("no PostgreSQL answers at 127.0.0.1:")
    assert checks.check_server(url, 15)[0].startswith("no PostgreSQL answers at 127.0.0.1:")


def test_a_server_of_another_major_version_fails_the_server_check(server_url, pg):
    # The embedded server is 18: the check of CI's second run (15) refuses it. With
    # TEST_DATABASE_URL at a 15, the same check asked for 18 refuses that one.
    number = int(pg.fetchval(server_url, "SHOW server_version_num"))
    actual = number // 10000
    other = 15 if actual != 15 else 18
    assert checks.check_server(server_url, actual) == []
    problems = checks.check_server(server_url, other)
    assert len(problems) == 1
    assert problems[0].endswith(
        f"is PostgreSQL {actual} (server_version_num {number}), not {other}"
    )


def test_a_missing_shared_reference_directory_fails_the_shared_check(tmp_path):
    assert "is absent or empty" in checks.check_shared(tmp_path / "shared")[0]
    (tmp_path / "shared" / "reference").mkdir(parents=True)
    assert "is absent or empty" in checks.check_shared(tmp_path / "shared")[0]
    (tmp_path / "shared" / "reference" / "client.yaml").write_text("client: {}\n")
    assert checks.check_shared(tmp_path / "shared") == []


# --- .ci/run itself ----------------------------------------------------------------------


def _ci_run(env: dict[str, str]) -> subprocess.CompletedProcess:
    # Each case fails in the preflight, seconds before npm or the suite would start;
    # the timeout catches a regression that would go on to run them.
    return subprocess.run(
        ["bash", str(CI_RUN)],
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_ci_run_fails_at_once_without_the_shared_directory(tmp_path):
    result = _ci_run({"CI": "true", "CI_SHARED_DIR": str(tmp_path / "nowhere")})
    assert result.returncode == 1
    assert "CI FAILED" in result.stderr and "nowhere/reference is absent" in result.stderr


def test_ci_run_fails_at_once_when_no_server_answers(tmp_path):
    (tmp_path / "shared" / "reference").mkdir(parents=True)
    (tmp_path / "shared" / "reference" / "client.yaml").write_text("client: {}\n")
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/postgres"
    result = _ci_run({"CI": "true", "CI_SHARED_DIR": str(tmp_path / "shared"), "CI_PG_URL": url})
    assert result.returncode == 1
    assert f"CI FAILED: no PostgreSQL answers at {url}" in result.stderr


LIBPQ_VARIABLES = (
    *("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPASSFILE"),
    *("PGSERVICE", "PGSERVICEFILE", "PGSSLMODE", "PGOPTIONS", "PGAPPNAME"),
)


def test_ci_run_clears_every_database_variable_before_a_run():
    # Both runs start from clear_db_env; the second then sets TEST_DATABASE_URL only.
    planted = {
        "DATABASE_URL": "postgresql://elsewhere/db",
        "TEST_DATABASE_URL": "postgresql://elsewhere/db",
        **dict.fromkeys(LIBPQ_VARIABLES, "planted"),
    }
    result = subprocess.run(
        ["bash", "-c", f"source {CI_RUN} && clear_db_env && env"],
        env={"PATH": os.environ["PATH"], "KEEP_ME": "1", **planted},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert "KEEP_ME" in names
    assert not names & set(planted)
