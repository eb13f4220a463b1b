"""What keeps the CLI's start fast, and that it changes nothing it should not.

* ``lazy_rich``: ``--help`` draws without importing rich.markdown / rich.traceback
  (markdown_it, pygments, rich.pretty, attr); Markdown help and pretty exceptions
  still render exactly as without it, when used.
* ``cli_coercion``: no command and no ``--help`` imports pydantic for the tool's
  plain parameters, and its values are Typer's own, for every parameter of every
  command.
* a valid file imports no jsonschema (the fast validator checked it and the schema).

Each check runs a fresh interpreter and reads its ``sys.modules`` (or
``-X importtime``): an import made once in this test process hides nothing there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from enum import Enum
from pathlib import Path

import pytest
import typer.main
from importhelpers import make_project

from tenant_migrator import cli_coercion
from tenant_migrator.cli import app

HEAVY = ("markdown_it", "pygments", "attr", "rich.markdown", "rich.traceback", "rich.pretty")


def _python(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        check=False,
    )


_LOADED_AFTER_MAIN = """
    import contextlib, io, json, sys
    from tenant_migrator.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = main(sys.argv[1:])
    print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _loaded_after(*argv: str) -> dict:
    done = _python(_LOADED_AFTER_MAIN, *argv)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _imported(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("argv", [["--help"], ["sync", "--help"], ["migrate", "status", "-h"]])
def test_help_imports_no_markdown_traceback_or_pydantic(argv):
    seen = _loaded_after(*argv)
    assert seen["code"] == 0
    assert "Usage: tenant-migrator" in seen["help"]
    assert "typer.rich_utils" in seen["modules"]  # it did draw with Typer's renderer
    assert _imported(seen["modules"], (*HEAVY, "pydantic", "pydantic_core")) == []


def test_without_the_shim_typer_rich_utils_does_import_them():
    # The check above would pass vacuously if Typer stopped importing them itself.
    done = _python("import sys, typer.rich_utils; print(sorted(sys.modules))")
    assert done.returncode == 0, done.stderr
    modules = eval(done.stdout)
    assert {"rich.markdown", "rich.traceback", "markdown_it"} <= set(modules)


# An app in markdown mode with a command that raises: what Typer renders for both,
# with the shim installed or not (argv[1]: "shim" or "plain").
_MARKDOWN_APP = """
    import sys
    if sys.argv[1] == "shim":
        from tenant_migrator import lazy_rich
        lazy_rich.install()
    import typer

    app = typer.Typer(rich_markup_mode="markdown", pretty_exceptions_show_locals=False)

    @app.command()
    def boom(name: str = "x") -> None:
        '''Does **bold** things with `code`.

        * one item
        * another item

        > a quote
        '''
        raise ValueError("boom " + name)

    @app.command()
    def other() -> None:
        '''Another _command_.'''

    sys.argv = ["demo", *sys.argv[2:]]
    app()
"""


@pytest.mark.parametrize("argv", [["boom", "--help"], ["--help"], ["boom", "--nope"]])
def test_markdown_help_renders_the_same_with_the_shim(argv):
    shim = _python(_MARKDOWN_APP, "shim", *argv)
    plain = _python(_MARKDOWN_APP, "plain", *argv)
    assert (shim.returncode, shim.stdout, shim.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )
    assert shim.returncode in (0, 2)
    if argv[-1] == "--help":
        assert "bold" in shim.stdout and "**" not in shim.stdout  # Markdown was rendered


def test_a_pretty_exception_renders_the_same_with_the_shim():
    shim = _python(_MARKDOWN_APP, "shim", "boom", "--name", "y")
    plain = _python(_MARKDOWN_APP, "plain", "boom", "--name", "y")
    assert shim.returncode == plain.returncode == 1
    assert "ValueError: boom y" in shim.stderr
    assert "Traceback" in shim.stderr  # rich's panel title, not the plain one
    assert shim.stderr == plain.stderr


def test_stand_ins_behave_as_the_real_classes():
    code = """
        import sys
        from tenant_migrator import lazy_rich
        lazy_rich.install()
        import typer.rich_utils as ru
        from rich.text import Text
        assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
        union = ru.Markdown | Text  # as in Typer's annotations: imports nothing
        assert "rich.markdown" not in sys.modules
        made = ru.Markdown("# title")
        from rich.markdown import Markdown
        assert type(made) is Markdown and isinstance(made, ru.Markdown)
        assert issubclass(Markdown, ru.Markdown)

        class Mine(ru.Markdown):  # a subclass is one of the real class
            pass
        assert issubclass(Mine, Markdown) and type(Mine(" x")) is Mine
        from rich.traceback import Traceback
        assert ru.Traceback.from_exception.__func__ is Traceback.from_exception.__func__
        # A name the shim does not defer, taken while it stands in: the real module.
        with lazy_rich._stand_ins():
            from rich.markdown import Heading
        import rich.markdown
        assert Heading is rich.markdown.Heading and sys.modules["rich.markdown"] is rich.markdown
        print("ok")
    """
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_stand_ins_are_gone_once_typer_rich_utils_is_imported():
    code = """
        import sys
        from tenant_migrator import lazy_rich
        lazy_rich.install()
        lazy_rich.install()  # idempotent: one finder
        assert sum(type(f).__name__ == "_Finder" for f in sys.meta_path) == 1
        import typer.rich_utils
        assert not any(type(f).__name__ == "_Finder" for f in sys.meta_path)
        assert "rich.markdown" not in sys.modules
        import rich, rich.markdown
        assert rich.markdown.__file__.endswith("markdown.py")
        assert typer.rich_utils.__loader__.get_source("typer.rich_utils")
        print("ok")
    """
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# --- coercion --------------------------------------------------------------------------


def _parameters() -> list[tuple[str, object, typer.Context]]:
    found = []

    def walk(command: object, path: list[str]) -> None:
        ctx = typer.Context(command)  # type: ignore[arg-type]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            if hasattr(param, "type_descriptor"):
                found.append((" ".join([*path, param.name]), param, ctx))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


PARAMETERS = _parameters()


def _samples(param: object) -> list[object]:
    annotation = param.type_descriptor.annotation  # type: ignore[attr-defined]
    values: list[object] = [None, "", "x", "json", "JSON", "Text", "5", "0", "-1", "2.5", "abc"]
    values += [5, 0, 1, 5.0, 0.0, 0.0005, float("inf"), float("nan"), True, False, b"x"]
    values += [(), ("a", "b"), ["a"], ("a", 1), ".", "/tmp", "/etc/passwd", "/nonexistent/x"]
    values += [Path("."), Path("/etc/passwd"), Path("/nonexistent/x"), "a\0b"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        values += [*annotation, *(m.value.upper() for m in annotation)]
    return values


def _outcome(call):
    try:
        value = call()
    except Exception as err:  # the error a user would see
        return ("error", type(err).__name__, str(getattr(err, "message", err)))
    if isinstance(value, float) and value != value:
        return ("value", float, "nan")
    return ("value", type(value), value)


@pytest.mark.parametrize(("name", "param", "ctx"), PARAMETERS, ids=[p[0] for p in PARAMETERS])
def test_every_parameter_coerces_as_typer_does(name, param, ctx):
    assert type(param).get_runtime_param is cli_coercion.get_runtime_param, name
    for value in _samples(param):
        ours = _outcome(lambda v=value: param.get_runtime_param().coerce(v, param=param, ctx=ctx))
        typers = _outcome(
            lambda v=value: cli_coercion.typer_runtime_param(param).coerce(v, param=param, ctx=ctx)
        )
        assert ours == typers, (name, value)


def test_the_fast_coercion_answers_the_values_a_run_passes():
    # Not vacuous: these are answered without Typer's adapter.
    unsure = cli_coercion._UNSURE
    by_name = {name: (param, ctx) for name, param, ctx in PARAMETERS}
    wanted = {
        "project_dir": [".", "/tmp", Path(".")],
        "database_url": ["postgresql://u@h/d"],
        "sync tenant": ["africastay"],
        "sync output_format": ["json", cli_coercion_enum("sync", "output_format")],
        "sync lock_timeout": [5.0],
        "sync secrets_out": [None],
        "plan tenants": [("a", "b"), None],
        "validate max_file_bytes": [1_000_000],
    }
    for name, values in wanted.items():
        param, ctx = by_name[name]
        for value in values:
            assert cli_coercion.fast_value(param, value, ctx) is not unsure, (name, value)
    for name, value in [("validate max_file_bytes", "5"), ("sync lock_timeout", "2")]:
        param, ctx = by_name[name]
        assert cli_coercion.fast_value(param, value, ctx) is unsure, (name, value)


def cli_coercion_enum(command: str, name: str) -> object:
    param = next(p for n, p, _ in PARAMETERS if n == f"{command} {name}")
    return next(iter(param.type_descriptor.annotation))


def test_typer_s_own_coercion_is_what_the_fallback_uses():
    # Not vacuous: with Typer's adapters, pydantic is imported (the first value here).
    code = """
        import sys
        import typer, typer.main
        from tenant_migrator import cli_coercion
        from tenant_migrator.cli import app
        group = typer.main.get_command(app)
        ctx = typer.Context(group)
        params = {p.name: p for p in group.get_params(ctx)}
        project = params["project_dir"]
        assert project.get_runtime_param().coerce(".", param=project, ctx=ctx)
        assert "pydantic" not in sys.modules
        cli_coercion.typer_runtime_param(project).coerce(".", param=project, ctx=ctx)
        assert "pydantic" in sys.modules
        print("ok")
    """
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# --- sync ------------------------------------------------------------------------------


def _importtime(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    from conftest import cli_env

    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tenant_migrator", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(),
        cwd=cwd,
        check=False,
    )


def _modules_in(importtime_output: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_output.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_sync_of_a_valid_file_imports_no_pydantic_and_no_jsonschema(
    tmp_path, migrated_database_url
):
    project = make_project(tmp_path / "project", planted=False)
    args = ("--project-dir", str(project), "--database-url", migrated_database_url)
    synced = _importtime(*args, "sync", "africastay", cwd=project)
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert "+ africastay  created" in synced.stdout
    modules = _modules_in(synced.stderr)
    assert "tenant_migrator.streaming" in modules  # the parse above read the list
    assert "jsonschema_rs" in modules  # validated, by the fast validator
    assert not {"pydantic", "jsonschema"} & modules
    # An invalid file is reported by jsonschema, which then is imported.
    client = project / "clients" / "africastay" / "client.yaml"
    client.write_text(client.read_text().replace("currency: ZAR", "currency: 12"))
    refused = _importtime(*args, "sync", "africastay", cwd=project)
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert "jsonschema" in _modules_in(refused.stderr)
    assert "/client/currency" in refused.stderr or "currency" in refused.stdout + refused.stderr
