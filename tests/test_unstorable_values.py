"""A value PostgreSQL cannot store (a NUL, in a column-backed field or anywhere in the
document) is an error at file:line:col in ``validate``, so ``import --skip-invalid``
skips that tenant instead of failing on a database error."""

from __future__ import annotations

import json

import pytest
from clientdocs import valid_document
from importhelpers import (
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    tenants_rows,
    write_client,
)


def _nul_name_project(tmp_path):
    project = make_project(tmp_path / "project", planted=False)
    document = valid_document("nulname")
    text = json.dumps(document, ensure_ascii=False)  # JSON is YAML; \u0000 is a YAML escape
    text = text.replace('"name": "Acme Travel"', '"name": "Acme\\u0000Travel"', 1)
    assert "\\u0000" in text
    write_client(project, "nulname", text)
    return project


@pytest.fixture
def project(tmp_path):
    return _nul_name_project(tmp_path)


def test_validate_reports_a_nul_in_a_column_backed_field_at_its_position(cli, project):
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 1, result.output
    assert "clients/nulname/client.yaml:1:" in result.stdout
    assert "/client/name" in result.stdout and "NUL character" in result.stdout
    report = json.loads(cli("--project-dir", project, "validate", "--format", "json").stdout)
    (tenant,) = [t for t in report["tenants"] if t["id"] == "nulname"]
    assert tenant["status"] == "invalid"
    (error,) = tenant["errors"]
    assert error["path"] == "/client/name" and error["line"] == 1 and error["column"]


def test_import_skip_invalid_skips_the_tenant_instead_of_a_database_error(
    cli, project, migrated_database_url, pg
):
    result = cli(
        "--project-dir", project, "--database-url", migrated_database_url, "import",
        "--skip-invalid",
    )  # fmt: skip
    assert result.returncode == 1, result.output  # skipped one; the others written
    assert "nulname" in result.output and "NUL character" in result.output
    rows = tenants_rows(pg, migrated_database_url)
    assert "nulname" not in rows and "africastay" in rows
