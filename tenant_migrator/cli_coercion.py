"""The command-line values Typer would hand to a command, without importing pydantic
where the value is provably the one pydantic would give.

Why: Typer (0.2x) turns every parameter value into its Python value through a
pydantic ``TypeAdapter``, built on the parameter's first value. The first one
imports pydantic (and pydantic-core, annotated-types, its plugin loader through
importlib.metadata): with the adapters of one command, about 0.1 s of every
command, ``sync TENANT`` of 0.6 s included, and of every subcommand's ``--help``
(the global options are processed first). The tool's parameters are plain: str,
bool, Path, an Enum's names, a list of str, an int or float with a minimum.

How: the CLI's parameter classes (``cli_conventions``) take this module's
``get_runtime_param``; Typer asks it for the parameter's runtime coercion and
gets one that returns, for the values below, what Typer's own adapter returns,
computed with Typer's own functions (``coerce_cli_choice``, ``coerce_cli_path``):

* ``None`` (an option not given, no default): None, or () for a multi-value one;
* a str for a str parameter: that str;
* a list or tuple of str for a ``list[str]`` parameter: a list of them;
* an Enum parameter: ``coerce_cli_choice`` on the value, as the adapter does;
* an int or float already of the parameter's type, within its min/max: itself;
* a Path parameter: a str becomes ``Path(value)`` (pydantic's ``Path`` validator
  for a str, in lax mode, is exactly that), then ``coerce_cli_path`` as the
  adapter calls it (resolve_path, the exists/file/dir checks).

Anything else (a str for an int, a parser, a file, a value that fails any of
those checks) goes to Typer's own coercion, untouched, which then builds its
adapter and gives its own result or its own error message. A Typer without these
internals (older or newer) only ever takes that path. tests/test_cli_startup.py
compares the two for every parameter of every command on a set of values.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

try:
    from typer._param_types import coerce_cli_choice, coerce_cli_path, routes_to_path
except ImportError:  # another Typer: its own coercion only
    coerce_cli_choice = coerce_cli_path = routes_to_path = None  # type: ignore[assignment]

_UNSURE = object()


def get_runtime_param(param: Any) -> Any:
    """The parameter classes' ``get_runtime_param`` (``cli_conventions``): Typer
    calls it for the coercion of each value."""
    return _CHEAP


def typer_runtime_param(param: Any) -> Any:
    """Typer's own coercion of ``param`` (built, and cached, on first use): the
    ``get_runtime_param`` of its classes that is not this module's."""
    for klass in type(param).__mro__:
        method = klass.__dict__.get("get_runtime_param")
        if method is not None and method is not get_runtime_param:
            return method(param)
    raise TypeError(f"{type(param).__name__} has no Typer coercion")


class _Cheap:
    """The runtime coercion Typer calls (``coerce(value, param=, ctx=)``)."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        done = fast_value(param, value, ctx)
        if done is _UNSURE:
            return typer_runtime_param(param).coerce(value, param=param, ctx=ctx)
        return done


_CHEAP = _Cheap()


def fast_value(param: Any, value: Any, ctx: Any) -> Any:
    """What Typer's adapter would return for ``value``, or ``_UNSURE``."""
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if coerce_cli_path is None or info is None:
        return _UNSURE
    if getattr(info, "parser", None) is not None or descriptor.file_annotation is not None:
        return _UNSURE
    annotation = descriptor.annotation
    multi = param.multiple or param.nargs == -1
    if value is None:
        return () if multi else None
    if multi:
        if (
            get_origin(annotation) is list
            and get_args(annotation) == (str,)
            and isinstance(value, list | tuple)
            and all(type(item) is str for item in value)
        ):
            return list(value)
        return _UNSURE
    try:
        return _single(annotation, info, value, param, ctx)
    except Exception:
        return _UNSURE  # Typer's own coercion says what is wrong, in its words


def _single(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    if annotation is str:
        return value if type(value) is str else _UNSURE
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return coerce_cli_choice(
            value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
        )
    if annotation in (int, float):
        if type(value) is not annotation or info.clamp:
            return _UNSURE
        if (info.min is not None and not value >= info.min) or (
            info.max is not None and not value <= info.max
        ):
            return _UNSURE
        return value
    if annotation is Path and info.path_type is None and routes_to_path(annotation, info):
        if type(value) is str:
            value = Path(value)
        elif not isinstance(value, Path):
            return _UNSURE
        return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
    return _UNSURE
