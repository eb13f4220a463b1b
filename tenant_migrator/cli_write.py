"""The steps the writing commands (``import``, ``sync``, ``rollback``) share before
they write: name the target in one stderr line, ask when a question is due
(``confirm``), and turn a reviewed or a just-confirmed plan into the checks the
import runs (``reviewed_plan.Verifier``).

Kept out of ``cli.py`` so the commands there stay parse / call / render.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from tenant_migrator import confirm, reviewed_plan
from tenant_migrator.asyncrun import run as _run
from tenant_migrator.errors import UsageError

if TYPE_CHECKING:
    from tenant_migrator.destination import Destination
    from tenant_migrator.pipeline import TenantStream
    from tenant_migrator.settings import Settings

Phases = Callable[[str], AbstractContextManager[Callable[[str], None]]]


def target(settings: Settings) -> Destination:
    """Where this command writes, said on stderr (``target: …``) before anything else."""
    from tenant_migrator import destination

    where = destination.resolve(settings)
    confirm.announce(where)
    return where


def asks(where: Destination, yes: bool) -> bool:
    return confirm.must_ask(where, yes=yes, is_interactive=confirm.interactive())


def confirmed_plan(
    settings: Settings,
    where: Destination,
    stream: Callable[[], TenantStream],
    only: Sequence[str] | None,
    *,
    force: bool,
    command: str,
    phases: Phases,
) -> reviewed_plan.Verifier:
    """Plan (read-only), show the counts and the target, ask. The write then checks
    that it writes exactly this plan (or nothing)."""
    from tenant_migrator import streaming

    with phases("planning") as phase:
        shown = _run(streaming.plan_tenants(settings, stream(), only, force=force, on_phase=phase))
    if shown.to_write or shown.pending_migrations:
        confirm.ask(confirm.plan_lines(shown, command), where)
    confirmed = reviewed_plan.from_plan(shown, settings, where, only)
    return reviewed_plan.Verifier(confirmed, settings)


def reviewed(
    path: Path,
    settings: Settings,
    where: Destination,
    *,
    yes: bool,
    tenants: Sequence[str] | None,
    force: bool,
    skip_invalid: bool,
) -> tuple[reviewed_plan.Verifier, tuple[str, ...] | None]:
    """``import --plan FILE``: the file's checks before connecting, the question,
    and the checks the import runs; with the plan's own tenant selection."""
    given = [
        name
        for name, on in (
            ("TENANT", bool(tenants)),
            ("--force", force),
            ("--skip-invalid", skip_invalid),
        )
        if on
    ]
    if given:
        raise UsageError(
            f"--plan applies the reviewed plan as it is: drop {', '.join(given)} "
            "(make a new plan with them instead)"
        )
    plan = reviewed_plan.load(path)
    reviewed_plan.check_before(plan, settings, where)
    if asks(where, yes) and (plan.writes or plan.pending_migrations):
        confirm.ask(confirm.reviewed_lines(plan), where)
    return reviewed_plan.Verifier(plan, settings), plan.selection
