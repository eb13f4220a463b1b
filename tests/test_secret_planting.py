"""Plant fake secrets of every kind, in expected and unexpected places, and check that
none survives into records, JSON output, stdout or stderr — and that each one became
the right reference (and is in the --secrets-out file, so nothing is lost)."""

from __future__ import annotations

import json

from clientdocs import dump, make_project, valid_document
from dotenv import dotenv_values

from tenant_migrator.pipeline import load_tenants
from tenant_migrator.settings import Settings

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYW5vbiIsImZha2UiOnRydWV9.ZmFrZS1zaWc"
PEM = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAAFAKEFAKEFAKEFAKE\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)

# literal → (tenant, JSON path, expected env var)
PLANTED = {
    "sk-proj-PLANTEDopenaiFAKE000000000000": (
        "planted-one",
        "/infrastructure/openai/api_key",
        "OPENAI_API_KEY",
    ),
    "vapi-PLANTED-fake-vapi-key": (
        "planted-one",
        "/infrastructure/vapi/api_key",
        "PLANTED_ONE_VAPI_API_KEY",
    ),
    JWT: ("planted-one", "/infrastructure/supabase/anon_key", "PLANTED_ONE_SUPABASE_ANON_KEY"),
    "SG.PLANTEDsendgrid00.PLANTEDsendgridsecret00": (
        "planted-one",
        "/email/sendgrid/api_key",
        "PLANTED_ONE_SENDGRID_API_KEY",
    ),
    "PLANTED-smtp-password!": ("planted-one", "/email/smtp/password", "PLANTED_ONE_SMTP_PASSWORD"),
    "PLANTED-imap-password": ("planted-one", "/email/imap/password", "PLANTED_ONE_IMAP_PASSWORD"),
    "sk_live_PLANTEDstripeFAKE0000": (
        "planted-one",
        "/integrations/stripe/secret_key",
        "PLANTED_ONE_INTEGRATIONS_STRIPE_SECRET_KEY",
    ),
    PEM: (
        "planted-one",
        "/integrations/ssh/private_key",
        "PLANTED_ONE_INTEGRATIONS_SSH_PRIVATE_KEY",
    ),
    "PLANTED-webhook-token": ("planted-one", "/webhooks/0/token", "PLANTED_ONE_WEBHOOKS_0_TOKEN"),
    "ghp_PLANTEDgithubFAKEFAKEFAKEFAKEFAKE0000": (
        "planted-one",
        "/knowledge_base/categories/1",
        "PLANTED_ONE_KNOWLEDGE_BASE_CATEGORIES_1",
    ),
    "xoxb-PLANTED-slack-0000000000": (
        "planted-one",
        "/destinations/0/aliases/0",
        "PLANTED_ONE_DESTINATIONS_0_ALIASES_0",
    ),
    "PLANTED-consultant-api-token": (
        "planted-one",
        "/consultants/0/api_token",
        "PLANTED_ONE_CONSULTANTS_0_API_TOKEN",
    ),
    "PLANTED-reference-default": ("planted-one", "/extras/db_password", "DB_PASSWORD"),
    # Inside longer values: the whole value becomes the reference.
    "AKIAPLANTEDFAKE00000": ("planted-one", "/notes", "PLANTED_ONE_NOTES"),
    "SG.PLANTEDinsignature.PLANTEDsignaturesecret": (
        "planted-one",
        "/branding/email_signature",
        "PLANTED_ONE_BRANDING_EMAIL_SIGNATURE",
    ),
    # A second tenant: same places, its own prefix; service key literal removed.
    "PLANTED-second-smtp": ("planted-two", "/email/smtp/password", "PLANTED_TWO_SMTP_PASSWORD"),
    "PLANTED-service-key-literal": (
        "planted-two",
        "/infrastructure/supabase/service_key",
        "SUPABASE_SERVICE_KEY",
    ),
}
# Planted in a tenant that is invalid for other reasons: must not leak through messages.
INVALID_ONLY = [
    "sk-proj-PLANTEDinvalidtenant0000000000",
    "PLANTED-invalid-password",
    "SG.PLANTEDinvalid0000.PLANTEDinvalidsecret",
]


def _documents() -> dict[str, dict]:
    by_path = {(t, p): literal for literal, (t, p, _env) in PLANTED.items()}
    one = valid_document("planted-one")
    one["infrastructure"]["openai"]["api_key"] = by_path[
        "planted-one", "/infrastructure/openai/api_key"
    ]
    one["infrastructure"]["vapi"] = {
        "api_key": by_path["planted-one", "/infrastructure/vapi/api_key"]
    }
    one["infrastructure"]["supabase"]["anon_key"] = JWT
    one["email"]["sendgrid"] = {"api_key": by_path["planted-one", "/email/sendgrid/api_key"]}
    one["email"]["smtp"]["password"] = by_path["planted-one", "/email/smtp/password"]
    one["email"]["imap"]["password"] = by_path["planted-one", "/email/imap/password"]
    one["integrations"] = {
        "stripe": {"secret_key": by_path["planted-one", "/integrations/stripe/secret_key"]},
        "ssh": {"private_key": PEM},
    }
    one["webhooks"] = [{"url": "https://hooks.example/x", "token": "PLANTED-webhook-token"}]
    one["knowledge_base"] = {"categories": ["visas", "ghp_PLANTEDgithubFAKEFAKEFAKEFAKEFAKE0000"]}
    one["destinations"][0]["aliases"] = ["xoxb-PLANTED-slack-0000000000"]
    one["consultants"] = [
        {
            "id": "c1",
            "name": "C One",
            "email": "c1@acme.example",
            "active": True,
            "api_token": "PLANTED-consultant-api-token",
        }
    ]
    one["extras"] = {"db_password": "${DB_PASSWORD:-PLANTED-reference-default}"}
    one["notes"] = "Ops: the AWS key AKIAPLANTEDFAKE00000 is for the S3 uploads"
    one["branding"]["email_signature"] = (
        "Regards,\nPlanted One\nSG.PLANTEDinsignature.PLANTEDsignaturesecret\n"
    )

    two = valid_document("planted-two")
    two["infrastructure"]["openai"]["api_key"] = by_path[
        "planted-one", "/infrastructure/openai/api_key"
    ]
    two["email"]["smtp"]["password"] = "PLANTED-second-smtp"
    two["infrastructure"]["supabase"]["service_key"] = "PLANTED-service-key-literal"

    invalid = valid_document("planted-invalid")
    invalid["client"]["timezone"] = INVALID_ONLY[0]  # a secret where a time zone should be
    invalid["email"]["smtp"]["password"] = INVALID_ONLY[1]
    invalid["email"]["smtp"]["port"] = "not a port"
    invalid["email"]["sendgrid"] = {"api_key": INVALID_ONLY[2]}
    invalid["notes"] = {INVALID_ONLY[2]: True}  # even as a key
    return {"planted-one": one, "planted-two": two, "planted-invalid": invalid}


def _all_literals() -> list[str]:
    # Also each line of the multi-line ones, in case something prints a fragment.
    literals = [*PLANTED, *INVALID_ONLY]
    literals += [line for lit in literals for line in lit.splitlines() if "PLANTED" in line]
    literals += ["b3BlbnNzaC1rZXktdjEAAAAAFAKEFAKEFAKEFAKE"]
    return literals


def _assert_clean(text: str, where: str) -> None:
    for literal in _all_literals():
        assert literal not in text, f"a planted secret leaked into {where}"


def test_planted_secrets_never_reach_records_or_output(tmp_path, run_cli):
    project = make_project(tmp_path / "p", _documents())

    # Library: the records.
    result = load_tenants(Settings(project))
    by_id = {r.tenant_id: r for r in result.results}
    assert by_id["planted-one"].ok, [p.format() for p in by_id["planted-one"].errors]
    assert by_id["planted-two"].ok
    assert not by_id["planted-invalid"].ok
    for record in result.records:
        _assert_clean(json.dumps(record.tenant_config) + repr(record), "a record")
    for r in result.results:
        _assert_clean(repr(r) + "".join(p.format() for p in r.problems), "problems/repr")

    # Each literal became the right reference, at the right place (a literal inside a
    # longer value takes the whole value with it).
    found = {
        (r.tenant_id, s.json_path): (s.env_var, s.literal)
        for r in result.results
        for s in r.secrets
        if s.literal is not None
    }
    expected = {(t, p): env for _lit, (t, p, env) in PLANTED.items()}
    expected["planted-two", "/infrastructure/openai/api_key"] = "OPENAI_API_KEY"  # same literal
    assert {key: env for key, (env, _) in found.items()} == expected
    for literal, (tenant, path, _env) in PLANTED.items():
        assert literal in found[tenant, path][1]
    one = by_id["planted-one"].record.tenant_config
    assert one["email"]["smtp"]["password"] == "${PLANTED_ONE_SMTP_PASSWORD}"
    assert one["extras"]["db_password"] == "${DB_PASSWORD}"
    assert (
        one["integrations"]["ssh"]["private_key"] == "${PLANTED_ONE_INTEGRATIONS_SSH_PRIVATE_KEY}"
    )
    assert one["knowledge_base"]["categories"] == [
        "visas",
        "${PLANTED_ONE_KNOWLEDGE_BASE_CATEGORIES_1}",
    ]
    two = by_id["planted-two"].record.tenant_config
    assert "service_key" not in two["infrastructure"]["supabase"]

    # CLI, by subprocess: text and JSON, stdout and stderr.
    secrets_file = tmp_path / "secrets.env"
    text = run_cli("--project-dir", project, "validate", "--secrets-out", secrets_file)
    assert text.returncode == 1  # planted-invalid is invalid
    _assert_clean(text.stdout, "validate stdout")
    _assert_clean(text.stderr, "validate stderr")
    as_json = run_cli("--project-dir", project, "validate", "--format", "json")
    _assert_clean(as_json.output, "validate --format json")
    report = json.loads(as_json.stdout)
    referenced = {
        s["env_var"]
        for t in report["tenants"]
        for s in t["secrets"]
        if s["action"] in ("referenced", "removed")
    }
    assert referenced == {env for _t, _p, env in PLANTED.values()}
    markdown = run_cli("--project-dir", project, "validate", "--format", "markdown")
    _assert_clean(markdown.output, "validate --format markdown")
    env = run_cli("--project-dir", project, "check-env", "--format", "json")
    _assert_clean(env.output, "check-env")

    # Nothing lost: every valid tenant's literal is in the 0600 secrets file.
    written = secrets_file.read_text()
    parsed = dotenv_values(secrets_file)
    for literal, (_tenant, _path, env_var) in PLANTED.items():
        assert literal in parsed[env_var]
    for literal in INVALID_ONLY:
        assert literal not in written


def test_shared_secret_with_different_literals_blocks_both_tenants(tmp_path):
    a, b = valid_document("a"), valid_document("b")
    a["infrastructure"]["openai"]["api_key"] = "sk-fake-first-0000000000000000000000"
    b["infrastructure"]["openai"]["api_key"] = "sk-fake-second-000000000000000000000"
    same = valid_document("same")
    same["infrastructure"]["openai"]["api_key"] = "sk-fake-first-0000000000000000000000"
    project = make_project(tmp_path, {"a": a, "b": b, "same": same})
    results = {r.tenant_id: r for r in load_tenants(Settings(project)).results}
    for tenant in ("a", "b", "same"):
        assert not results[tenant].ok
        (error,) = results[tenant].errors
        assert error.json_path == "/infrastructure/openai/api_key" and error.line
        assert "${OPENAI_API_KEY}" in error.message
        assert "sk-fake" not in error.message
    assert "b" in results["a"].errors[0].message


def test_planted_yaml_text_is_what_the_files_hold(tmp_path):
    """Guard against the planting itself silently changing: the files hold the literals."""
    project = make_project(tmp_path, _documents())
    text = (project / "clients" / "planted-one" / "client.yaml").read_text()
    assert "PLANTED-smtp-password!" in text
    assert dump(_documents()["planted-one"]) == text
