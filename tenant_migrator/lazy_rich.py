"""Typer's help renderer without the two rich modules it imports and the tool never
renders with: ``rich.markdown`` and ``rich.traceback``.

Why: ``typer.rich_utils`` (imported to draw every ``--help`` and usage error) does
``from rich.markdown import Markdown`` and ``from rich.traceback import Traceback``
at its top. Markdown is only used with ``rich_markup_mode="markdown"`` (the app
uses ``"rich"``), Traceback only for an uncaught exception. Importing them pulls in
markdown_it, pygments (``rich.syntax``), ``rich.pretty`` and, with attrs installed,
``attr``: measured about 65 ms of ``tenant-migrator --help``'s ~130 ms of rendering.

How: ``install()`` puts a one-shot finder on ``sys.meta_path`` that catches the
import of ``typer.rich_utils``. While that one module executes (and only then),
``rich.markdown`` and ``rich.traceback`` are stand-in modules (when not imported
already); afterwards they are gone from ``sys.modules`` again, so any later import
of them is the real one. The names ``typer.rich_utils`` took from them are
stand-in classes that import the real module on first real use:

* calling one (``Markdown(text)``) builds the real object;
* any other attribute (``Traceback.from_exception``) is the real class's, but
  for dunder names (typing and the import system probe those);
* ``isinstance``/``issubclass`` ask the real class;
* subclassing one subclasses the real class;
* a name other than ``Markdown``/``Traceback`` taken from the stand-in modules
  (a later Typer) imports the real module there and then.

So a Typer or rich version that uses them differently still works, only without
the saving. Pretty exceptions and ``rich_markup_mode="markdown"`` are held by
tests/test_cli_startup.py. Used by the CLI only (``cli.py``); the library never
imports Typer.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

TARGET = "typer.rich_utils"
# Module -> the names whose stand-ins are handed out without importing it.
DEFERRED: dict[str, tuple[str, ...]] = {
    "rich.markdown": ("Markdown",),
    "rich.traceback": ("Traceback",),
}


def install() -> None:
    """Defer the imports for the coming ``import typer.rich_utils`` (idempotent;
    nothing to do when it is imported already)."""
    if TARGET in sys.modules or any(_is_ours(f) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


def _is_ours(finder: object) -> bool:
    # By name: a test that re-imports this module makes a second _Finder class.
    return type(finder).__name__ == "_Finder" and type(finder).__module__ == __name__


class _Finder:
    """A meta path finder (the protocol; importlib.abc would cost an import)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)  # one shot
        spec = None
        for finder in sys.meta_path:  # what the import system would ask next
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


class _Loader:
    """The real loader, executing the module with the stand-ins in place."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self._real.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__loader__ = self._real  # get_source (tracebacks) and reload: the real one
        if module.__spec__ is not None:
            module.__spec__.loader = self._real
        with _stand_ins():
            self._real.exec_module(module)


@contextmanager
def _stand_ins() -> Iterator[None]:
    placed = {}
    for name, names in DEFERRED.items():
        if name not in sys.modules:
            placed[name] = _stand_in_module(name, names)
    parents = {name: _parent(name) for name in placed}
    for name, stub in placed.items():
        sys.modules[name] = stub
        parent, child = parents[name]
        if parent is not None:
            setattr(parent, child, stub)  # `import rich.markdown; rich.markdown.X` too
    try:
        yield
    finally:
        for name, stub in placed.items():
            _remove(name, stub)


def _parent(name: str) -> tuple[types.ModuleType | None, str]:
    package, _, child = name.rpartition(".")
    return sys.modules.get(package), child


def _remove(name: str, stub: types.ModuleType) -> None:
    """Take the stand-in out, unless the real module has replaced it meanwhile."""
    if sys.modules.get(name) is stub:
        del sys.modules[name]
    parent, child = _parent(name)
    if parent is not None and getattr(parent, child, None) is stub:
        delattr(parent, child)


def _stand_in_module(name: str, names: tuple[str, ...]) -> types.ModuleType:
    stub = types.ModuleType(name, f"Stand-in for {name} (tenant_migrator.lazy_rich).")

    def __getattr__(attr: str) -> Any:
        if attr in names:
            value = stand_in(name, attr)
            setattr(stub, attr, value)
            return value
        if attr.startswith("__"):
            raise AttributeError(attr)  # the import system probing (__path__ …)
        _remove(name, stub)
        return getattr(importlib.import_module(name), attr)  # not deferred: the real one

    stub.__getattr__ = __getattr__  # type: ignore[method-assign]
    return stub


class _StandInMeta(type):
    """The class of a stand-in: every real use goes to the real class."""

    _module: str
    _name: str

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kw: Any):
        real_bases = tuple(b._real() if isinstance(b, _StandInMeta) else b for b in bases)
        if real_bases != bases:  # `class X(Markdown)`: a subclass of the real Markdown
            return types.new_class(name, real_bases, kw, lambda ns: ns.update(namespace))
        return super().__new__(mcls, name, bases, namespace)

    def _real(cls) -> type:
        return getattr(importlib.import_module(cls._module), cls._name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._real()(*args, **kwargs)

    def __getattr__(cls, attr: str) -> Any:
        # Not the dunders: typing probes those (``Markdown | Text`` in an annotation
        # asks for __typing_subst__ …), and must not import the real module for it.
        if attr in ("_module", "_name") or (attr.startswith("__") and attr.endswith("__")):
            raise AttributeError(attr)
        return getattr(cls._real(), attr)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._real())

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._real())


def stand_in(module: str, name: str) -> type:
    """A class standing for ``module.name`` that imports ``module`` on first real use."""
    return _StandInMeta(
        name,
        (),
        {"_module": module, "_name": name, "__module__": module, "__qualname__": name},
    )
