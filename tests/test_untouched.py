"""The untouched-row check (migration 014), against a real server.

A read of many tenants first asks which rows are untouched since the run that
wrote them (the latest history row recorded the fingerprint proposed now, and the
row's ``xmin`` is still that run's transaction, on this cluster, within the
wrap-around horizon), and compares only the others in full.

The oracle is the full comparison itself: each scenario is planned with the check
and without it (``UNTOUCHED_FIRST_FROM`` out of reach), and the two plans must be
equal. And the tenants the check hands to the full comparison must be exactly the
ones it cannot vouch for: a changed file, a row an admin edited (even to the
same values), an invalid file, a run rolled back, a run too far back or from
another cluster.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from importhelpers import REPO, bench_generate, plant_old_importer_row

from tenant_migrator import store
from tenant_migrator.pipeline import load_tenants
from tenant_migrator.record import OWNED_COLUMNS
from tenant_migrator.settings import Settings
from tenant_migrator.store import rows

N = 120  # above UNTOUCHED_FIRST_FROM: the check runs
RUNS = "tenant_migrator.import_runs"

generate = bench_generate()


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "p"
    generate.generate(root, N, seed=5)
    shutil.copytree(REPO / "config", root / "config", dirs_exist_ok=True)
    return root


class Statements(list):
    """The ids of each full comparison built, in order; ``checks``: how many
    untouched checks were built."""

    checks = 0
    sent: list[set[str]]  # the ids whose documents each one carried

    def clear(self) -> None:
        super().clear()
        self.checks = 0
        self.sent = []


@pytest.fixture
def compared(monkeypatch) -> Statements:
    calls = Statements()
    calls.clear()
    full, check = rows._rows_statement, rows.untouched_sql

    def recording_full(schema, only, proposed, whole):
        calls.append(set(only or ()))
        calls.sent.append(set(proposed or ()))
        return full(schema, only, proposed, whole)

    def recording_check(only, proposed):
        calls.checks += 1
        return check(only, proposed)

    monkeypatch.setattr(rows, "_rows_statement", recording_full)
    monkeypatch.setattr(rows, "untouched_sql", recording_check)
    return calls


@pytest.fixture
def tm(cli, project, migrated_database_url):
    def run(*args: str):
        result = cli("--project-dir", project, "--database-url", migrated_database_url, *args)
        assert result.returncode in (0, 1), result.output
        return result

    return run


def plans(tm, compared, monkeypatch) -> tuple[dict, dict, set[str]]:
    """The plan with the check, the plan without it, and what the check compared in full."""
    compared.clear()
    checked = json.loads(tm("plan", "--format", "json").stdout)
    assert compared.checks == 1
    in_full = set().union(*compared) if compared else set()
    # Only the documents of the tenants compared in full travel a second time.
    assert all(sent <= only for sent, only in zip(compared.sent, compared, strict=True))
    with monkeypatch.context() as patch:
        patch.setattr(rows, "UNTOUCHED_FIRST_FROM", 10**9)
        compared.clear()
        plain = json.loads(tm("plan", "--format", "json").stdout)
        # Without the check every loaded tenant is compared in full.
        assert len(set().union(*compared)) >= N - 1
    return checked, plain, in_full


def same_plan(checked: dict, plain: dict) -> None:
    assert checked["tenants"] == plain["tenants"]
    assert checked["summary"] == plain["summary"]


def xmins(pg, url: str) -> dict[str, str]:
    return {r["id"]: r["xmin"] for r in pg.fetch(url, "SELECT id, xmin::text FROM tenants")}


def ids(project: Path) -> list[str]:
    return sorted(p.name for p in (project / "clients").iterdir())


def test_after_an_import_nothing_is_compared_in_full(tm, compared, monkeypatch, project):
    tm("import")
    checked, plain, in_full = plans(tm, compared, monkeypatch)
    same_plan(checked, plain)
    assert checked["summary"]["unchanged"] == N
    assert in_full == set()


def test_with_no_history_of_ours_the_documents_go_at_once(
    tm, compared, project, pg, migrated_database_url
):
    """Rows written by someone else (the old importer): nothing to vouch for, so
    no check, the one comparison goes at once."""
    plant_old_importer_row(pg, migrated_database_url)
    compared.clear()
    plan = json.loads(tm("plan", "--format", "json").stdout)
    assert compared.checks == 0 and len(compared) == 1
    assert plan["summary"]["create"] == N


def test_only_what_the_check_cannot_vouch_for_is_compared_and_the_plan_is_the_same(
    tm, compared, monkeypatch, project, pg, migrated_database_url
):
    tm("import")
    tenant_ids = ids(project)
    changed = {c.tenant_id for c in generate.change_files(project, N, 3 / N, seed=5)}
    others = [i for i in tenant_ids if i not in changed]
    edited, touched, deleted, invalid, orphan = others[:5]
    url = migrated_database_url
    pg.execute(
        url,
        f"UPDATE tenants SET tenant_config = tenant_config || '{{\"note\": 1}}' "
        f"WHERE id = '{edited}'",
    )
    pg.execute(url, f"UPDATE tenants SET name = name WHERE id = '{touched}'")  # same values
    pg.execute(url, f"DELETE FROM tenants WHERE id = '{deleted}'")
    (project / "clients" / invalid / "client.yaml").write_text("client: [unclosed\n")
    shutil.rmtree(project / "clients" / orphan)

    checked, plain, in_full = plans(tm, compared, monkeypatch)
    same_plan(checked, plain)
    assert in_full == changed | {edited, touched, invalid}
    actions = {t["id"]: t["action"] for t in checked["tenants"]}
    assert {actions[i] for i in changed} == {"update"}
    assert actions[touched] == "unchanged"
    assert checked["summary"]["blocked"] == 2  # edited, and deleted in the database
    assert checked["summary"]["orphaned"] == 1


def test_an_import_records_what_it_sent_and_the_next_one_compares_nothing(
    tm, compared, project, pg, migrated_database_url
):
    url = migrated_database_url
    tm("import")
    changed = {c.tenant_id for c in generate.change_files(project, N, 3 / N, seed=5)}
    before = xmins(pg, url)
    compared.clear()
    tm("import")
    assert set().union(*compared) == changed
    after = xmins(pg, url)
    assert {i for i in after if after[i] != before[i]} == changed  # nothing else rewritten

    # Each tenant's latest history row holds the fingerprint of its payload as
    # sent, and its run the transaction that wrote the row.
    payloads = store.payloads(load_tenants(Settings(project_dir=project)))
    latest = pg.fetch(
        url,
        f"""SELECT DISTINCT ON (h.tenant_id) h.tenant_id AS id, h.sent_sha256,
                   t.xmin::text::bigint = u.xact_id % 4294967296 AS same_xact,
                   u.cluster_id = (pg_control_system()).system_identifier AS same_cluster
            FROM tenant_migrator.import_run_tenants h JOIN {RUNS} u ON u.id = h.run_id
            JOIN tenants t ON t.id = h.tenant_id
            ORDER BY h.tenant_id, h.run_id DESC""",
    )
    assert {r["id"]: r["sent_sha256"] for r in latest} == {i: p.sha256 for i, p in payloads.items()}
    assert all(r["same_xact"] and r["same_cluster"] for r in latest)
    compared.clear()
    tm("import")
    assert compared == []


@pytest.mark.parametrize(
    "run_sql",
    [
        # The same 32-bit id 2^32 transactions back: wrap-around, not this run.
        "xact_id = xact_id - 4294967296",
        # Recorded "after" the current transaction: numbered by another history.
        "xact_id = xact_id + 4294967296",
        # A dump restored into another cluster.
        "cluster_id = cluster_id + 1",
    ],
    ids=["wrapped-around", "ahead", "other-cluster"],
)
def test_a_run_the_check_cannot_place_is_compared_in_full(
    tm, compared, monkeypatch, project, pg, migrated_database_url, run_sql
):
    tm("import")
    pg.execute(migrated_database_url, f"UPDATE {RUNS} SET {run_sql}")
    checked, plain, in_full = plans(tm, compared, monkeypatch)
    same_plan(checked, plain)
    assert in_full == set(ids(project))
    assert checked["summary"]["unchanged"] == N


def test_after_a_rollback_its_tenants_are_compared_in_full(
    tm, compared, monkeypatch, project, pg, migrated_database_url, tmp_path
):
    tm("import")
    changed = {c.tenant_id for c in generate.change_files(project, N, 3 / N, seed=5)}
    # And one new tenant (the generated set is a prefix of a larger one).
    generate.generate(tmp_path / "more", N + 1, seed=5)
    (new,) = set(ids(tmp_path / "more")) - set(ids(project))
    shutil.copytree(tmp_path / "more" / "clients" / new, project / "clients" / new)
    tm("import")
    last = pg.fetchval(migrated_database_url, f"SELECT max(id) FROM {RUNS}")
    assert tm("rollback", str(last), "--yes").returncode == 0
    checked, plain, in_full = plans(tm, compared, monkeypatch)
    same_plan(checked, plain)
    assert in_full == changed
    actions = {t["id"]: t["action"] for t in checked["tenants"]}
    assert {i for i, a in actions.items() if a == "update"} == changed
    # Its create undone, the new tenant is new again (not "deleted in the database").
    assert actions[new] == "create"


def test_a_small_read_sends_the_documents_at_once(tm, compared, project):
    """Below UNTOUCHED_FIRST_FROM (a sync of one tenant) the check would cost a
    round trip of its own: the one comparison goes at once."""
    tm("import")
    (change,) = generate.change_files(project, N, 1 / N, seed=5)
    compared.clear()
    assert tm("sync", change.tenant_id).returncode == 0
    assert compared == [{change.tenant_id}] and compared.checks == 0


def test_a_fingerprint_tells_every_payload_apart():
    width = len(OWNED_COLUMNS)
    base = ("a",) * width
    variants = [
        (base, "{}"),
        ((None, *base[1:]), "{}"),  # NULL is not the empty string
        (("", *base[1:]), "{}"),
        (("-", *base[1:]), "{}"),  # nor the text "-"
        (("ab", "", *base[2:]), "{}"),  # where one value ends and the next begins
        (("a", "b", *base[2:]), "{}"),
        (base, '{"a": 1}'),
        (base, '{"a": 1}\n'),
        ((base[0] + "\n1:{}", *base[1:]), ""),  # a value holding the separator
    ]
    prints = [rows.fingerprint(columns, config) for columns, config in variants]
    assert len(set(prints)) == len(prints)
    assert rows.Payload.of(base, "{}").sha256 == rows.fingerprint(base, "{}")


def test_a_new_payload_version_matches_no_old_fingerprint(monkeypatch):
    columns = ("a",) * len(OWNED_COLUMNS)
    old = rows.fingerprint(columns, "{}")
    monkeypatch.setattr(rows, "FINGERPRINT_VERSION", rows.FINGERPRINT_VERSION + "+")
    assert rows.fingerprint(columns, "{}") != old
