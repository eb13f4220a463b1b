"""What a pool worker sends is the whole result: every field of every shipped type
survives ``to_wire`` → pickle → ``from_wire``.

The wire forms are plain tuples (half the pickling cost of the dataclasses), so a
field added to a type and forgotten in its wire form would be lost silently
between the worker and the parent. These tests give every field of each type a
value of its own and fail on any field that does not come back, including one
added later.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

from tenant_migrator.discovery import ClientFile
from tenant_migrator.pipeline import TenantResult
from tenant_migrator.problems import Problem, Severity
from tenant_migrator.record import TenantRecord
from tenant_migrator.secretrefs import SecretReference


def _distinct_values(cls: type, ints_from: int = 1) -> dict[str, object]:
    """A different value for every field of ``cls``: a string naming the field, or
    a number for the int fields (line, column)."""
    values: dict[str, object] = {}
    for number, field in enumerate(dataclasses.fields(cls), start=ints_from):
        kind = str(field.type)
        values[field.name] = number if kind.startswith("int") else f"{field.name}-{number}"
    return values


def _through_the_pipe(wire: object) -> object:
    return pickle.loads(pickle.dumps(wire, pickle.HIGHEST_PROTOCOL))


def _fields(value: object) -> dict[str, object]:
    # getattr, not ==: SecretReference.literal is excluded from equality.
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def test_every_field_of_a_secret_reference_travels_including_the_literal():
    values = _distinct_values(SecretReference)
    values["scope"] = "shared"  # shared names are interned on arrival: still equal
    ref = SecretReference(**values)
    back = SecretReference.from_wire(_through_the_pipe(ref.to_wire()))
    assert _fields(back) == _fields(ref)
    assert back.literal == values["literal"]


def test_a_tenant_scoped_reference_travels_whole_too():
    ref = SecretReference(**dict(_distinct_values(SecretReference), scope="tenant"))
    assert _fields(SecretReference.from_wire(_through_the_pipe(ref.to_wire()))) == _fields(ref)


def _record() -> TenantRecord:
    values = {f.name: f"{f.name}-value" for f in dataclasses.fields(TenantRecord) if f.name != "id"}
    values["config_data"] = '{"branding": {"company_name": "Acme"}}'
    return TenantRecord(
        "acme",
        **{k: v for k, v in values.items() if k != "config_data"},
        config_data=values["config_data"],
    )


def _result(record: TenantRecord | None) -> TenantResult:
    path = Path("/p/clients/acme/client.yaml")
    problems = (
        Problem(path, "a warning", "/client/id", 3, 5, Severity.WARNING),
        Problem(path, "another", "", None, None, Severity.WARNING),
    )
    secrets = (
        SecretReference(**_distinct_values(SecretReference)),
        SecretReference("/email/smtp/password", "ACME_SMTP_PASSWORD", "kept", None, "tenant"),
    )
    return TenantResult("acme", path, record, problems, secrets, "ab" * 32)


def test_every_field_of_a_tenant_record_travels_in_its_result():
    result = _result(_record())
    back = TenantResult.from_wire(
        ClientFile("acme", result.path), _through_the_pipe(result.to_wire())
    )
    assert _fields(back.record) == _fields(result.record)
    assert back.record.config_json == result.record.config_json
    assert back == result


def test_a_compressed_record_travels_compressed():
    record = _record().compressed()
    result = _result(record)
    back = TenantResult.from_wire(ClientFile("acme", result.path), result.to_wire())
    assert type(back.record.config_data) is bytes
    assert _fields(back.record) == _fields(record)


def test_every_field_of_a_tenant_result_travels_or_comes_from_the_client_file():
    # tenant_id and path are not sent: the parent has them in its ClientFile. Every
    # other field must be in the wire form; a new field fails here until it is.
    from_client_file = {"tenant_id", "path"}
    sent = {"record", "problems", "secrets", "source_sha256"}
    assert {f.name for f in dataclasses.fields(TenantResult)} == from_client_file | sent
    for record in (_record(), None):
        result = _result(record)
        back = TenantResult.from_wire(
            ClientFile("acme", result.path), _through_the_pipe(result.to_wire())
        )
        assert _fields(back).keys() == _fields(result).keys()
        for name in sent - {"secrets"}:
            assert getattr(back, name) == getattr(result, name), name
        assert [_fields(s) for s in back.secrets] == [_fields(s) for s in result.secrets]


def test_the_wire_form_is_plain_tuples_and_strings():
    # What makes it cheap: no dataclass of ours but Problem (few, and pickled as is).
    def plain(value: object) -> bool:
        if isinstance(value, tuple):
            return all(plain(item) for item in value)
        return value is None or type(value) in (str, int, bytes, Problem)

    assert plain(_result(_record()).to_wire())
    assert plain(_result(None).to_wire())
