"""The bulk-speed benchmark (issue 5): the tool's commands against the floor and the naive peer.

    python benchmarks/run.py [--sizes 1000,10000] [--large] [--database-url URL]
                             [--seed S] [--output-dir DIR]

For each size N it generates N tenants into a temporary project directory, creates
fresh databases (on its own embedded PostgreSQL by default, stopped at the end; or
with CREATE DATABASE on --database-url's server), and times, each as a whole
process with its peak memory:

    migrate           setup: creates the empty tenants table (not a target)
    plan_empty        `plan --format json` on the empty table
    import_full       `import` of all N, from empty
    plan_changed      `plan --format json` after 1 % of the files changed one value
    import_changed    `import` of that 1 %
    sync_one          `sync TENANT` of one tenant whose file changed, N rows in the table
                      (median of 3, a different tenant each time)
    help              `tenant-migrator --help` (median of 5)

and, in the same run, the two references (see references.py): ``floor`` and
``naive``. Every step is also checked for correctness (row counts, plan summary,
zero writes, which rows were rewritten): a fast wrong answer is not a pass. A step
that fails is reported as failed, with its stderr tail; the harness keeps going.

Prints a table per size and writes benchmarks/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import generate
import latency
import measure

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
REFERENCE_SCHEMA = REPO.parent / "shared" / "reference" / "platform-lite" / "schema.json"
CHANGE_FRACTION = 0.01
HELP_RUNS = 5
SYNC_RUNS = 3
NAIVE_DEFAULT_LIMIT = 10_000

STEPS: tuple[str, ...] = (
    "migrate",
    "plan_empty",
    "import_full",
    "plan_changed",
    "import_changed",
    "sync_one",
    "help",
)
REFERENCES: tuple[str, ...] = ("floor", "naive")
# The least the tool's libraries cost for the two absolute budgets (stack_floor.py),
# timed like the step they stand beside; shown, never a target's denominator.
STACK_FLOORS: dict[str, str] = {"sync_one": "stack_floor_sync", "help": "stack_floor_help"}


@dataclass(frozen=True, slots=True)
class Target:
    step: str
    text: str
    kind: str  # floor_ratio | naive_speedup | wall_s | peak_mb | check
    limit: float | str
    # The size the issue defines the target at; None: every size.
    official_n: int | None = 10_000


TARGETS: tuple[Target, ...] = (
    Target("import_full", "≤ 1.5 × floor", "floor_ratio", 1.5),
    Target("import_full", "≥ 30 × faster than naive", "naive_speedup", 30.0),
    Target("plan_changed", "≤ 1.3 × floor", "floor_ratio", 1.3),
    Target("plan_changed", "zero writes", "check", "zero_writes"),
    Target("import_changed", "≤ 1.5 × floor", "floor_ratio", 1.5),
    Target("import_changed", "unchanged rows not rewritten", "check", "only_changed_rewritten"),
    Target("sync_one", "≤ 0.5 s wall", "wall_s", 0.5),
    Target("help", "≤ 0.25 s wall", "wall_s", 0.25, official_n=None),
    Target("import_full", "peak memory ≤ 300 MB", "peak_mb", 300.0, official_n=100_000),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- databases ---------------------------------------------------------------------------


def _run_sql(url: str, fn) -> Any:
    import asyncpg

    async def go():
        conn = await asyncpg.connect(url)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


class Server:
    """Where the benchmark creates its fresh databases."""

    def __init__(self, admin_url: str, kind: str) -> None:
        self.admin_url = admin_url
        self.kind = kind
        self.password = urlsplit(admin_url).password or ""

    @classmethod
    @contextlib.contextmanager
    def open(cls, database_url: str | None, workdir: Path) -> Iterator[Server]:
        if database_url:
            yield cls(database_url, "url")
            return
        # The tool's own embedded server code, on a data directory of our own.
        from tenant_migrator import embedded

        log("starting an embedded PostgreSQL for the benchmark ...")
        pgdata = workdir / "pgdata"
        try:
            yield cls(embedded.start(pgdata), "embedded")
        finally:
            embedded.stop(pgdata)

    def version(self) -> str:
        return _run_sql(self.admin_url, lambda c: c.fetchval("SHOW server_version"))

    def create(self, name: str) -> str:
        async def go(conn):
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')

        _run_sql(self.admin_url, go)
        from tenant_migrator.database import url_with_database

        return url_with_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        with contextlib.suppress(Exception):
            _run_sql(self.admin_url, lambda c: c.execute(sql))


def write_fingerprint(url: str) -> dict[str, Any]:
    """Row count and the sum of row versions (xmin) of every user table.

    Any INSERT, UPDATE or DELETE — even one writing identical values — changes
    xmin or the count, so equal fingerprints before and after a command mean it
    wrote nothing.
    """

    async def go(conn):
        tables = await conn.fetch(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg_%' ORDER BY 1"
        )
        out = {}
        for t in tables:
            count, versions = await conn.fetchrow(
                f"SELECT count(*), coalesce(sum(xmin::text::bigint), 0) FROM {t['name']}"
            )
            out[t["name"]] = [count, int(versions)]
        return out

    return _run_sql(url, go)


def tenant_versions(url: str) -> dict[str, str]:
    async def go(conn):
        return {r["id"]: r["xmin"] for r in await conn.fetch("SELECT id, xmin::text FROM tenants")}

    return _run_sql(url, go)


def tenant_count(url: str) -> int:
    return _run_sql(url, lambda c: c.fetchval("SELECT count(*) FROM tenants"))


# --- steps -------------------------------------------------------------------------------


def tool_argv(project: Path, url: str, *args: str) -> list[str]:
    script = Path(sys.executable).parent / "tenant-migrator"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "tenant_migrator"]
    return [*head, "--project-dir", str(project), "--database-url", url, *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # --database-url is explicit; make sure nothing in the environment competes.
    for name in ("DATABASE_URL", "PGHOST", "PGDATABASE", "PGPORT", "PGUSER", "PGPASSWORD"):
        env.pop(name, None)
    env.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    env["COLUMNS"] = "200"  # error boxes in stderr tails stay unwrapped
    return env


def _checked(check: dict[str, Any], fn) -> dict[str, Any]:
    """Run a correctness probe; a probe that cannot run (no table yet) is recorded, not raised."""
    try:
        check.update(fn())
    except Exception as err:
        check["ok"] = False
        check["error"] = f"{type(err).__name__}: {err}"[:300]
    return check


def _plan_summary(path: Path) -> dict[str, Any]:
    """The "summary" object of a `plan --format json` report.

    At 100,000 tenants the report is about a gigabyte; the summary comes first, so
    decode just that object from the head of the file instead of loading it all.
    """
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(64 * 1024)
        key = re.search(r'"summary"\s*:\s*', head)
        if key:
            summary, _ = json.JSONDecoder().raw_decode(head, key.end())
        else:
            summary = json.loads(path.read_text(encoding="utf-8"))["summary"]
        if not isinstance(summary, dict):
            raise TypeError
        return summary
    except (OSError, ValueError, KeyError, TypeError) as err:
        problem = type(err).__name__
        raise ValueError(f"plan --format json output has no summary ({problem})") from None


@dataclass
class SizeRun:
    n: int
    seed: int
    project: Path
    tool_url: str
    ref_url: str
    timeout: float
    redact: tuple[str, ...]
    naive_limit: int | None
    shape: str = "standard"

    def tool(self, name: str, *args: str, stdout: Path | None = None) -> dict[str, Any]:
        log(f"  [n={self.n}] {name} ...")
        m = measure.run(
            tool_argv(self.project, self.tool_url, *args),
            env=child_env(),
            cwd=self.project,
            stdout_path=stdout,
            timeout=self.timeout,
            redact=self.redact,
        )
        log(f"  [n={self.n}] {name}: {m.status} in {m.wall_s:.3f} s, peak {m.peak_mb:.0f} MB")
        return m.to_json()

    def run_steps(self) -> dict[str, Any]:
        steps: dict[str, Any] = {}
        out = self.project / ".bench-out"
        out.mkdir(exist_ok=True)
        n = self.n

        steps["migrate"] = self.tool("migrate", "migrate")

        plan_empty = out / "plan_empty.json"
        steps["plan_empty"] = self.tool("plan_empty", "plan", "--format", "json", stdout=plan_empty)
        steps["plan_empty"]["checks"] = _checked(
            {"expected_create": n},
            lambda: (lambda s: {"summary": s, "ok": s.get("create") == n})(
                _plan_summary(plan_empty)
            ),
        )

        steps["import_full"] = self.tool("import_full", "import")
        steps["import_full"]["checks"] = _checked(
            {"expected_rows": n},
            lambda: (lambda c: {"rows": c, "ok": c == n})(tenant_count(self.tool_url)),
        )

        changes = generate.change_files(
            self.project, n, CHANGE_FRACTION, self.seed, shape=self.shape
        )
        changed_ids = sorted(c.tenant_id for c in changes)
        before: dict[str, Any] = {}
        _checked(before, lambda: {"fingerprint": write_fingerprint(self.tool_url)})
        plan_changed = out / "plan_changed.json"
        steps["plan_changed"] = self.tool(
            "plan_changed", "plan", "--format", "json", stdout=plan_changed
        )

        def plan_changed_check() -> dict[str, Any]:
            summary = _plan_summary(plan_changed)
            zero = write_fingerprint(self.tool_url) == before.get("fingerprint", object())
            right = summary.get("update") == len(changes) and summary.get("unchanged") == n - len(
                changes
            )
            return {"summary": summary, "zero_writes": zero, "ok": zero and right}

        steps["plan_changed"]["checks"] = _checked(
            {"expected_update": len(changes), "expected_unchanged": n - len(changes)},
            plan_changed_check,
        )

        versions: dict[str, Any] = {}
        _checked(versions, lambda: {"v": tenant_versions(self.tool_url)})
        steps["import_changed"] = self.tool("import_changed", "import")

        def import_changed_check() -> dict[str, Any]:
            after = tenant_versions(self.tool_url)
            rewritten = sorted(i for i, v in after.items() if versions.get("v", {}).get(i) != v)
            unexpected = sorted(set(rewritten) - set(changed_ids))
            missing = sorted(set(changed_ids) - set(rewritten))
            return {
                "rewritten": len(rewritten),
                "unexpected_rewrites": unexpected[:5],
                "missing_rewrites": missing[:5],
                "only_changed_rewritten": not unexpected,
                "ok": not unexpected and not missing,
            }

        steps["import_changed"]["checks"] = _checked(
            {"expected_rewritten": len(changes)}, import_changed_check
        )

        # One more tenant edits its file; sync must write exactly that row. Three
        # times, a different tenant each time, and the median run is the figure:
        # one half-second process is at the mercy of whatever else the machine
        # (autovacuum after the imports, say) does in that half second.
        untouched = set(generate.change_indices(n, CHANGE_FRACTION, self.seed))
        candidates = (i for i in range(n) if i not in untouched)
        syncs = []
        for index in itertools.islice(candidates, SYNC_RUNS):
            document, change = generate.changed_document(
                self.seed, index, generation=2, shape=self.shape
            )
            generate.write_tenant(
                self.project / "clients", change.tenant_id, generate.dump(document)
            )
            versions.clear()
            _checked(versions, lambda: {"v": tenant_versions(self.tool_url)})
            run = self.tool("sync_one", "sync", change.tenant_id)

            def sync_check(tenant: str = change.tenant_id) -> dict[str, Any]:
                after = tenant_versions(self.tool_url)
                rewritten = sorted(i for i, v in after.items() if versions.get("v", {}).get(i) != v)
                return {"rewritten": rewritten[:5], "ok": rewritten == [tenant]}

            run["checks"] = _checked(
                {"tenant": change.tenant_id, "json_path": change.json_path}, sync_check
            )
            syncs.append(run)
        steps["sync_one"] = {**_median_run(syncs), "synced": [r["checks"]["tenant"] for r in syncs]}

        steps["help"] = _median_run([self.tool("help", "--help") for _ in range(HELP_RUNS)])
        return steps

    def stack_floors(self, sync_tenants: list[str]) -> dict[str, Any]:
        """stack_floor.py's two programs, each run as often as the step it stands
        beside (the median run is the figure); after the tool's steps, since the sync
        floor writes a tenant's row back to the tool's database."""
        script = [sys.executable, str(BENCH_DIR / "stack_floor.py")]
        sync_args = ["--project-dir", str(self.project), "--database-url", self.tool_url]
        runs = {
            "stack_floor_sync": [
                [*script, "sync", *sync_args, "--tenant", t] for t in sync_tenants
            ],
            "stack_floor_help": [[*script, "help"]] * HELP_RUNS,
        }
        out: dict[str, Any] = {}
        for name, argvs in runs.items():
            log(f"  [n={self.n}] {name} ...")
            measured = []
            stdout = self.project / ".bench-out" / f"{name}.json"
            for argv in argvs:
                m = measure.run(
                    argv,
                    env=child_env(),
                    stdout_path=stdout,
                    timeout=self.timeout,
                    redact=self.redact,
                )
                # The sync floor must really have written its one row.
                wrote = name != "stack_floor_sync" or _rows_written(stdout) == 1
                measured.append({**m.to_json(), "checks": {"ok": m.ok and wrote}})
            out[name] = _median_run(measured)
            log(f"  [n={self.n}] {name}: {out[name]['status']} in {out[name]['wall_s']:.3f} s")
        return out

    def profile(self, output_dir: Path) -> dict[str, Any]:
        """`plan` (read-only, so repeatable: every file loaded, validated and diffed)
        under cProfile. Only the main process is profiled: time spent in a process
        pool's workers shows up as waiting."""
        import io
        import pstats

        output_dir.mkdir(parents=True, exist_ok=True)
        prof = output_dir / f"profile-plan-{self.n}-{os.getpid()}.prof"
        plan = tool_argv(self.project, self.tool_url, "plan", "--format", "json")
        argv = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "tenant_migrator"]
        argv += plan[plan.index("--project-dir") :]
        log(f"  [n={self.n}] profiling plan ...")
        m = measure.run(argv, env=child_env(), cwd=self.project, timeout=self.timeout)
        if not m.ok or not prof.exists():
            return {"status": m.status, "stderr_tail": m.stderr_tail}
        text = io.StringIO()
        stats = pstats.Stats(str(prof), stream=text)
        stats.sort_stats("cumulative").print_stats(30)
        top = prof.with_suffix(".txt")
        top.write_text(text.getvalue(), encoding="utf-8")
        return {"status": "ok", "wall_s": m.wall_s, "prof": str(prof), "top": str(top)}

    def reference(self, name: str) -> dict[str, Any]:
        argv = [
            sys.executable,
            str(BENCH_DIR / "references.py"),
            name,
            "--project-dir",
            str(self.project),
            "--database-url",
            self.ref_url,
        ]
        limit = None
        if name == "naive":
            argv += ["--schema", str(self.project / "config" / "schema.json")]
            if self.naive_limit and self.naive_limit < self.n:
                limit = self.naive_limit
                argv += ["--limit", str(limit)]
        stdout = self.project / ".bench-out" / f"{name}.json"
        stdout.parent.mkdir(exist_ok=True)
        log(f"  [n={self.n}] reference {name} ...")
        m = measure.run(
            argv, env=child_env(), stdout_path=stdout, timeout=self.timeout, redact=self.redact
        )
        result = m.to_json()
        try:
            result["detail"] = json.loads(stdout.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result["detail"] = None
        detail = result["detail"] or {}
        expected = limit or self.n
        result["checks"] = {
            "expected_rows": expected,
            "ok": m.ok and detail.get("rows") == expected and not detail.get("invalid"),
        }
        # The naive peer's cost is linear in N (one file, one validate, one round
        # trip each); for --large it runs on a prefix and only its per-file work is
        # scaled up (start-up and connecting happen once).
        work = detail.get("work_s")
        if limit and work:
            result["effective_wall_s"] = round(m.wall_s - work + work * self.n / expected, 4)
        else:
            result["effective_wall_s"] = round(m.wall_s * self.n / expected, 4)
        result["extrapolated_from"] = limit
        log(f"  [n={self.n}] reference {name}: {m.status} in {m.wall_s:.3f} s")
        return result


def _rows_written(stdout: Path) -> int | None:
    """``rows`` of the JSON object a reference printed; None if it printed none."""
    try:
        return json.loads(stdout.read_text(encoding="utf-8")).get("rows")
    except (OSError, ValueError, AttributeError):
        return None


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, plus every run's wall time; a failed check
    or exit in any run stays visible (the first failing run is the one shown)."""
    failed = [r for r in runs if r["status"] != "ok" or not r.get("checks", {}).get("ok", True)]
    walls = sorted(r["wall_s"] for r in runs)
    shown = (
        failed[0]
        if failed
        else min(runs, key=lambda r: abs(r["wall_s"] - statistics.median(walls)))
    )
    return {**shown, "runs_wall_s": walls}


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r["status"] == "ok" and r["checks"]["ok"]]
    best = dict(min(good, key=lambda r: r["wall_s"]) if good else runs[-1])
    best["runs_wall_s"] = [r["wall_s"] for r in runs]
    return best


def evaluate(n: int, steps: dict[str, Any], refs: dict[str, Any]) -> list[dict[str, Any]]:
    floor = refs["floor"]["wall_s"] if refs["floor"]["status"] == "ok" else None
    naive = refs["naive"]["effective_wall_s"] if refs["naive"]["status"] == "ok" else None
    rows = []
    for t in TARGETS:
        step = steps[t.step]
        checks = step.get("checks", {})
        value: Any = None
        met: bool | None = None
        if t.kind == "floor_ratio" and floor:
            value = round(step["wall_s"] / floor, 2)
            met = value <= t.limit
        elif t.kind == "naive_speedup" and naive:
            value = round(naive / step["wall_s"], 1)
            met = value >= t.limit
        elif t.kind == "wall_s":
            value = step["wall_s"]
            met = value <= t.limit
        elif t.kind == "peak_mb":
            value = step["peak_mb"]
            met = value <= t.limit
        elif t.kind == "check":
            value = checks.get(t.limit)
            met = bool(value)
        # A fast answer that failed or was wrong does not meet anything.
        if step["status"] != "ok" or checks.get("ok") is False:
            met = False
        rows.append(
            {
                "step": t.step,
                "target": t.text,
                "value": value,
                "met": met,
                "official": t.official_n is None or t.official_n == n,
                "official_n": t.official_n,
            }
        )
    return rows


# --- one size ---------------------------------------------------------------------------


def prepare_project(project: Path, n: int, seed: int, shape: str = "standard") -> dict[str, Any]:
    started = time.perf_counter()
    ids = generate.generate(project, n, seed, shape)
    generate_s = time.perf_counter() - started
    for folder in ("config", "database"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, project / folder, dirs_exist_ok=True)
    schema = project / "config" / "schema.json"
    schema_source = "config/schema.json"
    if not schema.exists():
        # Before the team's schema exists, the naive peer validates against the
        # platform's own draft-07 schema.
        schema.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REFERENCE_SCHEMA, schema)
        schema_source = "shared/reference/platform-lite/schema.json"
    sizes = [(project / "clients" / i / "client.yaml").stat().st_size for i in ids]
    return {
        "files": n,
        "shape": shape,
        "generate_s": round(generate_s, 2),
        "bytes_total": sum(sizes),
        "bytes_min": min(sizes),
        "bytes_max": max(sizes),
        "bytes_mean": round(sum(sizes) / n),
        "with_literal_secrets": sum(generate.has_literal_secrets(seed, i) for i in range(n)),
        "schema": schema_source,
    }


def run_size(server: Server, workdir: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    project = workdir / f"project-{n}"
    log(f"[n={n}] generating {n} tenants in {project} ...")
    dataset = prepare_project(project, n, args.seed, shape=args.shape)
    tag = f"tm_bench_{n}_{os.getpid()}"
    tool_db, ref_db = tag, tag + "_ref"
    size_run = SizeRun(
        n=n,
        seed=args.seed,
        project=project,
        tool_url=server.create(tool_db),
        ref_url=server.create(ref_db),
        timeout=args.step_timeout,
        redact=(server.password,),
        naive_limit=args.naive_limit or (NAIVE_DEFAULT_LIMIT if n > NAIVE_DEFAULT_LIMIT else None),
        shape=args.shape,
    )
    try:
        # The floor is the denominator of most targets: measure it before and after
        # the tool's steps and keep the faster run, so noise from other work on the
        # machine makes the targets stricter, never easier.
        floors = [size_run.reference("floor")]
        steps = size_run.run_steps()
        floors.append(size_run.reference("floor"))
        refs = {"floor": best_of(floors), "naive": size_run.reference("naive")}
        refs.update(size_run.stack_floors(steps["sync_one"]["synced"]))
        profile = size_run.profile(args.output_dir) if args.profile else None
    finally:
        if not args.keep:
            server.drop(tool_db)
            server.drop(ref_db)
            shutil.rmtree(project, ignore_errors=True)
    return {
        "n": n,
        "dataset": dataset,
        "changed_files": max(1, round(n * CHANGE_FRACTION)),
        "references": refs,
        "steps": steps,
        "targets": evaluate(n, steps, refs),
        "profile": profile,
    }


def run_latency(server: Server, workdir: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """``--rtt-ms``: the steps of ``latency.py``, direct and through the proxy."""
    project = workdir / f"latency-{n}"
    log(f"[n={n}] generating {n} tenants in {project} ...")
    dataset = prepare_project(project, n, args.seed, shape=args.shape)
    tag = f"tm_rtt_{n}_{os.getpid()}"
    names = (tag + "_direct", tag + "_remote")
    try:
        steps = latency.LatencyRun(
            n=n,
            seed=args.seed,
            project=project,
            direct_url=server.create(names[0]),
            remote_url=server.create(names[1]),
            rtt_ms=args.rtt_ms,
            timeout=args.step_timeout,
            tool_argv=tool_argv,
            env=child_env(),
            log=log,
            shape=args.shape,
        ).run()
    finally:
        if not args.keep:
            for name in names:
                server.drop(name)
            shutil.rmtree(project, ignore_errors=True)
    return {"n": n, "dataset": dataset, "steps": steps}


# --- report ------------------------------------------------------------------------------


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine(server: Server) -> dict[str, Any]:
    import asyncpg
    import jsonschema
    import yaml

    cpu = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)
    try:
        pg = server.version()
    except Exception as err:  # the table still prints; the JSON says why
        pg = f"unknown ({type(err).__name__})"
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": mem,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyyaml": yaml.__version__,
        "libyaml": bool(yaml.__with_libyaml__),
        "jsonschema": _version("jsonschema", jsonschema),
        "asyncpg": asyncpg.__version__,
        "postgres": pg,
        "database": server.kind,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "tenant_migrator")),
    }


def _version(dist: str, module: Any) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return getattr(module, "__version__", "?")


def _fmt_s(step: dict[str, Any]) -> str:
    return f"{step['wall_s']:.3f}"


_RATIO_STEPS = ("plan_empty", "import_full", "plan_changed", "import_changed")


def print_tables(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=140)
    for size in result["sizes"]:
        n = size["n"]
        refs, steps = size["references"], size["steps"]
        floor = refs["floor"]["wall_s"] if refs["floor"]["status"] == "ok" else None
        naive = refs["naive"]["effective_wall_s"] if refs["naive"]["status"] == "ok" else None
        table = Table(title=f"N = {n:,} tenants", title_justify="left")
        for col in ("step", "wall s", "peak MB", "× floor", "naive ×", "target", "met", "status"):
            left = col in ("step", "target", "status")
            table.add_column(col, justify="left" if left else "right")
        for name in REFERENCES:
            r = refs[name]
            wall = f"{r['effective_wall_s']:.3f}" + ("*" if r["extrapolated_from"] else "")
            status = r["status"] if r["checks"]["ok"] else f"{r['status']}, WRONG"
            table.add_row(name, wall, f"{r['peak_mb']:.0f}", "", "", "reference", "", status)
        targets: dict[str, list[dict[str, Any]]] = {}
        for t in size["targets"]:
            targets.setdefault(t["step"], []).append(t)
        for name in STEPS:
            s = steps[name]
            ok = s["status"] == "ok"
            ratio = f"{s['wall_s'] / floor:.2f}" if ok and floor and name in _RATIO_STEPS else ""
            speed = f"{naive / s['wall_s']:.1f}" if ok and naive and name == "import_full" else ""
            status = s["status"]
            if s["status"] == "ok" and s.get("checks", {}).get("ok") is False:
                status = "ok, WRONG result"
            elif s["status"] != "ok":
                status = f"FAILED (exit {s['exit_code']})" if s["status"] == "failed" else "TIMEOUT"
            rows = targets.get(name) or [None]
            for i, t in enumerate(rows):
                met = ""
                if t is not None:
                    met = {True: "yes", False: "NO", None: "?"}[t["met"]]
                    if not t["official"]:
                        met = f"({met})"
                first = i == 0
                table.add_row(
                    name if first else "",
                    _fmt_s(s) if first else "",
                    f"{s['peak_mb']:.0f}" if first else "",
                    ratio if first else "",
                    speed if first else "",
                    t["target"] if t else "",
                    met,
                    status if first else "",
                )
        for step, name in STACK_FLOORS.items():
            r = refs.get(name)
            if r is not None:
                status = r["status"] if r["checks"]["ok"] else f"{r['status']}, WRONG"
                table.add_row(
                    f"stack floor: {step}",
                    _fmt_s(r),
                    f"{r['peak_mb']:.0f}",
                    "",
                    "",
                    "reference (stack_floor.py)",
                    "",
                    status,
                )
        console.print(table)
        notes = []
        if refs["naive"]["extrapolated_from"]:
            notes.append(
                f"* naive measured on the first {refs['naive']['extrapolated_from']:,} files, "
                "scaled linearly"
            )
        notes.append(
            "(bracketed) = indicative: targets are defined at N=10,000 (memory at N=100,000)"
        )
        if size.get("profile") and size["profile"].get("top"):
            notes.append(f"profile of `plan`: {size['profile']['top']}")
        console.print("\n".join(notes), style="dim")
        for name in (*REFERENCES, *STACK_FLOORS.values(), *STEPS):
            s = refs.get(name) or steps.get(name)
            if s["status"] != "ok":
                console.print(f"\n{name} stderr (tail):", style="bold red")
                console.print(s["stderr_tail"], markup=False)
            elif s.get("checks", {}).get("ok") is False:
                console.print(f"\n{name} result check:", style="bold yellow")
                console.print(json.dumps(s["checks"], default=str)[:600], markup=False)
        console.print()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark tenant-migrator against the parsing floor and the naive peer."
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
        help="comma-separated tenant counts (default: 1000,10000)",
    )
    parser.add_argument("--large", action="store_true", help="also N = 100,000")
    parser.add_argument(
        "--database-url",
        help="create fresh databases on this server instead of an embedded one",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--shape",
        choices=sorted(generate.SHAPES),
        default="standard",
        help="the generated tenants' shape (generate.py): standard, or wide (more "
        "consultants, longer destination lists)",
    )
    parser.add_argument("--output-dir", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--naive-limit",
        type=int,
        help=f"run the naive peer on the first N files only and scale up "
        f"(default: {NAIVE_DEFAULT_LIMIT:,} when a size is larger)",
    )
    parser.add_argument("--step-timeout", type=float, default=1800.0, help="seconds per process")
    parser.add_argument("--keep", action="store_true", help="keep project dirs and databases")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run `plan` under cProfile per size; .prof and top-30 .txt go to --output-dir",
    )
    parser.add_argument("--workdir", type=Path, help="where to generate (default: a temp dir)")
    parser.add_argument(
        "--rtt-ms",
        type=float,
        help="instead: time every step direct and through a proxy adding this round trip "
        "(benchmarks/latency.py); prints the round trips added and counted",
    )
    args = parser.parse_args(argv)
    if args.large and 100_000 not in args.sizes:
        args.sizes.append(100_000)
    if not args.sizes or min(args.sizes) < 2:
        parser.error("--sizes needs counts of at least 2")
    return args


def compile_bytecode() -> bool:
    """Write the tool's bytecode before timing anything, as installing it does.

    An installed tool (pip compiles a wheel's modules at install) starts from its
    ``.pyc`` files. A source checkout under ``PYTHONDONTWRITEBYTECODE=1`` (set on
    the machines this runs on) has none and never writes any, so every timed
    process would compile the ~80 modules it imports from source first (about
    0.13 s each time): a cost no user of the tool pays. ``compileall`` writes them
    whatever that variable says; a module edited later is compiled again (its
    ``.pyc`` records the source's mtime). Returns whether it succeeded."""
    import compileall

    import tenant_migrator

    return compileall.compile_dir(Path(tenant_migrator.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    bytecode = compile_bytecode()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tm-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "schema_version": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "seed": args.seed,
        "change_fraction": CHANGE_FRACTION,
        "bytecode_compiled": bytecode,
    }
    try:
        with Server.open(args.database_url, workdir) as server:
            result["machine"] = machine(server)
            if args.rtt_ms:
                result["rtt_ms"] = args.rtt_ms
                result["latency"] = [run_latency(server, workdir, n, args) for n in args.sizes]
            else:
                result["sizes"] = [run_size(server, workdir, n, args) for n in args.sizes]
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    out = args.output_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    if args.rtt_ms:
        for size in result["latency"]:
            latency.print_table(size["n"], size["steps"], args.rtt_ms)
    else:
        print_tables(result)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
