"""The checks .ci/run makes beyond "pytest exited 0", as functions on text and data.

Each ``check_*`` returns the list of problems it found (empty: passed), so the
tests (tests/test_ci_checks.py) hold each check on canned pytest output, a canned
coverage report and a server that is absent or of the wrong version, without
running the suite again. ``.ci/run`` calls them through the command line below;
a non-empty list exits 1 with one line per problem.

Standard library only, except the server check (asyncpg, from the venv), so the
cheap checks also run under the system python3 before any venv exists.

    python3 .ci/checks.py shared DIR
    python3 .ci/checks.py tcp URL
    .venv/bin/python .ci/checks.py server URL MAJOR
    python3 .ci/checks.py skips RUN PYTEST_LOG [EXPECTED_FILE]
    python3 .ci/checks.py coverage COVERAGE_JSON [PYPROJECT]
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import tomllib
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

HERE = Path(__file__).resolve().parent
EXPECTED_SKIPS = HERE / "expected-skips"
PYPROJECT = HERE.parent / "pyproject.toml"

# "SKIPPED [2] tests/test_x.py:123: reason" in pytest's -ra summary; the line number
# is left out of the comparison (it moves with every edit above the test).
_SKIP_LINE = re.compile(r"^SKIPPED \[(\d+)\] ([^:\s]+)(?::\d+)?: (.*)$")
# The final summary of -q: "812 passed, 4 skipped, 1 warning in 311.20s (0:05:11)".
_SUMMARY_COUNT = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)")

SkipKey = tuple[str, str]  # (test file, reason)


# --- ../shared ---------------------------------------------------------------------------


def check_shared(shared: Path) -> list[str]:
    """The reference data beside the checkout, without which some tests skip."""
    reference = shared / "reference"
    if reference.is_dir() and any(reference.iterdir()):
        return []
    return [
        f"{reference} is absent or empty: the tests that read the platform's reference "
        "files would skip; put the shared directory beside the checkout"
    ]


# --- the PostgreSQL server ---------------------------------------------------------------


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return parts.hostname or query.get("host", "localhost"), int(
        parts.port or query.get("port", 5432)
    )


def check_tcp(url: str, timeout: float = 3.0) -> list[str]:
    """Something accepts connections at the URL's host and port (before any venv exists)."""
    host, port = _host_port(url)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return [f"no PostgreSQL answers at {host}:{port} ({exc.strerror or exc}): start it"]
    return []


async def _server_version_num(url: str, timeout: float) -> int:
    import asyncpg  # the venv's; the other checks need none

    conn = await asyncpg.connect(url, timeout=timeout)
    try:
        return int(await conn.fetchval("SHOW server_version_num"))
    finally:
        await conn.close()


def check_server(url: str, major: int, timeout: float = 10.0) -> list[str]:
    """The server at ``url`` answers a query and is PostgreSQL ``major``."""
    host, port = _host_port(url)
    try:
        number = asyncio.run(_server_version_num(url, timeout))
    except Exception as exc:  # any failure to get an answer is the same finding
        return [f"no PostgreSQL answers at {host}:{port}: {type(exc).__name__}: {exc}"]
    if number // 10000 != major:
        return [
            f"the server at {host}:{port} is PostgreSQL {number // 10000} "
            f"(server_version_num {number}), not {major}"
        ]
    return []


# --- skips -------------------------------------------------------------------------------


def parse_skips(pytest_output: str) -> Counter[SkipKey]:
    """(file, reason) -> number of tests skipped, from pytest's -ra short summary."""
    found: Counter[SkipKey] = Counter()
    for line in pytest_output.splitlines():
        if match := _SKIP_LINE.match(line.strip()):
            count, path, reason = match.groups()
            found[(path, reason.strip())] += int(count)
    return found


def parse_summary(pytest_output: str) -> dict[str, int]:
    """The counts of the last summary line ("12 passed, 2 skipped in 3.1s")."""
    for line in reversed(pytest_output.splitlines()):
        if " in " in line and (counts := _SUMMARY_COUNT.findall(line)):
            return {kind.rstrip("s") if kind == "errors" else kind: int(n) for n, kind in counts}
    return {}


def parse_expected(text: str) -> dict[str, Counter[SkipKey]]:
    """The expected-skips file: ``RUN COUNT FILE: REASON`` per line, ``#`` comments."""
    expected: dict[str, Counter[SkipKey]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^(\S+)\s+(\d+)\s+([^:\s]+): (.+)$", line)
        if match is None:
            raise ValueError(f"expected-skips line {number}: not 'RUN COUNT FILE: REASON': {raw}")
        run, count, path, reason = match.groups()
        expected.setdefault(run, Counter())[(path, reason.strip())] += int(count)
    return expected


def check_skips(run: str, pytest_output: str, expected: dict[str, Counter[SkipKey]]) -> list[str]:
    """The run skipped exactly the tests the expected-skips file lists for it."""
    want = expected.get(run, Counter())
    got = parse_skips(pytest_output)
    problems = []
    for key in sorted(set(want) | set(got)):
        if want[key] != got[key]:
            path, reason = key
            problems.append(
                f"{run}: {got[key]} skipped in {path} ({reason!r}), expected {want[key]}"
            )
    total = parse_summary(pytest_output).get("skipped", 0)
    if total != sum(got.values()):
        problems.append(
            f"{run}: the summary says {total} skipped, the -ra lines list {sum(got.values())} "
            "(run pytest with -ra)"
        )
    if problems:
        problems.append(f"(the expected skips are in {EXPECTED_SKIPS.relative_to(HERE.parent)})")
    return problems


# --- coverage ----------------------------------------------------------------------------


def coverage_floor(pyproject: Path = PYPROJECT) -> float:
    config = tomllib.loads(pyproject.read_text())
    return float(config["tool"]["coverage"]["report"]["fail_under"])


def describe_coverage(totals: dict) -> str:
    lines = 100 * totals["covered_lines"] / max(totals["num_statements"], 1)
    branches = 100 * totals["covered_branches"] / max(totals["num_branches"], 1)
    return (
        f"coverage: lines {lines:.1f}% ({totals['covered_lines']}/{totals['num_statements']}), "
        f"branches {branches:.1f}% ({totals['covered_branches']}/{totals['num_branches']}), "
        f"total {totals['percent_covered']:.2f}%"
    )


def check_coverage(totals: dict, floor: float) -> list[str]:
    """Lines and branches together (coverage's total) at or above the floor."""
    if totals.get("num_branches", 0) == 0:
        return ["coverage measured no branch: [tool.coverage.run] branch = true is lost"]
    if totals["percent_covered"] < floor:
        return [
            f"coverage dropped to {totals['percent_covered']:.2f}% "
            f"(lines and branches), below the floor of {floor}% "
            "([tool.coverage.report] fail_under in pyproject.toml)"
        ]
    return []


# --- command line ------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "shared":
        problems = check_shared(Path(args[0]))
    elif command == "tcp":
        problems = check_tcp(args[0])
    elif command == "server":
        problems = check_server(args[0], int(args[1]))
    elif command == "skips":
        expected_file = Path(args[2]) if len(args) > 2 else EXPECTED_SKIPS
        expected = parse_expected(expected_file.read_text())
        problems = check_skips(args[0], Path(args[1]).read_text(errors="replace"), expected)
    elif command == "coverage":
        totals = json.loads(Path(args[0]).read_text())["totals"]
        print(describe_coverage(totals))
        problems = check_coverage(
            totals, coverage_floor(Path(args[1]) if len(args) > 1 else PYPROJECT)
        )
    else:
        raise SystemExit(f"unknown check {command!r}; see {Path(__file__).name}'s docstring")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
