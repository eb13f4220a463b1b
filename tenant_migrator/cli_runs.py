"""The commands about what happened: ``history``, ``rollback``, ``audit``, ``export``.

A thin face like ``cli.py`` (parse options, call the library, render), in its own
module so that neither grows past one screenful of commands; ``cli.py`` mounts
``runs_app`` on the top-level app, so the commands keep their names.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tenant_migrator.asyncrun import run as _run
from tenant_migrator.cli_context import TextOrJson, database_settings_of, settings_of, view_of
from tenant_migrator.errors import MigratorError
from tenant_migrator.settings import Settings

runs_app = typer.Typer()


@runs_app.command("history")
def history(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Argument(metavar="TENANT", help="Only runs that wrote this tenant.")
    ] = None,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text (table) or json.")
    ] = TextOrJson.text,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most N runs.")] = 50,
) -> None:
    """List import, sync and rollback runs, newest first (optionally only those that wrote
    TENANT): who, when, what they did, which were rolled back. Exit 0, 1 on errors."""
    from tenant_migrator import store
    from tenant_migrator.report import formats

    settings = database_settings_of(ctx)
    runs = _run(store.list_runs(settings, tenant, limit))
    known = _known_tenants(settings) if tenant and not runs else ()
    formats.emit(formats.HISTORY, output_format, (runs, tenant, known), view_of(ctx))


def _known_tenants(settings: Settings) -> tuple[str, ...]:
    """The client directories' names, for "did you mean" (a typo finds no runs)."""
    from tenant_migrator import discovery

    try:
        return tuple(f.tenant_id for f in discovery.discover(settings.clients_dir).files)
    except MigratorError:
        return ()


@runs_app.command("rollback")
def rollback(
    ctx: typer.Context,
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="The run to undo (see `history`).")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be restored; write nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Restore even over rows that changed since that run."),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Do not ask before writing (asked on a terminal, see `import`)."
        ),
    ] = False,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text or json (stable keys).")
    ] = TextOrJson.text,
) -> None:
    """Restore the values an import run replaced.

    Rows the run updated get back exactly the values it replaced (columns the tool
    does not own are left alone); rows it created are deleted. Refuses when any of
    those rows changed since the run, unless --force. The rollback is a recorded run
    itself. Exit 0 on success, 1 when refused or on errors (with --dry-run: when the
    rollback would refuse), 2 on usage errors.
    """
    from tenant_migrator import cli_write, confirm, destination, render, store
    from tenant_migrator.errors import UsageError
    from tenant_migrator.report import runs as report

    if not run_id.isdigit():
        raise UsageError(
            f"RUN_ID must be a run number (see `tenant-migrator history`), not {run_id!r}"
        )
    settings = database_settings_of(ctx)
    if dry_run:
        where = destination.resolve(settings)
    else:
        where = cli_write.target(settings)
        if cli_write.asks(where, yes):
            preview = _run(store.rollback(settings, int(run_id), force=force, dry_run=True))
            if force or not any(e.changed_since for e in preview.entries):
                confirm.ask(confirm.rollback_lines(preview), where)
            # else: the rollback itself refuses, writing nothing; no question needed.
    # A run already rolled back is refused naming the run that undid it (store.rollback).
    outcome = _run(store.rollback(settings, int(run_id), force=force, dry_run=dry_run))
    would_refuse = dry_run and not force and any(e.changed_since for e in outcome.entries)
    if output_format is TextOrJson.json:
        from tenant_migrator.report import outcomes

        sys.stdout.write(outcomes.render_rollback(outcome, where, would_refuse=would_refuse))
    else:
        report.render_rollback(outcome, render.stdout())
        if would_refuse:
            render.notice(
                f"the rollback of run {run_id} would refuse: rows changed since (see above); "
                "--force restores over them"
            )
    if would_refuse:
        raise typer.Exit(1)


@runs_app.command("audit")
def audit(
    ctx: typer.Context,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", help="text (table) or json.")
    ] = TextOrJson.text,
) -> None:
    """Scan the tenants table (and the run history) for literal secrets. Read-only.

    Reports tenant, table, run, JSON path and kind (key-name, schema, shape:sendgrid
    ...), never a value. Exit 0 when none is found, 1 when any is (or on errors),
    2 on usage errors.
    """
    from tenant_migrator import audit as auditing
    from tenant_migrator.report import formats

    result = _run(auditing.audit(database_settings_of(ctx)))
    formats.emit(formats.AUDIT, output_format, result, view_of(ctx))
    if not result.ok:
        raise typer.Exit(1)


@runs_app.command("export")
def export(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Argument(metavar="TENANT", help="The tenant id (the row's id).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write to FILE instead of stdout ('-': stdout).", dir_okay=False
        ),
    ] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all", help="Every tenant, into --dir DIR/<tenant>/client.yaml.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            metavar="DIR",
            help="With --all: the directory to write into (e.g. clients); an existing "
            "client.yaml is edited in place, keeping its comments, order and quoting.",
            file_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace FILE, or update files in DIR, if they exist.")
    ] = False,
    output_format: Annotated[
        TextOrJson,
        typer.Option(
            "--format",
            help="text (the client.yaml) or json (metadata: tenant, file, warnings, and the "
            "YAML when no --output is given).",
        ),
    ] = TextOrJson.text,
) -> None:
    """Print a tenant from the database as client.yaml (the way back to YAML mode).

    Columns go back into the `client` section, tenant_config as is, ${ENV}
    references unresolved: importing the output again changes nothing. With --all
    --dir DIR, every tenant into DIR/<tenant>/client.yaml, changing in an existing
    file only the values that differ. Exit 0, 1 on errors or when a file exists
    (without --force), 2 for an unknown tenant or bad options.
    """
    from tenant_migrator import export as exporting
    from tenant_migrator import render, store
    from tenant_migrator.errors import UsageError

    if all_tenants or directory is not None:
        if tenant is not None or output is not None or not (all_tenants and directory):
            raise UsageError("use either TENANT [--output FILE] or --all --dir DIR")
        if output_format is TextOrJson.json:
            raise UsageError("--format json describes one TENANT's export, not --all")
        _export_all(ctx, directory, force)
        return
    if tenant is None:
        raise UsageError("name a TENANT to export, or use --all --dir DIR")
    snapshot = _run(store.read_snapshot(database_settings_of(ctx), tenant))
    exported = exporting.export_tenant(tenant, snapshot)
    for warning in exported.warnings:
        render.notice(f"warning: {warning}")
    to_file = output is not None and str(output) != "-"
    if not to_file:
        if output_format is TextOrJson.json:
            sys.stdout.write(_export_json(tenant, None, exported))
        else:
            sys.stdout.write(exported.text)
        return
    assert output is not None
    if output.exists() and not force:
        raise MigratorError(
            f"{output} already exists; pass --force to replace it (the current file may hold "
            "literal secrets the export would not keep: save them with --secrets-out first)"
        )
    render.write_report(output, lambda out: out.write(exported.text))
    render.notice(f"wrote {tenant} to {output}")
    if output_format is TextOrJson.json:
        sys.stdout.write(_export_json(tenant, output, exported))


def _export_json(tenant: str, output: Path | None, exported: object) -> str:
    """export --format json: what was exported, where, and why it may not round-trip."""
    import json

    return (
        json.dumps(
            {
                "format_version": 1,
                "tenant": tenant,
                "file": str(output) if output is not None else None,
                "warnings": list(getattr(exported, "warnings", ())),
                "yaml": None if output is not None else getattr(exported, "text", None),
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )


def _export_all(ctx: typer.Context, directory: Path, force: bool) -> None:
    from tenant_migrator import export_files, render, validation

    settings = settings_of(ctx)
    rules = validation.compiled_schema(settings.schema_path).secret_rules
    snapshots = _run(export_files.read_snapshots(database_settings_of(ctx)))
    exports = export_files.export_files(directory, snapshots, rules)
    changed = [e for e in exports if e.action == export_files.UPDATED]
    if changed and not force:
        names = ", ".join(str(e.path) for e in changed[:5]) + (" …" if len(changed) > 5 else "")
        raise MigratorError(
            f"{len(changed)} existing file(s) would change ({names}); nothing was written. Pass "
            "--force to update them in place (only the values that differ change; a literal "
            "secret such a file holds becomes its ${ENV} reference: save them with "
            "--secrets-out first)"
        )
    export_files.write_files(exports)
    for item in exports:
        for warning in item.warnings:
            render.notice(f"warning: {item.tenant_id}: {warning}")
        if item.action != export_files.UNCHANGED:
            render.notice(f"{item.action}  {item.path}")
    counts = {a: sum(e.action == a for e in exports) for a in ("created", "updated", "unchanged")}
    render.notice(
        f"exported {len(exports)} tenant(s) into {directory}: "
        + ", ".join(f"{n} {a}" for a, n in counts.items())
    )
