"""The process pool: a batch function run over tasks in worker processes, results in order.

Knows nothing of client files. ``pipeline.iter_batches`` hands it the tasks (paths
in plain tuples), a top-level work function and a worker setup; the work function
returns each batch in its types' wire form (``TenantResult.to_wire``) and the
caller rebuilds them (``from_wire``), because a plain tuple pickles in about half
the time of the dataclasses it stands for.

What the pool guarantees:

* results come back in task order, while only a bounded window of tasks is in
  flight (``BATCHES_IN_FLIGHT_PER_WORKER`` per worker): a consumer slower than the
  workers (writing to the database) never has every result piling up in memory;
* a worker that dies (killed, out of memory) fails the run with ``WorkerDied``
  instead of hanging it forever (``concurrent.futures``, not ``multiprocessing.Pool``);
* Ctrl-C, an error or a consumer that stops early cancels the queued tasks;
* where no pool can start (no ``/dev/shm``, a sandbox without processes, no such
  start method), ``run_in_order`` returns None and the caller runs its plain loop.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tenant_migrator.errors import MigratorError

Task = TypeVar("Task")
Result = TypeVar("Result")

# Tasks queued or being processed at once, per worker: enough that no worker
# waits while the parent handles a result; more would only let finished results
# pile up in the parent when it is the slower side (writing to the database).
BATCHES_IN_FLIGHT_PER_WORKER = 3


class WorkerDied(MigratorError):
    """A worker process died while the pool was running (killed, out of memory)."""


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_start_method() -> str:
    """``fork`` where the platform has it, else ``spawn``.

    fork: the workers start in milliseconds with everything already imported and
    the schema compiled. The parent has no threads of its own at this point (a
    terminal spinner's refresh thread at most, which the children never touch).
    """
    import multiprocessing

    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def batch_size(items: int, workers: int, most: int) -> int:
    """Items per task: at most ``most``, and small enough that every worker gets
    about four tasks (so the last ones finish together)."""
    return max(1, min(most, math.ceil(items / (workers * 4))))


def run_in_order(
    tasks: Iterable[Task],
    task_count: int,
    work: Callable[[Task], Result],
    *,
    workers: int,
    start_method: str | None = None,
    setup: Callable[..., None] | None = None,
    setup_args: tuple[Any, ...] = (),
    died: str = "a worker process died (killed, or out of memory?)",
) -> Iterator[Result] | None:
    """``work(task)`` for each task, over a pool of ``workers`` processes; the results
    in task order. None if no pool can be started here.

    ``work`` and ``setup`` must be top-level functions (spawned workers import them
    by name). ``setup(*setup_args)`` runs once in each worker, before its first
    task. ``died``: the message of the ``WorkerDied`` raised when a worker dies.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        context = multiprocessing.get_context(start_method or default_start_method())
        pool = ProcessPoolExecutor(
            max(1, min(workers, task_count)),
            mp_context=context,
            initializer=_start_worker,
            # The parent's pid from here: a worker that starts after the parent
            # died would see its new parent (init) and watch the wrong one.
            initargs=(setup, setup_args, os.getpid()),
        )
    except (OSError, ImportError, ValueError, NotImplementedError):
        # No /dev/shm for the pool's semaphores, no such start method, a sandbox
        # that forbids processes.
        return None
    return _in_order(pool, iter(tasks), work, workers * BATCHES_IN_FLIGHT_PER_WORKER, died)


def _in_order(
    pool: Any, pending: Iterator[Task], work: Callable[[Task], Result], window: int, died: str
) -> Iterator[Result]:
    from concurrent.futures.process import BrokenProcessPool

    # Unlike pool.map, which submits every task at once and keeps every result
    # until it is read, this submits a task only when a result is taken out.
    in_flight: deque[Any] = deque()
    try:
        for task in pending:
            in_flight.append(pool.submit(_run, work, task))
            if len(in_flight) >= window:
                break
        while in_flight:
            result = in_flight.popleft().result()
            for following in pending:
                in_flight.append(pool.submit(_run, work, following))
                break
            yield result
    except BrokenProcessPool:
        raise WorkerDied(died) from None
    finally:
        # On Ctrl-C, an error or a consumer that stops early (GeneratorExit), do not
        # wait for the tasks still queued.
        pool.shutdown(wait=True, cancel_futures=True)


# --- in the worker ----------------------------------------------------------------------


def _start_worker(
    setup: Callable[..., None] | None, setup_args: tuple[Any, ...], parent: int
) -> None:
    import gc
    import signal

    # Ctrl-C is the parent's to handle (it stops the pool); a worker printing its
    # own KeyboardInterrupt traceback would only add noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent)
    # Inherited objects (fork) need no more collecting; each task's garbage is
    # freed by reference counting, and any cycle by the collect after the task.
    gc.freeze()
    gc.disable()
    if setup is not None:
        setup(*setup_args)


# How often a worker checks that its parent is still there.
PARENT_CHECK_S = 0.25


def _exit_with_parent(parent: int) -> None:
    """End this worker soon after the parent process is gone, however it went.

    A worker blocks reading the task queue, and (forked) every worker holds that
    queue's write end too, so none ever sees it close: when the parent is
    interrupted while its reading thread waits on a result (the pool's shutdown
    then never runs) or is killed, the workers would live on as orphans, holding
    the parent's stdout and stderr open. Linux's PR_SET_PDEATHSIG follows the
    forking *thread*, not the process, so a watch thread polls instead.
    """
    import signal
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        # Not os._exit: a wrapped one (coverage's, saving its data) can wait on a
        # lock the blocked main thread holds. Nothing here needs cleaning up.
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _run(work: Callable[[Task], Result], task: Task) -> Result:
    import gc

    result = work(task)
    gc.collect()
    return result
