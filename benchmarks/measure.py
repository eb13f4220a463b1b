"""Time one command as a whole process: wall clock, CPU, and peak memory.

Memory is measured two ways, because the tool may fan out to a process pool:

* ``max_rss_mb`` — from ``os.wait4``: the kernel's exact peak RSS of the largest
  single process among the command and the descendants it reaped (not a sum).
  The command is forked by a tiny launcher (_launch.py), not by the harness,
  because a child's ru_maxrss starts from its forker's size;
* ``tree_peak_pss_mb`` — the peak of the *sum* of PSS over the child's whole
  process tree, sampled every ``sample_interval`` seconds with psutil. PSS splits
  pages shared after fork() between the processes sharing them, so the sum is the
  command's real footprint; being sampled, it can miss a spike shorter than the
  interval, which is why ``peak_mb`` takes the larger of the two.

A command that fails, crashes or times out is reported, never raised: the harness
must keep going and show which step failed and the tail of its stderr.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

LAUNCHER = Path(__file__).resolve().parent / "_launch.py"
STDERR_TAIL_LINES = 15
STDERR_TAIL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Measurement:
    status: str  # "ok" | "failed" | "timeout"
    exit_code: int | None
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mb: float
    tree_peak_pss_mb: float | None
    stderr_tail: str = ""
    argv: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def peak_mb(self) -> float:
        return max(self.max_rss_mb, self.tree_peak_pss_mb or 0.0)

    def to_json(self) -> dict:
        out = asdict(self)
        out["argv"] = list(self.argv)
        out["peak_mb"] = round(self.peak_mb, 1)
        return out


class _TreeSampler(threading.Thread):
    """Samples the summed PSS of all descendants of a process (the launcher) until stopped."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            total = 0
            try:
                # The root is our launcher, not the command: leave it out.
                procs = root.children(recursive=True)
            except psutil.Error:
                return
            for proc in procs:
                # A worker can exit between listing and reading; skip it.
                with contextlib.suppress(psutil.Error):
                    total += proc.memory_full_info().pss
            self.peak_bytes = max(self.peak_bytes, total)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def tail(text: str, lines: int = STDERR_TAIL_LINES, chars: int = STDERR_TAIL_CHARS) -> str:
    out = "\n".join(text.rstrip().splitlines()[-lines:])
    return out[-chars:]


def _kill_group(pgid: int) -> None:
    # Only ever the session this module started for its own child.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout_path: Path | None = None,
    timeout: float = 1800.0,
    sample_interval: float | None = 0.1,
    redact: tuple[str, ...] = (),
) -> Measurement:
    """Run ``argv`` to completion and measure it. stdout goes to ``stdout_path`` (or nowhere).

    ``redact``: strings (e.g. a database password) replaced by ``***`` in the
    recorded argv and stderr tail.
    """
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(stdout_path, "wb")) if stdout_path else subprocess.DEVNULL
        err = stack.enter_context(tempfile.TemporaryFile())
        report = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "rusage"
        start = time.perf_counter()
        launcher = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), str(report), *map(str, argv)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            cwd=cwd,
            # Own process group: on timeout the whole tree (pool workers too) goes.
            start_new_session=True,
        )
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            _kill_group(launcher.pid)

        timer = threading.Timer(timeout, on_timeout)
        timer.daemon = True
        timer.start()
        sampler = _TreeSampler(launcher.pid, sample_interval) if sample_interval else None
        if sampler:
            sampler.start()
        try:
            _, status, usage = os.wait4(launcher.pid, 0)
        finally:
            outside_wall = time.perf_counter() - start
            timer.cancel()
            if sampler:
                sampler.stop()
        # Tell Popen the launcher is reaped, so it never waits for it again.
        launcher.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        try:
            fields = report.read_text().split()
            code, wall = int(fields[0]), float(fields[1])
            user, system, maxrss_kib = float(fields[2]), float(fields[3]), int(fields[4])
        except (OSError, ValueError, IndexError):
            # Killed (timeout) before the launcher could report: use what we saw.
            code, wall = launcher.returncode, outside_wall
            user, system, maxrss_kib = usage.ru_utime, usage.ru_stime, usage.ru_maxrss

    state = "timeout" if timed_out.is_set() else "ok" if code == 0 else "failed"
    stderr_tail = "" if state == "ok" else tail(stderr) or f"(no stderr; exit code {code})"
    if state == "timeout":
        stderr_tail = f"killed after {timeout:g} s\n{stderr_tail}"
    shown_argv = [str(a) for a in argv]
    for secret in filter(None, redact):
        stderr_tail = stderr_tail.replace(secret, "***")
        shown_argv = [a.replace(secret, "***") for a in shown_argv]
    tree = None
    if sampler and sampler.peak_bytes:
        tree = round(sampler.peak_bytes / 2**20, 1)
    return Measurement(
        status=state,
        exit_code=code,
        wall_s=round(wall, 4),
        user_s=round(user, 3),
        sys_s=round(system, 3),
        # Linux reports ru_maxrss in KiB.
        max_rss_mb=round(maxrss_kib / 1024, 1),
        tree_peak_pss_mb=tree,
        stderr_tail=stderr_tail,
        argv=tuple(shown_argv),
    )
