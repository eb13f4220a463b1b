"""Run a command as our child and report its rusage: ``_launch.py RESULT_FILE CMD [ARG...]``.

Why a launcher at all: on Linux a child's ``ru_maxrss`` starts from the peak RSS
of the process that forked it (the kernel carries the pre-exec image's high-water
mark across exec). Forked straight from the harness — which grows while it checks
results — every command would "peak" at least at the harness's size. Forked from
this small process instead, the floor is a few MB.

Kept to ``os``/``sys``/``time``, and started with ``python -I -S``, so it stays tiny.
Writes one line: ``exit_code wall_s user_s sys_s maxrss_kib``.
"""

import os
import sys
import time


def main() -> None:
    result_path, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as err:
            os.write(2, f"cannot run {argv[0]}: {err}\n".encode())
        os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    with open(result_path, "w") as f:
        f.write(
            f"{os.waitstatus_to_exitcode(status)} {wall:.6f} {usage.ru_utime:.6f} "
            f"{usage.ru_stime:.6f} {usage.ru_maxrss}\n"
        )


if __name__ == "__main__":
    main()
