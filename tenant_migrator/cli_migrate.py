"""The ``migrate`` commands: parse options, call ``tenant_migrator.migrations``,
render with ``report.migrations``. Registered on the main app by ``cli.py``.

Heavy imports happen inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tenant_migrator.asyncrun import run as _run
from tenant_migrator.cli_context import TextOrJson, settings_of, target_of, view_of

_settings = settings_of


migrate_app = typer.Typer(
    help=(
        "Apply the tool's own migrations (and, with --migrations-dir, the project's), "
        "each in its own transaction, under a lock."
    ),
    no_args_is_help=False,
)

_MigrationsDir = Annotated[
    Path | None,
    typer.Option(
        "--migrations-dir",
        help=(
            "The project's own migrations folder (NNN_name.sql), run after the tool's. "
            "Never read unless named here or in the project settings."
        ),
        file_okay=False,
        resolve_path=True,
    ),
]


def _migration_files(ctx: typer.Context, migrations_dir: Path | None = None) -> tuple:
    """The tool's migrations plus the project folder named by the option (on the
    subcommand or on `migrate`) or by the settings. The one place `migrate` loads them."""
    from tenant_migrator import migrations

    return migrations.project_migrations(_project_migrations_dir(ctx, migrations_dir))


def _project_migrations_dir(ctx: typer.Context, given: Path | None) -> Path | None:
    if given is None and ctx.parent is not None:
        given = ctx.parent.params.get("migrations_dir")  # `migrate --migrations-dir X status`
    if given is not None:
        return given
    settings = _settings(ctx)
    if settings.migrations_dir is None:
        return None
    return settings.project_dir / settings.migrations_dir


def _supabase_dir(ctx: typer.Context) -> Path:
    from tenant_migrator.migrations.supabase_cli import default_dir

    return default_dir(_settings(ctx).project_dir)


@migrate_app.callback(invoke_without_command=True)
def migrate(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would run; write nothing.")
    ] = False,
    sql: Annotated[
        bool,
        typer.Option(
            "--sql",
            help="Print the pending SQL as one script (for the SQL Editor); write nothing.",
        ),
    ] = False,
    migrations_dir: _MigrationsDir = None,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            metavar="SECONDS",
            min=0.001,
            help="Give up waiting for a table lock after SECONDS (then retry, 3 attempts).",
        ),
    ] = 5.0,
    statement_timeout: Annotated[
        float,
        typer.Option(
            "--statement-timeout",
            metavar="SECONDS",
            min=0.001,
            help="Cancel a migration statement running longer than SECONDS.",
        ),
    ] = 300.0,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text or json (stable keys).")
    ] = TextOrJson.text,
) -> None:
    """Apply pending migrations. Subcommands: status, repair, baseline, emit."""
    if ctx.invoked_subcommand is not None:
        return
    from tenant_migrator import migrations
    from tenant_migrator.errors import UsageError
    from tenant_migrator.render import stdout
    from tenant_migrator.report import migrations as report

    if dry_run and sql:
        raise UsageError("--dry-run and --sql do not go together (--sql writes nothing anyway)")
    settings = _settings(ctx)  # a wrong project is refused before any migration file is read
    files = _migration_files(ctx, migrations_dir)
    target = target_of(ctx)
    out = stdout()
    if sql:
        script = _run(migrations.sql_script(target, files))
        if script:
            typer.echo(script, nl=False)
        else:
            typer.echo("-- Nothing to apply: the database is up to date.")
        return

    from tenant_migrator import confirm, destination

    where = destination.of_target(target, settings)
    if not dry_run:
        confirm.announce(where)
    as_json = output_format is TextOrJson.json

    def applied(done: migrations.Applied) -> None:
        if as_json:
            return
        for line in report.applied_line(done):
            out.print(line, markup=False, soft_wrap=True)

    timeouts = migrations.Timeouts(lock_timeout, statement_timeout)
    outcome = _run(
        migrations.migrate_target(
            target,
            files,
            dry_run=dry_run,
            on_applied=applied,
            timeouts=timeouts,
            supabase_dir=_supabase_dir(ctx),
        )
    )
    if as_json:
        from tenant_migrator.report import outcomes

        typer.echo(outcomes.render_migrate(outcome, where), nl=False)
        return
    for line in report.outcome_lines(outcome):
        out.print(line, markup=False, soft_wrap=True)


@migrate_app.command("status")
def migrate_status(
    ctx: typer.Context,
    migrations_dir: _MigrationsDir = None,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text (table) or json (stable keys).")
    ] = TextOrJson.text,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 when any migration is pending or modified."),
    ] = False,
) -> None:
    """Per migration: its state (applied/satisfied/pending/modified) and where that was
    learned (ledger, catalog, supabase-cli). Exit 0; with --check 1 when anything is
    pending or modified."""
    from tenant_migrator import migrations
    from tenant_migrator.report import formats

    files = _migration_files(ctx, migrations_dir)
    rows = _run(migrations.status_target(target_of(ctx), files))
    formats.emit(formats.MIGRATE_STATUS, output_format, rows, view_of(ctx))
    if check and any(r.state in ("pending", "modified") for r in rows):
        raise typer.Exit(1)


def _announced_target(ctx: typer.Context) -> object:
    """The target of a command that writes, named on stderr (``target: …``)."""
    from tenant_migrator import confirm, destination

    target = target_of(ctx)
    confirm.announce(destination.of_target(target, _settings(ctx)))
    return target


class RepairStatus(StrEnum):
    applied = "applied"
    reverted = "reverted"


@migrate_app.command("repair")
def migrate_repair(
    ctx: typer.Context,
    versions: Annotated[
        list[str],
        typer.Argument(
            metavar="VERSION...",
            help="Project file numbers or stems (with --migrations-dir), or tool migration "
            "names (tenants_registry, tenant_config, import_history).",
        ),
    ],
    status: Annotated[
        RepairStatus,
        typer.Option("--status", help="Mark as applied or reverted. Edits history only."),
    ],
    migrations_dir: _MigrationsDir = None,
) -> None:
    """Edit migration history only (like `supabase migration repair`); runs no SQL."""
    from tenant_migrator import migrations
    from tenant_migrator.render import stdout

    files = _migration_files(ctx, migrations_dir)
    target = _announced_target(ctx)
    applied = status is RepairStatus.applied
    keys = _run(migrations.repair_target(target, files, versions, applied=applied))
    for key in keys:
        stdout().print(
            f"Marked migration {key} as {status.value} (history only; no migration SQL ran).",
            markup=False,
        )


@migrate_app.command("baseline")
def migrate_baseline(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(metavar="VERSION", help="e.g. 020")],
    migrations_dir: _MigrationsDir = None,
) -> None:
    """Mark every project file numbered VERSION or lower as applied, without running it
    (a database built by hand from those files)."""
    from tenant_migrator import migrations
    from tenant_migrator.errors import UsageError
    from tenant_migrator.render import stdout

    if _project_migrations_dir(ctx, migrations_dir) is None:
        raise UsageError(
            "baseline needs the project's migrations folder: "
            "tenant-migrator migrate --migrations-dir DIR baseline VERSION"
        )
    files = _migration_files(ctx, migrations_dir)
    target = _announced_target(ctx)
    keys = _run(migrations.baseline_target(target, files, version))
    for key in keys:
        stdout().print(f"baseline  {key}  (marked applied; not run)", markup=False)
    stdout().print(
        f"{len(keys)} project migration{'s' if len(keys) != 1 else ''} up to {version} "
        "marked applied.",
        markup=False,
    )


@migrate_app.command("emit")
def migrate_emit(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]",
            help="The Supabase CLI's migrations folder (default: <project>/supabase/migrations).",
            file_okay=False,
            resolve_path=True,
        ),
    ] = None,
) -> None:
    """Write the tool's pending migrations as Supabase CLI files, for `supabase db push`."""
    from tenant_migrator import migrations
    from tenant_migrator.render import stdout

    target = target_of(ctx)
    folder = directory or _supabase_dir(ctx)
    written = _run(migrations.emit_target(target, migrations.tool_migrations(), folder))
    for path, _migration in written:
        stdout().print(f"wrote  {path}", markup=False, soft_wrap=True)
    if written:
        stdout().print(
            "Apply them with `supabase db push`; `tenant-migrator migrate status` then shows "
            "them applied (supabase-cli).",
            markup=False,
        )
    else:
        stdout().print(
            f"Nothing to emit: every tool migration is applied, satisfied or already in {folder}.",
            markup=False,
        )
