"""confirm.py, destination.py and reviewed_plan.py as plain functions (the CLI runs
of the same are in test_write_safety.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from clientdocs import make_project, valid_document

from tenant_migrator import __version__, confirm, reviewed_plan
from tenant_migrator.destination import Destination, from_environment, from_url
from tenant_migrator.errors import UsageError
from tenant_migrator.pipeline import load_tenants
from tenant_migrator.planning import Action, Plan, TenantPlan, build_plan
from tenant_migrator.settings import Settings

REMOTE = Destination(False, "db.example.com", 5432, "postgres", "postgres")
EMBEDDED = Destination(True, None, None, None, None, "/p/.tenant-migrator/pgdata")


@pytest.mark.parametrize(
    ("where", "yes", "tty", "asks"),
    [
        (REMOTE, False, True, True),
        (REMOTE, True, True, False),
        (REMOTE, False, False, False),
        (EMBEDDED, False, True, False),
    ],
)
def test_only_a_terminal_writing_elsewhere_than_the_embedded_server_is_asked(where, yes, tty, asks):
    assert confirm.must_ask(where, yes=yes, is_interactive=tty) is asks


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ("y\n", True),
        ("YES\n", True),
        (" yes ", True),
        ("\n", False),
        ("n", False),
        ("yep", False),
        ("", False),
    ],
)
def test_only_y_or_yes_is_consent(answer, ok):
    out = io.StringIO()
    if ok:
        confirm.ask(["import will write: 1 to create"], REMOTE, read=lambda: answer, out=out)
    else:
        with pytest.raises(confirm.Declined, match="nothing was written") as err:
            confirm.ask(["x"], REMOTE, read=lambda: answer, out=out)
        assert err.value.exit_code == 1
    assert "into postgres@db.example.com:5432/postgres" in out.getvalue()
    assert out.getvalue().endswith("[y/N] ")


def test_the_target_is_said_without_the_password():
    url = "postgresql://svc:s3cr3t-Pw@db.example.com:6543/app?sslmode=require"
    where = from_url(url, {})
    assert where.line() == "target: svc@db.example.com:6543/app"
    assert "s3cr3t" not in json.dumps(where.to_json())
    socket = from_url("postgresql://postgres@/tm?host=/tmp/sock", {})
    assert (socket.host, socket.port, socket.database) == ("/tmp/sock", 5432, "tm")
    env = from_environment({"PGHOST": "h", "PGUSER": "u", "PGPORT": "5433"})
    assert env.describe() == "u@h:5433/u"
    assert EMBEDDED.line() == "target: embedded PostgreSQL in /p/.tenant-migrator/pgdata"


def test_a_read_only_role_may_plan_what_another_user_applies():
    other_user = Destination(False, "db.example.com", 5432, "postgres", "reader")
    assert REMOTE.same_database(other_user)
    assert not REMOTE.same_database(Destination(False, "db.example.com", 5432, "other", "u"))
    assert not REMOTE.same_database(EMBEDDED)


def test_the_prompt_counts_what_will_be_written():
    plan = Plan(
        (TenantPlan("a", Action.CREATE), TenantPlan("b", Action.UNCHANGED)),
        pending_migrations=("import_history",),
    )
    lines = confirm.plan_lines(plan, "import")
    assert lines[0] == "import will write: 1 to create"
    assert "1 unchanged" in lines[1] and "import_history" in lines[2]


# --- reviewed plans ----------------------------------------------------------------------


@pytest.fixture
def planned(tmp_path) -> tuple[Settings, Plan, dict]:
    project = make_project(tmp_path, {"acme": valid_document("acme")})
    settings = Settings(project_dir=project)
    plan = build_plan(load_tenants(settings), {}, {})
    return settings, plan, reviewed_plan.review_json(plan, settings, REMOTE, None)


def test_the_review_carries_version_target_and_fingerprints(planned):
    _, _, review = planned
    assert review["tool_version"] == __version__ and review["target"]["host"] == "db.example.com"
    acme = review["tenants"]["acme"]
    assert acme["action"] == "create" and acme["file"] == "clients/acme/client.yaml"
    assert len(acme["file_sha256"]) == 64 and len(acme["record_sha256"]) == 64
    assert acme["row_hash"] is None


def test_each_file_fingerprint_is_the_sha256_of_the_bytes_loaded_valid_or_not(tmp_path):
    """Hashed from the bytes the load read (the pool's workers send it along), the
    same value as hashing the file: a valid file, an invalid one and one that is
    not YAML at all."""
    import hashlib

    from clientdocs import write_client

    project = make_project(tmp_path, {"acme": valid_document("acme")})
    broken = valid_document("broken")
    broken["client"]["currency"] = 12
    write_client(project, "broken", broken)
    (project / "clients" / "notyaml").mkdir()
    (project / "clients" / "notyaml" / "client.yaml").write_text("client: [unclosed\n")
    settings = Settings(project_dir=project)
    plan = build_plan(load_tenants(settings), {}, {})
    review = reviewed_plan.review_json(plan, settings, REMOTE, None)["tenants"]
    assert sorted(review) == ["acme", "broken", "notyaml"]
    for tenant_id, entry in review.items():
        path = project / "clients" / tenant_id / "client.yaml"
        assert entry["file"] == f"clients/{tenant_id}/client.yaml"
        assert entry["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), tenant_id
    assert {t.id: t.source_sha256 is not None for t in plan.tenants} == {
        "acme": True,
        "broken": True,
        "notyaml": True,
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("{p}/clients/acme/client.yaml", "clients/acme/client.yaml"),
        ("{p}/clients/../elsewhere/client.yaml", "elsewhere/client.yaml"),
        ("{p}x/clients/acme/client.yaml", "../px/clients/acme/client.yaml"),
        ("/other/client.yaml", None),
    ],
    ids=["inside", "dot-dot", "sibling-with-the-same-prefix", "outside"],
)
def test_a_file_is_named_relative_to_the_project_as_relpath_names_it(tmp_path, path, expected):
    import os

    project = tmp_path / "p"
    given = Path(path.format(p=project))
    if expected is None:
        expected = os.path.relpath(given, project)
    assert reviewed_plan._relative(given, project) == os.path.relpath(given, project) == expected


def test_a_changed_file_or_version_is_named_before_connecting(planned):
    settings, _, review = planned
    reviewed = reviewed_plan.parse(review, "plan.json")
    reviewed_plan.check_before(reviewed, settings, REMOTE)  # unchanged: passes
    path = settings.project_dir / "clients" / "acme" / "client.yaml"
    path.write_text(path.read_text() + "\n# edited\n")
    with pytest.raises(reviewed_plan.PlanChanged, match=r"clients/acme/client\.yaml \(acme\)"):
        reviewed_plan.check_before(reviewed, settings, REMOTE)
    old = reviewed_plan.parse({**review, "tool_version": "0.0.1"}, "plan.json")
    with pytest.raises(reviewed_plan.PlanChanged, match=r"made by tenant-migrator 0\.0\.1"):
        reviewed_plan.check_before(old, settings, REMOTE)


def test_the_import_refuses_a_tenant_that_is_not_as_planned(planned):
    settings, plan, review = planned
    verifier = reviewed_plan.Verifier(reviewed_plan.parse(review, "plan.json"), settings)
    verifier.check_batch(plan.tenants)  # the same plan: passes
    now = TenantPlan("acme", Action.UPDATE, expected_hash="abc", record=plan.tenants[0].record)
    with pytest.raises(reviewed_plan.PlanChanged, match="acme: its row changed"):
        verifier.check_batch([now])
    with pytest.raises(reviewed_plan.PlanChanged, match="new since the plan"):
        verifier.check_batch([TenantPlan("zeta", Action.CREATE)])
    with pytest.raises(reviewed_plan.PlanChanged, match="pending migrations are import_history"):
        verifier.check_migrations(["import_history"])


def test_a_file_that_is_not_a_reviewed_plan_is_a_usage_error(tmp_path: Path):
    (tmp_path / "p.json").write_text(json.dumps({"format_version": 1, "tenants": []}))
    with pytest.raises(UsageError, match="no 'review' key"):
        reviewed_plan.load(tmp_path / "p.json")
    with pytest.raises(UsageError, match="cannot read the plan file"):
        reviewed_plan.load(tmp_path / "missing.json")


def test_ctrl_c_at_the_question_is_an_interruption_that_wrote_nothing():
    from tenant_migrator.interruption import Interrupted

    def interrupt() -> str:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="interrupted; nothing was written") as err:
        confirm.ask(["x"], REMOTE, read=interrupt, out=io.StringIO())
    assert err.value.exit_code == 130
