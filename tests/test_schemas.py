"""The published JSON Schemas: valid draft 2020-12, shipped in the wheel, and matched by
each command's JSON in its main shapes (conftest's cli checks every JSON output of
the suite; this module makes sure each shape is produced at least once)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from tenant_migrator import schemas
from tests import schemacheck
from tests.importhelpers import bench_generate

REPO = Path(__file__).resolve().parent.parent
generate = bench_generate()


@pytest.mark.parametrize("name", schemas.NAMES)
def test_every_published_schema_is_a_valid_draft_2020_12_schema(name):
    schema = schemas.load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    if schema["type"] == "array":  # migrate status: a list, as it always was
        assert schema["items"]["type"] == "object"
    else:
        assert schema["properties"]["format_version"] == {"const": 1}


def test_the_command_words_pick_the_schema():
    assert schemacheck.schema_of(["migrate", "status", "--format", "json"]) == "migrate-status"
    assert schemacheck.schema_of(["--project-dir", "/x", "migrate", "--format", "json"]) == (
        "migrate"
    )
    assert schemacheck.schema_of(["sync", "acme", "--format", "json"]) == "import"


def test_the_check_rejects_a_report_that_breaks_its_schema():
    broken = json.dumps({"format_version": 1, "valid": "yes"})
    with pytest.raises(AssertionError, match=r"validate\.schema\.json"):
        schemacheck.check_output(["validate", "--format", "json"], broken, None)


def test_command_names_are_found_after_global_options():
    args = ["--project-dir", "/x", "--database-url=postgresql://h/db", "plan", "--format", "json"]
    assert schemacheck.command_of(args) == "plan"


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config" / "schema.json", tmp_path / "config" / "schema.json")
    generate.generate(tmp_path, 4, seed=3)
    return tmp_path


def _break(project: Path) -> str:
    tid = sorted(p.name for p in (project / "clients").iterdir())[0]
    path = project / "clients" / tid / "client.yaml"
    document = yaml.safe_load(path.read_text())
    document["client"]["timezone"] = "Nowhere/Atlantis"
    path.write_text(yaml.safe_dump(document))
    return tid


def test_validate_and_check_env_json_match_their_schemas_valid_and_invalid(project, cli):
    schemacheck.checked.clear()
    assert cli("validate", "--format", "json").returncode == 0
    assert cli("check-env", "--format", "json").returncode in (0, 1)
    _break(project)
    assert cli("validate", "--format", "json").returncode == 1
    assert cli("check-env", "--format", "json").returncode == 1
    assert schemacheck.checked == ["validate", "check-env", "validate", "check-env"]


def test_plan_json_matches_its_schema_for_creates_updates_invalid_and_orphans(
    project, cli, migrated_database_url
):
    db = ("--database-url", migrated_database_url)
    schemacheck.checked.clear()
    assert cli(*db, "plan", "--format", "json").returncode == 0
    assert cli(*db, "import").returncode == 0
    generate.change_files(project, 4, fraction=0.5, seed=3)
    orphan = sorted((project / "clients").iterdir())[-1]
    shutil.rmtree(orphan)
    _break(project)
    assert cli(*db, "plan", "--format", "json", "--output", "plan.json").returncode == 1
    report = json.loads((project / "plan.json").read_text())
    assert {"update", "invalid", "orphaned"} <= {t["action"] for t in report["tenants"]}
    assert schemacheck.checked == ["plan", "plan"]


def _sample(name: str) -> dict:
    if name == "audit":
        return {
            "format_version": 1,
            "ok": False,
            "summary": {"tenants": 3, "history_rows": 0, "history_scanned": False, "findings": 1},
            "findings": [
                {"tenant": "a", "table": "tenants", "run_id": None, "path": "/x", "kind": "jwt"}
            ],
        }
    return {
        "format_version": 1,
        "command": "import",
        "target": None,
        "ok": True,
        "run_id": 7,
        "duration_s": 0.5,
        "summary": {
            "created": 1,
            "updated": 0,
            "unchanged": 2,
            "skipped": 0,
            "orphaned": 0,
            "secrets_referenced": 3,
        },
        "written": [{"id": "a", "action": "create"}],
        "skipped": [],
        "migrations_applied": [],
    }


@pytest.mark.parametrize("name", ["audit", "import"])
def test_the_audit_and_import_schemas_accept_their_documented_shape(name):
    # The real outputs are checked by cli (test_audit.py, test_write_safety.py);
    # this is the documented shape.
    validator = schemacheck.validator(name)
    assert validator.is_valid(_sample(name))
    assert not validator.is_valid({**_sample(name), "format_version": 2})


def test_the_wheel_ships_the_schemas(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("tenant_migrator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in schemas.NAMES:
        assert f"tenant_migrator/schemas/{name}.schema.json" in names
