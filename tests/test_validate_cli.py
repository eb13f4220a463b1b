"""`validate` and `check-env`, run in-process (`cli.main`, the `cli` fixture): output,
exit codes, files."""

from __future__ import annotations

import json
import re
import stat

from clientdocs import BAD_INPUTS, copy_samples, make_project, valid_document


def test_samples_validate_with_exit_0(tmp_path, cli):
    project = copy_samples(tmp_path)
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 0, result.output
    assert "5 of 5 tenants valid" in result.stdout
    for tenant in ("africastay", "beachresorts", "example", "safariexplore-kvph", "safarirun-t0vc"):
        assert tenant in result.stdout
    # The extraction shows: literal → reference, service key removed.
    assert "secret → ${AFRICASTAY_SENDGRID_API_KEY}" in result.stdout
    assert "removed from tenant_config" in result.stdout
    assert "SG.fake" not in result.output
    assert result.stderr == ""


def test_every_bad_input_class_exits_1_with_file_line_and_no_traceback(tmp_path, cli):
    tenants = {tenant: content for tenant, content, *_ in BAD_INPUTS}
    tenants["good"] = valid_document("good")
    project = make_project(tmp_path, tenants)
    result = cli("validate", cwd=project)
    assert result.returncode == 1
    assert "Traceback" not in result.output
    for tenant, _content, line, _column, fragment in BAD_INPUTS:
        assert f"clients/{tenant}/client.yaml:{line}:" in result.stdout, tenant
        assert fragment in result.stdout, tenant
    assert f"{len(BAD_INPUTS)} of {len(tenants)} tenants invalid" in result.stdout


def test_json_format_has_the_documented_keys(tmp_path, cli):
    bad = valid_document("bad")
    bad["client"]["currency"] = "XYZ"
    project = make_project(tmp_path, {"good": valid_document("good"), "bad": bad})
    result = cli("--project-dir", project, "validate", "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert set(report) == {
        "format_version",
        "valid",
        "summary",
        "problems",
        "excluded",
        "tenants",
    }
    assert report["valid"] is False
    assert set(report["summary"]) == {
        "tenants",
        "valid",
        "invalid",
        "errors",
        "warnings",
        "secrets_referenced",
        "secrets_removed",
        "secrets_kept",
        "defaults_filled",
        "excluded",
    }
    assert report["summary"]["invalid"] == 1
    by_id = {t["id"]: t for t in report["tenants"]}
    assert set(by_id["bad"]) == {"id", "file", "status", "errors", "warnings", "info", "secrets"}
    (error,) = by_id["bad"]["errors"]
    assert set(error) == {"file", "line", "column", "path", "message", "severity"}
    assert error["path"] == "/client/currency" and error["line"] == 6
    assert by_id["good"]["status"] == "ok"
    secret = by_id["good"]["secrets"][0]
    assert set(secret) == {"path", "env_var", "action", "scope", "reason", "line", "column"}


def test_selected_tenants_and_unknown_names(tmp_path, cli):
    project = copy_samples(tmp_path)
    only = cli("--project-dir", project, "validate", "beachresorts", "--format", "json")
    assert only.returncode == 0
    assert [t["id"] for t in json.loads(only.stdout)["tenants"]] == ["beachresorts"]
    unknown = cli("--project-dir", project, "validate", "africastya")
    assert unknown.returncode == 2
    assert "unknown tenant 'africastya'" in unknown.stderr
    assert "did you mean africastay" in unknown.stderr
    assert "Traceback" not in unknown.output


def test_usage_errors_exit_2(tmp_path, cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = cli("--project-dir", empty, "validate")
    assert missing.returncode == 2 and "no clients/ directory" in missing.stderr
    bad_option = cli("--project-dir", tmp_path, "validate", "--format", "yaml")
    assert bad_option.returncode == 2


def test_broken_schema_exits_1_with_a_message(tmp_path, cli):
    project = make_project(tmp_path, {"a": valid_document("a")})
    (project / "config" / "schema.json").write_text("{nope")
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 1
    assert "schema.json:1:2: not valid JSON" in result.stderr
    assert "Traceback" not in result.output


def test_secrets_out_writes_0600_and_refuses_to_overwrite(tmp_path, cli):
    project = copy_samples(tmp_path / "p")
    target = tmp_path / "secrets.env"
    first = cli("--project-dir", project, "validate", "--secrets-out", target)
    assert first.returncode == 0, first.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert "AFRICASTAY_SMTP_PASSWORD=fake-smtp-password-not-real" in text
    assert "fake-smtp-password-not-real" not in first.output
    again = cli("--project-dir", project, "validate", "--secrets-out", target)
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    assert target.read_text() == text
    forced = cli("--project-dir", project, "validate", "--secrets-out", target, "--force")
    assert forced.returncode == 0


def test_check_env_lists_unset_variables_and_never_values(tmp_path, cli):
    project = copy_samples(tmp_path)
    missing = cli("--project-dir", project, "check-env", "africastay", "--format", "json")
    assert missing.returncode == 1
    report = json.loads(missing.stdout)
    statuses = {v["name"]: v["status"] for v in report["variables"]}
    assert statuses == {
        "AFRICASTAY_SENDGRID_API_KEY": "missing",
        "AFRICASTAY_SMTP_PASSWORD": "missing",
        "AFRICASTAY_SUPABASE_ANON_KEY": "missing",
        "AFRICASTAY_VAPI_API_KEY": "missing",
        "OPENAI_API_KEY": "missing",
        "SUPABASE_SERVICE_KEY": "missing",
    }
    env = {name: f"value-of-{name.lower()}" for name in statuses}
    ok = cli("--project-dir", project, "check-env", "africastay", env=env)
    assert ok.returncode == 0, ok.output
    assert "all 6 variables are set" in ok.stdout
    assert "value-of-" not in ok.output
    text = cli("--project-dir", project, "check-env")
    assert text.returncode == 1 and "MISSING" in text.stdout


def test_check_env_with_an_invalid_tenant_exits_1(tmp_path, cli):
    bad = valid_document("bad")
    del bad["email"]
    project = make_project(tmp_path, {"bad": bad})
    result = cli("--project-dir", project, "check-env")
    assert result.returncode == 1
    assert "not checked (invalid client file" in result.stdout


def test_many_tenants_table_lists_only_those_with_something_to_say(tmp_path, cli):
    tenants = {f"t{n:03d}": valid_document(f"t{n:03d}") for n in range(60)}
    tenants["t007"]["email"]["smtp"]["password"] = "literal-one"
    project = make_project(tmp_path, tenants)
    result = cli("--project-dir", project, "validate")
    assert result.returncode == 0
    # A secret turned into a reference is info-level: one grouped line names t007;
    # its own table row and file line only with --verbose.
    assert "1 tenant: /email/smtp/password  secret → ${T007_SMTP_PASSWORD}  (t007)" in (
        result.stdout
    )
    assert "t008" not in result.stdout
    assert re.search(r"^all 60\s+│ ok ", result.stdout, re.MULTILINE)
    assert result.stdout.rstrip().splitlines()[-1].startswith("60 of 60 tenants valid")
    verbose = cli("--project-dir", project, "validate", "--verbose")
    assert "t008" in verbose.stdout and "client.yaml:" in verbose.stdout
    assert verbose.stdout.rstrip().splitlines()[-1].startswith("60 of 60 tenants valid")
