"""``export --all --dir DIR``: every tenant back to YAML, and onto an existing
client.yaml an edit that keeps its comments, key order and quoting, so ``git diff``
shows exactly the values that changed. The CLI in a subprocess, a real database."""

from __future__ import annotations

import difflib
import json
import subprocess

import pytest
import yaml
from importhelpers import (
    SAMPLE_IDS,
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    project_cli,
    secret_literals,
)

# A hand-written file: comments everywhere, keys out of alphabetical order, every
# quoting style, flow collections, a block scalar, an unquoted YAML-1.1 boolean.
HANDWRITTEN = """\
# Acme — kept by hand. Comments must survive an export.
client:
  id: acme          # the directory name
  name: 'Acme Travel'
  short_name: acme
  timezone: "Africa/Johannesburg"
  currency: ZAR

# Email first, on purpose.
email:
  primary: sales@acme.example
  smtp: {host: smtp.acme.example, port: 587, username: sales@acme.example}
  imap:
    host: imap.acme.example   # the IMAP host
    port: 993

branding:
  primary_color: '#aabbcc'
  company_name: Acme
  email_signature: |
    Regards,
    Acme Travel

destinations:
  - name: Zanzibar
    code: ZNZ
    enabled: yes       # YAML 1.1: true
  - {name: Kruger, code: KRG, enabled: no}

infrastructure:
  gcp:
    project_id: acme-prod
    region: africa-south1
    dataset: acme_data
  supabase:
    url: https://acme.supabase.co
    anon_key: ${ACME_SUPABASE_ANON_KEY}
  openai: {api_key: "${OPENAI_API_KEY}", model: gpt-4o-mini}
"""


@pytest.fixture
def project(tmp_path):
    project = make_project(tmp_path / "project", planted=False)
    (project / "clients" / "acme").mkdir()
    (project / "clients" / "acme" / "client.yaml").write_text(HANDWRITTEN, encoding="utf-8")
    return project


@pytest.fixture
def tm(cli, project, migrated_database_url):
    return project_cli(cli, project, migrated_database_url)


def _diff(before: str, after: str) -> list[str]:
    """The changed lines, as git diff would show them (without the headers)."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in lines if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def _files(project):
    return {p.parent.name: p.read_text() for p in (project / "clients").glob("*/client.yaml")}


def _export_all(tm, project):
    """``export --all --dir clients --force`` (it must succeed): its result, and
    every client file after it."""
    result = tm("export", "--all", "--dir", project / "clients", "--force")
    assert result.returncode == 0, result.output
    return result, _files(project)


def _set(pg, url, tenant, path, value):
    pg.execute(
        url,
        f"UPDATE tenants SET tenant_config = jsonb_set(tenant_config, '{{{path}}}', "
        f"'{json.dumps(value)}'::jsonb) WHERE id = '{tenant}'",
    )


def test_a_file_that_round_trips_gives_a_zero_line_diff(tm, project):
    assert tm("import").returncode == 0
    before = _files(project)
    result, after = _export_all(tm, project)
    # Files holding only references (acme, safariexplore-kvph) are not even rewritten.
    assert after["acme"] == before["acme"] == HANDWRITTEN
    assert after["safariexplore-kvph"] == before["safariexplore-kvph"]
    assert "unchanged" in result.stderr


def test_a_changed_value_is_a_one_line_diff_and_comments_order_and_quoting_stay(
    tm, project, migrated_database_url, pg
):
    assert tm("import").returncode == 0
    _set(pg, migrated_database_url, "acme", "email,imap,port", 1993)
    result, files = _export_all(tm, project)
    after = files["acme"]
    assert _diff(HANDWRITTEN, after) == [
        "-    port: 993",
        "+    port: 1993",
    ]
    assert "updated  " in result.stderr and "acme" in result.stderr


def test_each_kind_of_edit_touches_only_its_line(tm, project, migrated_database_url, pg):
    assert tm("import").returncode == 0
    url = migrated_database_url
    _set(pg, url, "acme", "branding,company_name", "yes")  # YAML 1.1 would read true
    _set(pg, url, "acme", "email,smtp,port", 2525)  # inside a flow mapping
    _set(pg, url, "acme", "destinations,0,enabled", False)
    pg.execute(url, "UPDATE tenants SET name = 'Acme Tours' WHERE id = 'acme'")  # a column
    after = _export_all(tm, project)[1]["acme"]
    assert _diff(HANDWRITTEN, after) == [
        "-  name: 'Acme Travel'",
        "+  name: 'Acme Tours'",
        "-  smtp: {host: smtp.acme.example, port: 587, username: sales@acme.example}",
        "+  smtp: {host: smtp.acme.example, port: 2525, username: sales@acme.example}",
        "-  company_name: Acme",
        "+  company_name: 'yes'",
        "-    enabled: yes       # YAML 1.1: true",
        "+    enabled: false     # YAML 1.1: true",
    ]
    # And it means what the database holds: the plan is all unchanged.
    planned = tm("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.output


def test_added_and_removed_keys_change_only_their_lines(tm, project, migrated_database_url, pg):
    assert tm("import").returncode == 0
    url = migrated_database_url
    pg.execute(
        url,
        "UPDATE tenants SET tenant_config = (tenant_config #- '{branding,email_signature}')"
        " || '{\"quotes\": {\"auto_send\": true}}'::jsonb WHERE id = 'acme'",
    )
    after = _export_all(tm, project)[1]["acme"]
    assert _diff(HANDWRITTEN, after) == [
        "-  email_signature: |",
        "-    Regards,",
        "-    Acme Travel",
        "+quotes:",
        "+  auto_send: true",
    ]
    assert tm("plan", "--detailed-exitcode").returncode == 0


def test_literal_secrets_in_a_file_become_references_and_nothing_else_changes(tm, project):
    assert tm("import").returncode == 0
    before = _files(project)["africastay"]
    after = _export_all(tm, project)[1]["africastay"]
    changed = _diff(before, after)
    removed = [line[1:] for line in changed if line.startswith("-")]
    added = [line[1:] for line in changed if line.startswith("+")]
    # Line for line: the same key, a literal before, its reference after.
    assert len(removed) == len(added) == 3, changed
    for old, new in zip(removed, added, strict=True):
        assert old.split(":")[0] == new.split(":")[0]
        assert "${" not in old and new.split(": ", 1)[1].startswith("${AFRICASTAY_")
    assert not any(s in after for s in secret_literals(project))
    assert after.splitlines()[:3] == before.splitlines()[:3]  # its header comment stays


def test_without_force_an_existing_file_that_would_change_is_refused_and_nothing_written(
    tm, project, migrated_database_url, pg
):
    assert tm("import").returncode == 0
    _set(pg, migrated_database_url, "acme", "email,imap,port", 1993)
    before = _files(project)
    result = tm("export", "--all", "--dir", project / "clients")
    assert result.returncode == 1, result.output
    assert "would change" in result.stderr and "--force" in result.stderr
    assert _files(project) == before


def test_into_an_empty_directory_every_tenant_gets_its_file(tm, project, tmp_path):
    assert tm("import").returncode == 0
    out = tmp_path / "exported"
    result = tm("export", "--all", "--dir", out)
    assert result.returncode == 0, result.output
    written = {p.parent.name: p for p in out.glob("*/client.yaml")}
    assert set(written) == {*SAMPLE_IDS, "acme"}
    literals = secret_literals(project)
    for tenant_id, path in written.items():
        text = path.read_text()
        assert yaml.safe_load(text)["client"]["id"] == tenant_id
        assert not any(s in text for s in literals), tenant_id
    assert f"exported {len(written)} tenant(s)" in result.stderr


def test_git_sees_a_zero_line_diff_after_an_export_of_an_imported_project(tm, project):
    """The issue's measure: the project as a git repository, export onto it."""
    assert tm("import").returncode == 0
    # The sample files carry literal secrets on purpose; as references they round-trip.
    assert tm("export", "--all", "--dir", project / "clients", "--force").returncode == 0
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(project)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "clients"], check=True)
    subprocess.run([*git, "commit", "-qm", "exported"], check=True)
    assert tm("export", "--all", "--dir", project / "clients", "--force").returncode == 0
    diff = subprocess.run([*git, "diff", "--numstat"], capture_output=True, text=True, check=True)
    assert diff.stdout == ""


def test_bad_option_combinations_are_usage_errors(tm, project):
    for args in (["--all"], ["--dir", "x"], ["acme", "--all", "--dir", "x"], []):
        result = tm("export", *args)
        assert result.returncode == 2, (args, result.output)
        assert "Traceback" not in result.output
