"""A literal secret pasted as a mapping *key* never shows in a problem's path: in text,
JSON, Markdown and GitHub annotations of validate, plan and import, the key is
``(key not shown)`` in the path as it already is in the message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clientdocs import valid_document
from importhelpers import (
    make_project,
    no_secrets_left_behind,  # noqa: F401 - autouse fixture
    write_client,
)

from tenant_migrator.problems import HIDDEN_KEY, Problem

# Fake values of documented shapes (SendGrid SG.<22>.<43>; a JWT's three parts).
SENDGRID_KEY = "SG.keyAsKeyFAKE00000000.keyAsKeyFAKEsecret0000000000000000000000000"
JWT_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJrZXlBc0tleSI6ImZha2UifQ.keyAsKeyFAKEsig00000001"
KEYS = (SENDGRID_KEY, JWT_KEY)


def _text(document: dict) -> str:
    return json.dumps(document)  # JSON is YAML, and keeps these keys exactly


def _projects(tmp_path):
    project = make_project(tmp_path / "project", planted=False)
    # A duplicate secret-shaped key: a loader error, pointing at the key itself.
    duplicate = _text(valid_document("dupkey")).replace(
        '"branding": {', f'"branding": {{"{SENDGRID_KEY}": 1, "{SENDGRID_KEY}": 2, ', 1
    )
    write_client(project, "dupkey", duplicate)
    # A date under it (a loader warning) and a schema error beneath it.
    dated = valid_document("datekey")
    dated["extras"] = {JWT_KEY: "placeholder"}
    text = _text(dated).replace('"placeholder"', "2024-01-05")
    write_client(project, "datekey", "# a date, unquoted\n" + text)
    # An unknown key (a validation warning at the key) and an error under it.
    unknown = valid_document("unknownkey")
    unknown["branding"][SENDGRID_KEY] = {"x": 1}
    unknown["infrastructure"]["gcp"][JWT_KEY] = "plain"
    write_client(project, "unknownkey", _text(unknown))
    return project


def _assert_masked(output: str, what: str) -> None:
    for key in KEYS:
        for part in key.split("."):
            assert part not in output, f"{what} shows a piece of a secret-shaped key"


def test_a_problem_path_never_holds_a_secret_shaped_key():
    problem = Problem(Path("f.yaml"), "m", f"/a/{SENDGRID_KEY}/b/{'x' * 61}/{JWT_KEY}")
    assert problem.json_path == f"/a/{HIDDEN_KEY}/b/{HIDDEN_KEY}/{HIDDEN_KEY}"
    # Ordinary keys (and escaped ones) stay exactly as they were.
    plain = Problem(Path("f.yaml"), "m", "/email/smtp/port/a~1b/0")
    assert plain.json_path == "/email/smtp/port/a~1b/0"


@pytest.mark.parametrize("output_format", ["text", "json", "markdown", "github"])
def test_validate_masks_the_key_in_every_format(cli, tmp_path, output_format):
    project = _projects(tmp_path)
    result = cli("--project-dir", project, "validate", "--format", output_format)
    assert result.returncode == 1, result.output
    assert HIDDEN_KEY in result.stdout
    for tenant in ("dupkey", "datekey", "unknownkey"):
        assert tenant in result.stdout
    _assert_masked(result.output, f"validate --format {output_format}")


def test_validate_json_paths_point_at_the_hidden_key(cli, tmp_path):
    project = _projects(tmp_path)
    report = json.loads(cli("--project-dir", project, "validate", "--format", "json").stdout)
    paths = {(t["id"], p["path"]) for t in report["tenants"] for p in t["errors"] + t["warnings"]}
    assert ("dupkey", f"/branding/{HIDDEN_KEY}") in paths
    assert ("datekey", f"/extras/{HIDDEN_KEY}") in paths
    assert ("unknownkey", f"/branding/{HIDDEN_KEY}") in paths


@pytest.mark.parametrize("output_format", ["text", "json", "markdown", "github"])
def test_plan_masks_the_key_in_every_format(cli, tmp_path, migrated_database_url, output_format):
    project = _projects(tmp_path)
    result = cli(
        "--project-dir", project, "--database-url", migrated_database_url,
        "plan", "--format", output_format,
    )  # fmt: skip
    assert result.returncode == 1, result.output
    assert "dupkey" in result.output
    _assert_masked(result.output, f"plan --format {output_format}")


def test_import_skip_invalid_masks_the_key(cli, tmp_path, migrated_database_url):
    project = _projects(tmp_path)
    result = cli(
        "--project-dir", project, "--database-url", migrated_database_url,
        "import", "--skip-invalid",
    )  # fmt: skip
    assert result.returncode == 1, result.output
    assert "dupkey" in result.output
    _assert_masked(result.output, "import --skip-invalid")
