"""The command line: parse options, call the library, render. Nothing else lives here.

Heavy imports (asyncpg, jsonschema, yaml, rich tables) happen inside the commands
so that ``tenant-migrator --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tenant_migrator import cli_conventions, cli_migrate, cli_runs, cli_write, lazy_rich
from tenant_migrator.asyncrun import run as _run
from tenant_migrator.cli_context import (
    DATABASE_URL_HELP,
    PROJECT_DIR_HELP,
    QUIET_HELP,
    VERBOSE_HELP,
    CliState,
    GlobalOptions,
    database_settings_of,
    settings_of,
    target_of,
    view_of,
)
from tenant_migrator.errors import MigratorError, UsageError
from tenant_migrator.settings import DEFAULT_MAX_FILE_BYTES

if TYPE_CHECKING:
    from tenant_migrator.pipeline import TenantStream
    from tenant_migrator.streaming import ImportOutcome

# Before Typer first draws a help or an error: without rich.markdown/rich.traceback.
lazy_rich.install()

app = typer.Typer(
    name="tenant-migrator",
    help=(
        "Move tenant configuration from clients/<tenant>/client.yaml into the PostgreSQL "
        "(Supabase) tenants table: validated, secrets turned into ${ENV} references, "
        "written in one transaction, with a dry-run diff first."
    ),
    no_args_is_help=True,
    cls=cli_conventions.Group,
    context_settings=cli_conventions.CONTEXT_SETTINGS,
    # Locals in a traceback could hold a literal secret read from a client file.
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


_settings = settings_of


def _print_version(value: bool) -> None:
    if value:
        from tenant_migrator import __version__

        typer.echo(f"tenant-migrator {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    project_dir: Annotated[
        Path,
        typer.Option("--project-dir", help=PROJECT_DIR_HELP, file_okay=False, resolve_path=True),
    ] = Path("."),
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", envvar="DATABASE_URL", help=DATABASE_URL_HELP, show_envvar=True
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(GlobalOptions(project_dir, database_url, verbose, quiet))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code (``argv``: the arguments after the
    program name; default ``sys.argv[1:]``). ``__main__`` exits with it; tests call
    it in-process (tests/test_cli_inprocess.py).

    A ``MigratorError`` is one line on stderr, never a traceback; every other exit
    is Typer's (usage errors 2, ``--help`` 0). The consoles are bound to this
    call's ``sys.stdout``/``sys.stderr``, and what a bulk command turned off for
    its own process (the cyclic GC) is turned back on before returning.
    """
    import gc

    from tenant_migrator import interruption, render

    if argv is None:
        # Before anything forks a worker (workers inherit the command line as ps shows it).
        from tenant_migrator.process_title import hide_database_url

        hide_database_url()
    collecting = gc.isenabled()
    render.reset()
    interruption.reset()  # what this run commits, not an earlier in-process one
    try:
        app(args=None if argv is None else list(argv), prog_name="tenant-migrator")
    except SystemExit as done:
        return _exit_code(done.code)
    except MigratorError as err:
        if isinstance(err, interruption.Interrupted):
            render.notice(str(err))  # what happened, not an error of the user's
        else:
            render.print_error(err)
        return err.exit_code
    finally:
        render.finish()
        if collecting:
            gc.enable()
    return 0


def _exit_code(code: object) -> int:
    """``SystemExit.code`` as a process exit status: None is 0; a message is 1 (and
    is printed, as the interpreter would)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


Tenants = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TENANT",
        help="Only these tenants (directory names under clients/). Default: all.",
        show_default=False,
    ),
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class ReportFormat(StrEnum):
    """validate's and plan's formats: OutputFormat's and GitHub annotations."""

    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"


ValidateTargets = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TENANT_OR_FILE",
        help=(
            "Only these tenants: ids, or client files (clients/<id>/client.yaml, as "
            "pre-commit passes them; the schema file means every tenant). Default: all."
        ),
        show_default=False,
    ),
]


# --- database -------------------------------------------------------------------------


@app.command("db-url")
def db_url(ctx: typer.Context) -> None:
    """Print the URL the tool connects to (starts the embedded server if needed).

    Example: psql "$(tenant-migrator db-url)"
    """
    from tenant_migrator import database

    typer.echo(database.shell_url(target_of(ctx)))


@app.command("db-stop")
def db_stop(ctx: typer.Context) -> None:
    """Stop the embedded PostgreSQL server of this project directory, if running."""
    from tenant_migrator import embedded
    from tenant_migrator.render import stdout

    pgdata = embedded.pgdata_dir(_settings(ctx).state_dir)
    if embedded.stop(pgdata):
        stdout().print(f"Stopped the embedded PostgreSQL server in {pgdata}.", markup=False)
    else:
        stdout().print(f"No embedded PostgreSQL server is running in {pgdata}.", markup=False)


# The migrate commands live in their own module (cli_migrate.py).
app.add_typer(cli_migrate.migrate_app, name="migrate")


# --- client files ----------------------------------------------------------------------


@app.command("validate")
def validate(
    ctx: typer.Context,
    tenants: ValidateTargets = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help="text (table + problems), json (stable keys), markdown or github (annotations).",
        ),
    ] = ReportFormat.text,
    secrets_out: Annotated[
        Path | None,
        typer.Option(
            "--secrets-out",
            help="Write the extracted secret values to FILE as NAME=value lines (mode 0600).",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --secrets-out file.")
    ] = False,
    max_file_bytes: Annotated[
        int, typer.Option("--max-file-bytes", min=1, help="Refuse client files larger than this.")
    ] = DEFAULT_MAX_FILE_BYTES,
) -> None:
    """Check client files against config/schema.json. No database needed.

    Shared-secret conflicts are checked against every client file, even when only
    some are named. Exit 0 when every named file is valid, 1 when any is invalid,
    2 on usage errors.
    """
    from tenant_migrator.report import formats, progress
    from tenant_migrator.targets import load_targets

    settings = _settings(ctx)
    _check_secrets_out(secrets_out, force)
    counted = progress.files_done("validating")
    with progress.phases("validating") as phase:
        result = load_targets(
            settings,
            tenants,
            max_file_bytes=max_file_bytes,
            on_progress=lambda done, total: phase(counted(done, total)),
        )
    formats.emit(formats.VALIDATE, output_format, result, view_of(ctx))
    if secrets_out is not None:
        _write_secrets(secrets_out, result.results, force)
    raise typer.Exit(0 if result.ok else 1)


def _write_secrets(path: Path, results: object, force: bool) -> None:
    from tenant_migrator import render
    from tenant_migrator.secretrefs import write_secrets_file

    count = write_secrets_file(path, results, force=force)
    render.notice(f"wrote {count} secret value(s) to {path} (mode 0600); keep it out of git")


@app.command("check-env")
def check_env(
    ctx: typer.Context,
    tenants: Tenants = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text, json or markdown.")
    ] = OutputFormat.text,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            metavar="FILE",
            help="Also check a dotenv file (read as python-dotenv reads it); a variable "
            "set in the environment wins over the file, as with load_dotenv.",
            dir_okay=False,
        ),
    ] = None,
    env_file_only: Annotated[
        bool,
        typer.Option("--env-file-only", help="Check the --env-file alone, not the environment."),
    ] = False,
) -> None:
    """List ${ENV} references whose variables are unset here (never prints values).

    Exit 0 when every referenced variable is set (or has a default), 1 otherwise
    or when a client file is invalid, 2 on usage errors.
    """
    from tenant_migrator.errors import UsageError
    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.report import formats
    from tenant_migrator.report import validation as report
    from tenant_migrator.secretrefs import check_environment
    from tenant_migrator.secretrefs.envcheck import environment

    if env_file_only and env_file is None:
        raise UsageError("--env-file-only needs --env-file FILE")
    settings = _settings(ctx)
    env = environment(env_file, env_file_only=env_file_only)  # a bad file: before loading
    result = load_tenants(settings, tenants)
    variables = check_environment(result.results, env)
    formats.emit(formats.CHECK_ENV, output_format, (variables, result), view_of(ctx))
    raise typer.Exit(0 if report.env_ok(variables, result) else 1)


# --- plan / import / sync -------------------------------------------------------------


def _only(tenants: list[str] | None) -> list[str] | None:
    return list(tenants) if tenants else None


def _bulk_mode() -> None:
    # The loaded documents are millions of small objects alive until exit, and the
    # cyclic GC would walk them again and again (measured on 10,000 tenants: 12 %
    # of loading, half of planning). This short-lived process makes no cycles worth
    # collecting.
    import gc

    gc.disable()


_DetailedExitcode = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when there is nothing to do, 2 when changes are pending, 1 on errors.",
    ),
]


@app.command("plan")
def plan(
    ctx: typer.Context,
    tenants: Tenants = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help=(
                "text (summary + change trees), json (stable), markdown (a pull-request "
                "comment, at most 65,536 characters) or github (annotations)."
            ),
        ),
    ] = ReportFormat.text,
    output: cli_write.PlanOutput = None,
    force: cli_write.ReplaceOutput = False,
    detailed_exitcode: _DetailedExitcode = False,
) -> None:
    """Dry-run diff of client files against the tenants table. Writes nothing.

    Each tenant is create, update, unchanged, invalid, blocked (edited in the
    database since our last import) or orphaned (a row without a file). Secret
    values never appear, only their ${ENV} references.
    Exit 0 on success (with --detailed-exitcode: 0 nothing to do, 2 changes
    pending), 1 on errors (an invalid or blocked tenant), 2 on usage errors.
    """
    from tenant_migrator import pipeline, streaming
    from tenant_migrator.report import formats, progress

    _bulk_mode()
    settings = _settings(ctx)
    only = _only(tenants)
    output = cli_write.output_file(output, force)
    with progress.phases("loading client files") as phase:
        stream = pipeline.stream_tenants(settings, only)
        settings = database_settings_of(ctx)
        the_plan = _run(streaming.plan_tenants(settings, stream, only, on_phase=phase))
    review = lambda: cli_write.review_of(the_plan, settings, only)  # noqa: E731
    view = dataclasses.replace(view_of(ctx), output=output, review=review)
    formats.emit(formats.PLAN, output_format, the_plan, view)
    if the_plan.has_errors:
        raise typer.Exit(1)
    raise typer.Exit(2 if detailed_exitcode and the_plan.has_changes else 0)


_DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show the plan and stop; write nothing (no migrations).")
]
_NoMigrate = Annotated[
    bool,
    typer.Option(
        "--no-migrate", help="Do not apply pending migrations first; pending ones are an error."
    ),
]
_LockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        metavar="SECONDS",
        min=0.001,
        help="When migrating first: give up waiting for a table lock after SECONDS "
        "(then retry, 3 attempts).",
    ),
]
_Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help=(
            "Overwrite tenants edited in the database since our last import or never "
            "imported (database-owned), re-create tenants deleted in the database since "
            "(overwritten values go into history), and replace an existing --secrets-out file."
        ),
    ),
]
_SecretsOut = Annotated[
    Path | None,
    typer.Option(
        "--secrets-out",
        help="After a successful write, save the extracted secret values to FILE as "
        "NAME=value lines (mode 0600; refused if it exists, unless --force).",
        dir_okay=False,
    ),
]


def _check_secrets_out(path: Path | None, force: bool) -> None:
    # Before anything is read, migrated or written: a file that cannot be written
    # must not be found out after the commit.
    if path is not None:
        from tenant_migrator.secretrefs import check_target

        check_target(path, force=force)


def _report_import(
    outcome: ImportOutcome,
    secrets_out: Path | None,
    force: bool,
    output_format: cli_write.WriteFormat,
    where: object,
    project_dir: Path,
    command: str = "import",
) -> None:
    cli_write.render_outcome(outcome, output_format, where, command, project_dir)
    if secrets_out is not None:
        _write_secrets(secrets_out, outcome.extracted, force)


@app.command("import")
def import_(
    ctx: typer.Context,
    tenants: Tenants = None,
    dry_run: _DryRun = False,
    no_migrate: _NoMigrate = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the valid tenants, list the invalid ones, exit 1.",
        ),
    ] = False,
    force: _Force = False,
    secrets_out: _SecretsOut = None,
    lock_timeout: _LockTimeout = 5.0,
    reviewed: cli_write.PlanFile = None,
    yes: cli_write.Yes = False,
    output_format: cli_write.WriteFormatOption = cli_write.WriteFormat.text,
) -> None:
    """Bulk import: migrate, plan, then write every change in one transaction.

    Any invalid tenant fails the whole run before the first write (unless
    --skip-invalid); a tenant edited in the database since our last import is
    refused (unless --force). Unchanged rows are not written. The run and the
    values it replaced are recorded (see `history`, `rollback`).
    Exit 0 on success, 1 when nothing was written because of an error or when
    --skip-invalid skipped a tenant, 2 on usage errors.
    """
    from tenant_migrator import pipeline, streaming
    from tenant_migrator.report import progress

    _bulk_mode()
    settings = _settings(ctx)
    only = _only(tenants)
    if dry_run and reviewed is not None:
        raise UsageError(
            "--plan and --dry-run do not go together: the reviewed plan is the dry run"
        )
    if dry_run:
        with progress.phases("loading client files") as phase:
            stream = pipeline.stream_tenants(settings, only)
            cli_write.dry_run(database_settings_of(ctx), stream, only, force, phase, view_of(ctx))
    _check_secrets_out(secrets_out, force)
    settings = database_settings_of(ctx)
    where = cli_write.target(settings)
    review, only = cli_write.before_import(
        settings,
        where,
        reviewed,
        lambda names: pipeline.stream_tenants(settings, names),
        only,
        yes=yes,
        force=force,
        skip_invalid=skip_invalid,
        phases=progress.phases,
    )
    options = streaming.ImportOptions(
        migrate=not no_migrate,
        skip_invalid=skip_invalid,
        force=force,
        lock_timeout=lock_timeout,
        review=review,
    )
    with progress.phases("loading client files") as phase:
        stream = pipeline.stream_tenants(settings, only)
        outcome = cli_write.run_import(settings, stream, only, options, phase)
    _report_import(outcome, secrets_out, force, output_format, where, settings.project_dir)
    raise typer.Exit(1 if outcome.skipped else 0)


@app.command("sync")
def sync(
    ctx: typer.Context,
    tenant: Annotated[
        str, typer.Argument(metavar="TENANT", help="The tenant (directory name under clients/).")
    ],
    dry_run: _DryRun = False,
    no_migrate: _NoMigrate = False,
    force: _Force = False,
    secrets_out: _SecretsOut = None,
    lock_timeout: _LockTimeout = 5.0,
    yes: cli_write.Yes = False,
    output_format: cli_write.WriteFormatOption = cli_write.WriteFormat.text,
) -> None:
    """Re-import one tenant in its own transaction.

    Reads only that tenant's file and row, shows its diff, writes it with the same
    history record as `import`. Refuses a tenant edited in the database since our
    last import unless --force. Exit 0 on success, 1 on errors, 2 on usage errors.
    """
    from tenant_migrator import pipeline, streaming
    from tenant_migrator.report import progress

    _bulk_mode()
    settings = _settings(ctx)

    def stream() -> TenantStream:
        return pipeline.TenantStream.of(pipeline.LoadResult((pipeline.load_one(settings, tenant),)))

    if dry_run:
        with progress.phases(f"loading {tenant}") as phase:
            loaded = stream()  # an unknown tenant is refused before the target is resolved
            cli_write.dry_run(
                database_settings_of(ctx), loaded, [tenant], force, phase, view_of(ctx)
            )
    _check_secrets_out(secrets_out, force)
    settings = database_settings_of(ctx)
    where = cli_write.target(settings)
    review = cli_write.before_sync(settings, where, stream, tenant, yes, force, progress.phases)
    options = streaming.ImportOptions(
        migrate=not no_migrate,
        force=force,
        command="sync",
        lock_timeout=lock_timeout,
        review=review,
    )
    with progress.phases(f"loading {tenant}") as phase:
        outcome = cli_write.run_import(settings, stream(), [tenant], options, phase)
    _report_import(outcome, secrets_out, force, output_format, where, settings.project_dir, "sync")


# history, rollback, audit, export: cli_runs.py
app.add_typer(cli_runs.runs_app)
# Last, once every command is registered: the global options after any of them, -h.
cli_conventions.mount(app)
