"""The public surface: the package's declared Python API, and every CLI command's
``--help`` text and README entry.

``tenant_migrator.__all__`` is what a platform may import from the package; each
name resolves to the object of the module that defines it, is imported only on
first use (so ``tenant-migrator --help`` stays fast), and is in the README's
"Python API" section. Every command of the CLI says what it does under
``--help`` and has its entry in the README's command reference.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

import tenant_migrator
from tenant_migrator.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


@pytest.mark.parametrize("name", sorted(set(tenant_migrator.__all__) - {"__version__"}))
def test_every_public_name_is_the_object_of_its_module_and_documented(name):
    module = importlib.import_module(tenant_migrator._API[name])
    assert getattr(tenant_migrator, name) is getattr(module, name)
    in_code = re.compile(rf"`[^`]*\b{name}\b[^`]*`")
    assert in_code.search(_section("Python API")), f"{name} is not in README 'Python API'"


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import():
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = tenant_migrator.nothing_here
    from tenant_migrator import pool  # a submodule, not an API name

    assert pool.__name__ == "tenant_migrator.pool"


def test_importing_the_package_loads_nothing_else():
    code = (
        "import sys, tenant_migrator\n"
        "heavy = ('typer', 'yaml', 'asyncpg', 'jsonschema', 'rich')\n"
        "print(sorted(m for m in sys.modules if m.startswith('tenant_migrator') "
        "or m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['tenant_migrator']"


def _commands() -> list[tuple[list[str], object]]:
    found = []

    def walk(command: object, path: list[str]) -> None:
        if path:
            found.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = _commands()


def test_the_command_list_is_the_cli():
    names = [" ".join(path) for path, _ in COMMANDS]
    assert {"plan", "import", "sync", "validate", "migrate", "migrate repair"} <= set(names)


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_text_and_a_readme_entry(path):
    command = dict((tuple(p), c) for p, c in COMMANDS)[tuple(path)]
    summary = (command.help or "").strip().splitlines()[0]
    assert len(summary) > 10, f"{path}: no --help text"
    shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert " ".join(summary.split()[:4]) in " ".join(shown.output.split())
    # A heading or a table row of the command reference names the command.
    entry = re.compile(
        rf"^(?:#+ .*`tenant-migrator {re.escape(' '.join(path))}[` ]"
        rf"|\| `tenant-migrator {re.escape(' '.join(path))}[` ])",
        re.MULTILINE,
    )
    assert entry.search(README), f"README has no entry for `tenant-migrator {' '.join(path)}`"
