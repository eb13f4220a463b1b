"""The steps the writing commands (``import``, ``sync``, ``rollback``) share before
they write: name the target in one stderr line, ask when a question is due
(``confirm``), and turn a reviewed or a just-confirmed plan into the checks the
import runs (``reviewed_plan.Verifier``).

Kept out of ``cli.py`` so the commands there stay parse / call / render. Like
``cli.py``, it imports what a command needs inside the command (``reviewed_plan``
too): ``--help`` and ``sync`` without a question never load it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from tenant_migrator import confirm
from tenant_migrator.asyncrun import run as _run
from tenant_migrator.errors import MigratorError, UsageError

if TYPE_CHECKING:
    from tenant_migrator import reviewed_plan
    from tenant_migrator.destination import Destination
    from tenant_migrator.pipeline import TenantStream
    from tenant_migrator.planning import Plan
    from tenant_migrator.report.formats import View
    from tenant_migrator.settings import Settings
    from tenant_migrator.streaming import ImportOptions, ImportOutcome

Phases = Callable[[str], AbstractContextManager[Callable[[str], None]]]


Yes = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help="Do not ask before writing (on a terminal, writing to a database other than "
        "the embedded one asks [y/N] first).",
    ),
]


class WriteFormat(StrEnum):
    """``--format`` of import and sync: the text report, or the JSON outcome."""

    text = "text"
    json = "json"


WriteFormatOption = Annotated[
    WriteFormat,
    typer.Option("--format", help="text (tenants written, then a summary) or json (stable keys)."),
]


PlanFile = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        metavar="FILE",
        help="Apply the reviewed plan FILE (from `plan --format json --output FILE`): "
        "exactly its changes, or nothing when a client file, a planned row or the "
        "tool's version changed since.",
        dir_okay=False,
    ),
]


PlanOutput = Annotated[
    Path | None,
    typer.Option(
        "--output",
        help="Write the report to FILE instead of stdout ('-': stdout); an existing FILE "
        "only with --force. The JSON one is a reviewed plan for `import --plan FILE`.",
        dir_okay=False,
    ),
]
ReplaceOutput = Annotated[bool, typer.Option("--force", help="Replace an existing --output FILE.")]


def review_of(plan: Plan, settings: Settings, only: Sequence[str] | None) -> dict:
    """The plan JSON's ``review`` key (see reviewed_plan)."""
    from tenant_migrator import destination, reviewed_plan

    return reviewed_plan.review_json(plan, settings, destination.resolve(settings), only)


def output_file(output: Path | None, force: bool) -> Path | None:
    """``--output``: None for stdout ('-'); an existing file refused unless ``force``."""
    if output is None or str(output) == "-":
        return None
    if output.exists() and not force:
        raise MigratorError(f"{output} already exists; pass --force to replace it")
    return output


def dry_run(
    settings: Settings,
    stream: TenantStream,
    only: Sequence[str] | None,
    force: bool,
    phase: Callable[[str], None],
    view: View,
) -> NoReturn:
    """import/sync --dry-run: the plan the write would follow, as `plan` shows it."""
    from tenant_migrator import streaming
    from tenant_migrator.report import formats

    the_plan = _run(streaming.plan_tenants(settings, stream, only, force=force, on_phase=phase))
    formats.emit(formats.PLAN, "text", the_plan, view)
    raise typer.Exit(1 if the_plan.has_errors else 0)


def run_import(
    settings: Settings,
    stream: TenantStream,
    only: Sequence[str] | None,
    options: ImportOptions,
    phase: Callable[[str], None],
) -> ImportOutcome:
    from tenant_migrator import streaming

    # Its duration covers reading the files too: they are read while importing.
    return _run(streaming.import_tenants(settings, stream, only, options, on_phase=phase))


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
    from tenant_migrator import reviewed_plan, streaming

    with phases("planning") as phase:
        shown = _run(streaming.plan_tenants(settings, stream(), only, force=force, on_phase=phase))
    if shown.to_write or shown.pending_migrations:
        confirm.ask(confirm.plan_lines(shown, command), where)
    confirmed = reviewed_plan.from_plan(shown, settings, where, only)
    return reviewed_plan.Verifier(confirmed, settings)


def before_import(
    settings: Settings,
    where: Destination,
    plan_file: Path | None,
    stream: Callable[[Sequence[str] | None], TenantStream],
    only: Sequence[str] | None,
    *,
    yes: bool,
    force: bool,
    skip_invalid: bool,
    phases: Phases,
    command: str = "import",
) -> tuple[reviewed_plan.Verifier | None, list[str] | None]:
    """What ``import`` checks before it writes, and the tenants it then imports:
    the reviewed plan's (``--plan``), or the plan just confirmed (on a terminal), or
    nothing to check."""
    if plan_file is not None:
        review, selection = reviewed(
            plan_file,
            settings,
            where,
            yes=yes,
            tenants=only,
            force=force,
            skip_invalid=skip_invalid,
        )
        return review, list(selection) if selection is not None else None
    names = list(only) if only is not None else None
    if not asks(where, yes):
        return None, names
    review = confirmed_plan(
        settings,
        where,
        lambda: stream(names),
        names,
        force=force,
        command=command,
        phases=phases,
    )
    return review, names


def before_sync(
    settings: Settings,
    where: Destination,
    stream: Callable[[], TenantStream],
    tenant: str,
    yes: bool,
    force: bool,
    phases: Phases,
) -> reviewed_plan.Verifier | None:
    """What ``sync TENANT`` checks before it writes (the confirmed plan, on a terminal)."""
    review, _ = before_import(
        settings,
        where,
        None,
        lambda _: stream(),
        [tenant],
        yes=yes,
        force=force,
        skip_invalid=False,
        phases=phases,
        command="sync",
    )
    return review


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
    from tenant_migrator import reviewed_plan

    plan = reviewed_plan.load(path)
    reviewed_plan.check_before(plan, settings, where)
    if asks(where, yes) and (plan.writes or plan.pending_migrations):
        confirm.ask(confirm.reviewed_lines(plan), where)
    return reviewed_plan.Verifier(plan, settings), plan.selection


def render_outcome(
    outcome: ImportOutcome,
    output_format: WriteFormat,
    where: object,
    command: str,
    project_dir: Path,
) -> None:
    """What an import or sync wrote: the text report, or its JSON (``--format json``)."""
    import sys

    if output_format is WriteFormat.json:
        from tenant_migrator.report import outcomes

        sys.stdout.write(outcomes.render_import(outcome, command, where))  # type: ignore[arg-type]
        return
    from tenant_migrator import render
    from tenant_migrator.report import runs as report

    report.render_import(outcome, render.stdout(), project_dir)
