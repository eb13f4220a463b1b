"""What every command's Typer context carries: the global options (given before the
command or after it), turned into checked ``Settings`` the first time a command asks
(so ``--help`` works anywhere, and every command refuses a bad project before it
does anything), and the database target resolved once, carried by those settings
(``Settings.target``) into the library.

Its own module because ``cli.py``, ``cli_migrate.py`` and ``cli_runs.py`` all need
it, and ``cli.py`` imports the other two to mount them.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tenant_migrator.settings import Settings, Target

if TYPE_CHECKING:
    from tenant_migrator.report.formats import View


class TextOrJson(StrEnum):
    """``--format`` of the commands with a table and a JSON shape (status, history, audit)."""

    text = "text"
    json = "json"


PROJECT_DIR_HELP = (
    "Directory holding clients/, config/ and database/, and the settings "
    "(a \\[tool.tenant-migrator] table in pyproject.toml, or tenant-migrator.toml)."
)
DATABASE_URL_HELP = (
    "PostgreSQL URL (Supabase direct or pooler). Without it, and without "
    "PGHOST/PGDATABASE, a local embedded server is used. On the command line "
    "it is visible to every local user in the process list (ps) until the "
    "tool masks its password at start, and in your shell history: prefer "
    "DATABASE_URL, or libpq's PGHOST/PGUSER/PGDATABASE with PGPASSWORD or a "
    "PGPASSFILE. Percent-encode / ? # @ : [ ] in the password."
)
VERBOSE_HELP = "Also print info-level lines (every secret turned into a reference, every default)."
QUIET_HELP = "Print no notices on stderr (the embedded server's, 'wrote FILE'); errors still."
GLOBAL_PANEL = "Global options (also accepted before the command)"


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    project_dir: Path
    database_url: str | None
    verbose: bool = False
    quiet: bool = False

    def given_after(
        self, project_dir: Path | None, database_url: str | None, verbose: bool, quiet: bool
    ) -> GlobalOptions:
        """These options with the ones given after the command on top (the later wins)."""
        return GlobalOptions(
            project_dir if project_dir is not None else self.project_dir,
            database_url if database_url is not None else self.database_url,
            self.verbose or verbose,
            self.quiet or quiet,
        )


@dataclass(slots=True)
class CliState:
    """The root context's object: the options, the settings once checked (carrying
    the target once resolved: one invocation, one database)."""

    options: GlobalOptions
    settings: Settings | None = None


def state_of(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        # A command invoked without the top-level callback (a test's own app).
        root.obj = CliState(GlobalOptions(Path(".").resolve(), None))
    return root.obj


def settings_of(ctx: typer.Context) -> Settings:
    """The checked settings (project settings file read, empty DATABASE_URL and a
    directory that is no project refused); notices go to the terminal unless -q."""
    state = state_of(ctx)
    if state.settings is None:
        from tenant_migrator import render
        from tenant_migrator.project import load_settings

        options = state.options
        render.set_quiet(options.quiet)
        settings = load_settings(options.project_dir, options.database_url)
        state.settings = dataclasses.replace(settings, notify=render.notice)
    return state.settings


def target_of(ctx: typer.Context) -> Target:
    """The database this invocation talks to, resolved the first time a command asks
    (starting, and announcing, the embedded server if it is that) and kept in the
    settings: ``settings_of`` hands it to the library from then on."""
    target = database_settings_of(ctx).target
    assert target is not None  # database_settings_of resolved it
    return target


def database_settings_of(ctx: typer.Context) -> Settings:
    """The checked settings carrying the resolved target: what a command hands the
    library's database entry points, so that they never resolve it again. Asked for
    where the library would first connect, so that nothing is said or started
    earlier than that (a missing tenant is refused before the embedded notice)."""
    settings = settings_of(ctx)
    if settings.target is None:
        from tenant_migrator import database

        settings = dataclasses.replace(settings, target=database.resolve_target(settings))
        state_of(ctx).settings = settings
    return settings


def view_of(ctx: typer.Context) -> View:
    """How reports are drawn for this invocation (verbosity, the project for relative paths)."""
    from tenant_migrator.report.formats import View

    options = state_of(ctx).options
    return View(project_dir=settings_of(ctx).project_dir, verbose=options.verbose)


# --- the global options after the command ---------------------------------------------

_AFTER = {
    "tm_project_dir": (
        Annotated[
            Path | None,
            typer.Option(
                "--project-dir",
                help=PROJECT_DIR_HELP,
                file_okay=False,
                resolve_path=True,
                show_default=False,
                rich_help_panel=GLOBAL_PANEL,
            ),
        ],
        None,
    ),
    "tm_database_url": (
        Annotated[
            str | None,
            typer.Option(
                "--database-url",
                help="PostgreSQL URL (see `tenant-migrator --help`; prefer DATABASE_URL).",
                show_default=False,
                rich_help_panel=GLOBAL_PANEL,
            ),
        ],
        None,
    ),
    "tm_verbose": (
        Annotated[
            bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP, rich_help_panel=GLOBAL_PANEL)
        ],
        False,
    ),
    "tm_quiet": (
        Annotated[
            bool, typer.Option("--quiet", "-q", help=QUIET_HELP, rich_help_panel=GLOBAL_PANEL)
        ],
        False,
    ),
}


def accepting_global_options(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` with the global options added to its own, so that
    ``tenant-migrator plan --database-url …`` means what ``tenant-migrator
    --database-url … plan`` does. The command's body never sees them."""
    signature = inspect.signature(callback, eval_str=True)
    context = next(
        name for name, p in signature.parameters.items() if p.annotation is typer.Context
    )
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
        for name, (hint, default) in _AFTER.items()
    ]

    @functools.wraps(callback)
    def with_options(**kwargs: Any) -> Any:
        state = state_of(kwargs[context])
        state.options = state.options.given_after(*(kwargs.pop(name) for name in _AFTER))
        return callback(**kwargs)

    parameters = [*signature.parameters.values(), *added]
    with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_options
