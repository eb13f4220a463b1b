"""The validation report (``validate``) and the environment report (``check-env``).

Text for people (a Rich table, then every problem as ``file:line:col  path  message``),
JSON for machines. Nothing here can print a secret: problems are built without
values, secrets are shown by their reference only, environment variables by name.

``render_json`` shape (``FORMAT_VERSION`` 1; keys are only ever added)::

    {"format_version": 1,
     "valid": true,                      # every tenant valid, no error outside a tenant
     "summary": {"tenants", "valid", "invalid", "errors", "warnings",
                 "secrets_referenced", "secrets_removed", "secrets_kept",
                 "defaults_filled", "excluded"},
     "problems": [problem, ...],         # not tied to one tenant (e.g. a skipped dir)
     "excluded": [tenant id, ...],       # left out by the settings' `exclude`
     "tenants": [{"id", "file", "status": "ok" | "invalid",
                  "errors": [problem, ...], "warnings": [problem, ...],
                  "info": [problem, ...],   # e.g. a schema default filled in
                  "secrets": [{"path", "env_var", "action", "scope", "reason",
                               "line", "column"}]}]}

    problem = {"file", "line", "column", "path", "message", "severity"}

``action``: "referenced" (a literal became ``${env_var}``), "kept" (already a
reference), "removed" (field dropped from tenant_config: the Supabase service key).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_migrator.problems import Problem, Severity
from tenant_migrator.secretrefs import KEPT, REFERENCED, REMOVED, EnvVariable, SecretReference

if TYPE_CHECKING:
    from rich.console import Console

    from tenant_migrator.pipeline import LoadResult, TenantResult

FORMAT_VERSION = 1
TABLE_ALL_ROWS_UP_TO = 50


def summary(load_result: LoadResult) -> dict[str, int]:
    results = load_result.results
    secrets = [s for r in results for s in r.secrets]
    return {
        "tenants": len(results),
        "valid": sum(1 for r in results if r.ok),
        "invalid": sum(1 for r in results if not r.ok),
        "errors": sum(len(r.errors) for r in results)
        + sum(1 for p in load_result.problems if p.is_error),
        "warnings": sum(len(r.warnings) for r in results)
        + sum(1 for p in load_result.problems if not p.is_error),
        "secrets_referenced": sum(1 for s in secrets if s.action == REFERENCED),
        "secrets_removed": sum(1 for s in secrets if s.action == REMOVED),
        "secrets_kept": sum(1 for s in secrets if s.action == KEPT),
        "defaults_filled": sum(len(r.notes) for r in results),
        "excluded": len(load_result.excluded),
    }


# --- JSON ------------------------------------------------------------------------------


def to_json(load_result: LoadResult) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "valid": load_result.ok,
        "summary": summary(load_result),
        "problems": [p.to_json() for p in load_result.problems],
        "excluded": list(load_result.excluded),
        "tenants": [
            {
                "id": r.tenant_id,
                "file": str(r.path),
                "status": "ok" if r.ok else "invalid",
                "errors": [p.to_json() for p in r.errors],
                "warnings": [p.to_json() for p in r.warnings],
                "info": [p.to_json() for p in r.notes],
                "secrets": [s.to_json() for s in _by_position(r.secrets)],
            }
            for r in load_result.results
        ],
    }


def render_json(load_result: LoadResult) -> str:
    return json.dumps(to_json(load_result), indent=2, ensure_ascii=False) + "\n"


# --- text ------------------------------------------------------------------------------


def render_text(load_result: LoadResult, console: Console) -> None:
    """Summary table, then per tenant every problem and every secret turned into a
    reference, then a one-line verdict."""
    from rich.table import Table

    table = Table(title="Client files", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("tenant", no_wrap=True)
    table.add_column("status")
    table.add_column("errors", justify="right")
    table.add_column("warnings", justify="right")
    table.add_column("secrets → ${ENV}", justify="right")
    table.add_column("removed", justify="right")
    # With many tenants, a row per quiet tenant helps nobody (the JSON has them all).
    quiet_rows = len(load_result.results) <= TABLE_ALL_ROWS_UP_TO
    hidden = 0
    tenant_lines = [_tenant_lines(r) for r in load_result.results]
    for r, lines in zip(load_result.results, tenant_lines, strict=True):
        if not quiet_rows and r.ok and not lines:
            hidden += 1
            continue
        referenced, removed = _secret_counts(r)
        table.add_row(
            r.tenant_id,
            "[green]ok[/]" if r.ok else "[bold red]invalid[/]",
            _count(len(r.errors), "red"),
            _count(len(r.warnings), "yellow"),
            _count(referenced, "cyan"),
            _count(removed, "cyan"),
        )
    if hidden:
        table.add_row(f"… {hidden:,} more", "[green]ok[/]", "0", "0", "0", "0")
    console.print(table)

    if load_result.excluded:
        console.print(
            f"{len(load_result.excluded)} tenant(s) excluded by the project's settings "
            f"(exclude): {_names(load_result.excluded)}",
            style="dim",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for problem in load_result.problems:
        _print_problem(console, problem)
    for r, lines in zip(load_result.results, tenant_lines, strict=True):
        if not lines:
            continue
        console.print()
        head = "[green]ok[/]" if r.ok else "[bold red]invalid[/] — nothing will be imported for it"
        console.print(f"[bold]{r.tenant_id}[/] ({_display_path(r.path)}): {head}", soft_wrap=True)
        for kind, item in lines:
            if kind == "problem":
                _print_problem(console, item)
            else:
                _print_secret(console, r, item)

    console.print()
    s = summary(load_result)
    verdict = (
        f"[bold green]{s['valid']} of {s['tenants']} tenants valid[/]"
        if s["invalid"] == 0
        else f"[bold red]{s['invalid']} of {s['tenants']} tenants invalid[/]"
    )
    extra = ""
    if s["defaults_filled"]:
        extra += f"; {s['defaults_filled']} missing fields written as the schema's default"
    if s["excluded"]:
        extra += f"; {s['excluded']} excluded by the project's settings"
    console.print(
        f"{verdict}; {s['errors']} errors, {s['warnings']} warnings; "
        f"{s['secrets_referenced']} secrets turned into ${{ENV}} references, "
        f"{s['secrets_removed']} removed{extra}",
        soft_wrap=True,
    )


def _secret_counts(result: TenantResult) -> tuple[int, int]:
    """Literals turned into references, and fields removed."""
    actions = [s.action for s in result.secrets]
    return actions.count(REFERENCED), actions.count(REMOVED)


def render_markdown(load_result: LoadResult) -> str:
    lines = [
        "| tenant | status | errors | warnings | secrets → ${ENV} | removed |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in load_result.results:
        referenced, removed = _secret_counts(r)
        lines.append(
            f"| `{r.tenant_id}` | {'ok' if r.ok else '**invalid**'} | {len(r.errors)} | "
            f"{len(r.warnings)} | {referenced} | {removed} |"
        )
    problems = [*load_result.problems, *(p for r in load_result.results for p in r.problems)]
    if problems:
        lines += ["", "```"]
        lines += [f"{p.severity.value}: {_display(p).format()}" for p in problems]
        lines += ["```"]
    return "\n".join(lines) + "\n"


def _count(n: int, style: str) -> str:
    return f"[{style}]{n}[/]" if n else "[dim]0[/]"


def _tenant_lines(r: TenantResult) -> list[tuple[str, Any]]:
    items: list[tuple[int, int, str, Any]] = [
        (p.line or 0, p.column or 0, "problem", p) for p in r.problems
    ]
    items += [(s.line or 0, s.column or 0, "secret", s) for s in r.secrets if s.action != KEPT]
    items.sort(key=lambda i: (i[0], i[1], i[2]))
    return [(kind, item) for _, _, kind, item in items]


def _names(ids: Sequence[str], shown: int = 10) -> str:
    more = f" … and {len(ids) - shown:,} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


_PROBLEM_STYLES = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def _print_problem(console: Console, problem: Problem) -> None:
    style = _PROBLEM_STYLES[problem.severity]
    label = problem.severity.value
    console.print(
        f"  {_display(problem).format()}",
        style=style,
        markup=False,
        highlight=False,
        soft_wrap=True,
        end="",
    )
    console.print(f"  ({label})", style=f"dim {style}", markup=False, highlight=False)


def _print_secret(console: Console, r: TenantResult, secret: SecretReference) -> None:
    where = Problem(r.path, "", secret.json_path, secret.line, secret.column)
    if secret.action == REMOVED:
        text = (
            f"removed from tenant_config (never stored, not even as a reference); "
            f"the platform reads {secret.env_var} from its environment"
        )
    else:
        text = f"secret → {secret.reference} (the literal is not stored)"
    console.print(
        f"  {_display(where).location()}  {secret.json_path}  {text}",
        style="cyan",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _display(problem: Problem) -> Problem:
    return dataclasses.replace(problem, path=Path(_display_path(problem.path)))


def _display_path(path: Path) -> str:
    """Relative to the working directory when inside it (shorter, clickable)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _by_position(secrets: Sequence[SecretReference]) -> list[SecretReference]:
    return sorted(secrets, key=lambda s: (s.line or 0, s.column or 0, s.json_path))


# --- check-env -------------------------------------------------------------------------


def env_to_json(variables: Sequence[EnvVariable], load_result: LoadResult) -> dict[str, Any]:
    """``check-env --format json``::

    {"format_version": 1, "ok": bool,
     "summary": {"variables", "set", "default", "missing", "empty"},
     "variables": [{"name", "status", "required", "tenants": [...],
                    "uses": [{"tenant", "path"}]}],
     "invalid_tenants": [ids]}
    """
    counts = {status: 0 for status in ("set", "default", "missing", "empty")}
    for v in variables:
        counts[v.status] += 1
    invalid = [r.tenant_id for r in load_result.invalid]
    return {
        "format_version": FORMAT_VERSION,
        "ok": env_ok(variables, load_result),
        "summary": {"variables": len(variables), **counts},
        "variables": [v.to_json() for v in variables],
        "invalid_tenants": invalid,
    }


def env_ok(variables: Sequence[EnvVariable], load_result: LoadResult) -> bool:
    """Every variable is usable and every tenant valid: check-env's exit 0."""
    return all(v.ok for v in variables) and not load_result.invalid


def render_env_json(variables: Sequence[EnvVariable], load_result: LoadResult) -> str:
    return json.dumps(env_to_json(variables, load_result), indent=2) + "\n"


_STATUS_TEXT = {
    "set": "[green]set[/]",
    "default": "[yellow]unset — default used[/]",
    "missing": "[bold red]MISSING[/]",
    "empty": "[bold red]set but empty[/]",
}


def render_env_text(
    variables: Sequence[EnvVariable], load_result: LoadResult, console: Console
) -> None:
    from rich.table import Table

    table = Table(
        title="Environment variables the tenants reference (values never shown)",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    # With --env-file, say where each value was found (never the value).
    sourced = any(v.source == "env-file" for v in variables)
    table.add_column("variable", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if sourced:
        table.add_column("from", no_wrap=True)
    table.add_column("tenants")
    for v in variables:
        tenants = ", ".join(v.tenants) if len(v.tenants) <= 4 else f"{len(v.tenants)} tenants"
        where = [v.source or "—"] if sourced else []
        table.add_row(v.name, _STATUS_TEXT[v.status], *where, tenants)
    console.print(table)
    invalid = load_result.invalid
    if invalid:
        names = ", ".join(r.tenant_id for r in invalid)
        console.print(
            f"[red]not checked (invalid client file — run `tenant-migrator validate`):[/] {names}",
            soft_wrap=True,
        )
    bad = [v for v in variables if not v.ok]
    console.print()
    if bad:
        console.print(
            f"[bold red]{len(bad)} of {len(variables)} variables are not set[/]; set them "
            "(the --secrets-out file of `validate`/`import` holds the extracted ones)",
            soft_wrap=True,
        )
    else:
        console.print(f"[bold green]all {len(variables)} variables are set[/]")
