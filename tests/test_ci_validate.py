"""validate in CI: client-file arguments (pre-commit), cross-file checks, --format github."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tenant_migrator.report.github import command, escape_data, escape_property
from tests.importhelpers import bench_generate

REPO = Path(__file__).resolve().parent.parent
generate = bench_generate()
# Shared variables hold one value: two different literals for it conflict.
KEY_A = "sk-plantedFAKEsharedA000000000000000001"
KEY_B = "sk-plantedFAKEsharedB000000000000000002"


def _write(project: Path, index: int, **changes) -> str:
    document = generate.tenant_document(5, index)
    if "openai" in changes:
        document["infrastructure"]["openai"]["api_key"] = changes["openai"]
    if "timezone" in changes:
        document["client"]["timezone"] = changes["timezone"]
    tid = generate.tenant_id(5, index)
    generate.write_tenant(project / "clients", tid, yaml.safe_dump(document, sort_keys=False))
    return tid


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "schema.json", tmp_path / "config" / "schema.json")
    return tmp_path


def _json(result) -> dict:
    assert result.stderr == "" or "Traceback" not in result.stderr
    return json.loads(result.stdout)


def test_validate_given_client_file_paths_reports_only_those_tenants(project, cli):
    ids = [_write(project, i) for i in range(3)]
    result = cli("validate", f"clients/{ids[1]}/client.yaml", "--format", "json")
    assert result.returncode == 0, result.output
    assert [t["id"] for t in _json(result)["tenants"]] == [ids[1]]


def test_validate_mixes_tenant_ids_and_paths(project, cli):
    ids = [_write(project, i) for i in range(3)]
    result = cli("validate", ids[0], f"./clients/{ids[2]}/client.yaml", "--format", "json")
    assert result.returncode == 0, result.output
    assert [t["id"] for t in _json(result)["tenants"]] == [ids[0], ids[2]]


def test_a_shared_secret_conflict_with_a_file_not_named_fails_the_named_file(project, cli):
    named = _write(project, 0, openai=KEY_A)
    other = _write(project, 1, openai=KEY_B)
    _write(project, 2)
    result = cli("validate", f"clients/{named}/client.yaml", "--format", "json")
    assert result.returncode == 1, result.output
    report = _json(result)
    assert [t["id"] for t in report["tenants"]] == [named]
    messages = [e["message"] for e in report["tenants"][0]["errors"]]
    assert any(other in m and "OPENAI_API_KEY" in m for m in messages), messages
    assert KEY_A not in result.output and KEY_B not in result.output


def test_the_schema_file_as_argument_validates_every_tenant(project, cli):
    ids = [_write(project, i) for i in range(3)]
    result = cli("validate", "config/schema.json", "--format", "json")
    assert result.returncode == 0, result.output
    assert [t["id"] for t in _json(result)["tenants"]] == sorted(ids)


def test_an_excluded_client_file_given_as_path_is_skipped(project, cli):
    ids = [_write(project, i) for i in range(2)]
    (project / "tenant-migrator.toml").write_text(f'exclude = ["{ids[0]}"]\n')
    bad = project / "clients" / ids[0] / "client.yaml"
    bad.write_text("client: [not, valid\n")
    result = cli(
        "validate",
        f"clients/{ids[0]}/client.yaml",
        f"clients/{ids[1]}/client.yaml",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.output
    assert [t["id"] for t in _json(result)["tenants"]] == [ids[1]]


def test_a_path_that_is_no_client_file_is_a_usage_error(project, cli):
    _write(project, 0)
    (project / "notes.yaml").write_text("a: 1\n")
    result = cli("validate", "notes.yaml")
    assert result.returncode == 2
    assert "notes.yaml: not a client file" in result.stderr and "Traceback" not in result.output
    missing = cli("validate", "clients/nobody/client.yaml")
    assert missing.returncode == 2 and "no such file" in missing.stderr


# --- --format github ---------------------------------------------------------------------


def test_workflow_command_escaping_follows_githubs_rules():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert (
        command("error", "x: y, z", file="clients/a,b/client.yaml", line=3, col=7)
        == "::error file=clients/a%2Cb/client.yaml,line=3,col=7::x: y, z"
    )
    assert command("warning", "w") == "::warning::w"


def test_validate_github_format_annotates_each_problem_with_a_repo_relative_path(
    project, cli, tmp_path
):
    good = _write(project, 0)
    bad = _write(project, 1, timezone="Mars/Olympus_Mons")
    clash_a = _write(project, 2, openai=KEY_A)
    clash_b = _write(project, 3, openai=KEY_B)
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = cli(
        "--project-dir",
        str(project),
        "validate",
        "--format",
        "github",
        cwd=REPO,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 1, result.output
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    files = {line.split("file=", 1)[1].split(",", 1)[0] for line in errors}
    assert files == {f"clients/{t}/client.yaml" for t in (bad, clash_a, clash_b)}
    assert f"clients/{good}/" not in result.stdout
    timezone = next(line for line in errors if bad in line)
    assert ",line=" in timezone and ",col=" in timezone and "Mars/Olympus_Mons" in timezone
    for secret in (KEY_A, KEY_B):
        assert secret not in result.output and secret not in summary.read_text()
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "invalid" in text


def test_validate_github_format_of_valid_files_has_no_error_and_exits_0(project, cli):
    _write(project, 0)
    result = cli("validate", "--format", "github", env={"GITHUB_STEP_SUMMARY": ""})
    assert result.returncode == 0, result.output
    assert "::error" not in result.stdout
    assert result.stdout.strip().endswith("0 invalid, 0 error(s), 0 warning(s)")
