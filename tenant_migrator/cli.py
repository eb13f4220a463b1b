"""The command line: parse options, call the library, render. Nothing else lives here.

Heavy imports (asyncpg, jsonschema, yaml, rich tables) happen inside the commands
so that ``tenant-migrator --help`` stays fast.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tenant_migrator.errors import MigratorError
from tenant_migrator.settings import DEFAULT_MAX_FILE_BYTES, Settings

app = typer.Typer(
    name="tenant-migrator",
    help=(
        "Move tenant configuration from clients/<tenant>/client.yaml into the PostgreSQL "
        "(Supabase) tenants table: validated, secrets turned into ${ENV} references, "
        "written in one transaction, with a dry-run diff first."
    ),
    no_args_is_help=True,
    add_completion=False,
    # Locals in a traceback could hold a literal secret read from a client file.
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)


def _settings(ctx: typer.Context) -> Settings:
    return ctx.find_root().obj


@app.callback()
def _global_options(
    ctx: typer.Context,
    project_dir: Annotated[
        Path,
        typer.Option(
            "--project-dir",
            help="Directory holding clients/, config/ and database/.",
            file_okay=False,
            resolve_path=True,
        ),
    ] = Path("."),
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="DATABASE_URL",
            help=(
                "PostgreSQL URL (Supabase direct or pooler). Without it, and without "
                "PGHOST/PGDATABASE, a local embedded server is used."
            ),
            show_envvar=True,
        ),
    ] = None,
) -> None:
    ctx.obj = Settings(project_dir=project_dir, database_url=database_url)


def main() -> None:
    try:
        app()
    except MigratorError as err:
        from tenant_migrator.render import print_error

        print_error(err)
        sys.exit(err.exit_code)


def _todo(what: str) -> None:
    raise MigratorError(f"{what} is not implemented yet")


Tenants = Annotated[
    list[str] | None,
    typer.Argument(help="Only these tenants (directory names under clients/). Default: all."),
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


# --- database -------------------------------------------------------------------------


@app.command("db-url")
def db_url(ctx: typer.Context) -> None:
    """Print the URL the tool connects to (starts the embedded server if needed).

    Example: psql "$(tenant-migrator db-url)"
    """
    from tenant_migrator import database

    target = database.resolve_target(_settings(ctx))
    typer.echo(database.shell_url(target))


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


migrate_app = typer.Typer(
    help="Apply pending database migrations (each in its own transaction, under a lock).",
    no_args_is_help=False,
)
app.add_typer(migrate_app, name="migrate")


@migrate_app.callback(invoke_without_command=True)
def migrate(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would run; write nothing.")
    ] = False,
) -> None:
    """Apply pending migrations in file order. Subcommands: status, repair."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from tenant_migrator import database, migrations
    from tenant_migrator.render import stdout

    settings = _settings(ctx)
    files = migrations.load_project_migrations(settings.project_dir)
    target = database.resolve_target(settings)
    out = stdout()

    def applied(done: migrations.Applied) -> None:
        out.print(f"applied  {done.migration.label}  ({done.duration_ms} ms)", markup=False)

    outcome = asyncio.run(
        migrations.migrate_target(target, files, dry_run=dry_run, on_applied=applied)
    )
    if dry_run:
        if not outcome.pending:
            out.print("Nothing to apply: the database is up to date.")
        else:
            if outcome.needs_compat:
                out.print("would create the Supabase roles and auth.role() (plain PostgreSQL)")
            for m in outcome.pending:
                out.print(f"would apply  {m.label}", markup=False)
        out.print("Dry run: nothing was written.")
        return
    if outcome.applied:
        n = len(outcome.applied)
        out.print(f"{n} migration{'s' if n != 1 else ''} applied; the database is up to date.")
    else:
        out.print("Nothing to apply: the database is up to date.")


@migrate_app.command("status")
def migrate_status(ctx: typer.Context) -> None:
    """Table of migrations: version, name, applied at, state (applied/pending/modified)."""
    import asyncio

    from rich.table import Table
    from rich.text import Text

    from tenant_migrator import database, migrations
    from tenant_migrator.render import stdout

    settings = _settings(ctx)
    files = migrations.load_project_migrations(settings.project_dir)
    target = database.resolve_target(settings)
    rows = asyncio.run(migrations.status_target(target, files))
    styles = {"applied": "green", "pending": "yellow", "modified": "bold red"}
    table = Table("version", "name", "applied at", "state", box=None, pad_edge=False)
    for row in rows:
        applied_at = f"{row.applied_at:%Y-%m-%d %H:%M:%S %Z}" if row.applied_at else ""
        state = Text(row.state, style=styles[row.state])
        table.add_row(Text(row.version), Text(row.name), applied_at, state)
    stdout().print(table)


class RepairStatus(StrEnum):
    applied = "applied"
    reverted = "reverted"


@migrate_app.command("repair")
def migrate_repair(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Migration version, e.g. 011.")],
    status: Annotated[
        RepairStatus,
        typer.Option("--status", help="Mark as applied or reverted. Edits history only."),
    ],
) -> None:
    """Edit migration history only (like `supabase migration repair`); runs no SQL."""
    import asyncio

    from tenant_migrator import database, migrations
    from tenant_migrator.render import stdout

    settings = _settings(ctx)
    files = migrations.load_project_migrations(settings.project_dir)
    target = database.resolve_target(settings)
    applied = status is RepairStatus.applied
    recorded = asyncio.run(migrations.repair_target(target, files, version, applied=applied))
    stdout().print(
        f"Marked migration {recorded} as {status.value} (history only; no migration SQL ran).",
        markup=False,
    )


# --- client files ----------------------------------------------------------------------


@app.command("validate")
def validate(
    ctx: typer.Context,
    tenants: Tenants = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="text (table + problems), json (stable keys) or markdown."),
    ] = OutputFormat.text,
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

    Exit 0 when every file is valid, 1 when any is invalid, 2 on usage errors.
    """
    from tenant_migrator import render
    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.report import validation as report

    result = load_tenants(_settings(ctx), tenants, max_file_bytes=max_file_bytes)
    if output_format is OutputFormat.json:
        sys.stdout.write(report.render_json(result))
    elif output_format is OutputFormat.markdown:
        sys.stdout.write(report.render_markdown(result))
    else:
        report.render_text(result, render.stdout())
    if secrets_out is not None:
        _write_secrets(secrets_out, result.results, force)
    raise typer.Exit(0 if result.ok else 1)


def _write_secrets(path: Path, results: object, force: bool) -> None:
    from tenant_migrator import render
    from tenant_migrator.secrets import write_secrets_file

    count = write_secrets_file(path, results, force=force)
    render.notice(f"wrote {count} secret value(s) to {path} (mode 0600); keep it out of git")


@app.command("check-env")
def check_env(
    ctx: typer.Context,
    tenants: Tenants = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json.")
    ] = OutputFormat.text,
) -> None:
    """List ${ENV} references whose variables are unset here (never prints values).

    Exit 0 when every referenced variable is set (or has a default), 1 otherwise
    or when a client file is invalid, 2 on usage errors.
    """
    from tenant_migrator import render
    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.report import validation as report
    from tenant_migrator.secrets import check_environment

    result = load_tenants(_settings(ctx), tenants)
    variables = check_environment(result.results)
    if output_format is OutputFormat.json:
        sys.stdout.write(report.render_env_json(variables, result))
    else:
        report.render_env_text(variables, result, render.stdout())
    ok = all(v.ok for v in variables) and not result.invalid
    raise typer.Exit(0 if ok else 1)


# --- plan / import / sync -------------------------------------------------------------


@app.command("plan")
def plan(ctx: typer.Context, tenants: Tenants = None) -> None:
    """Dry-run diff of client files against the tenants table. Writes nothing."""
    _todo("plan")


@app.command("import")
def import_(ctx: typer.Context, tenants: Tenants = None) -> None:
    """Bulk import: migrate, plan, then write every change in one transaction."""
    _todo("import")


@app.command("sync")
def sync(ctx: typer.Context, tenant: Annotated[str, typer.Argument()]) -> None:
    """Re-import one tenant in its own transaction."""
    _todo("sync")


@app.command("history")
def history(ctx: typer.Context, tenant: Annotated[str | None, typer.Argument()] = None) -> None:
    """List import runs (optionally only those that wrote TENANT)."""
    _todo("history")


@app.command("rollback")
def rollback(ctx: typer.Context, run_id: Annotated[str, typer.Argument()]) -> None:
    """Restore the values an import run replaced."""
    _todo("rollback")


@app.command("export")
def export(ctx: typer.Context, tenant: Annotated[str, typer.Argument()]) -> None:
    """Print a tenant from the database as client.yaml (the way back to YAML mode)."""
    _todo("export")
