"""export TENANT: the database back to client.yaml, so importing it changes nothing."""

from __future__ import annotations

import pytest
import yaml
from importhelpers import (
    SAMPLE_IDS,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    tenants_rows,
)


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def test_export_then_import_is_a_no_op_for_every_tenant(tm, project, migrated_database_url, pg):
    url = migrated_database_url
    assert tm("import").returncode == 0
    # An admin edit in the app, then the tenant goes back to YAML: the export has it.
    pg.execute(url, "UPDATE tenants SET timezone = 'Africa/Windhoek' WHERE id = 'beachresorts'")
    before = tenants_rows(pg, url)
    for tenant_id in (*SAMPLE_IDS, "planted"):
        path = project / "clients" / tenant_id / "client.yaml"
        result = tm("export", tenant_id, "--output", path, "--force")
        assert result.returncode == 0, result.output
        assert "warning" not in result.stderr
        assert yaml.safe_load(path.read_text())["client"]["id"] == tenant_id

    planned = tm("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout  # all unchanged
    second = tm("import")
    assert second.returncode == 0 and "Nothing to write" in second.stdout
    assert tenants_rows(pg, url) == before


def test_export_prints_yaml_with_references_unresolved(tm):
    assert tm("import").returncode == 0
    result = tm("export", "africastay")
    assert result.returncode == 0
    doc = yaml.safe_load(result.stdout)
    assert doc["client"]["currency"] == "ZAR"
    assert doc["email"]["sendgrid"]["api_key"] == "${AFRICASTAY_SENDGRID_API_KEY}"
    assert result.stdout.index("client:") < result.stdout.index("branding:")


def test_export_errors(tm, project, migrated_database_url, pg):
    assert tm("import").returncode == 0
    unknown = tm("export", "africastai")
    assert unknown.returncode == 2 and "did you mean africastay" in unknown.stderr
    path = project / "clients" / "example" / "client.yaml"
    original = path.read_text()
    refused = tm("export", "example", "--output", path)
    assert refused.returncode == 1 and "already exists" in refused.stderr
    assert path.read_text() == original
    # A column that disagrees with its copy in tenant_config cannot round-trip: say so.
    pg.execute(
        migrated_database_url,
        "UPDATE tenants SET primary_email = 'other@example.com' WHERE id = 'example'",
    )
    warned = tm("export", "example")
    assert warned.returncode == 0 and "warning: column primary_email differs" in warned.stderr
