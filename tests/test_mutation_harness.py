"""The mutation harness's bookkeeping (tests/mutation/): results of several commands
merged into one file, the sample a stopped run corresponds to, and the report."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "mutation"))

import report
import run
from mutants import Mutant


def _result(line: int, outcome: str, target: str = "t", change: str = "1 → 2") -> dict:
    return {
        "target": target,
        "file": "pkg/m.py",
        "line": line,
        "text": f"x = {line}",
        "change": change,
        "replacement": "2",
        "outcome": outcome,
        "killed_by": "tests/test_m.py::test_x" if outcome == "failed" else "",
        "seconds": 1.0,
    }


def _run(command: str, mutants: int) -> dict:
    return {"command": command, "finished": "2026-12-02 05:00 UTC", "seconds": 60, "jobs": 2,
            "sample": "", "mutants": mutants, "commit": "abc1234"}  # fmt: skip


def test_merge_replaces_the_mutants_run_again_keeps_the_others_and_their_history() -> None:
    first = report.merge(
        {"results": [], "runs": []},
        _run("one", 2),
        [_result(1, "timeout"), _result(2, "survived")],
        {"t": 5},
    )
    both = report.merge(first, _run("two", 1), [_result(1, "failed")], {"u": 3})

    assert [r["command"] for r in both["runs"]] == ["one", "two"]
    assert both["generated"] == {"t": 5, "u": 3}
    assert both["mutants"] == 2
    by_line = {r["line"]: r for r in both["results"]}
    assert by_line[1]["outcome"] == "failed"
    assert by_line[1]["earlier"] == [{"outcome": "timeout", "killed_by": "", "seconds": 1.0}]
    assert by_line[2]["outcome"] == "survived" and "earlier" not in by_line[2]


def test_a_results_file_from_before_the_merge_is_one_run() -> None:
    old = {"command": "c", "finished": "f", "seconds": 9, "jobs": 1, "sample": "", "mutants": 1,
           "results": [_result(1, "failed")]}  # fmt: skip
    assert report.runs(old) == [
        {"command": "c", "finished": "f", "seconds": 9, "jobs": 1, "sample": "", "mutants": 1}
    ]
    merged = report.merge(old, _run("two", 1), [_result(3, "failed")], {})
    assert [r["command"] for r in merged["runs"]] == ["c", "two"]
    assert merged["mutants"] == 2


def test_a_sample_is_a_prefix_of_the_seeded_order() -> None:
    # A run stopped after K mutants ran the first K of this order: what --sample K picks.
    mutants = [Mutant("t", "pkg/m.py", n, "x", "1 → 2", (n, 0), (n, 1), "2") for n in range(1, 60)]
    order = run._shuffled(mutants, 16)
    assert sorted(order, key=run._order) == mutants
    assert order != mutants
    for k in (1, 7, 30):
        assert order[:k] == run._shuffled(mutants, 16)[:k]


def test_stopping_cancels_what_has_not_started_and_keeps_what_ran() -> None:
    started, release = threading.Event(), threading.Event()

    def first() -> str:
        started.set()
        release.wait()
        return "ran"

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        futures = [pool.submit(first), *(pool.submit(str, n) for n in range(3))]
        started.wait()
        finished: list = []
        # The stop time is already past: the three not started are cancelled at once,
        # the running one is waited for.
        collector = threading.Thread(target=lambda: finished.extend(run._finished(futures, 0.0)))
        collector.start()
        cancelled = threading.Event()
        futures[-1].add_done_callback(lambda _f: cancelled.set())  # cancel() calls it
        cancelled.wait()
        release.set()
        collector.join()
    assert finished == [futures[0]] and futures[0].result() == "ran"
    assert all(f.cancelled() for f in futures[1:])


@dataclasses.dataclass(frozen=True)
class _Target:
    name: str
    files: tuple[str, ...] = ("pkg/m.py",)
    tests: tuple[str, ...] = ("tests/test_m.py",)
    scope: tuple[str, ...] = ()
    lines: str | None = None


def test_report_names_every_command_generated_and_run_counts_and_survivor_notes(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text(
        '[{"file": "pkg/m.py", "line": "x = 2", "change": "1 → 2", "why": "Equivalent: same."}]'
    )
    data = report.merge(
        report.merge(
            {"results": [], "runs": []},
            _run("first command", 3),
            [_result(1, "failed"), _result(2, "survived"), _result(3, "timeout")],
            {"t": 10},
        ),
        _run("second command", 1),
        [_result(3, "failed")],
        {"t": 10},
    )
    out = tmp_path / "MUTATION.md"
    report.write_report(data, None, out, [_Target("t")], notes)
    text = out.read_text()

    assert "1. `first command`" in text and "2. `second command`" in text
    assert "commit abc1234" in text
    assert "| t | `pkg/m.py` | 10 | 3 | 2 | 1 | 66.7 % | 100.0 % |" in text
    assert "No mutant's last run timed out. 1 mutant(s) were run again" in text
    assert "- `pkg/m.py:2` 1 → 2 — `x = 2`  \n  Equivalent: same." in text
    assert "aseline" not in text


@pytest.mark.parametrize("hhmm", ["00:00", "23:59"])
def test_the_stop_time_is_the_next_such_time(hhmm: str) -> None:
    at = run._stop_time(hhmm)
    assert time.time() < at <= time.time() + 86400
    assert time.strftime("%H:%M", time.gmtime(at)) == hhmm


def test_rerun_selects_the_mutants_whose_last_outcome_is_one_of_those_named(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    data = {"results": [_result(1, "failed"), _result(2, "survived"), _result(3, "timeout")]}
    results.write_text(json.dumps(data))
    assert run._with_outcome(results, ["survived", "timeout"]) == {
        ("pkg/m.py", 2, "1 → 2"),
        ("pkg/m.py", 3, "1 → 2"),
    }
    assert run._with_outcome(results, ["failed"]) == {("pkg/m.py", 1, "1 → 2")}


def test_report_lists_each_mutant_that_still_timed_out_with_its_note(tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('[{"file": "pkg/m.py", "line": "x = 3", "change": "1 → 2", "why": "Loops."}]')
    data = report.merge(
        {"results": [], "runs": []}, _run("c", 1), [_result(3, "timeout")], {"t": 1}
    )
    out = tmp_path / "MUTATION.md"
    report.write_report(data, None, out, [_Target("t")], notes)
    text = out.read_text()
    assert "too): t 1." in text
    assert "- timed out: `pkg/m.py:3` 1 → 2 — Loops." in text


def test_merge_drops_earlier_entries_whose_mutant_the_code_no_longer_has() -> None:
    earlier = report.merge(
        {"results": [], "runs": []},
        _run("one", 3),
        [_result(1, "failed"), _result(2, "survived"), _result(9, "failed", target="u")],
        {"t": 2, "u": 1},
    )
    # Line 2 moved to line 4 (code inserted above it); target u was not run again.
    moved = {**_result(4, "failed"), "text": "x = 2"}
    current = {("t", "pkg/m.py", 1, "1 → 2", "x = 1"), ("t", "pkg/m.py", 4, "1 → 2", "x = 2")}
    merged = report.merge(earlier, _run("two", 1), [moved], {"t": 2}, current)
    assert [(r["target"], r["line"]) for r in merged["results"]] == [("t", 1), ("t", 4), ("u", 9)]
