"""The conventions people type without thinking, applied to every command at once:
the global options after the command too, ``-h``, the commands in pipeline order,
help without type placeholders (``<bool>``, ``<list[str]>``, ``{TENANT}``), usage
errors without the validator's internal prefix ("Value error, …"), and the values
coerced without pydantic where that gives the same value (``cli_coercion``).

Typer's own classes, subclassed (``cls=``); ``mount`` walks an app once, so no
command repeats any of it.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from tenant_migrator import cli_coercion
from tenant_migrator.cli_context import accepting_global_options

# `tenant-migrator --help` lists the commands in the order a migration uses them.
PIPELINE_ORDER = (
    "validate",
    "check-env",
    "plan",
    "import",
    "sync",
    "history",
    "rollback",
    "audit",
    "export",
    "migrate",
    "db-url",
    "db-stop",
)
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
_INTERNAL_PREFIXES = ("Value error, ", "Assertion failed, ")


class _Argument(TyperArgument):
    get_runtime_param = cli_coercion.get_runtime_param

    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the name column says it (TENANT, RUN_ID …)

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name if self.nargs == 1 or name.endswith("...") else f"{name}..."


class _Option(TyperOption):
    get_runtime_param = cli_coercion.get_runtime_param

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.is_flag else super().display_type_rich(ctx)


def _tidy_params(params: list[Any]) -> None:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option


class _Conventions:
    """What every command and group gets: help without type placeholders, usage
    errors without pydantic-style prefixes (mixed in before Typer's classes)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        _tidy_params(params)  # the help and completion options are added late
        return params

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)  # type: ignore[misc]
        except typer.BadParameter as err:
            for prefix in _INTERNAL_PREFIXES:
                err.message = err.message.replace(prefix, "")
            raise


class Command(_Conventions, TyperCommand):
    pass


class Group(_Conventions, TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(PIPELINE_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


def mount(app: typer.Typer) -> None:
    """Every command of ``app`` and of the apps it mounts: the global options accepted
    after it, the tidy help and errors. Call once the commands are registered."""
    for info in app.registered_commands:
        info.callback = accepting_global_options(info.callback)
        info.cls = Command
    for group in app.registered_groups:
        sub = group.typer_instance
        if sub is None:
            continue
        if sub.registered_callback is not None and sub.registered_callback.callback:
            callback = sub.registered_callback
            callback.callback = accepting_global_options(callback.callback)
        sub.info.cls = Group
        mount(sub)
