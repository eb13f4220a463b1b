"""Keep a ``--database-url`` password out of the process list.

``ps`` and ``/proc/PID/cmdline`` (readable by every local user) show a process's
argv as it sits in the process's own memory, and a worker the pool forks gets a
copy of that memory: with ``--database-url postgresql://u:PASSWORD@…`` on the
command line, the password shows on the main process and on every worker.
Changing ``sys.argv`` changes nothing there (Python keeps its own copy).

So, first thing in ``main``, we overwrite the password's bytes in place in the
real argv area (its address is in ``/proc/self/stat``, fields 48-49), the way
setproctitle does: same length, so no argument moves. From then on the main
process and every worker forked later show ``*`` instead. What remains (say so in
the docs): the fraction of a second between exec and this call, during which the
command line is as typed; and a shell's history. ``DATABASE_URL`` (or libpq's
PGPASSWORD / PGPASSFILE) never shows: a process's environment is readable by its
own user and root only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

OPTION = b"--database-url"
_URL_PREFIX = re.compile(rb"^postgres(?:ql)?://", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(rb"([?&]password=)([^&#]*)", re.IGNORECASE)


def mask_url(value: bytes) -> bytes:
    """``value`` with every byte that could be a password replaced by ``*``; same length.

    Deliberately wide: from the first ``:`` of the user part to the last ``@`` of
    the whole value (a password that is not percent-encoded may hold ``/ ? # @``),
    and every ``password=`` query value. A value that is not a postgresql:// URL
    may be a password pasted in the wrong place: all of it.
    """
    prefix = _URL_PREFIX.match(value)
    if prefix is None:
        return b"*" * len(value)
    masked = bytearray(value)
    rest_at = prefix.end()
    last_at = value.rfind(b"@")
    colon = value.find(b":", rest_at)
    if last_at > rest_at and 0 <= colon < last_at:
        masked[colon + 1 : last_at] = b"*" * (last_at - colon - 1)
    for match in _QUERY_PASSWORD.finditer(value):
        masked[match.start(2) : match.end(2)] = b"*" * (match.end(2) - match.start(2))
    return bytes(masked)


def masked_cmdline(raw: bytes) -> bytes:
    """A NUL-separated command line with every ``--database-url`` value masked."""
    args = raw.split(b"\0")
    for i, arg in enumerate(args):
        if arg == OPTION and i + 1 < len(args):
            args[i + 1] = mask_url(args[i + 1])
        elif arg.startswith(OPTION + b"="):
            args[i] = OPTION + b"=" + mask_url(arg[len(OPTION) + 1 :])
    return b"\0".join(args)


def hide_database_url() -> bool:
    """Mask ``--database-url`` passwords in this process's own argv memory.

    True when the command line now shows no password (or held none). Linux only;
    elsewhere (and if anything looks unexpected) it changes nothing and says False.
    """
    if OPTION not in b"".join(arg.encode(errors="surrogateescape") for arg in sys.argv):
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        # fields[0] is field 3 (state); arg_start/arg_end are fields 48 and 49.
        start, end = int(fields[45]), int(fields[46])
        current = Path("/proc/self/cmdline").read_bytes()
    except (OSError, IndexError, ValueError):
        return False
    if start <= 0 or end <= start or end - start != len(current):
        return False
    masked = masked_cmdline(current)
    if masked == current:  # a URL without a password: nothing to hide, nothing written
        return True
    if len(masked) != len(current):  # cannot happen: masking keeps lengths
        return False
    import ctypes  # only to write (~3 ms of every start otherwise)

    # Only write where we have just read exactly what the kernel shows.
    if ctypes.string_at(start, end - start) != current:
        return False
    ctypes.memmove(start, masked, len(masked))
    return Path("/proc/self/cmdline").read_bytes() == masked
