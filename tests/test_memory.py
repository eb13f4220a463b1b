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
