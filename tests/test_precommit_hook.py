"""The pre-commit hook, run by the real pre-commit (``try-repo``) on a scratch repository.

try-repo installs this package into a fresh virtualenv from this checkout (offline:
pip finds hatchling and the dependencies in the machine's wheel cache), once per
module thanks to the shared PRE_COMMIT_HOME; it uses the checkout's last commit plus
its uncommitted changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    if not (REPO / ".git").exists():
        pytest.fail("the hook test needs this checkout to be a git repository")
    return tmp_path_factory.mktemp("pre-commit-home")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _scratch(tmp_path: Path, example: str) -> Path:
    repo = tmp_path / "platform"
    (repo / "clients" / "example").mkdir(parents=True)
    (repo / "config").mkdir()
    shutil.copy(REPO / "config" / "schema.json", repo / "config" / "schema.json")
    (repo / "clients" / "example" / "client.yaml").write_text(example)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "clients")
    return repo


def _try_repo(repo: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(REPO), "tenant-migrator-validate", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_hook_is_declared_for_client_files_and_the_schema():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "tenant-migrator-validate"
    assert hook["entry"] == "tenant-migrator validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is True
    import re

    files = re.compile(hook["files"])
    for path in ("clients/a/client.yaml", "clients/a-b/client.yml", "config/schema.json"):
        assert files.search(path), path
    for path in ("clients/a/notes.yaml", "clients/client.yaml", "src/config/schema.json"):
        assert not files.search(path), path


def test_pre_commit_try_repo_passes_good_files_and_fails_a_bad_one(tmp_path, pre_commit_home):
    example = (REPO / "clients" / "example" / "client.yaml").read_text()
    good = _try_repo(_scratch(tmp_path / "good", example), pre_commit_home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "tenant-migrator validate" in good.stdout and "Passed" in good.stdout

    document = yaml.safe_load(example)
    document["client"]["timezone"] = "Nowhere/Atlantis"
    bad = _try_repo(
        _scratch(tmp_path / "bad", yaml.safe_dump(document, sort_keys=False)), pre_commit_home
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert "clients/example/client.yaml" in bad.stdout and "timezone" in bad.stdout
