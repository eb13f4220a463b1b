"""What every command's Typer context carries: the global options, turned into checked
``Settings`` the first time a command asks (so ``--help`` works anywhere, and every
command refuses a bad project before it does anything).

Its own module because both ``cli.py`` and ``cli_migrate.py`` need it, and
``cli.py`` imports ``cli_migrate`` to mount the ``migrate`` group.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import typer

from tenant_migrator.settings import Settings


class TextOrJson(StrEnum):
    """``--format`` of the commands with a table and a JSON shape (status, history, audit)."""

    text = "text"
    json = "json"


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    project_dir: Path
    database_url: str | None


def settings_of(ctx: typer.Context) -> Settings:
    """The checked settings (project settings file read, empty DATABASE_URL and a
    directory that is no project refused)."""
    root = ctx.find_root()
    if isinstance(root.obj, GlobalOptions):
        from tenant_migrator.project import load_settings

        root.obj = load_settings(root.obj.project_dir, root.obj.database_url)
    return root.obj
