"""One reporter table per command: ``--format`` value → the function that draws it.

The commands only pick the table and pass their result (``emit``); every choice of
words, width and destination is made here. A renderer takes the result and a
``View`` (verbosity, the project for relative paths, where the report goes).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenant_migrator import render

# Width of a text report written to a file (--output): no terminal to fit.
FILE_WIDTH = 120


@dataclass(frozen=True, slots=True)
class View:
    project_dir: Path
    verbose: bool = False
    output: Path | None = None  # plan --output FILE; None: stdout
    # plan --format json: the reviewed plan's ``review`` key, built only when needed.
    review: Callable[[], Mapping[str, Any]] | None = None


Renderer = Callable[[Any, View], None]


def emit(table: Mapping[str, Renderer], output_format: str, result: Any, view: View) -> None:
    """Draw ``result`` as ``output_format`` (a key of ``table``: Typer has checked it)."""
    table[str(output_format)](result, view)


def _write(text: str) -> None:
    sys.stdout.write(text)


# --- validate ---------------------------------------------------------------------------


def _validate_text(result: Any, view: View) -> None:
    from tenant_migrator.report import validation

    validation.render_text(
        result, render.stdout(), verbose=view.verbose, project_dir=view.project_dir
    )


def _validate_json(result: Any, view: View) -> None:
    from tenant_migrator.report import validation

    _write(validation.render_json(result))


def _validate_markdown(result: Any, view: View) -> None:
    from tenant_migrator.report import validation

    _write(validation.render_markdown(result))


def _validate_github(result: Any, view: View) -> None:
    from tenant_migrator.report import github, validation

    _write("".join(f"{line}\n" for line in github.validation_commands(result, view.project_dir)))
    github.append_step_summary(validation.render_markdown(result))


VALIDATE: dict[str, Renderer] = {
    "text": _validate_text,
    "json": _validate_json,
    "markdown": _validate_markdown,
    "github": _validate_github,
}


# --- check-env (result: (variables, load_result)) ----------------------------------------


def _env_text(result: Any, view: View) -> None:
    from tenant_migrator.report import validation

    variables, loaded = result
    validation.render_env_text(variables, loaded, render.stdout(), verbose=view.verbose)


def _env_json(result: Any, view: View) -> None:
    from tenant_migrator.report import validation

    _write(validation.render_env_json(*result))


def _env_markdown(result: Any, view: View) -> None:
    from tenant_migrator.report import validation

    _write(validation.render_env_markdown(*result))


CHECK_ENV: dict[str, Renderer] = {"text": _env_text, "json": _env_json, "markdown": _env_markdown}


# --- plan ---------------------------------------------------------------------------------


def _plan_text(plan: Any, view: View) -> None:
    from rich.console import Console

    from tenant_migrator.report import plan as report

    if view.output is None:
        report.render_text(
            plan, render.stdout(), verbose=view.verbose, project_dir=view.project_dir
        )
        return
    buffer = io.StringIO()
    console = Console(file=buffer, width=FILE_WIDTH, color_system=None)
    report.render_text(plan, console, verbose=view.verbose, project_dir=view.project_dir)
    _plan_file(view, buffer.getvalue(), "text")


def _plan_json(plan: Any, view: View) -> None:
    from tenant_migrator.report import plan as report

    # Written as it is built: a 10,000-tenant report is tens of MB.
    extra = {"review": view.review()} if view.review is not None else None
    render.write_report(view.output, lambda out: report.write_json(plan, out, extra))
    _wrote(view, "json")


def _plan_markdown(plan: Any, view: View) -> None:
    from tenant_migrator.report import comment

    # Fits a pull-request comment.
    text = comment.render_comment(plan, project_dir=view.project_dir)
    _plan_file(view, text, "markdown")


def _plan_github(plan: Any, view: View) -> None:
    from tenant_migrator.report import comment, github

    lines = github.plan_commands(plan, view.project_dir)
    _plan_file(view, "".join(f"{line}\n" for line in lines), "github")
    github.append_step_summary(comment.render_comment(plan, project_dir=view.project_dir))


def _plan_file(view: View, text: str, name: str) -> None:
    render.write_report(view.output, lambda out: out.write(text))
    _wrote(view, name)


def _wrote(view: View, name: str) -> None:
    if view.output is not None:
        render.notice(f"wrote the plan ({name}) to {view.output}")


PLAN: dict[str, Renderer] = {
    "text": _plan_text,
    "json": _plan_json,
    "markdown": _plan_markdown,
    "github": _plan_github,
}


# --- history (result: (runs, tenant, known tenant ids)), audit, migrate status ------------


def _history_text(result: Any, view: View) -> None:
    from tenant_migrator.report import runs as report

    runs, tenant, known = result
    if runs is None:
        render.notice("no run history yet (migration 013 is not applied; `import` applies it)")
    elif not runs:
        render.notice(report.no_runs(tenant, known))
    else:
        report.render_history(runs, render.stdout(), tenant)


def _history_json(result: Any, view: View) -> None:
    runs, _tenant, _known = result
    _write(json.dumps([r.to_json() for r in runs or []], indent=2) + "\n")


HISTORY: dict[str, Renderer] = {"text": _history_text, "json": _history_json}


def _audit_text(result: Any, view: View) -> None:
    from tenant_migrator.report import audit

    audit.render_text(result, render.stdout())


def _audit_json(result: Any, view: View) -> None:
    from tenant_migrator.report import audit

    _write(audit.render_json(result))


AUDIT: dict[str, Renderer] = {"text": _audit_text, "json": _audit_json}


def _status_text(rows: Any, view: View) -> None:
    from tenant_migrator.report import migrations

    migrations.print_status(render.stdout(), rows)


def _status_json(rows: Any, view: View) -> None:
    from tenant_migrator.report import migrations

    _write(json.dumps(migrations.status_json(rows), indent=2) + "\n")


MIGRATE_STATUS: dict[str, Renderer] = {"text": _status_text, "json": _status_json}
