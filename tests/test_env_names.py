"""Variable names the platform's runtime can resolve (``[A-Z_][A-Z0-9_]*``), never
shared by two tenants."""

from __future__ import annotations

import json
import re

import pytest
from clientdocs import make_project, valid_document
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_migrator.discovery import TENANT_ID_RE
from tenant_migrator.pipeline import load_tenants
from tenant_migrator.secretrefs import (
    MissingEnvironment,
    UnresolvableReference,
    check_environment,
    env_prefix,
    extract,
    resolve,
    rules_from_schema,
)
from tenant_migrator.settings import Settings

RUNTIME_NAME = re.compile(r"\A[A-Z_][A-Z0-9_]*\Z")


@pytest.mark.parametrize(
    ("tenant_id", "prefix"),
    [
        ("africastay", "AFRICASTAY"),
        ("safarirun-t0vc", "SAFARIRUN_T0VC"),
        ("a_b", "A_B"),
        ("9lives-travel", "_9LIVES_TRAVEL"),
        ("0", "_0"),
        ("007-tours", "_007_TOURS"),
    ],
)
def test_a_tenant_id_starting_with_a_digit_gets_a_leading_underscore(tenant_id, prefix):
    assert env_prefix(tenant_id) == prefix
    result = extract(
        {"email": {"smtp": {"password": "FAKE-pass"}}}, tenant_id, rules_from_schema({})
    )
    assert result.config["email"]["smtp"]["password"] == "${" + prefix + "_SMTP_PASSWORD}"
    assert result.problems == ()  # the name it made is one the runtime resolves


@settings(max_examples=300, deadline=None)
@given(
    tenant_id=st.from_regex(TENANT_ID_RE, fullmatch=True),
    key=st.text(min_size=1, max_size=12),
)
def test_every_name_the_extraction_makes_is_one_the_runtime_resolves(tenant_id, key):
    result = extract({key: {"password": "FAKE-pass"}}, tenant_id, rules_from_schema({}))
    assert result.secrets
    for ref in result.secrets:
        assert RUNTIME_NAME.match(ref.env_var), ref.env_var
    assert resolve(result.config, {ref.env_var: "v" for ref in result.secrets})


@pytest.mark.parametrize(
    "config",
    [
        {"a": "${9LIVES_TRAVEL_SMTP_PASSWORD}"},
        {"a": "${smtp_password}"},
        {"a": "x ${smtp_password:-fallback} y"},
    ],
)
def test_resolve_raises_for_a_name_the_runtime_cannot_resolve_whatever_is_set(config):
    environ = {"9LIVES_TRAVEL_SMTP_PASSWORD": "FAKE-set", "smtp_password": "FAKE-set"}
    with pytest.raises(UnresolvableReference) as caught:
        resolve(config, environ)
    assert isinstance(caught.value, MissingEnvironment)  # what the platform catches
    message = str(caught.value)
    assert "/a" in message and "[A-Z_][A-Z0-9_]*" in message and "FAKE" not in message


def test_resolve_never_echoes_a_name_shaped_like_a_secret():
    with pytest.raises(UnresolvableReference) as caught:
        resolve({"a": "${sk_live_" + "a" * 24 + "}"})
    assert "sk_live" not in str(caught.value)


def _project(tmp_path, documents):
    return make_project(tmp_path, {tid: doc for tid, doc in documents.items()})


def _doc(tenant_id, **smtp):
    document = valid_document(tenant_id)
    document["email"]["smtp"].update(smtp)
    return document


def test_check_env_calls_a_name_the_runtime_cannot_resolve_missing_even_when_set(tmp_path):
    project = _project(
        tmp_path,
        {
            "9lives": _doc("9lives", password="${smtp_password}"),
            "ok": _doc("ok", password="FAKE-p"),
        },
    )
    results = load_tenants(Settings(project)).results
    variables = {
        v.name: v.status
        for v in check_environment(results, {"smtp_password": "x", "OK_SMTP_PASSWORD": "x"})
    }
    assert variables["smtp_password"] == "missing"
    assert variables["OK_SMTP_PASSWORD"] == "set"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Same prefix: "-" and "_" both read as "_".
        (("a-b", {"extras": {"x_pwd": "FAKE-1"}}), ("a_b", {"extras": {"x_pwd": "FAKE-2"}})),
        # One prefix and a path together give the other's prefix and path.
        (("foo", {"bar": {"x_password": "FAKE-1"}}), ("foo-bar", {"x_password": "FAKE-2"})),
    ],
)  # fmt: skip
def test_two_tenants_never_share_a_per_tenant_variable(tmp_path, first, second):
    documents = {
        tenant_id: {**valid_document(tenant_id), **extra} for tenant_id, extra in (first, second)
    }
    project = _project(tmp_path, documents)
    results = {r.tenant_id: r for r in load_tenants(Settings(project)).results}
    for me, other in ((first[0], second[0]), (second[0], first[0])):
        assert not results[me].ok
        (error,) = results[me].errors
        assert f"clients/{other}/client.yaml" in error.message
        assert "cannot share a per-tenant variable" in error.message
        assert error.line and "FAKE" not in error.message


def test_the_annotated_fields_of_a_b_and_a_underscore_b_clash_too(tmp_path):
    project = _project(
        tmp_path, {"a-b": _doc("a-b", password="FAKE-1"), "a_b": _doc("a_b", password="FAKE-2")}
    )
    results = {r.tenant_id: r for r in load_tenants(Settings(project)).results}
    assert not results["a-b"].ok and not results["a_b"].ok
    assert "${A_B_SMTP_PASSWORD}" in results["a-b"].errors[0].message


def test_a_reference_of_its_own_settles_the_clash(tmp_path):
    project = _project(
        tmp_path,
        {
            "a-b": _doc("a-b", password="FAKE-1"),
            "a_b": _doc("a_b", password="${A_B_OWN_SMTP_PASSWORD:-FAKE-2}"),
        },
    )
    assert all(r.ok for r in load_tenants(Settings(project)).results)


def test_validate_and_plan_report_the_clash_and_the_lower_case_warning(tmp_path, cli, database_url):
    project = _project(
        tmp_path / "p",
        {
            "a-b": _doc("a-b", password="FAKE-1"),
            "a_b": _doc("a_b", password="FAKE-2"),
            "lower": _doc("lower", password="${smtp_password}"),
        },
    )
    done = cli("--project-dir", project, "validate", "--format", "json")
    assert done.returncode == 1 and "FAKE-" not in done.output
    by_id = {t["id"]: t for t in json.loads(done.stdout)["tenants"]}
    assert by_id["a-b"]["status"] == by_id["a_b"]["status"] == "invalid"
    (warning,) = by_id["lower"]["warnings"]
    assert warning["line"] and warning["column"] and "${smtp_password}" in warning["message"]
    text = cli("--project-dir", project, "validate", "lower")
    assert text.returncode == 0
    line, column = warning["line"], warning["column"]
    assert f"clients/lower/client.yaml:{line}:{column}" in text.output
    assert "runtime cannot resolve" in text.output
    plan = cli("--project-dir", project, "--database-url", database_url, "plan", "--format", "json")
    assert plan.returncode == 1 and "FAKE-" not in plan.output
    planned = {t["id"]: t for t in json.loads(plan.stdout)["tenants"]}
    assert planned["a-b"]["action"] == planned["a_b"]["action"] == "invalid"
    (planned_warning,) = planned["lower"]["warnings"]
    assert (planned_warning["line"], planned_warning["column"]) == (line, column)
