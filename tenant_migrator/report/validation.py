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

from rich.markup import escape

from tenant_migrator.problems import Problem, Severity
from tenant_migrator.secretrefs import KEPT, REFERENCED, REMOVED, EnvVariable, SecretReference

if TYPE_CHECKING:
    from rich.console import Console

    from tenant_migrator.results import LoadResult, TenantResult

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


def render_text(
    load_result: LoadResult,
    console: Console,
    *,
    verbose: bool = False,
    project_dir: Path | None = None,
) -> None:
    """Summary table, then per tenant every error and warning, the secrets turned into
    references (grouped; each one with ``verbose``), then a one-line verdict, last."""
    from rich.table import Table

    table = Table(title="Client files", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("tenant", no_wrap=True)
    table.add_column("status")
    table.add_column("errors", justify="right")
    table.add_column("warnings", justify="right")
    table.add_column("secrets → ${ENV}", justify="right")
    table.add_column("removed", justify="right")
    # With many tenants, a row per quiet tenant helps nobody (the JSON has them all).
    quiet_rows = verbose or len(load_result.results) <= TABLE_ALL_ROWS_UP_TO
    hidden = 0
    tenant_lines = [_tenant_lines(r, verbose) for r in load_result.results]
    for r in load_result.results:
        if not quiet_rows and r.ok and not r.warnings:
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
        label = f"… {hidden:,} more" if table.row_count else f"all {hidden:,}"
        table.add_row(label, "[green]ok[/]", "0", "0", "…", "…")
    console.print(table)

    if load_result.excluded:
        console.print(
            f"{len(load_result.excluded)} tenant(s) excluded by the project's settings "
            f"(exclude): {_names(load_result.excluded)}",
            style="dim",
            markup=False,
            highlight=False,
            soft_wrap=_one_line(console),
        )
    for problem in load_result.problems:
        _print_problem(console, problem, project_dir)
    for r, lines in zip(load_result.results, tenant_lines, strict=True):
        if not lines:
            continue
        console.print()
        head = "[green]ok[/]" if r.ok else "[bold red]invalid[/] — nothing will be imported for it"
        where = escape(_display_path(r.path, project_dir))
        console.print(
            f"[bold]{escape(r.tenant_id)}[/] ({where}): {head}", soft_wrap=_one_line(console)
        )
        for kind, item in lines:
            if kind == "problem":
                _print_problem(console, item, project_dir)
            else:
                _print_secret(console, r, item, project_dir)
    if not verbose:
        _print_secret_groups(console, load_result.results)

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
        extra += "" if verbose else " (--verbose lists them)"
    if s["excluded"]:
        extra += f"; {s['excluded']} excluded by the project's settings"
    console.print(
        f"{verdict}; {s['errors']} errors, {s['warnings']} warnings; "
        f"{s['secrets_referenced']} secrets turned into ${{ENV}} references, "
        f"{s['secrets_removed']} removed{extra}",
        soft_wrap=_one_line(console),
    )


def _print_secret_groups(console: Console, results: Sequence[TenantResult]) -> None:
    """The secrets found, one line per JSON path and action however many tenants
    share it (``--verbose`` lists each with its file and line)."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for r in results:
        for secret in r.secrets:
            if secret.action != KEPT:
                groups.setdefault((secret.json_path, secret.action), []).append(
                    (r.tenant_id, secret.env_var)
                )
    if not groups:
        return
    console.print()
    console.print("[bold]Secrets[/] (never stored; --verbose lists each with its line):")
    for (json_path, action), uses in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        names = sorted({env_var for _, env_var in uses})
        tenants = [tenant for tenant, _ in uses]
        if action == REMOVED:
            text = (
                f"removed from tenant_config; the platform reads {', '.join(names)} "
                "from its environment"
            )
        elif len(names) == 1:
            text = f"secret → ${{{names[0]}}}"
        else:
            text = f"secret → one variable per tenant (${{{names[0]}}} …)"
        noun = "tenant" if len(tenants) == 1 else "tenants"
        console.print(
            f"  {len(tenants):,} {noun}: {json_path}  {text}  ({_names(tenants, 3)})",
            style="cyan",
            markup=False,
            highlight=False,
            soft_wrap=_one_line(console),
        )


def _one_line(console: Console) -> bool:
    """In a pipe or a log a line stays one line (grep finds it); on a terminal Rich
    wraps it between words, where the terminal would cut it mid-word."""
    return not console.is_terminal


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


def _tenant_lines(r: TenantResult, verbose: bool = True) -> list[tuple[str, Any]]:
    """A tenant's lines by position: its errors and warnings; with ``verbose`` its
    info-level lines too (defaults filled in, every secret turned into a reference)."""
    items: list[tuple[int, int, str, Any]] = [
        (p.line or 0, p.column or 0, "problem", p)
        for p in r.problems
        if verbose or p.severity is not Severity.INFO
    ]
    if verbose:
        items += [(s.line or 0, s.column or 0, "secret", s) for s in r.secrets if s.action != KEPT]
    items.sort(key=lambda i: (i[0], i[1], i[2]))
    return [(kind, item) for _, _, kind, item in items]


def _names(ids: Sequence[str], shown: int = 10) -> str:
    more = f" … and {len(ids) - shown:,} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


_PROBLEM_STYLES = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}


def _print_problem(console: Console, problem: Problem, project_dir: Path | None = None) -> None:
    from rich.text import Text

    style = _PROBLEM_STYLES[problem.severity]
    # One Text, so that a narrow terminal wraps it between words, never inside one.
    line = Text(f"  {_display(problem, project_dir).format()}", style=style)
    line.append(f"  ({problem.severity.value})", style=f"dim {style}")
    console.print(line, highlight=False, soft_wrap=_one_line(console))


def _print_secret(
    console: Console, r: TenantResult, secret: SecretReference, project_dir: Path | None = None
) -> None:
    where = Problem(r.path, "", secret.json_path, secret.line, secret.column)
    if secret.action == REMOVED:
        text = (
            f"removed from tenant_config (never stored, not even as a reference); "
            f"the platform reads {secret.env_var} from its environment"
        )
    else:
        text = f"secret → {secret.reference} (the literal is not stored)"
    console.print(
        f"  {_display(where, project_dir).location()}  {secret.json_path}  {text}",
        style="cyan",
        markup=False,
        highlight=False,
        soft_wrap=_one_line(console),
    )


def _display(problem: Problem, project_dir: Path | None = None) -> Problem:
    return dataclasses.replace(problem, path=Path(_display_path(problem.path, project_dir)))


def _display_path(path: Path, project_dir: Path | None = None) -> str:
    """Relative to the project (as every report shows paths), else to the working
    directory when inside it (shorter, clickable)."""
    try:
        relative = os.path.relpath(path, project_dir) if project_dir else os.path.relpath(path)
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
    variables: Sequence[EnvVariable],
    load_result: LoadResult,
    console: Console,
    *,
    verbose: bool = False,
) -> None:
    """A row per variable; with many, the per-tenant ones grouped by status and JSON
    path (``verbose``: every one), the verdict last."""
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
    for name, status, source, tenants in _env_rows(variables, verbose):
        where = [source or "—"] if sourced else []
        table.add_row(name, _STATUS_TEXT[status], *where, tenants)
    console.print(table)
    invalid = load_result.invalid
    if invalid:
        names = ", ".join(r.tenant_id for r in invalid)
        console.print(
            f"[red]not checked (invalid client file — run `tenant-migrator validate`):[/] "
            f"{escape(names)}",
            soft_wrap=_one_line(console),
        )
    bad = [v for v in variables if not v.ok]
    console.print()
    console.print(_env_verdict(variables, bad, markup=True), soft_wrap=_one_line(console))


ENV_ROWS_UP_TO = 50


def _env_rows(
    variables: Sequence[EnvVariable], verbose: bool
) -> list[tuple[str, str, str | None, str]]:
    """(variable, status, source, tenants) rows. Above ``ENV_ROWS_UP_TO`` variables, those of
    one tenant each become one row per (status, JSON path): 3,000 tenants' missing
    ``…_VAPI_API_KEY`` are one line, not 3,000."""
    rows: list[tuple[str, str, str | None, str]] = []
    grouped: dict[tuple[str, str, str | None], list[EnvVariable]] = {}
    group = not verbose and len(variables) > ENV_ROWS_UP_TO
    for v in variables:
        if group and len(v.tenants) == 1 and v.uses:
            grouped.setdefault((v.status, v.uses[0][1], v.source), []).append(v)
            continue
        tenants = ", ".join(v.tenants) if len(v.tenants) <= 4 else f"{len(v.tenants):,} tenants"
        rows.append((v.name, v.status, v.source, tenants))
    for (status, path, source), members in sorted(
        grouped.items(), key=lambda g: (-len(g[1]), g[0][:2], g[0][2] or "")
    ):
        if len(members) == 1:
            rows.append((members[0].name, status, source, members[0].tenants[0]))
            continue
        name = f"{members[0].name} … ({len(members):,}, one per tenant)"
        rows.append((name, status, source, f"{len(members):,} tenants, at {path}"))
    return rows


def _env_verdict(variables: Sequence[EnvVariable], bad: Sequence[EnvVariable], markup: bool) -> str:
    red, green, end = ("[bold red]", "[bold green]", "[/]") if markup else ("**", "**", "**")
    if bad:
        return (
            f"{red}{len(bad):,} of {len(variables):,} variables are not set{end}; set them "
            "(the --secrets-out file of `validate`/`import` holds the extracted ones)"
        )
    return f"{green}all {len(variables):,} variables are set{end}"


def render_env_markdown(variables: Sequence[EnvVariable], load_result: LoadResult) -> str:
    """``check-env --format markdown``: the text report's rows as a table, for a
    pull-request comment or a step summary (names only, never values)."""
    words = {
        "set": "set",
        "default": "unset — default used",
        "missing": "**missing**",
        "empty": "**set but empty**",
    }
    sourced = any(v.source == "env-file" for v in variables)
    head = (
        "| variable | status | from | tenants |" if sourced else "| variable | status | tenants |"
    )
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for name, status, source, tenants in _env_rows(variables, verbose=False):
        where = f" {source or '—'} |" if sourced else ""
        lines.append(f"| `{name}` | {words[status]} |{where} {tenants} |")
    invalid = [r.tenant_id for r in load_result.invalid]
    if invalid:
        lines += ["", "Not checked (invalid client file): " + ", ".join(f"`{i}`" for i in invalid)]
    bad = [v for v in variables if not v.ok]
    lines += ["", _env_verdict(variables, bad, markup=False)]
    return "\n".join(lines) + "\n"
