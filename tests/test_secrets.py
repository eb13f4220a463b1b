"""Secrets: rules, env-var naming, shapes, resolve(), check_environment, --secrets-out."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from clientdocs import SCHEMA

from tenant_migrator import secretrefs
from tenant_migrator.secretrefs import (
    KEPT,
    REFERENCED,
    REMOVED,
    MissingEnvironment,
    SecretReference,
    SecretsFileError,
    extract,
    resolve,
    write_secrets_file,
)
from tenant_migrator.validation import compiled_schema

RULES = compiled_schema(SCHEMA).secret_rules


def _extract(document, tenant="africastay"):
    return extract(document, tenant, RULES)


def _by_path(extraction):
    return {s.json_path: s for s in extraction.secrets}


def test_annotated_fields_become_prefixed_or_shared_references():
    document = {
        "infrastructure": {
            "openai": {"api_key": "sk-fake-openai-0000000000000000000000"},
            "vapi": {"api_key": "vapi-fake-1"},
            "supabase": {"url": "https://x.supabase.co", "anon_key": "eyJhbGc..."},
        },
        "email": {
            "sendgrid": {"api_key": "SG.fake-key-000000000.fake-secret-0000000000"},
            "smtp": {"password": "hunter2"},
        },
    }
    result = _extract(document, "safari-run")
    assert result.config == {
        "infrastructure": {
            "openai": {"api_key": "${OPENAI_API_KEY}"},
            "vapi": {"api_key": "${SAFARI_RUN_VAPI_API_KEY}"},
            "supabase": {
                "url": "https://x.supabase.co",
                "anon_key": "${SAFARI_RUN_SUPABASE_ANON_KEY}",
            },
        },
        "email": {
            "sendgrid": {"api_key": "${SAFARI_RUN_SENDGRID_API_KEY}"},
            "smtp": {"password": "${SAFARI_RUN_SMTP_PASSWORD}"},
        },
    }
    found = _by_path(result)
    assert found["/infrastructure/openai/api_key"].scope == secretrefs.SHARED
    assert found["/email/smtp/password"].literal == "hunter2"
    assert all(s.action == REFERENCED and s.reason == "schema" for s in result.secrets)


def test_existing_references_are_kept_unchanged():
    document = {"email": {"smtp": {"password": "${SMTP_PASSWORD}"}}, "x": "${REGION:-eu}"}
    result = _extract(document)
    assert result.config == document
    (kept,) = result.secrets
    assert (kept.action, kept.env_var, kept.literal) == (KEPT, "SMTP_PASSWORD", None)


def test_a_literal_default_in_a_secret_reference_is_moved_out():
    document = {"email": {"smtp": {"password": "${SMTP_PASSWORD:-hunter2}"}}}
    result = _extract(document)
    assert result.config == {"email": {"smtp": {"password": "${SMTP_PASSWORD}"}}}
    (moved,) = result.secrets
    assert (moved.action, moved.env_var, moved.literal) == (REFERENCED, "SMTP_PASSWORD", "hunter2")


def test_service_key_is_removed_entirely_even_as_a_reference():
    for value in ("${SUPABASE_SERVICE_KEY}", "eyJservice.literal", None):
        document = {"infrastructure": {"supabase": {"url": "u", "service_key": value}}}
        result = _extract(document)
        assert result.config == {"infrastructure": {"supabase": {"url": "u"}}}
        (removed,) = result.secrets
        assert (removed.action, removed.env_var) == (REMOVED, "SUPABASE_SERVICE_KEY")
        assert removed.literal == (value if value == "eyJservice.literal" else None)


@pytest.mark.parametrize(
    "key",
    [
        "db_password",
        "Password",
        "client_secret",
        "webhook-token",
        "stripe_api_key",
        "apiKey",
        "ssh_private_key",
        "privateKey",
    ],
)
def test_secret_key_names_anywhere(key):
    result = _extract({"extras": {"deep": [{key: "some literal value"}]}}, "beach-resorts")
    (found,) = result.secrets
    pointer = f"/extras/deep/0/{key}"
    assert found.json_path == pointer and found.reason == "key-name"
    name = secretrefs.env_name_for_path("beach-resorts", pointer)
    assert name.startswith("BEACH_RESORTS_EXTRAS_DEEP_0_")
    assert result.config["extras"]["deep"][0][key] == "${" + name + "}"


def test_non_string_and_empty_values_under_secret_names_are_left_alone():
    document = {"password_reset_enabled": True, "max_tokens": 4096, "token": "", "secret": None}
    result = _extract(document)
    assert result.config == document and result.secrets == ()


SHAPES = {
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJlLWZha2U",
    "openai": "sk-proj-FAKEFAKEFAKEFAKEFAKE0000",
    "sendgrid": "SG.fakefakefake00.fakefakefakefake0000",
    "aws_access_key": "AKIAFAKEFAKEFAKE0000",
    "stripe": "sk_live_FAKEFAKEFAKE000000",
    "private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIfake\n-----END RSA PRIVATE KEY-----",
    "github": "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE0000",
}


@pytest.mark.parametrize(("kind", "value"), SHAPES.items())
def test_secret_shapes_are_found_under_any_key(kind, value):
    result = _extract({"notes": {"misc": value}})
    (found,) = result.secrets
    assert found.reason == f"shape:{kind}"
    assert result.config == {"notes": {"misc": "${AFRICASTAY_NOTES_MISC}"}}
    assert result.problems == ()  # the whole value was the secret


def test_a_secret_inside_a_longer_value_moves_the_whole_value():
    signature = "Kind regards,\nThe team\nkey: SG.fakefakefake00.fakefakefakefake0000\n"
    result = _extract({"branding": {"email_signature": signature}})
    assert result.config == {
        "branding": {"email_signature": "${AFRICASTAY_BRANDING_EMAIL_SIGNATURE}"}
    }
    (found,) = result.secrets
    assert found.literal == signature
    (warning,) = result.problems
    assert not warning.is_error and "whole value was moved" in warning.message
    assert "SG.fake" not in warning.message


@pytest.mark.parametrize(
    "harmless",
    ["helpdesk-agent-configuration-v2-long-name", "Skip-the-queue", "eyJust a word", "ASIA/Tokyo"],
)
def test_ordinary_text_is_not_mistaken_for_a_secret(harmless):
    assert _extract({"note": harmless}).secrets == ()


def test_a_secret_shaped_key_is_an_error_without_echoing_it():
    result = _extract({"extras": {"sk-proj-0000000000000000000000000000": True}})
    (error,) = result.problems
    assert error.is_error and "sk-proj" not in error.message


def test_env_names_for_paths_stay_unique():
    result = _extract({"a_b": {"token": "x1"}, "a": {"b_token": "x2"}})
    assert sorted(s.env_var for s in result.secrets) == [
        "AFRICASTAY_A_B_TOKEN",
        "AFRICASTAY_A_B_TOKEN_2",
    ]


def test_literal_is_not_in_repr():
    ref = SecretReference("/email/smtp/password", "X_SMTP_PASSWORD", REFERENCED, "hunter2")
    assert "hunter2" not in repr(ref) and "hunter2" not in str(ref.to_json())


# --- resolve ---------------------------------------------------------------------------


def test_resolve_replaces_references_and_supports_defaults():
    config = {
        "a": "${A}",
        "b": ["${B:-fallback}", "x ${A} y"],
        "c": {"d": "${C:-}"},
        "n": 5,
    }
    resolved = resolve(config, {"A": "1", "C": ""})
    assert resolved == {"a": "1", "b": ["fallback", "x 1 y"], "c": {"d": ""}, "n": 5}
    assert config["a"] == "${A}"  # not modified


def test_resolve_lists_every_missing_variable_once_without_values():
    config = {"a": "${MISSING_ONE}", "b": {"c": "${MISSING_TWO}", "d": "${MISSING_ONE}"}}
    with pytest.raises(MissingEnvironment) as caught:
        resolve(config, {"PRESENT": "secret-value"})
    err = caught.value
    assert err.missing == {"MISSING_ONE": ["/a", "/b/d"], "MISSING_TWO": ["/b/c"]}
    assert "2 environment variables are not set" in str(err)
    assert "secret-value" not in str(err)


def test_resolve_treats_empty_as_set_unless_a_default_is_given():
    assert resolve({"a": "${A}"}, {"A": ""}) == {"a": ""}
    assert resolve({"a": "${A:-d}"}, {"A": ""}) == {"a": "d"}


def test_resolve_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("TM_TEST_VAR", "v")
    assert resolve({"a": "${TM_TEST_VAR}"}) == {"a": "v"}


# --- check_environment -----------------------------------------------------------------


def test_check_environment_reports_status_without_values(tmp_path):
    from clientdocs import make_project, valid_document

    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.settings import Settings

    document = valid_document()
    document["email"]["smtp"]["password"] = "literal-password"
    document["extras"] = {"region": "${REGION:-eu}", "empty": "${EMPTY_ONE}"}
    document["infrastructure"]["supabase"]["service_key"] = "${SUPABASE_SERVICE_KEY}"
    project = make_project(tmp_path, {"acme": document})
    result = load_tenants(Settings(project))
    variables = {
        v.name: v
        for v in secretrefs.check_environment(
            result.results, {"OPENAI_API_KEY": "x", "EMPTY_ONE": ""}
        )
    }
    assert {name: v.status for name, v in variables.items()} == {
        "ACME_SMTP_PASSWORD": "missing",
        "ACME_SUPABASE_ANON_KEY": "missing",
        "EMPTY_ONE": "empty",
        "OPENAI_API_KEY": "set",
        "REGION": "default",
        "SUPABASE_SERVICE_KEY": "missing",
    }
    assert variables["OPENAI_API_KEY"].uses == (("acme", "/infrastructure/openai/api_key"),)


def test_check_environment_skips_invalid_files_and_names_each_variable_s_tenants(tmp_path):
    from clientdocs import make_project, valid_document

    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.settings import Settings

    documents: dict = {"broken": "client: [not closed\n"}  # no record: skipped
    for tenant in ("beta", "alpha"):
        documents[tenant] = valid_document()
        documents[tenant]["extras"] = {"region": "${SHARED_REGION}"}
    results = load_tenants(Settings(make_project(tmp_path, documents))).results
    assert sorted(r.tenant_id for r in results if r.record is None) == ["broken"]
    variables = {v.name: v for v in secretrefs.check_environment(results, {})}
    region = variables["SHARED_REGION"]
    assert region.tenants == ("alpha", "beta")
    assert region.to_json()["tenants"] == ["alpha", "beta"]
    assert {tenant for v in variables.values() for tenant, _ in v.uses} == {"alpha", "beta"}


def test_a_name_the_runtime_cannot_resolve_is_missing_and_required_even_with_a_default(
    tmp_path,
):
    from clientdocs import make_project, valid_document

    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.settings import Settings

    document = valid_document()
    document["extras"] = {"region": "${lower_region:-eu}"}
    results = load_tenants(Settings(make_project(tmp_path, {"acme": document}))).results
    variables = {v.name: v for v in secretrefs.check_environment(results, {"lower_region": "x"})}
    lower = variables["lower_region"]
    assert (lower.status, lower.required) == ("missing", True)


def test_the_environment_is_the_process_s_with_an_env_file_beneath_it(tmp_path):
    from tenant_migrator.secretrefs.envcheck import ENV_FILE, ENVIRONMENT, environment

    env_file = tmp_path / "prod.env"
    env_file.write_text("A=from-file\nB=from-file\n")
    both = environment(env_file, environ={"A": "from-env"})
    assert dict(both.values) == {"A": "from-env", "B": "from-file"}
    assert dict(both.sources) == {"A": ENVIRONMENT, "B": ENV_FILE}
    assert dict(environment(environ={"A": "from-env"}).values) == {"A": "from-env"}
    only = environment(env_file, env_file_only=True, environ={"A": "from-env"})
    assert dict(only.values) == {"A": "from-file", "B": "from-file"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        only.values = {}  # type: ignore[misc]


def test_an_env_file_that_is_not_utf8_is_a_usage_error_naming_it(tmp_path):
    from tenant_migrator.errors import UsageError
    from tenant_migrator.secretrefs.envcheck import environment

    env_file = tmp_path / "latin1.env"
    env_file.write_bytes(b"A=caf\xe9\n")
    with pytest.raises(UsageError, match=r"latin1.env: cannot read it \(not UTF-8 text\)"):
        environment(env_file, environ={})


def test_an_env_file_that_is_missing_is_a_usage_error_and_a_bare_name_sets_nothing(
    tmp_path, monkeypatch
):
    from tenant_migrator.errors import UsageError
    from tenant_migrator.secretrefs.envcheck import environment

    with pytest.raises(UsageError, match=r"nope\.env: no such file"):
        environment(tmp_path / "nope.env", environ={})
    env_file = tmp_path / "prod.env"
    env_file.write_text("JUST_A_NAME\nSET_ONE=1\n")
    assert dict(environment(env_file, environ={}).values) == {"SET_ONE": "1"}
    monkeypatch.setenv("TM_FROM_THE_PROCESS_FAKE", "yes")
    assert environment(env_file).values["TM_FROM_THE_PROCESS_FAKE"] == "yes"


# --- --secrets-out ---------------------------------------------------------------------


def _refs(**values):
    return [SecretReference(f"/{k}", k, REFERENCED, v) for k, v in values.items()]


def test_secrets_file_is_0600_from_creation_and_round_trips(tmp_path):
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        target = tmp_path / "secrets.env"
        values = {
            "PLAIN": "abc-123_x.y",
            "SPACED": "two words",
            "MULTI": "-----BEGIN KEY-----\nline\n-----END KEY-----\n",
            "QUOTES": 'say "hi" \\ back\\slash\ttab',
            "DOLLAR": "${NOT_EXPANDED}",
        }
        assert write_secrets_file(target, _refs(**values)) == len(values)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # Read back by the reader the platform uses (every reader: test_dotenv_readers.py).
    from dotenv import dotenv_values

    parsed = {k: v for k, v in dotenv_values(target).items() if k in values}
    assert parsed == values


def test_secrets_file_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "secrets.env"
    target.write_text("precious\n")
    with pytest.raises(SecretsFileError, match="already exists"):
        write_secrets_file(target, _refs(A="1"))
    assert target.read_text() == "precious\n"
    target.chmod(0o644)
    write_secrets_file(target, _refs(A="1"), force=True)
    assert "A=1" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_an_existing_secrets_file_is_refused_up_front_unless_forced(tmp_path):
    # The check commands run before any work, so a refusal comes before anything is
    # done; with --force the file is replaced at the end instead.
    target = tmp_path / "secrets.env"
    secretrefs.refuse_existing(target, force=False)  # nothing there yet
    target.write_text("precious\n")
    with pytest.raises(SecretsFileError, match="already exists"):
        secretrefs.refuse_existing(target, force=False)
    with pytest.raises(SecretsFileError, match="already exists"):
        secretrefs.check_target(target, force=False)
    secretrefs.refuse_existing(target, force=True)
    secretrefs.check_target(target, force=True)


def test_a_forced_write_that_cannot_replace_the_file_is_an_error_and_leaves_no_temp(tmp_path):
    target = tmp_path / "secrets.env"
    target.mkdir()  # os.replace cannot put a file over a non-empty directory
    (target / "keep").write_text("")
    with pytest.raises(SecretsFileError, match="cannot write"):
        write_secrets_file(target, _refs(A="fake-value"), force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.env"]
    assert [p.name for p in target.iterdir()] == ["keep"]


def test_a_secrets_file_in_a_missing_directory_is_refused_before_any_work(tmp_path):
    from tenant_migrator.errors import UsageError

    with pytest.raises(UsageError, match="does not exist; create it first"):
        secretrefs.check_target(tmp_path / "missing" / "secrets.env", force=False)
    with pytest.raises(UsageError, match="is a directory"):
        secretrefs.check_target(tmp_path, force=True)


def test_a_value_with_a_dollar_gets_the_helper_variable_and_the_line_that_explains_it(tmp_path):
    target = tmp_path / "secrets.env"
    write_secrets_file(target, _refs(A="fake$value"))
    lines = target.read_text().splitlines()
    assert "# TENANT_MIGRATOR_DOLLAR: spell $ and ` below." in lines
    assert "TENANT_MIGRATOR_DOLLAR='$'" in lines


_WRITE_UNDER_A_FILE_SIZE_LIMIT = """
import resource, signal, sys
from tenant_migrator.secretrefs import REFERENCED, SecretReference, SecretsFileError
from tenant_migrator.secretrefs import write_secrets_file

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
try:
    write_secrets_file(sys.argv[1], [SecretReference("/a", "A", REFERENCED, "fake-value")])
except SecretsFileError as err:
    print("refused:", err)
else:
    print("written")
"""


def test_a_write_that_fails_half_way_is_an_error_and_leaves_no_file(tmp_path):
    # A real failing write: the child process may write 16 bytes per file at most.
    import subprocess
    import sys

    target = tmp_path / "secrets.env"
    out = subprocess.run(
        [sys.executable, "-c", _WRITE_UNDER_A_FILE_SIZE_LIMIT, str(target)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("refused: cannot write")
    assert out.rstrip().endswith(": File too large")  # the write's own error (EFBIG) is named
    assert "fake-value" not in out
    assert list(tmp_path.iterdir()) == []


def test_secrets_file_never_follows_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / "secrets.env"
    link.symlink_to(victim)
    with pytest.raises(SecretsFileError):
        write_secrets_file(link, _refs(A="1"))
    assert victim.read_text() == "keep\n"


def test_conflicting_values_for_one_variable_are_refused_without_values(tmp_path):
    target = tmp_path / "secrets.env"
    refs = [
        SecretReference("/a", "OPENAI_API_KEY", REFERENCED, "value-one"),
        SecretReference("/b", "OPENAI_API_KEY", REFERENCED, "value-two"),
    ]
    with pytest.raises(SecretsFileError) as caught:
        write_secrets_file(target, refs)
    assert "OPENAI_API_KEY" in str(caught.value)
    assert "value-one" not in str(caught.value) and "value-two" not in str(caught.value)
    assert not target.exists()


def test_removed_literals_are_written_too_and_kept_references_are_not(tmp_path):
    target = tmp_path / "secrets.env"
    refs = [
        SecretReference("/s", "SUPABASE_SERVICE_KEY", REMOVED, "service-literal"),
        SecretReference("/k", "KEPT_ONE", KEPT, None),
    ]
    assert write_secrets_file(target, refs) == 1
    assert "SUPABASE_SERVICE_KEY=service-literal" in target.read_text()


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(SecretsFileError, match="cannot write"):
        write_secrets_file(tmp_path / "nope" / "s.env", _refs(A="1"))


def test_write_secrets_accepts_tenant_results(tmp_path):
    from clientdocs import copy_samples

    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.settings import Settings

    project = copy_samples(tmp_path / "p")
    result = load_tenants(Settings(project))
    target = tmp_path / "s.env"
    count = write_secrets_file(target, result.results)
    text = target.read_text()
    assert count == len({s.env_var for r in result.results for s in r.secrets if s.literal})
    assert "AFRICASTAY_SENDGRID_API_KEY=SG.fake-africastay-key-0000" in text
    assert Path(target).stat().st_mode & 0o077 == 0
