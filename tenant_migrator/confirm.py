"""Asking before writing to a database that is not the embedded one.

On a terminal (stdin and stderr both ttys), ``import``, ``sync`` and ``rollback``
against any database other than the project's embedded server show what they will
write (counts, pending migrations) and where (``Destination``, never a password),
and ask ``[y/N]``. Only ``y`` or ``yes`` goes on; anything else — an empty line,
end of input — is ``Declined`` (exit 1, nothing written). ``--yes`` skips the
question; without a terminal nothing is asked (CI, pipes), as before.

The question comes after the plan is made (read-only) and before anything is
written, migrations included: the write then runs with the confirmed plan as its
reviewed plan, so it writes exactly what was shown or nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from tenant_migrator.errors import MigratorError

if TYPE_CHECKING:
    from tenant_migrator.destination import Destination
    from tenant_migrator.planning import Plan
    from tenant_migrator.reviewed_plan import ReviewedPlan
    from tenant_migrator.store import RollbackOutcome

ANSWERS_YES = frozenset(("y", "yes"))


class Declined(MigratorError):
    """The user did not answer yes; nothing was written."""

    exit_code = 1


def interactive(stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Someone is there to ask: stdin and stderr are terminals."""
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    try:
        return stdin.isatty() and stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def must_ask(destination: Destination, *, yes: bool, is_interactive: bool) -> bool:
    return not yes and not destination.embedded and is_interactive


def accepted(answer: str) -> bool:
    return answer.strip().lower() in ANSWERS_YES


def plan_lines(plan: Plan, command: str) -> list[str]:
    """What ``command`` will write, in counts (never a value)."""
    return count_lines(plan.summary(), plan.pending_migrations, command)


def reviewed_lines(plan: ReviewedPlan) -> list[str]:
    counts = dict.fromkeys(("create", "update", "unchanged", "invalid", "blocked", "orphaned"), 0)
    for expected in plan.tenants.values():
        counts[expected.action] = counts.get(expected.action, 0) + 1
    return count_lines(counts, plan.pending_migrations, f"import --plan {plan.source}")


def count_lines(counts: Mapping[str, int], pending: Sequence[str], command: str) -> list[str]:
    written = [f"{counts[a]} to {a}" for a in ("create", "update") if counts[a]]
    lines = [
        f"{command} will write: " + (", ".join(written) if written else "no tenant"),
        f"  not written: {counts['unchanged']} unchanged, {counts['invalid']} invalid, "
        f"{counts['blocked']} blocked, {counts['orphaned']} orphaned",
    ]
    if pending:
        lines.append(f"  and first apply {len(pending)} migration(s): " + ", ".join(pending))
    return lines


def rollback_lines(outcome: RollbackOutcome) -> list[str]:
    by_action: dict[str, int] = {}
    for entry in outcome.entries:
        by_action[entry.action.value] = by_action.get(entry.action.value, 0) + 1
    done = ", ".join(f"{n} to {a}" for a, n in sorted(by_action.items())) or "nothing"
    changed = sum(1 for e in outcome.entries if e.changed_since)
    lines = [f"rollback of run {outcome.run_id} will write: {done}"]
    if changed:
        lines.append(f"  over {changed} row(s) changed since that run (--force)")
    return lines


def ask(
    lines: Sequence[str],
    destination: Destination,
    *,
    read: Callable[[], str] | None = None,
    out: TextIO | None = None,
) -> None:
    """Show ``lines`` and the destination, ask; raise ``Declined`` unless yes."""
    out = out or sys.stderr
    for line in lines:
        out.write(line + "\n")
    out.write(f"  into {destination.describe()}\n")
    out.write("Write this? [y/N] ")
    out.flush()
    try:
        answer = (read or sys.stdin.readline)()
    except (EOFError, OSError):
        answer = ""
    except KeyboardInterrupt:
        from tenant_migrator import interruption

        out.write("\n")
        raise interruption.interrupted() from None
    if not accepted(answer):
        raise Declined("not confirmed; nothing was written")


def announce(destination: Destination, out: TextIO | None = None) -> None:
    """The one stderr line naming where a writing command writes."""
    out = out or sys.stderr
    out.write(destination.line() + "\n")
    out.flush()
