"""Mutation testing, run by hand (never in CI): small changes to the code where a
silent bug hurts most, one at a time, each against the tests that should notice.

    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        nice -n 15 .venv/bin/python tests/mutation/run.py --jobs 2

A mutant is one change (an operator swapped, a comparison flipped, a constant moved
by one, a regex alternative dropped, a return deleted …; see ``OPERATORS``) applied
to a private copy of the working tree (the real tree is never touched), then the
module's tests (``TARGETS``) run with ``-x``: a failure (or a timeout) kills it.
The copy comes first on ``PYTHONPATH``, so the CLI subprocesses the tests start run
the mutant too (checked before the first mutant). Without ``TEST_DATABASE_URL`` an
embedded PostgreSQL is started once for the whole run.

Writes ``tests/mutation/results.json`` (every mutant and its outcome) and
``tests/MUTATION.md`` (scores, every survivor with its note from ``NOTES``, which
says why it is equivalent or unreachable). ``--baseline FILE`` adds the scores of
an earlier results file, and which test now kills each of its survivors.

Extending: a module is one row of ``TARGETS`` (files as globs, so new files are
picked up; ``scope``: only these functions/assignments; ``lines``: only lines
matching this regex; ``tests``: globs, fast ones first since ``-x`` stops early).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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
    "tests/test_secretrefs*.py",
    "tests/test_secrets.py",
    "tests/test_literal_scan.py",
    "tests/test_secret_planting.py",
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
    Target("redaction", ("tenant_migrator/redaction.py",), _REPORT_TESTS),
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
        ("tests/test_report_redaction.py", "tests/test_credentials.py"),
        scope=("redact", "password_candidates", "url_password", "redact_url"),
        unwrap=("redact", "quote", "unquote"),
    ),
    Target(
        "drift-check",
        ("tenant_migrator/store/writer.py", "tenant_migrator/store/tables.py"),
        (
            "tests/test_drift_write_check.py",
            "tests/test_drift.py",
            "tests/test_history_secrets.py",
        ),
        scope=("_write_sql", "_write_incoming", "_existing", "snapshot_sql", "hash_sql"),
    ),
)

# Survivors judged by hand: (file, the mutated line's text stripped, change) → why it
# is equivalent or unreachable. Keyed by text, not line number, so edits elsewhere in
# the file keep the note; a note whose mutant is gone is simply not shown.
NOTES: dict[tuple[str, str, str], str] = {}
NOTES_FILE = Path(__file__).with_name("notes.json")


def _load_notes() -> dict[tuple[str, str, str], str]:
    notes = dict(NOTES)
    if NOTES_FILE.exists():
        for item in json.loads(NOTES_FILE.read_text()):
            notes[(item["file"], item["line"], item["change"])] = item["why"]
    return notes


# --- generating mutants ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Mutant:
    target: str
    file: str
    line: int
    text: str  # the original line, stripped
    change: str
    start: tuple[int, int]  # (line, byte col) of the replaced span
    end: tuple[int, int]
    replacement: str

    @property
    def key(self) -> str:
        return f"{self.file}:{self.line}: {self.change}"


_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}
_BINOPS[ast.Div] = ast.Mult
_CMPOPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_DELETABLE_CALLS = {"append", "add", "extend", "update", "insert", "discard", "setdefault"}
_SQL_SWAPS = (
    ("IS NOT DISTINCT FROM", "IS DISTINCT FROM"),
    ("IS DISTINCT FROM", "IS NOT DISTINCT FROM"),
    (" AND ", " OR "),
    ("IS NOT NULL", "IS NULL"),
    ("md5(", "("),
)
_REGEX_HINT = re.compile(r"\(\?|\\[dswbAZ]|\[[^\]]+\]|\{\d|\|")


def _regex_variants(pattern: str) -> Iterator[tuple[str, str]]:
    """(description, pattern): one alternative dropped, a quantifier moved by one, a
    letter dropped from a small class, an optional character made required."""
    # Spans of groups (and the whole pattern), honouring escapes and classes.
    spans: list[tuple[int, int]] = [(0, len(pattern))]
    stack: list[int] = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            start = stack.pop()
            inner = start + 1
            if pattern.startswith("?:", inner) or pattern.startswith("?=", inner):
                inner += 2
            elif pattern.startswith("?P<", inner):
                inner = pattern.index(">", inner) + 1
            elif pattern.startswith("?<!", inner) or pattern.startswith("?<=", inner):
                inner += 3
            elif pattern.startswith("?!", inner):
                inner += 2
            spans.append((inner, i))
        i += 1
    for lo, hi in spans:
        bars, depth, j, cls = [], 0, lo, False
        while j < hi:
            ch = pattern[j]
            if ch == "\\":
                j += 2
                continue
            if cls:
                cls = ch != "]"
            elif ch == "[":
                cls = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "|" and depth == 0:
                bars.append(j)
            j += 1
        if not bars:
            continue
        edges = [lo - 1, *bars, hi]
        for k in range(len(edges) - 1):
            a, b = edges[k] + 1, edges[k + 1]
            branch = pattern[a:b]
            if not branch:
                continue
            cut = (a - 1, b) if k > 0 else (a, b + 1)
            yield f"regex: drop alternative {branch!r}", pattern[: cut[0]] + pattern[cut[1] :]
    for m in re.finditer(r"(?<!\\)\{(\d+)(,?)(\d*)\}", pattern):
        for idx in (1, 3):
            if not m.group(idx):
                continue
            n = int(m.group(idx))
            for d in (-1, 1):
                if n + d < 0:
                    continue
                lo, hi = m.span(idx)
                yield (
                    f"regex: {m.group(0)} at {m.start()} bound {n}→{n + d}",
                    pattern[:lo] + str(n + d) + pattern[hi:],
                )
    for m in re.finditer(r"(?<!\\)\[([a-z]{2,8})\]", pattern):
        for c in m.group(1):
            narrowed = m.group(1).replace(c, "", 1)
            yield (
                f"regex: [{m.group(1)}] without {c!r}",
                pattern[: m.start()] + f"[{narrowed}]" + pattern[m.end() :],
            )
    for m in re.finditer(r"(?<=[A-Za-z0-9_-])\?", pattern):
        yield (
            f"regex: {pattern[m.start() - 1]}? made required",
            pattern[: m.start()] + pattern[m.end() :],
        )


class _Generator(ast.NodeVisitor):
    def __init__(self, target: Target, file: str, source: str) -> None:
        self.target = target
        self.file = file
        self.lines = source.splitlines()
        self.tree = ast.parse(source)
        self.mutants: list[Mutant] = []
        self.skip: set[int] = set()  # ids of nodes never mutated (annotations, docstrings)
        self.allowed: list[tuple[int, int]] | None = None
        self.line_re = re.compile(target.lines) if target.lines else None
        self._mark_skipped()
        if target.scope:
            self.allowed = []
            for node in ast.walk(self.tree):
                names: list[str] = []
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names = [node.name]
                elif isinstance(node, ast.Assign | ast.AnnAssign) and node in self.tree.body:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                if set(names) & set(target.scope):
                    self.allowed.append((node.lineno, node.end_lineno or node.lineno))

    def _mark_skipped(self) -> None:
        for node in ast.walk(self.tree):
            annotations = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                annotations.append(node.returns)
                args = node.args
                for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                    if a is not None:
                        annotations.append(a.annotation)
            if isinstance(node, ast.AnnAssign):
                annotations.append(node.annotation)
            body = getattr(node, "body", None)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                first = body[0] if body else None
                if (
                    isinstance(first, ast.Expr)
                    and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)
                ):
                    annotations.append(first)
            # ``if TYPE_CHECKING:`` blocks never run.
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                annotations.append(node)
            # f-string parts have unreliable positions on 3.11: the f-string is
            # mutated whole (SQL swaps) or not at all.
            if isinstance(node, ast.JoinedStr):
                annotations.extend(node.values)
            for a in annotations:
                if a is not None:
                    for sub in ast.walk(a):
                        self.skip.add(id(sub))

    def _ok(self, node: ast.AST) -> bool:
        if id(node) in self.skip:
            return False
        line = node.lineno
        if self.allowed is not None and not any(a <= line <= b for a, b in self.allowed):
            return False
        if self.line_re is not None:
            text = "\n".join(self.lines[node.lineno - 1 : node.end_lineno])
            if not self.line_re.search(text):
                return False
        return True

    def _add(self, node: ast.AST, change: str, replacement: ast.AST | str) -> None:
        text = replacement if isinstance(replacement, str) else ast.unparse(replacement)
        self.mutants.append(
            Mutant(
                target=self.target.name,
                file=self.file,
                line=node.lineno,
                text=self.lines[node.lineno - 1].strip(),
                change=change,
                start=(node.lineno, node.col_offset),
                end=(node.end_lineno, node.end_col_offset),
                replacement=text,
            )
        )

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr | ast.stmt) and self._ok(node):
            self._mutate(node)
        super().generic_visit(node)

    def _mutate(self, node: ast.AST) -> None:  # one branch per operator
        import copy

        def clone() -> ast.AST:
            return copy.deepcopy(node)

        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            new = clone()
            new.op = _BINOPS[type(node.op)]()
            self._add(node, f"{_sym(node.op)} → {_sym(new.op)}", new)
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMPOPS:
                    new = clone()
                    new.ops[i] = _CMPOPS[type(op)]()
                    self._add(node, f"{_sym(op)} → {_sym(new.ops[i])}", new)
        elif isinstance(node, ast.BoolOp):
            new = clone()
            new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self._add(node, f"{_sym(node.op)} → {_sym(new.op)}", new)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._add(node, "not removed", node.operand)
        elif isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.JoinedStr):
            self._fstring(node)
        elif isinstance(node, ast.Tuple | ast.List | ast.Set) and 2 <= len(node.elts) <= 30:
            if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                for i, e in enumerate(node.elts):
                    new = clone()
                    del new.elts[i]
                    self._add(node, f"element {e.value!r} removed", new)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in self.target.unwrap and node.args:
                self._add(node, f"{name}(x, …) → x", node.args[0])
        elif isinstance(node, ast.Return):
            if node.value is not None and not _is_none(node.value):
                self._add(node, "return value → return None", "return None")
        elif isinstance(node, ast.Raise):
            self._add(node, "raise removed", "pass")
        elif isinstance(node, ast.Continue | ast.Break):
            self._add(node, f"{type(node).__name__.lower()} removed", "pass")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            if _call_name(node.value) in _DELETABLE_CALLS:
                self._add(node, f".{_call_name(node.value)}(…) removed", "pass")
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOPS:
            new = clone()
            new.op = _BINOPS[type(node.op)]()
            self._add(node, f"{_sym(node.op)}= → {_sym(new.op)}=", new)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self._add(node, f"{value} → {not value}", repr(not value))
        elif value is None:
            return  # None → something else is mostly a type error; cheap noise
        elif isinstance(value, int):
            for d in (-1, 1):
                self._add(node, f"{value} → {value + d}", repr(value + d))
        elif isinstance(value, str):
            if value == "":
                self._add(node, "'' → 'XX'", repr("XX"))
            elif len(value) < 2000 and _REGEX_HINT.search(value) and _compiles(value):
                for change, pattern in _regex_variants(value):
                    if _compiles(pattern):
                        self._add(node, change, _str_literal(pattern))
            elif self._compared(node):
                self._add(node, f"{value!r} → 'XX'", repr("XX"))

    def _compared(self, node: ast.Constant) -> bool:
        for parent in ast.walk(self.tree):
            if isinstance(parent, ast.Compare) and (
                parent.left is node or any(c is node for c in parent.comparators)
            ):
                return True
        return False

    def _fstring(self, node: ast.JoinedStr) -> None:
        import copy

        for old, new_text in _SQL_SWAPS:
            for i, part in enumerate(node.values):
                if isinstance(part, ast.Constant) and old in part.value:
                    new = copy.deepcopy(node)
                    new.values[i].value = part.value.replace(old, new_text, 1)
                    self._add(node, f"SQL {old.strip()!r} → {new_text.strip()!r}", new)


def _sym(op: ast.AST) -> str:
    return {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.FloorDiv: "//",
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Is: "is",
        ast.IsNot: "is not",
        ast.In: "in",
        ast.NotIn: "not in",
        ast.And: "and",
        ast.Or: "or",
    }[type(op)]


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _str_literal(value: str) -> str:
    if "\n" not in value and '"' not in value and not value.endswith("\\"):
        return 'r"' + value + '"'
    return repr(value)


def generate(target: Target, root: Path = REPO) -> list[Mutant]:
    mutants = []
    for pattern in target.files:
        for path in sorted(glob.glob(str(root / pattern))):
            rel = str(Path(path).relative_to(root))
            source = Path(path).read_text()
            gen = _Generator(target, rel, source)
            gen.visit(gen.tree)
            seen: set[tuple[str, str]] = set()
            for m in gen.mutants:
                if (m.key, m.replacement) not in seen and _valid(source, m):
                    seen.add((m.key, m.replacement))
                    mutants.append(m)
    # Same change twice on one line (two `is` in it): number them, so that each
    # survivor has its own note.
    counts: dict[str, int] = {}
    for i, m in enumerate(mutants):
        counts[m.key] = counts.get(m.key, 0) + 1
        if counts[m.key] > 1:
            mutants[i] = dataclasses.replace(m, change=f"{m.change} #{counts[m.key]}")
    return mutants


def apply(source: str, m: Mutant) -> str:
    raw = source.encode().splitlines(keepends=True)
    (l1, c1), (l2, c2) = m.start, m.end
    head = b"".join(raw[: l1 - 1]) + raw[l1 - 1][:c1]
    tail = raw[l2 - 1][c2:] + b"".join(raw[l2:])
    text = m.replacement
    if l2 > l1 or "\n" in text:
        text = f"({text})" if not text.startswith(("return", "pass")) else text
    return (head + text.encode() + tail).decode()


def _valid(source: str, m: Mutant) -> bool:
    try:
        mutated = apply(source, m)
        compile(mutated, m.file, "exec")
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return False
    return mutated != source


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


# --- the report --------------------------------------------------------------------------


def _scores(results: list[dict]) -> dict[str, dict[str, int]]:
    scores: dict[str, dict[str, int]] = {}
    for r in results:
        s = scores.setdefault(r["target"], {"mutants": 0, "killed": 0, "survived": 0})
        s["mutants"] += 1
        s["survived" if r["outcome"] == "survived" else "killed"] += 1
    return scores


def _pct(s: dict[str, int]) -> str:
    return f"{100 * s['killed'] / s['mutants']:.1f} %" if s["mutants"] else "—"


def write_report(data: dict, baseline: dict | None, out: Path) -> None:
    notes = _load_notes()
    results = data["results"]
    scores = _scores(results)
    lines = [
        "# Mutation testing",
        "",
        "Generated by `tests/mutation/run.py` (run by hand, not in CI); do not edit by hand:",
        "notes on survivors live in `tests/mutation/notes.json`.",
        "",
        f"Command: `{data['command']}`",
        "",
        *(
            [f"Baseline (`{data.get('baseline_file', 'baseline')}`): {baseline['command']}", ""]
            if baseline
            else []
        ),
        f"Run: {data['finished']}, {data['mutants']} mutants in {data['seconds'] / 60:.1f} min "
        f"with {data['jobs']} job(s) on a shared 2-core machine "
        f"({data['sample'] or 'every mutant'}).",
        "",
        "A mutant is killed when its tests fail or time out. Operators: arithmetic and",
        "comparison swaps, `and`/`or`, `not` removed, integers ±1, booleans flipped, empty",
        "strings filled, compared strings changed, one element dropped from a tuple/list/set",
        "of strings, regex alternatives dropped / bounds ±1 / class letters dropped /",
        "optional characters required, returns/raises/appends/continues deleted, SQL",
        "`IS [NOT] DISTINCT FROM`/`AND`/`IS [NOT] NULL`/`md5` swaps in f-strings, and",
        "listed calls (e.g. `redact_change`) replaced by their argument.",
        "",
        "| module | files | mutants | killed | survived | score |"
        + (" baseline |" if baseline else ""),
        "| --- | --- | --- | --- | --- | --- |" + (" --- |" if baseline else ""),
    ]
    base_scores = _scores(baseline["results"]) if baseline else {}
    total = {"mutants": 0, "killed": 0, "survived": 0}
    for t in TARGETS:
        s = scores.get(t.name)
        if not s:
            continue
        for k in total:
            total[k] += s[k]
        row = (
            f"| {t.name} | {', '.join(f'`{f}`' for f in t.files)} | {s['mutants']} | "
            f"{s['killed']} | {s['survived']} | {_pct(s)} |"
        )
        if baseline:
            b = base_scores.get(t.name)
            row += f" {_pct(b)} ({b['survived']} survived of {b['mutants']}) |" if b else " — |"
        lines.append(row)
    lines.append(
        f"| **all** | | {total['mutants']} | {total['killed']} | {total['survived']} | "
        f"{_pct(total)} |" + (" |" if baseline else "")
    )
    lines += ["", "Tests run against each module's mutants (`TARGETS` in the script):", ""]
    for t in TARGETS:
        if t.name in scores:
            where = f" (only {', '.join(t.scope)})" if t.scope else ""
            where += f" (only lines matching `{t.lines}`)" if t.lines else ""
            lines.append(f"- {t.name}{where}: {', '.join(f'`{g}`' for g in t.tests)}")
    lines += ["", "## Surviving mutants", ""]
    survivors = [r for r in results if r["outcome"] == "survived"]
    if not survivors:
        lines.append("None.")
    missing = 0
    for r in survivors:
        why = notes.get((r["file"], r["text"], r["change"]))
        if why is None:
            missing += 1
            why = "**no note yet**"
        lines.append(f"- `{r['file']}:{r['line']}` {r['change']} — `{r['text']}`  \n  {why}")
    if baseline:
        now = {(r["file"], r["text"], r["change"]): r for r in results}
        lines += ["", "## Baseline survivors and what kills them now", ""]
        for r in baseline["results"]:
            if r["outcome"] != "survived":
                continue
            cur = now.get((r["file"], r["text"], r["change"]))
            if cur is None:
                state = "no longer generated (the code changed)"
            elif cur["outcome"] == "survived":
                state = "still survives (see above)"
            else:
                state = f"killed by `{cur['killed_by']}`"
            lines.append(f"- `{r['file']}:{r['line']}` {r['change']} — {state}")
    out.write_text("\n".join(lines) + "\n")
    if missing:
        print(f"mutation: {missing} survivor(s) without a note in {NOTES_FILE.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="target name(s) to run (default all)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--sample", type=int, help="at most N random mutants per target")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--report", type=Path, default=REPO / "tests" / "MUTATION.md")
    parser.add_argument("--baseline", type=Path, help="an earlier results.json to compare with")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report only")
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
        write_report(data, baseline, args.report)
        return 0

    if args.list:
        plan, _carried = _select(args, REPO)
        for _t, mutants in plan:
            for m in mutants:
                print(f"{m.target}\t{m.key}\t{m.text}")
        print(f"{sum(len(m) for _t, m in plan)} mutants", file=sys.stderr)
        return 0

    cleanup: list = []
    started = time.monotonic()
    results: list[dict] = []
    partial = args.results.with_suffix(".partial.jsonl")
    partial.write_text("")
    try:
        db_url = _database(cleanup)
        workers = _Workers(args.jobs, db_url, args.commit)
        cleanup.append(workers.close)
        source_root = workers.free[0]
        plan, carried = _select(args, source_root)
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
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                futures = [pool.submit(workers.run, m, tests, timeout) for m in mutants]
                for n, f in enumerate(concurrent.futures.as_completed(futures), 1):
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
    finally:
        for step in reversed(cleanup):
            step()
    results.sort(key=lambda r: (r["target"], r["file"], r["line"], r["change"]))
    command = "nice -n 15 .venv/bin/python tests/mutation/run.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    data = {
        "command": command.strip(),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.monotonic() - started),
        "jobs": args.jobs,
        "sample": (f"at most {args.sample} per module, seed {args.seed}" if args.sample else "")
        + (f"; only the survivors of {args.survivors_of.name} run again" if carried else ""),
        "mutants": len(results),
        "results": results,
    }
    args.results.write_text(json.dumps(data, indent=1) + "\n")
    partial.unlink()
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    if args.baseline:
        data["baseline_file"] = str(args.baseline)
    write_report(data, baseline, args.report)
    for name, s in _scores(results).items():
        print(f"{name}: {s['killed']}/{s['mutants']} killed ({_pct(s)})")
    print(f"{len(results)} mutants in {data['seconds'] / 60:.1f} min")
    return 0


def _select(
    args: argparse.Namespace, root: Path
) -> tuple[list[tuple[Target, list[Mutant]]], list[dict]]:
    """The mutants to run per target, and the outcomes carried from ``--survivors-of``."""
    targets = [t for t in TARGETS if not args.only or t.name in args.only]
    plan: list[tuple[Target, list[Mutant]]] = []
    for t in targets:
        mutants = generate(t, root)
        if args.sample and len(mutants) > args.sample:
            mutants = sorted(random.Random(args.seed).sample(mutants, args.sample), key=_order)
        if args.match:
            mutants = [m for m in mutants if re.search(args.match, m.key)]
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
    return plan, carried


def _order(m: Mutant) -> tuple:
    return (m.file, m.line, m.change)


if __name__ == "__main__":
    raise SystemExit(main())
