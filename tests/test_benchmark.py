"""The benchmark harness (benchmarks/) must not rot: its generator, its measuring and a
small end-to-end run against the test server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from importhelpers import bench_module

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


generate = bench_module("generate")
measure = bench_module("measure")


# --- the generator ------------------------------------------------------------------------


def test_generated_tenants_are_deterministic_realistic_and_about_one_in_ten_has_secrets(tmp_path):
    ids = generate.generate(tmp_path / "a", 300, seed=7)
    generate.generate(tmp_path / "b", 300, seed=7)

    assert len(set(ids)) == 300
    secret_files = 0
    for tid in ids:
        a = (tmp_path / "a" / "clients" / tid / "client.yaml").read_bytes()
        assert a == (tmp_path / "b" / "clients" / tid / "client.yaml").read_bytes()
        assert TENANT_ID.match(tid)
        assert 2048 <= len(a) <= 4096, (tid, len(a))
        doc = yaml.safe_load(a)
        assert doc["client"]["id"] == tid
        for section in ("destinations", "consultants", "banking", "agents", "infrastructure"):
            assert doc[section], section
        text = a.decode()
        literal = "SG.fake" in text or "sk-fake" in text
        secret_files += literal
        assert literal == generate.has_literal_secrets(7, ids.index(tid))
    assert 15 <= secret_files <= 50  # about one in ten of 300
    # Another seed is another population.
    assert generate.tenant_text(8, 0) != generate.tenant_text(7, 0)


def test_change_files_changes_exactly_one_value_in_one_percent_of_files(tmp_path):
    ids = generate.generate(tmp_path, 400, seed=3)
    before = {tid: (tmp_path / "clients" / tid / "client.yaml").read_bytes() for tid in ids}

    changes = generate.change_files(tmp_path, 400, 0.01, seed=3)

    assert len(changes) == 4
    assert changes == generate.change_files(tmp_path, 400, 0.01, seed=3)  # deterministic
    changed = {c.tenant_id: c for c in changes}
    for tid in ids:
        after = (tmp_path / "clients" / tid / "client.yaml").read_bytes()
        if tid not in changed:
            assert after == before[tid]
            continue
        old = dict(generate._leaves(yaml.safe_load(before[tid])))
        new = dict(generate._leaves(yaml.safe_load(after)))
        assert old.keys() == new.keys()
        differing = [p for p in old if old[p] != new[p]]
        assert differing == [changed[tid].json_path]
        assert (old[differing[0]], new[differing[0]]) == (changed[tid].old, changed[tid].new)


def test_generated_files_validate_against_the_project_schema():
    schema = json.loads((REPO / "config" / "schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for index in range(200):
        doc = yaml.safe_load(generate.tenant_text(0, index))
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], (generate.tenant_id(0, index), errors)


def test_the_wide_shape_has_more_consultants_and_longer_destination_lists_and_is_valid():
    schema = json.loads((REPO / "config" / "schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    for index in range(100):
        text = generate.tenant_text(0, index, "wide")
        doc = yaml.safe_load(text)
        assert 12 <= len(doc["destinations"]) <= 24 and 10 <= len(doc["consultants"]) <= 20
        assert doc == generate.tenant_document(0, index, "wide")  # deterministic
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == [], (generate.tenant_id(0, index), errors)
    # The standard shape is what it was: the wide one is a second shape, not a change.
    standard = generate.tenant_document(0, 0)
    assert len(standard["destinations"]) <= 8 and len(standard["consultants"]) <= 6


def test_generated_files_pass_the_tools_validate_command(tmp_path, run_cli):
    generate.generate(tmp_path, 40, seed=0)
    (tmp_path / "config").mkdir()
    schema = (REPO / "config" / "schema.json").read_bytes()
    (tmp_path / "config" / "schema.json").write_bytes(schema)

    result = run_cli("--project-dir", tmp_path, "validate", "--format", "json")

    assert result.returncode == 0, result.output
    assert "SG.fake" not in result.output and "sk-fake" not in result.output


# --- measuring ----------------------------------------------------------------------------


def test_measure_reports_a_failing_command_with_its_stderr_tail_and_peak_rss():
    script = (
        "import sys\n"
        "block = bytearray(120 * 2**20)\n"
        "sys.stderr.write('line %d\\n' * 30 % tuple(range(30)))\n"
        "sys.stderr.write('boom: the last line')\n"
        "sys.exit(3)\n"
    )
    m = measure.run([sys.executable, "-c", script])

    assert (m.status, m.exit_code) == ("failed", 3)
    assert m.stderr_tail.endswith("boom: the last line")
    assert "line 0\n" not in m.stderr_tail  # a tail, not the whole stream
    assert m.max_rss_mb >= 120
    assert m.wall_s > 0


def test_measure_counts_pool_workers_memory_and_kills_a_hung_command(tmp_path):
    script = (
        "import multiprocessing as mp, time\n"
        "def work(_):\n"
        "    block = bytearray(80 * 2**20)\n"
        "    time.sleep(0.6)\n"
        "    return len(block)\n"
        "if __name__ == '__main__':\n"
        "    with mp.Pool(2) as pool:\n"
        "        print(sum(pool.map(work, range(2))))\n"
    )
    out = tmp_path / "out.txt"
    m = measure.run([sys.executable, "-c", script], stdout_path=out)

    assert m.ok, m.stderr_tail
    assert out.read_text().strip() == str(2 * 80 * 2**20)
    assert m.max_rss_mb >= 80  # the largest single process (a worker)
    assert m.tree_peak_pss_mb >= 150  # both workers at once
    assert m.peak_mb == max(m.max_rss_mb, m.tree_peak_pss_mb)

    hung = measure.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert hung.status == "timeout"
    assert hung.wall_s < 10
    assert "killed after 0.5 s" in hung.stderr_tail


def test_measure_peak_rss_is_the_commands_not_the_harness_size():
    # A child's ru_maxrss starts from its forker's size; the harness grows while it
    # checks results, so a small command must still measure small.
    ballast = b"\x01" * (300 * 2**20)  # written, so resident
    m = measure.run([sys.executable, "-c", "pass"])
    assert len(ballast) and m.ok
    assert m.max_rss_mb < 100, m.max_rss_mb


def test_measure_redacts_a_password_from_argv_and_stderr():
    m = measure.run(
        [sys.executable, "-c", "import sys; sys.exit('cannot connect with hunter2')", "hunter2"],
        redact=("hunter2",),
    )
    assert "hunter2" not in m.stderr_tail and "hunter2" not in " ".join(m.argv)
    assert "***" in m.stderr_tail


# --- the whole script, tiny N -------------------------------------------------------------


STEPS = (
    "migrate",
    "plan_empty",
    "import_full",
    "plan_changed",
    "import_changed",
    "sync_one",
    "help",
)


@pytest.mark.timeout(120)
def test_benchmark_script_runs_every_step_and_both_references(server_url, pg, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--sizes",
            "20",
            "--database-url",
            server_url,
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [out] = tmp_path.glob("*.json")
    result = json.loads(out.read_text())
    assert result["machine"]["cpu_count"] >= 1
    # Timed as installed: the tool's bytecode written first, whatever
    # PYTHONDONTWRITEBYTECODE says.
    assert result["bytecode_compiled"] is True
    [size] = result["sizes"]
    assert size["n"] == 20
    assert size["dataset"]["files"] == 20

    for name in ("floor", "naive"):
        ref = size["references"][name]
        assert ref["status"] == "ok", ref["stderr_tail"]
        assert ref["detail"]["rows"] == 20
        assert ref["checks"]["ok"]
        assert ref["wall_s"] > 0 and ref["max_rss_mb"] > 0
    assert size["references"]["naive"]["detail"]["invalid"] == 0
    # The stack floors ran as often as the steps they stand beside, the sync floor on
    # the tenants the tool synced, and wrote exactly the one row each time.
    assert size["references"]["stack_floor_sync"]["status"] == "ok"
    assert len(size["references"]["stack_floor_sync"]["runs_wall_s"]) == 3
    assert len(size["references"]["stack_floor_help"]["runs_wall_s"]) == 5
    assert len(set(size["steps"]["sync_one"]["synced"])) == 3
    assert len(size["references"]["floor"]["runs_wall_s"]) == 2  # before and after the tool

    assert set(size["steps"]) == set(STEPS)
    for name, step in size["steps"].items():
        assert step["status"] in ("ok", "failed", "timeout"), name
        assert step["wall_s"] > 0 and step["peak_mb"] > 0, name
        assert step["argv"], name
        if step["status"] != "ok":
            assert step["stderr_tail"], name  # a failed step says why
    # The tool's commands work now, so at N=20 every step must succeed and be right.
    for name, step in size["steps"].items():
        assert step["status"] == "ok", (name, step["stderr_tail"])
        assert step.get("checks", {}).get("ok", True), (name, step["checks"])
    assert size["steps"]["plan_changed"]["checks"]["zero_writes"] is True
    assert size["steps"]["import_changed"]["checks"]["rewritten"] == 1  # 1 % of 20, at least 1
    assert len(size["steps"]["help"]["runs_wall_s"]) == 5
    assert len(size["steps"]["sync_one"]["runs_wall_s"]) == 3  # each run checked, one row

    targets = {(t["step"], t["target"]) for t in size["targets"]}
    assert ("import_full", "≤ 1.5 × floor") in targets
    assert ("import_full", "≥ 30 × faster than naive") in targets
    assert ("sync_one", "≤ 0.5 s wall") in targets
    assert ("help", "≤ 0.25 s wall") in targets

    assert "N = 20 tenants" in proc.stdout
    assert "import_full" in proc.stdout and "floor" in proc.stdout
    assert "stack floor: sync_one" in proc.stdout and "stack floor: help" in proc.stdout
    # Its databases are gone.
    left = pg.fetch(server_url, "SELECT datname FROM pg_database WHERE datname LIKE 'tm_bench_%'")
    assert left == []
