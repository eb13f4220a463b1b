"""examples/github/tenant-config.yml works: its `run:` steps, run locally in order as
GitHub's runner would (bash -eo pipefail, the step's and workflow's env), against the
embedded database. `uses:` steps (checkout, artifacts, the comment script) are
GitHub's own; the install step installs this checkout into a fresh virtualenv. The
merge job runs after the pull-request job in the same directory, where the plan
artifact is (``plan.json``: what the download step would fetch).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from tenant_migrator import schemas
from tenant_migrator.report.comment import MARKER

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "github" / "tenant-config.yml"
_EXPRESSION = re.compile(r"\$\{\{.*\}\}")


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _env(mapping: dict | None) -> dict[str, str]:
    """Plain values; ``${{ secrets.X }}`` left unset (no secret here: embedded server)."""
    return {k: str(v) for k, v in (mapping or {}).items() if not _EXPRESSION.search(str(v))}


def _run_steps(
    job: str, project: Path, env: dict[str, str], overrides: dict[str, str]
) -> list[tuple[str, int, str]]:
    """Run ``job``'s shell steps in order until one fails: (name, exit code, output)."""
    workflow = _workflow()
    base = {**env, **_env(workflow.get("env")), **overrides}
    done = []
    for step in workflow["jobs"][job]["steps"]:
        script = step.get("run")
        if script is None:
            continue
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=project,
            env={**base, **_env(step.get("env"))},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        done.append((step.get("name", script), proc.returncode, proc.stdout + proc.stderr))
        if proc.returncode != 0:
            break
    return done


@pytest.fixture(scope="module")
def runner_env() -> Iterator[dict[str, str]]:
    """A fresh virtualenv on PATH (the runner's python) and GitHub's files.

    In a directory other users can read, as a runner's workspace is: run as root, the
    embedded server runs as its own system user and refuses binaries it cannot reach
    (pytest's own temporary directory is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="tm-runner-"))
    os.chmod(root, 0o755)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PG"))}
    keep.pop("TEST_DATABASE_URL", None)
    try:
        yield {
            **keep,
            "PATH": f"{root / 'venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "COLUMNS": "200",
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "platform"
    shutil.copytree(REPO / "clients", root / "clients")
    (root / "config").mkdir()
    shutil.copy(REPO / "config" / "schema.json", root / "config" / "schema.json")
    return root


def test_the_workflow_plans_on_pull_requests_and_imports_the_reviewed_plan_on_main():
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True; GitHub does not
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    apply_runs = [s.get("run", "") for s in workflow["jobs"]["apply"]["steps"]]
    assert any(r.startswith("tenant-migrator import --plan plan.json --yes") for r in apply_runs)
    uploads = [
        s for s in workflow["jobs"]["plan"]["steps"] if "upload-artifact" in s.get("uses", "")
    ]
    assert uploads and uploads[0]["with"]["path"] == "plan.json"


def test_the_pull_request_steps_validate_plan_and_write_the_comment(project, runner_env, tmp_path):
    summary = tmp_path / "step-summary.md"
    env = {**runner_env, "GITHUB_STEP_SUMMARY": str(summary)}
    try:
        # This checkout instead of the release on PyPI.
        steps = _run_steps("plan", project, env, {"TENANT_MIGRATOR_PACKAGE": str(REPO)})
    finally:
        subprocess.run(
            [str(Path(runner_env["PATH"].split(os.pathsep)[0]) / "tenant-migrator"), "db-stop"],
            cwd=project,
            env=runner_env,
            capture_output=True,
            check=False,
        )
    assert [code for _, code, _ in steps] == [0] * 4, steps
    plan = json.loads((project / "plan.json").read_text())
    Draft202012Validator(schemas.load("plan")).validate(plan)
    assert plan["summary"]["create"] == len(list((project / "clients").iterdir()))
    comment = (project / "plan-comment.md").read_text()
    assert comment.startswith(MARKER + "\n") and len(comment) <= 65_536
    text = summary.read_text()
    assert "tenant-migrator" in text and MARKER in text  # validate's report, then the plan's
    validate_output = steps[1][2]
    assert "::warning file=clients/example/client.yaml" in validate_output


def _stop_server(project: Path, runner_env: dict[str, str]) -> None:
    subprocess.run(
        [str(Path(runner_env["PATH"].split(os.pathsep)[0]) / "tenant-migrator"), "db-stop"],
        cwd=project,
        env=runner_env,
        capture_output=True,
        check=False,
    )


def test_the_merge_job_imports_the_reviewed_plan_and_only_it(project, runner_env, tmp_path):
    env = {**runner_env, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    package = {"TENANT_MIGRATOR_PACKAGE": str(REPO)}
    try:
        assert [code for _, code, _ in _run_steps("plan", project, env, package)] == [0] * 4
        applied = _run_steps("apply", project, env, package)
        assert [(name, code) for name, code, _ in applied] == [
            ("Install tenant-migrator", 0),
            ("Import the reviewed plan", 0),
        ], applied
        outcome = json.loads((project / "import.json").read_text())
        Draft202012Validator(schemas.load("import")).validate(outcome)
        planned = json.loads((project / "plan.json").read_text())["review"]["tenants"]
        assert {w["id"] for w in outcome["written"]} == set(planned)
        assert applied[1][2].count("target: embedded PostgreSQL in ") == 1
        # The same plan again: the rows it planned to create exist now; refused.
        again = _run_steps("apply", project, env, package)
        assert [code for _, code, _ in again] == [0, 1]
        assert "plan.json no longer applies; nothing was written" in again[1][2]
    finally:
        _stop_server(project, runner_env)


def test_a_bad_client_file_fails_the_validate_step_with_an_annotation(project, runner_env):
    path = project / "clients" / "example" / "client.yaml"
    document = yaml.safe_load(path.read_text())
    document["client"]["timezone"] = "Nowhere/Atlantis"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    steps = _run_steps("plan", project, runner_env, {"TENANT_MIGRATOR_PACKAGE": str(REPO)})
    assert [code for _, code, _ in steps] == [0, 1], steps  # stops there, as the runner does
    assert "::error file=clients/example/client.yaml,line=" in steps[1][2]
