"""plan --format github: errors and blocked tenants as annotations, the comment in the
job summary, never a secret."""

from __future__ import annotations

import yaml

from tenant_migrator.report.comment import MARKER
from tests.importhelpers import PLANTED, make_project, write_client

ADMIN_EDIT = (
    "UPDATE tenants SET tenant_config = jsonb_set(tenant_config, "
    "'{branding,primary_color}', '\"#123456\"') WHERE id = 'beachresorts'"
)


def test_plan_github_annotates_invalid_and_blocked_tenants_without_a_secret(
    tmp_path, cli, migrated_database_url, pg
):
    project = make_project(tmp_path)  # with the planted fake secrets
    db = ("--database-url", migrated_database_url)
    assert cli(*db, "import").returncode == 0
    pg.execute(migrated_database_url, ADMIN_EDIT)
    document = yaml.safe_load((project / "clients" / "africastay" / "client.yaml").read_text())
    document["client"]["timezone"] = "Nowhere/Atlantis"
    write_client(project, "africastay", document)
    summary = tmp_path / "summary.md"

    result = cli(*db, "plan", "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1, result.output
    lines = result.stdout.splitlines()
    invalid = [line for line in lines if line.startswith("::error file=clients/africastay/")]
    assert invalid and ",line=" in invalid[0] and "timezone" in invalid[0]
    blocked = [line for line in lines if "file=clients/beachresorts/client.yaml" in line]
    assert blocked and "edited in the database since run 1" in blocked[0]
    assert lines[-1].startswith("tenant-migrator plan: ") and "1 blocked" in lines[-1]
    text = summary.read_text()
    assert text.startswith(MARKER + "\n")
    for secret in PLANTED.values():
        assert secret not in result.output and secret not in text
