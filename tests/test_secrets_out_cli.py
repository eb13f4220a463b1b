"""``--secrets-out`` through the CLI: a file that cannot be written is refused before
anything else happens (no migration, no transaction, nothing written), and what is
written reads back with python-dotenv after a real import."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values
from importhelpers import (
    PLANTED,
    dump_database,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    sample_project,  # noqa: F401 - the project fixture
    sample_tm,  # noqa: F401 - the tm fixture
)


@pytest.mark.parametrize("command", [["import"], ["sync", "africastay"]])
def test_a_secrets_file_in_a_missing_directory_is_refused_before_anything_is_written(
    tm, database_url, pg, tmp_path, command
):
    before = dump_database(pg, database_url)
    target = tmp_path / "no-such-dir" / "secrets.env"
    result = tm(database_url, *command, "--secrets-out", target)
    assert result.returncode == 2, result.output
    assert "no-such-dir" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.output
    # Not even migrated: the fresh database has no table at all, before or after.
    assert dump_database(pg, database_url) == before == {}
    assert not target.parent.exists()


def test_a_secrets_file_path_that_is_a_directory_is_refused_before_the_import(
    tm, database_url, pg, tmp_path
):
    result = tm(database_url, "import", "--secrets-out", tmp_path)
    assert result.returncode == 2, result.output
    assert "is a directory" in result.stderr
    assert dump_database(pg, database_url) == {}


def test_validate_refuses_a_missing_directory_before_loading(cli, project, tmp_path):
    target = tmp_path / "missing" / "s.env"
    result = cli("--project-dir", project, "validate", "--secrets-out", target)
    assert result.returncode == 2, result.output
    assert "does not exist" in result.stderr
    # Refused first: no report was printed.
    assert result.stdout == ""


def test_an_imports_secrets_file_reads_back_with_python_dotenv(tm, migrated_database_url, tmp_path):
    target = tmp_path / "secrets.env"
    result = tm(migrated_database_url, "import", "--secrets-out", target)
    assert result.returncode == 0, result.output
    values = dotenv_values(target)
    assert values["PLANTED_SENDGRID_API_KEY"] == PLANTED["sendgrid"]
    assert all(v is not None for v in values.values())
