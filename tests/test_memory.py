"""Bulk speed and memory on the database side: what the optimisations must keep."""

from __future__ import annotations

from tenant_migrator import cli


def test_run_returns_the_result_without_repr_of_it():
    # asyncio.run on 3.11 reprs a coroutine's result twice on the way out; a plan of
    # 10,000 tenants made that seconds. _run must hand the result back untouched.
    reprs = []

    class Result:
        def __repr__(self) -> str:
            reprs.append(1)
            return "Result()"

    result = Result()

    async def produce() -> Result:
        return result

    assert cli._run(produce()) is result
    assert reprs == []


def test_run_propagates_the_coroutine_error():
    class Boom(Exception):
        pass

    async def fail() -> None:
        raise Boom("no")

    try:
        cli._run(fail())
    except Boom as err:
        assert str(err) == "no"
    else:
        raise AssertionError("the error was swallowed")


def test_payload_config_is_the_records_json_text_exactly():
    from tenant_migrator.record import build_record, config_json
    from tenant_migrator.store import payload_of

    document = {
        "client": {"name": "Ünïcode Travel", "timezone": "Africa/Johannesburg", "extra": 1},
        "email": {"primary": "a@b.example"},
        "destinations": [{"name": "Zanzibar", "aliases": ["zanzi", "ザンジバル"]}],
        "quotes": {"markup": 1.5, "big": 10**20},
    }
    for compress in (False, True):
        record = build_record("t1", document, compress=compress)
        payload = payload_of(record)
        assert payload.config == config_json(record.tenant_config)
        assert payload.config == record.config_json
        assert payload.columns[0] == "Ünïcode Travel"


# --- lazy create changes and the streamed JSON report -------------------------------------


def _load_bench(name: str):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_memory_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _unicode_tenant(generate) -> str:
    """A generated tenant with non-ASCII names and characters JSON must escape."""
    text = generate.tenant_text(11, 999).replace("id: ", "id: x", 1)
    lines = text.splitlines(keepends=True)
    lines[2] = '  name: "Ünïcödé Safaris ザンジバル \\u2028 tab\\t quote\\" back\\\\slash"\n'
    text = "".join(lines)
    return text.replace("- name: Masai Mara", "- name: Île Sainte-Marie ✈")


def _sample_plan(tmp_path):
    """A plan over generated tenants (some with literal secrets), a Unicode-heavy one and
    an invalid file, against rows making some unchanged, updated, blocked, orphaned."""
    from pathlib import Path

    from tenant_migrator import pipeline
    from tenant_migrator.planning import CurrentRow, ImportState, build_plan, record_snapshot
    from tenant_migrator.settings import Settings

    generate = _load_bench("generate")
    project = tmp_path / "project"
    ids = generate.generate(project, 40, seed=11)
    shutil_copy_config(project)
    (project / "clients" / "unicode-tenant").mkdir()
    (project / "clients" / "unicode-tenant" / "client.yaml").write_text(
        _unicode_tenant(generate), encoding="utf-8"
    )
    (project / "clients" / "broken").mkdir()
    (project / "clients" / "broken" / "client.yaml").write_text("client: [\n", encoding="utf-8")
    load = pipeline.load_tenants(Settings(project_dir=Path(project)), workers=1)
    records = {r.tenant_id: r.record for r in load.results if r.record is not None}
    assert len(records) == 41  # every generated tenant and the Unicode one are valid

    rows = {}
    for tid in ids[:10]:  # unchanged
        rows[tid] = CurrentRow(tid, record_snapshot(records[tid]), "h-" + tid)
    for tid in ids[10:15]:  # updated: the row has another name and one key less
        snap = record_snapshot(records[tid])
        snap["name"] = "Old name"
        snap["tenant_config"].pop("quotes", None)
        rows[tid] = CurrentRow(tid, snap, "h-" + tid)
    blocked = ids[15]
    snap = record_snapshot(records[blocked])
    snap["currency"] = "EUR"
    rows[blocked] = CurrentRow(blocked, snap, "edited")
    states = {blocked: ImportState(4, "before", record_snapshot(records[blocked]))}
    # The updated rows are the ones our run 3 wrote (else they would be database-owned).
    states |= {tid: ImportState(3, "h-" + tid) for tid in ids[10:15]}
    rows["orphan-row"] = CurrentRow("orphan-row", {"config_source": "yaml"}, "h-orphan")
    plan = build_plan(load, rows, states, ["013_import_history.sql"])
    summary = plan.summary()
    assert summary["create"] == 25 and summary["unchanged"] == 10 and summary["update"] == 5
    assert summary["blocked"] == 1 and summary["invalid"] == 1 and summary["orphaned"] == 1
    return plan


def shutil_copy_config(project):
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    shutil.copytree(repo / "config", project / "config")


def _old_render_json(plan, indent):
    # What render_json produced before streaming: one dumps of the decoded report.
    import json

    from tenant_migrator.report import plan as report

    return json.dumps(report.to_json(plan), ensure_ascii=False, indent=indent) + "\n"


def test_streamed_json_report_is_byte_identical_to_the_one_string_report(tmp_path, monkeypatch):
    import io
    import json

    from tenant_migrator.planning import Action, DocumentAdd
    from tenant_migrator.report import plan as report

    plan = _sample_plan(tmp_path)
    creates = plan.by_action(Action.CREATE)
    assert all(isinstance(t.changes[-1], DocumentAdd) for t in creates)

    # Indented (small plans) and compact (big plans, streamed tenant by tenant).
    assert report.render_json(plan) == _old_render_json(plan, indent=2)
    monkeypatch.setattr(report, "JSON_INDENT_UP_TO", 5)
    expected = _old_render_json(plan, indent=None)
    assert report.render_json(plan) == expected
    out = io.StringIO()
    report.write_json(plan, out)
    assert out.getvalue() == expected
    # The copied documents are the real ones, not stand-ins.
    data = json.loads(expected)
    unicode_tenant = next(t for t in data["tenants"] if t["id"] == "unicode-tenant")
    document = unicode_tenant["changes"][-1]
    assert document["path"] == "/tenant_config"
    assert "Île Sainte-Marie ✈" in [d["name"] for d in document["new"]["destinations"]]
    assert "Île Sainte-Marie ✈" in expected  # not escaped (ensure_ascii=False)
    assert "\\u0000document-" not in expected and "document-" not in expected


def test_create_keeps_the_document_as_json_text_until_read():
    from tenant_migrator.planning import Change, DocumentAdd, Op, create_changes
    from tenant_migrator.record import build_record

    record = build_record("t1", {"client": {"name": "T"}, "quotes": {"markup": 1.5}})
    change = create_changes(record)[-1]
    assert isinstance(change, DocumentAdd)
    assert change.record is record  # nothing decoded is kept
    assert change.new_json == record.config_json
    assert change.new == {"quotes": {"markup": 1.5}}
    assert change.new is not change.new  # a fresh dict each read, never cached
    assert change == Change("/tenant_config", Op.ADD, None, {"quotes": {"markup": 1.5}})
    assert Change("/tenant_config", Op.ADD, None, {"quotes": {"markup": 1.5}}) == change
    assert change != Change("/tenant_config", Op.ADD, None, {"quotes": {"markup": 2}})
    assert change.to_json() == {
        "path": "/tenant_config",
        "op": "add",
        "old": None,
        "new": {"quotes": {"markup": 1.5}},
    }
