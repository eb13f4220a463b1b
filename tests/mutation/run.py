"""Mutation testing, run by hand (never in CI): small changes to the code where a
silent bug hurts most, one at a time, each against the tests that should notice.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        nice -n 19 .venv/bin/python tests/mutation/run.py --jobs 2

A mutant is one change (an operator swapped, a comparison flipped, a constant moved
by one, a regex alternative dropped, a return deleted …; see ``OPERATORS``) applied
to a private copy of the working tree (the real tree is never touched), then the
module's tests (``TARGETS``) run with ``-x``: a failure (or a timeout) kills it.
The copy comes first on ``PYTHONPATH``, so the CLI subprocesses the tests start run
the mutant too (checked before the first mutant). Without ``TEST_DATABASE_URL`` an
embedded PostgreSQL is started once for the whole run.

Several commands can build one results file: ``--update`` merges a run into it (a
mutant run again replaces its entry; the earlier outcome is kept under ``earlier``),
``--rerun survived timeout`` runs again just the mutants with that last outcome (after
tests were added, or to re-check timeouts on a quieter machine), and ``--stop-at
HH:MM`` stops starting mutants at that time, running them in the seeded order so the
ones that ran are exactly what ``--sample K --seed S`` picks. Every command is
recorded with the commit its copies were made from.

Writes ``tests/mutation/results.json`` (every mutant and its outcome) and
``tests/MUTATION.md`` (scores, every survivor with its note from ``notes.json``, which
says why it is equivalent or unreachable). ``--baseline FILE`` adds the scores of
an earlier results file, and which test now kills each of its survivors.

Extending: a module is one row of ``TARGETS`` (files as globs, so new files are
picked up; ``scope``: only these functions/assignments; ``lines``: only lines
matching this regex; ``tests``: globs, fast ones first since ``-x`` stops early).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import glob
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Run as a script: its own directory is first on sys.path.
from mutants import Mutant, apply, generate
from report import merge, pct, scores, write_report

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    files: tuple[str, ...]  # globs, relative to the repo
    tests: tuple[str, ...]  # globs; a missing one is ignored
    scope: tuple[str, ...] = ()  # function / class / module-level assignment names
    lines: str | None = None  # only mutate lines matching this regex
    unwrap: tuple[str, ...] = ()  # calls replaced by their first argument


_SECRET_TESTS = (
    "tests/test_shapes.py",
    "tests/test_secret_walk.py",
    "tests/test_env_names.py",
    "tests/test_dotenv_readers.py",
    "tests/test_secretrefs*.py",
    "tests/test_secrets.py",
    "tests/test_literal_scan.py",
    "tests/test_secret_planting.py",
    "tests/test_redaction_rules.py",  # the schema walk's depth limit
    "tests/test_fast_paths.py",  # extraction's shortcuts mean what the long way means
    "tests/test_wire.py",  # SecretReference's wire form
)
# Pure tests only for planning, changes and the reports: test_drift.py and
# test_plan_comment.py (3,000 tenants imported) take minutes a mutant on a loaded
# machine, and the pure tests are the ones that should notice.
_PLAN_TESTS = ("tests/test_planning*.py", "tests/test_json_diff.py", "tests/test_report_*.py")
_REPORT_TESTS = ("tests/test_report_*.py", "tests/test_planning*.py")

# The modules under test, and the tests that should notice each change to them.
TARGETS: tuple[Target, ...] = (
    Target("secretrefs", ("tenant_migrator/secretrefs/*.py",), _SECRET_TESTS),
    Target("planning", ("tenant_migrator/planning.py",), _PLAN_TESTS),
    Target(
        "changes",
        ("tenant_migrator/changes.py",),
        ("tests/test_json_diff.py", "tests/test_planning*.py", "tests/test_report_*.py"),
    ),
    Target(
        "redaction",
        ("tenant_migrator/redaction.py",),
        ("tests/test_redaction_rules.py", *_REPORT_TESTS),
    ),
    Target(
        "report-redaction",
        ("tenant_migrator/report/plan.py",),
        _REPORT_TESTS,
        lines=r"redact|new_from_record",
        unwrap=("redact_change", "redact"),
    ),
    Target(
        "database-redaction",
        ("tenant_migrator/database.py",),
        (
            "tests/test_redaction_rules.py",
            "tests/test_report_redaction.py",
            "tests/test_credentials.py",
        ),
        scope=("redact", "password_candidates", "url_password", "redact_url"),
        unwrap=("redact", "quote", "unquote"),
    ),
    Target(
        "drift-check",
        ("tenant_migrator/store/writer.py", "tenant_migrator/store/tables.py"),
        (
            "tests/test_drift_write_check.py",
            "tests/test_drift.py",
            "tests/test_history_*.py",
        ),
        scope=(
            "write_sql",
            "_write_incoming",
            "_scrub_previous",
            "_staged_rows",
            "snapshot_sql",
            "hash_sql",
        ),
    ),
)

NOTES_FILE = Path(__file__).with_name("notes.json")  # survivors judged by hand


# --- running them ------------------------------------------------------------------------


def mapped_tests(target: Target, root: Path) -> list[str]:
    seen: list[str] = []
    for pattern in target.tests:
        for path in sorted(glob.glob(str(root / pattern))):
            rel = str(Path(path).relative_to(root))
            if rel not in seen:
                seen.append(rel)
    return seen


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


def make_copy(root: Path, commit: str | None = None) -> Path:
    """A copy of the working tree (tracked and untracked, not ignored), or of
    ``commit``, under ``root``; ``../shared`` linked beside it like the real
    checkout's, so no test skips."""
    work = root / "repo"
    work.mkdir(parents=True)
    if commit:
        archive = subprocess.run(
            ["git", "archive", commit], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
    for rel in [] if commit else _tracked_files():
        dest = work / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest)
    shared = REPO.parent / "shared"
    if shared.exists():
        (root / "shared").symlink_to(shared)
    return work


def _env(work: Path, db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(work), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TEST_DATABASE_URL"] = db_url
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a mutant's .pyc must not outlive it
    env.pop("PYTEST_ADDOPTS", None)
    return env


def run_tests(work: Path, tests: list[str], db_url: str, timeout: float) -> tuple[str, str, float]:
    """('passed' | 'failed' | 'timeout', first failing test, seconds)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=-ra",
        *tests,
    ]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=work,
        env=_env(work, db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "timeout", "", time.monotonic() - started
    took = time.monotonic() - started
    if proc.returncode == 0:
        return "passed", "", took
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE)
    return "failed", found.group(1) if found else f"exit {proc.returncode}", took


def check_copy_is_used(work: Path, db_url: str) -> None:
    """The tests (and the CLI subprocesses they start) must import the copy."""
    out = subprocess.run(
        [sys.executable, "-c", "import tenant_migrator; print(tenant_migrator.__file__)"],
        cwd=work / "tests",
        env=_env(work, db_url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not out.startswith(str(work)):
        sys.exit(f"mutation: the copy is not what Python imports ({out}); mutants would not run")


class _Workers:
    """One private copy of the tree per job; each mutant is written into a copy,
    its tests run, and the original file put back before the copy is reused."""

    def __init__(self, jobs: int, db_url: str, commit: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tm-mutation-"))
        self.db_url = db_url
        self.free: list[Path] = []
        self.lock = threading.Lock()
        for i in range(jobs):
            (self.root / str(i)).mkdir()
            self.free.append(make_copy(self.root / str(i), commit))
        check_copy_is_used(self.free[0], db_url)

    def run(self, m: Mutant, tests: list[str], timeout: float) -> dict:
        with self.lock:
            work = self.free.pop()
        path = work / m.file
        original = path.read_text()
        try:
            path.write_text(apply(original, m))
            outcome, killer, took = run_tests(work, tests, self.db_url, timeout)
        finally:
            path.write_text(original)
            with self.lock:
                self.free.append(work)
        return {
            **{k: v for k, v in dataclasses.asdict(m).items() if k not in ("start", "end")},
            "outcome": "survived" if outcome == "passed" else outcome,
            "killed_by": killer,
            "seconds": round(took, 1),
        }

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _database(stack: list) -> str:
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url
    from tenant_migrator import embedded

    pgdata = Path(tempfile.mkdtemp(prefix="tm-mutation-pg-")) / "pgdata"
    url = embedded.start(pgdata)
    stack.append(lambda: (embedded.destroy(pgdata), shutil.rmtree(pgdata.parent, True)))
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="target name(s) to run (default all)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--sample",
        type=int,
        help="at most N random mutants per target: the first N of the order --seed shuffles "
        "them into",
    )
    parser.add_argument(
        "--stop-at",
        metavar="HH:MM",
        help="(UTC) start no mutant after this time: the mutants run in the order --seed "
        "shuffles them into, and the K run are the ones --sample K --seed selects",
    )
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--report", type=Path, default=REPO / "tests" / "MUTATION.md")
    parser.add_argument("--baseline", type=Path, help="an earlier results.json to compare with")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report only")
    parser.add_argument(
        "--rerun",
        nargs="+",
        metavar="OUTCOME",
        choices=("survived", "timeout", "failed"),
        help="run only the mutants whose outcome in the results file is one of these "
        "(implies --update)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="merge into the results file: the mutants run replace their entries, the "
        "others are kept (e.g. timeouts rerun with --match, or one target sampled)",
    )
    parser.add_argument(
        "--commit", help="mutate and test this commit (e.g. main) instead of the working tree"
    )
    parser.add_argument("--match", help="only mutants whose file:line: change matches this regex")
    parser.add_argument(
        "--tests", nargs="+", help="run these tests instead of the targets' (with --match)"
    )
    parser.add_argument(
        "--survivors-of",
        type=Path,
        help="run only the survivors of this earlier results file; its killed mutants "
        "keep their outcome (tests were only added since: they stay killed)",
    )
    args = parser.parse_args(argv)

    if args.report_only:
        data = json.loads(args.results.read_text())
        baseline = json.loads(args.baseline.read_text()) if args.baseline else None
        write_report(data, baseline, args.report, TARGETS, NOTES_FILE)
        return 0

    if args.list:
        plan, _carried, _counts = _select(args, REPO)
        for _t, mutants in plan:
            for m in mutants:
                print(f"{m.target}\t{m.key}\t{m.text}")
        print(f"{sum(len(m) for _t, m in plan)} mutants", file=sys.stderr)
        return 0

    cleanup: list = []
    started = time.monotonic()
    # The commit the copies are made from, now: the tree may be committed during the run.
    commit = args.commit or _describe()
    results: list[dict] = []
    partial = args.results.with_suffix(".partial.jsonl")
    stop_at = _stop_time(args.stop_at) if args.stop_at else None
    stopped_note: list[str] = []
    partial.write_text("")
    try:
        db_url = _database(cleanup)
        workers = _Workers(args.jobs, db_url, args.commit)
        cleanup.append(workers.close)
        source_root = workers.free[0]
        plan, carried, counts = _select(args, source_root)
        results += carried
        for t, mutants in plan:
            if not mutants:
                continue
            tests = args.tests or mapped_tests(t, source_root)
            outcome, failed, took = run_tests(workers.free[0], tests, db_url, 1800)
            if outcome != "passed":
                sys.exit(f"mutation: {t.name}'s tests fail without any mutant ({failed})")
            timeout = max(60.0, 3 * took)
            print(f"{t.name}: {len(mutants)} mutants, tests take {took:.0f} s", flush=True)
            if stop_at is not None:
                mutants = _shuffled(mutants, args.seed)
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                futures = [pool.submit(workers.run, m, tests, timeout) for m in mutants]
                for n, f in enumerate(_finished(futures, stop_at), 1):
                    r = f.result()
                    results.append(r)
                    with partial.open("a") as fh:
                        fh.write(json.dumps(r) + "\n")
                    if r["outcome"] == "survived":
                        print(
                            f"  [{n}/{len(mutants)}] survived {r['file']}:{r['line']} "
                            f"{r['change']}",
                            flush=True,
                        )
            stopped = sum(1 for f in futures if f.cancelled())
            if stopped:
                ran = len(mutants) - stopped
                prefix = all(not f.cancelled() for f in futures[:ran])
                stopped_note.append(
                    f"{t.name} stopped at {args.stop_at} UTC after {ran} of {len(mutants)}"
                    + (
                        f": the {ran} that `--sample {ran} --seed {args.seed}` selects"
                        if prefix
                        else " (not quite the ones a sample of that size selects)"
                    )
                )
                print(f"{t.name}: stopped after {ran} of {len(mutants)} mutants", flush=True)
    finally:
        for step in reversed(cleanup):
            step()
    results.sort(key=lambda r: (r["target"], r["file"], r["line"], r["change"]))
    niceness = os.nice(0)
    command = (f"nice -n {niceness} " if niceness else "") + shlex.join(
        [".venv/bin/python", "tests/mutation/run.py", *(sys.argv[1:] if argv is None else argv)]
    )
    run = {
        "command": command,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        # Which server, never its URL (it may hold a password).
        "database": "TEST_DATABASE_URL" if os.environ.get("TEST_DATABASE_URL") else "embedded",
        "seconds": round(time.monotonic() - started),
        "jobs": args.jobs,
        "sample": "; ".join(
            part
            for part in (
                f"at most {args.sample} per module, seed {args.seed}" if args.sample else "",
                f"only the survivors of {args.survivors_of.name} run again" if carried else "",
                f"only mutants matching `{args.match}`" if args.match else "",
                f"only the ones whose last outcome was {' or '.join(args.rerun)}"
                if args.rerun
                else "",
                f"tests {' '.join(args.tests)} instead of the targets'" if args.tests else "",
                *stopped_note,
            )
            if part
        ),
        "mutants": len(results),
    }
    generated = {t.name: n for t, n in counts.items()}
    if (args.update or args.rerun) and args.results.exists():
        data = merge(json.loads(args.results.read_text()), run, results, generated, CURRENT)
    else:
        data = merge({"results": [], "runs": []}, run, results, generated)
    args.results.write_text(json.dumps(data, indent=1) + "\n")
    partial.unlink()
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    if args.baseline:
        data["baseline_file"] = str(args.baseline)
    write_report(data, baseline, args.report, TARGETS, NOTES_FILE)
    for name, s in scores(data["results"]).items():
        print(f"{name}: {s['killed']}/{s['mutants']} killed ({pct(s)})")
    print(f"{len(results)} mutants in {run['seconds'] / 60:.1f} min")
    return 0


def _select(
    args: argparse.Namespace, root: Path
) -> tuple[list[tuple[Target, list[Mutant]]], list[dict], dict[Target, int]]:
    """The mutants to run per target, the outcomes carried from ``--survivors-of``, and
    how many mutants each target has before sampling."""
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    plan: list[tuple[Target, list[Mutant]]] = []
    counts: dict[Target, int] = {}
    rerun = _with_outcome(args.results, args.rerun) if args.rerun else set()
    CURRENT.clear()
    for t in targets:
        mutants = generate(t, root)
        counts[t] = len(mutants)
        CURRENT.update((m.target, m.file, m.line, m.change, m.text) for m in mutants)
        if args.sample and len(mutants) > args.sample:
            mutants = sorted(_shuffled(mutants, args.seed)[: args.sample], key=_order)
        if args.match:
            mutants = [m for m in mutants if re.search(args.match, m.key)]
        if args.rerun:
            mutants = [m for m in mutants if (m.file, m.line, m.change) in rerun]
        plan.append((t, mutants))
    carried: list[dict] = []
    if args.survivors_of:
        names = {t.name for t in targets}
        earlier = [
            r for r in json.loads(args.survivors_of.read_text())["results"] if r["target"] in names
        ]
        survived = {
            (r["file"], r["text"], r["change"]) for r in earlier if r["outcome"] == "survived"
        }
        carried = [{**r, "carried": True} for r in earlier if r["outcome"] != "survived"]
        plan = [(t, [m for m in ms if (m.file, m.text, m.change) in survived]) for t, ms in plan]
    return plan, carried, counts


# Every mutant of the targets selected, as the last ``_select`` generated them.
CURRENT: set[tuple[str, str, int, str, str]] = set()


def _with_outcome(results: Path, outcomes: list[str]) -> set[tuple[str, int, str]]:
    """(file, line, change) of the mutants whose outcome in ``results`` is one of these."""
    return {
        (r["file"], r["line"], r["change"])
        for r in json.loads(results.read_text())["results"]
        if r["outcome"] in outcomes
    }


def _shuffled(mutants: list[Mutant], seed: int) -> list[Mutant]:
    """The mutants in the order ``seed`` gives: a sample of N is its first N, so a run
    stopped after K mutants ran the ones ``--sample K`` picks."""
    return random.Random(seed).sample(mutants, len(mutants))


def _stop_time(hhmm: str) -> float:
    """``HH:MM`` UTC today (tomorrow when already past) as a ``time.time()`` value."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    now = time.time()
    day = now - now % 86400
    at = day + hours * 3600 + minutes * 60
    return at if at > now else at + 86400


def _finished(futures: list, stop_at: float | None):
    """The futures as they finish; at ``stop_at`` the ones not started are cancelled
    (the pool takes them in order, so the ones run are a prefix of the list)."""
    pending = set(futures)
    while pending:
        wait = None if stop_at is None else max(0.0, stop_at - time.time())
        done, pending = concurrent.futures.wait(
            pending, timeout=wait, return_when=concurrent.futures.FIRST_COMPLETED
        )
        yield from (f for f in futures if f in done)
        if stop_at is not None and time.time() >= stop_at:
            for f in futures:
                f.cancel()
            pending = {f for f in pending if not f.cancelled()}
            stop_at = None  # the running ones finish; wait for them without a timeout


def _describe() -> str:
    """The commit the working tree is on, ``-dirty`` if it has changes (the copies
    hold them)."""
    return subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=7"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _order(m: Mutant) -> tuple:
    return (m.file, m.line, m.change)


if __name__ == "__main__":
    raise SystemExit(main())
