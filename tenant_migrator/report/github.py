"""``--format github``: GitHub Actions workflow commands, one per problem.

Each problem becomes ``::error file=clients/x/client.yaml,line=L,col=C::message``
(``::warning`` for warnings), so the runner puts it on the line of the pull
request's diff. Paths are relative to the project directory, which the workflow
runs from (the repository root). Escaping follows GitHub's workflow-command rules:
``%``, ``\\r`` and ``\\n`` everywhere, and ``:`` and ``,`` in properties too.

Messages come from ``Problem``, which never holds a secret value; nothing else of
a client file is printed. When ``GITHUB_STEP_SUMMARY`` names a file, the Markdown
report is appended to it (the job's summary page).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tenant_migrator.problems import Problem, Severity

if TYPE_CHECKING:
    from tenant_migrator.planning import Plan
    from tenant_migrator.results import LoadResult

STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def escape_data(text: str) -> str:
    """A command's message: ``%``, CR and LF percent-encoded (``%`` first)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value (``file=…``): also ``:`` and ``,``, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (GitHub's form); absolute
    when outside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path(os.path.abspath(root))).as_posix()
    except ValueError:
        return absolute.as_posix()


def command(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    """One workflow command line, e.g. ``::error file=a.yaml,line=3::bad``."""
    properties = []
    if file is not None:
        properties.append(f"file={escape_property(file)}")
    if line is not None:
        properties.append(f"line={line}")
        if col is not None:
            properties.append(f"col={col}")
    if title is not None:
        properties.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    return f"{head}::{escape_data(message)}"


def annotation(problem: Problem, root: Path, *, prefix: str = "") -> str | None:
    """The command for ``problem``; None for info-level notes (nothing to fix)."""
    level = _LEVEL.get(problem.severity)
    if level is None:
        return None
    where = f"{problem.json_path}: " if problem.json_path else ""
    return command(
        level,
        f"{prefix}{where}{problem.message}",
        file=relative_path(problem.path, root),
        line=problem.line,
        col=problem.column,
    )


def _lines(problems: Iterable[Problem], root: Path, prefix: str = "") -> Iterator[str]:
    for problem in problems:
        line = annotation(problem, root, prefix=prefix)
        if line is not None:
            yield line


def validation_commands(load_result: LoadResult, root: Path) -> list[str]:
    """Every error and warning of a ``validate`` run, then a one-line verdict."""
    from tenant_migrator.report.validation import summary

    out = list(_lines(load_result.problems, root))
    for result in load_result.results:
        out += _lines(result.problems, root)
    counts = summary(load_result)
    out.append(
        f"tenant-migrator validate: {counts['tenants']} tenant(s), {counts['invalid']} "
        f"invalid, {counts['errors']} error(s), {counts['warnings']} warning(s)"
    )
    return out


def plan_commands(plan: Plan, root: Path) -> list[str]:
    """A plan's errors (invalid tenants, blocked ones, problems outside any tenant) and
    warnings as annotations, then the counts."""
    from tenant_migrator.planning import Action

    out = list(_lines(plan.problems, root))
    for tenant in plan.tenants:
        out += _lines(tenant.errors, root)
        out += _lines(tenant.warnings, root)
        if tenant.action is Action.BLOCKED:
            file = relative_path(tenant.path, root) if tenant.path else None
            since = f" since run {tenant.drift_run}" if tenant.drift_run else ""
            message = (
                f"tenant {tenant.id} was edited in the database{since}; import refuses to "
                "overwrite it without --force (see the plan's drift)"
            )
            out.append(command("error", message, file=file))
    counts = ", ".join(f"{n} {action}" for action, n in plan.summary().items())
    out.append(f"tenant-migrator plan: {counts}")
    return out


def append_step_summary(markdown: str) -> bool:
    """Append ``markdown`` to the file ``GITHUB_STEP_SUMMARY`` names; False when unset."""
    target = os.environ.get(STEP_SUMMARY_VARIABLE)
    if not target:
        return False
    from tenant_migrator.errors import MigratorError

    try:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as err:
        raise MigratorError(
            f"cannot append to {STEP_SUMMARY_VARIABLE} ({target}): {err.strerror or err}"
        ) from None
    return True
