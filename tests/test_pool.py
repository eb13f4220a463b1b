"""The process pool on its own: results in task order, a bounded window of tasks in
flight, workers set up once, a dead worker an error, an early stop a clean one.

(That the pool's client-file results equal one process's is tests/test_parallel.py.)
"""

from __future__ import annotations

import multiprocessing
import os

import pytest
from processes import alive as _alive

from tenant_migrator import pool
from tenant_migrator.errors import MigratorError

_setup_calls: list[str] = []


def _square_with_pid(task: int) -> tuple[int, int, tuple[str, ...]]:
    return task * task, os.getpid(), tuple(_setup_calls)


def _note_setup(word: str) -> None:
    _setup_calls.append(word)


def _die_on_three(task: int) -> int:
    if task == 3:
        os._exit(9)  # as if killed by the kernel's OOM killer
    return task


def _run(tasks, work, **options):
    results = pool.run_in_order(tasks, len(tasks), work, workers=2, **options)
    assert results is not None, "a pool must start on this machine"
    return results


def test_results_come_back_in_task_order_from_several_workers():
    tasks = list(range(40))
    results = list(_run(tasks, _square_with_pid, start_method="fork"))
    assert [square for square, _, _ in results] == [t * t for t in tasks]
    assert len({pid for _, pid, _ in results} - {os.getpid()}) >= 1


def test_each_worker_is_set_up_once_before_its_first_task():
    results = list(
        _run(list(range(12)), _square_with_pid, setup=_note_setup, setup_args=("ready",))
    )
    assert all(calls == ("ready",) for _, _, calls in results)
    assert _setup_calls == []  # in the workers, not here


def test_only_a_bounded_window_of_tasks_is_taken_before_a_result_is_read():
    pulled = []

    def tasks():
        for task in range(100):
            pulled.append(task)
            yield task

    results = pool.run_in_order(tasks(), 100, _square_with_pid, workers=2)
    assert results is not None
    first = next(results)
    window = 2 * pool.BATCHES_IN_FLIGHT_PER_WORKER
    assert first[0] == 0
    assert len(pulled) <= window + 1
    results.close()
    assert len(pulled) <= window + 1


def test_a_consumer_that_stops_early_leaves_no_worker_behind():
    results = _run(list(range(50)), _square_with_pid)
    next(results)
    results.close()
    assert multiprocessing.active_children() == []


@pytest.mark.timeout(60)
def test_a_worker_that_dies_is_an_error_with_the_callers_words():
    with pytest.raises(MigratorError, match=r"^the worker of this test died$") as caught:
        list(_run(list(range(8)), _die_on_three, died="the worker of this test died"))
    assert isinstance(caught.value, pool.WorkerDied)


def test_no_pool_where_processes_cannot_start(monkeypatch):
    def refuse(_method):
        raise OSError(38, "Function not implemented")  # e.g. no /dev/shm in a sandbox

    monkeypatch.setattr(multiprocessing, "get_context", refuse)
    assert pool.run_in_order([1, 2], 2, _square_with_pid, workers=2) is None


@pytest.mark.parametrize(
    ("items", "workers", "most", "size"),
    [(1000, 2, 100, 100), (300, 2, 100, 38), (10, 4, 100, 1), (1, 2, 100, 1)],
)
def test_batches_are_small_enough_for_four_per_worker_and_never_empty(items, workers, most, size):
    assert pool.batch_size(items, workers, most) == size


def _report_threads(conn) -> None:
    pool._start_worker(None, (), os.getppid())
    import threading

    conn.send(sorted(t.name for t in threading.enumerate()))


def test_a_worker_starts_watching_its_parent_before_its_first_task():
    """What the pool runs first in every worker: it leaves the worker a thread
    that watches the parent (forked here, so the test process keeps its own
    signal handlers and garbage collector)."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    child = context.Process(target=_report_threads, args=(theirs,))
    child.start()
    assert ours.poll(30), "the worker reported nothing"
    threads = ours.recv()
    child.join(30)
    assert "parent-watch" in threads, threads


# A parent that forks one process watching it (as every pool worker does), says
# its pid once the watch runs, and waits: a process killed mid-run. The child
# blocks as a worker blocks on its task queue.
_PARENT = """
import os, time
from tenant_migrator import pool
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(ready_r)
    pool._exit_with_parent(os.getppid())
    os.write(ready_w, b"x")
    time.sleep(3600)
    os._exit(0)
os.close(ready_w)
os.read(ready_r, 1)
print(pid, flush=True)
time.sleep(3600)
"""


@pytest.mark.timeout(60)
def test_a_watching_process_ends_soon_after_its_parent_is_killed():
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    # An orphan would block for ever; the watch polls every pool.PARENT_CHECK_S.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.05)
    assert not _alive(worker)
