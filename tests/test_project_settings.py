"""Project settings ([tool.tenant-migrator] in pyproject.toml, or tenant-migrator.toml),
and the checks before any command: an empty DATABASE_URL, a directory that is no
project."""

from __future__ import annotations

import json
import shutil

import pytest
from importhelpers import (
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    tenants_rows,
)

from tenant_migrator.errors import UsageError
from tenant_migrator.project import ProjectSettingsError, load_settings, read_project_settings

# Shaped like the platform's pyproject.toml: a project table and other tools' tables.
PLATFORM_PYPROJECT = """\
[project]
name = "travel-platform"
version = "1.0.0"
requires-python = ">=3.11"

[tool.pytest.ini_options]
testpaths = ["tests"]
markers = [
    "slow: marks tests as slow",
]

[tool.coverage.run]
source = ["src", "config"]
branch = true

[tool.coverage.report]
exclude_lines = ["pragma: no cover"]
fail_under = 57
"""


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def _ids(plan_json: str) -> dict[str, str]:
    return {t["id"]: t["action"] for t in json.loads(plan_json)["tenants"]}


# --- exclude ---------------------------------------------------------------------------


def test_platform_pyproject_with_exclude_keeps_example_out_of_validate_plan_and_import(
    tm, project, migrated_database_url, pg
):
    (project / "pyproject.toml").write_text(
        PLATFORM_PYPROJECT + '\n[tool.tenant-migrator]\nexclude = ["example"]\n'
    )
    validated = tm("validate", "--format", "json")
    assert validated.returncode == 0, validated.output
    report = json.loads(validated.stdout)
    assert "example" not in {t["id"] for t in report["tenants"]}
    assert report["excluded"] == ["example"] and report["summary"]["excluded"] == 1
    text = tm("validate")
    assert "1 tenant(s) excluded by the project's settings (exclude): example" in text.stdout
    assert "1 excluded by the project's settings" in text.stdout

    planned = tm("plan", "--format", "json")
    assert planned.returncode == 0, planned.output
    assert "example" not in _ids(planned.stdout)
    assert set(_ids(planned.stdout).values()) == {"create"}

    imported = tm("import")
    assert imported.returncode == 0, imported.output
    assert "example" not in tenants_rows(pg, migrated_database_url)
    assert "africastay" in tenants_rows(pg, migrated_database_url)


def test_an_excluded_tenants_row_is_left_alone_and_not_reported_as_orphaned(
    tm, project, migrated_database_url, pg
):
    url = migrated_database_url
    assert tm("import").returncode == 0
    before = tenants_rows(pg, url)["example"]
    (project / "tenant-migrator.toml").write_text('exclude = ["exam*"]\n')
    # Even its file changing (or going away) is not the tool's business any more.
    shutil.rmtree(project / "clients" / "example")
    planned = tm("plan", "--format", "json")
    assert planned.returncode == 0, planned.output
    assert "example" not in _ids(planned.stdout)
    assert json.loads(planned.stdout)["summary"]["orphaned"] == 0
    assert tm("import").returncode == 0
    assert tenants_rows(pg, url)["example"] == before


def test_an_excluded_tenant_named_on_the_command_line_is_a_usage_error_naming_the_file(
    cli, project
):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(PLATFORM_PYPROJECT + '\n[tool.tenant-migrator]\nexclude = ["ex*"]\n')
    for command in (["validate", "example"], ["plan", "example"], ["sync", "example"]):
        result = cli(
            "--project-dir",
            project,
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/x",
            *command,
        )
        assert result.returncode == 2, (command, result.output)
        assert "tenant 'example' is excluded" in result.stderr
        assert f"{pyproject} [tool.tenant-migrator]" in result.stderr
        assert "'ex*'" in result.stderr and "Traceback" not in result.stderr


def test_a_platform_pyproject_without_our_table_changes_nothing(cli, project):
    (project / "pyproject.toml").write_text(PLATFORM_PYPROJECT)
    result = cli("--project-dir", project, "validate", "--format", "json")
    assert result.returncode == 0, result.output
    assert "example" in {t["id"] for t in json.loads(result.stdout)["tenants"]}
    assert json.loads(result.stdout)["excluded"] == []


def test_a_broken_pyproject_that_never_mentions_us_is_not_ours_to_judge(cli, project):
    (project / "pyproject.toml").write_text("[project\nname = \n")
    assert cli("--project-dir", project, "validate").returncode == 0


# --- tenant-migrator.toml, paths --------------------------------------------------------


def test_tenant_migrator_toml_moves_clients_dir_and_schema(cli, tmp_path):
    project = make_project(tmp_path / "moved")
    (project / "clients").rename(project / "tenants")
    (project / "config" / "schema.json").rename(project / "tenant-schema.json")
    (project / "tenant-migrator.toml").write_text(
        'clients_dir = "tenants"\nschema = "tenant-schema.json"\nexclude = ["planted", "safari*"]\n'
    )
    result = cli("--project-dir", project, "validate", "--format", "json")
    assert result.returncode == 0, result.output
    report = json.loads(result.stdout)
    assert [t["id"] for t in report["tenants"]] == ["africastay", "beachresorts", "example"]
    assert report["excluded"] == ["planted", "safariexplore-kvph", "safarirun-t0vc"]
    assert report["tenants"][0]["file"] == str(project / "tenants" / "africastay" / "client.yaml")
    # The project's own schema, not the built-in one (that would be a warning).
    assert report["problems"] == []


def test_settings_are_resolved_into_settings(project):
    (project / "database" / "migrations").mkdir(parents=True)
    (project / "tenant-migrator.toml").write_text(
        'migrations_dir = "database/migrations"\nclients_dir = "./clients"\n'
        'schema = "config/../config/schema.json"\n'
    )
    settings = load_settings(project, None, environ={})
    assert settings.migrations_dir == project / "database" / "migrations"
    assert settings.clients_dir == project / "clients"
    assert settings.schema_path == project / "config" / "schema.json"
    assert settings.project.source == project / "tenant-migrator.toml"
    assert not settings.exclude and settings.exclude.match("example") is None


def test_no_settings_file_gives_the_default_paths(project):
    settings = load_settings(project, None, environ={})
    assert settings.project.source is None
    assert settings.clients_dir == project / "clients"
    assert settings.schema_path == project / "config" / "schema.json"
    assert settings.migrations_dir is None


# --- errors in the settings file --------------------------------------------------------


def test_an_unknown_key_is_an_error_naming_file_key_and_line(cli, project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(PLATFORM_PYPROJECT + '\n[tool.tenant-migrator]\nexlude = ["example"]\n')
    line = PLATFORM_PYPROJECT.count("\n") + 3
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 2
    assert f"{pyproject}:{line}: unknown key 'exlude'" in result.stderr
    assert "did you mean 'exclude'?" in result.stderr
    assert "allowed: clients_dir, exclude, migrations_dir, schema" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('exclude = "example"\n', 1, "exclude must be an array of tenant ids or globs"),
        ("exclude = [1]\n", 1, "must hold strings, not a integer"),
        ('exclude = ["Example"]\n', 1, "'Example' is not a tenant id"),
        ('exclude = ["clients/ex*"]\n', 1, "glob 'clients/ex*' can never match a tenant id"),
        ('exclude = ["ex[am"]\n', 1, "without its closing ']'"),
        ('exclude = [""]\n', 1, "holds an empty string"),
        ('\nclients_dir = "nope"\n', 2, "clients_dir 'nope' is not a directory"),
        ('schema = "config"\n', 1, "schema 'config' is not a file (it is a directory)"),
        ("schema = 3\n", 1, "schema must be a path to a file"),
        ('migrations_dir = ""\n', 1, "migrations_dir must be a path to a directory"),
        ("[extra]\nx = 1\n", 1, "unknown key 'extra' in the top level"),
    ],
)
def test_every_wrong_value_is_an_error_naming_file_key_line_and_what_is_allowed(
    project, text, line, fragment
):
    (project / "tenant-migrator.toml").write_text(text)
    with pytest.raises(ProjectSettingsError) as raised:
        read_project_settings(project)
    message = str(raised.value)
    assert f"{project / 'tenant-migrator.toml'}:{line}: " in message
    assert fragment in message


def test_every_problem_is_listed_at_once(project):
    (project / "tenant-migrator.toml").write_text(
        'exclude = "x"\nschema = "none.json"\ncolor = 1\n'
    )
    with pytest.raises(ProjectSettingsError) as raised:
        read_project_settings(project)
    message = str(raised.value)
    assert "3 problem(s)" in message
    assert ":1: exclude" in message and ":2: schema" in message and ":3: unknown key" in message


def test_invalid_toml_is_an_error_with_its_line(cli, project):
    (project / "tenant-migrator.toml").write_text('exclude = ["a",\nschema = \n')
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 2
    assert "tenant-migrator.toml: not valid TOML" in result.stderr and "line" in result.stderr


def test_settings_in_both_files_is_an_error_naming_both(cli, project):
    (project / "pyproject.toml").write_text(PLATFORM_PYPROJECT + "\n[tool.tenant-migrator]\n")
    (project / "tenant-migrator.toml").write_text('exclude = ["example"]\n')
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 2
    assert str(project / "pyproject.toml") in result.stderr
    assert str(project / "tenant-migrator.toml") in result.stderr
    assert "defined twice" in result.stderr


def test_a_tool_entry_that_is_not_a_table_is_an_error(project):
    (project / "pyproject.toml").write_text('[tool]\ntenant-migrator = "yes"\n')
    with pytest.raises(ProjectSettingsError, match="must be a table"):
        read_project_settings(project)


# --- refusing before anything starts ----------------------------------------------------


def test_an_empty_database_url_is_a_usage_error_not_the_embedded_server(cli, tmp_path):
    for env, args in (({"DATABASE_URL": ""}, ()), ({"DATABASE_URL": "  "}, ())):
        result = cli(*args, "migrate", "status", env=env)
        assert result.returncode == 2, result.output
        assert "DATABASE_URL is set but empty" in result.stderr
    given = cli("--database-url", "", "db-url")
    assert given.returncode == 2 and "--database-url is empty" in given.stderr
    assert not (tmp_path / ".tenant-migrator").exists()
    with pytest.raises(UsageError):
        load_settings(tmp_path, None, environ={"DATABASE_URL": ""})


@pytest.mark.parametrize(
    "command",
    [
        ["db-stop"],
        ["db-url"],
        ["history"],
        ["migrate", "status"],
        ["migrate"],
        ["export", "africastay"],
        ["validate"],
        ["plan"],
    ],
)
def test_every_command_refuses_a_directory_that_is_no_project(cli, tmp_path, command):
    empty = tmp_path / "typo"
    empty.mkdir()
    missing = tmp_path / "does-not-exist"
    for where in (empty, missing):
        result = cli("--project-dir", where, *command)
        assert result.returncode == 2, (command, result.output)
        assert "Traceback" not in result.stderr
        assert "no settings file" in result.stderr or "does not exist" in result.stderr
    assert list(empty.iterdir()) == [] and not missing.exists()
    # Nothing started: the embedded notice is printed by whatever starts a server.
    assert "embedded" not in result.stderr


def test_a_settings_file_or_state_directory_makes_a_project(tmp_path):
    only_settings = tmp_path / "a"
    (only_settings / "tenants").mkdir(parents=True)
    (only_settings / "tenant-migrator.toml").write_text('clients_dir = "tenants"\n')
    assert load_settings(only_settings, None, environ={}).clients_dir == only_settings / "tenants"
    only_state = tmp_path / "b"
    (only_state / ".tenant-migrator").mkdir(parents=True)
    assert load_settings(only_state, None, environ={}).project_dir == only_state


def test_help_works_in_a_directory_that_is_no_project(cli, tmp_path):
    result = cli("--project-dir", tmp_path / "nowhere", "plan", "--help")
    assert result.returncode == 0 and "--detailed-exitcode" in result.stdout
