"""The modules of tenant_migrator import each other without cycles.

Two checks. At run time: every module imports on its own, first, in a fresh
interpreter (an import cycle shows up as an ImportError only from some entry
points, so each module is imported with no module of the package loaded yet).
Statically: the graph of ``import`` statements among the package's modules
(read with ``ast``, lazy imports inside functions and ``TYPE_CHECKING`` ones
included: those are cycles too, only hidden) has no cycle but the ones listed in
``KNOWN_CYCLES``, each with the reason it is still there. A listed cycle that is
gone must leave the list, so the list stays true.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tenant_migrator"

# Cycles that are known and scheduled to go, with why they are still here.
KNOWN_CYCLES: dict[frozenset[str], str] = {}

# Kept for the platform's code only (see README "Python API"); never by the tool.
DEPRECATED = {"tenant_migrator.secrets"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports (``from pkg import name``
    counts as importing ``pkg.name`` when that is a module, else ``pkg``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def owner(name: str) -> str:
        while name not in modules:
            name = name.rpartition(".")[0]
        return name

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {owner(a.name) for a in node.names if a.name.startswith("tenant_migrator")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                kept = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*kept, *([node.module] if node.module else [])])
            if base == "tenant_migrator" or base.startswith("tenant_migrator."):
                for alias in node.names:
                    name = f"{base}.{alias.name}"
                    found.add(name if name in modules else owner(base))
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle_but_the_known_ones():
    cycles = _cycles(_graph())
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"no longer cycles, take them out of KNOWN_CYCLES: {gone}"


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    # The check above would pass vacuously if the graph missed imports.
    graph = _graph()
    assert "tenant_migrator.secretrefs.model" in graph["tenant_migrator.secretrefs.extraction"]
    assert "tenant_migrator.pipeline" in graph["tenant_migrator.cli"]  # inside a function
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset("abc")}


def test_the_tool_never_imports_the_deprecated_secrets_module():
    importers = sorted(m for m, targets in _graph().items() if targets & DEPRECATED)
    assert importers == []


def test_every_module_imports_first_in_a_fresh_interpreter():
    # One interpreter, but before each module every module of the package is
    # dropped from sys.modules: each is imported as if it were the first.
    # (__main__ runs the CLI when imported: that is its job.)
    names = sorted(set(_modules()) - DEPRECATED - {"tenant_migrator.__main__"})
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'tenant_migrator']:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print('imported', len(" + repr(names) + "))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {len(names)}"
