"""``check-env --env-file FILE``: the referenced variables checked against a dotenv
file (as python-dotenv reads it) beneath the environment, or alone; never a value."""

from __future__ import annotations

import json

from clientdocs import copy_samples
from dotenv import dotenv_values

AFRICASTAY = (
    "AFRICASTAY_SENDGRID_API_KEY",
    "AFRICASTAY_SMTP_PASSWORD",
    "AFRICASTAY_SUPABASE_ANON_KEY",
    "AFRICASTAY_VAPI_API_KEY",
    "OPENAI_API_KEY",
    "SUPABASE_SERVICE_KEY",
)


def _check(cli, project, *args, env=None):
    result = cli(
        "--project-dir", project, "check-env", "africastay", "--format", "json", *args, env=env
    )
    assert result.returncode in (0, 1), result.output
    report = json.loads(result.stdout)
    by_name = {v["name"]: (v["status"], v["source"]) for v in report["variables"]}
    return result, by_name


def test_the_secrets_out_file_of_validate_satisfies_check_env(tmp_path, cli):
    """The round trip a user makes: extract with validate, check with check-env."""
    project = copy_samples(tmp_path / "p")
    secrets = tmp_path / "secrets.env"
    cli("--project-dir", project, "validate", "--secrets-out", secrets)
    # The file holds the extracted literals; add what no file of africastay held.
    extracted = dotenv_values(secrets)
    assert "AFRICASTAY_SMTP_PASSWORD" in extracted
    added = [name for name in AFRICASTAY if name not in extracted]
    secrets.write_text(secrets.read_text() + "".join(f"{n}='from-file'\n" for n in added))
    result, by_name = _check(cli, project, "--env-file", secrets)
    assert result.returncode == 0, result.output
    assert {name for name, (status, _) in by_name.items() if status == "set"} == set(AFRICASTAY)
    assert by_name["AFRICASTAY_SMTP_PASSWORD"] == ("set", "env-file")
    for secret in ("fake-smtp-password-not-real", "SG.fake-africastay", "from-file"):
        assert secret not in result.output


def test_the_environment_wins_over_the_file_even_when_empty(tmp_path, cli):
    project = copy_samples(tmp_path / "p")
    env_file = tmp_path / "f.env"
    env_file.write_text("".join(f"{name}=from-file-{i}\n" for i, name in enumerate(AFRICASTAY)))
    env = {"OPENAI_API_KEY": "from-environment", "AFRICASTAY_VAPI_API_KEY": ""}
    result, by_name = _check(cli, project, "--env-file", env_file, env=env)
    assert by_name["OPENAI_API_KEY"] == ("set", "environment")
    # Set but empty in the environment: load_dotenv would not override it either.
    assert by_name["AFRICASTAY_VAPI_API_KEY"] == ("empty", "environment")
    assert by_name["AFRICASTAY_SMTP_PASSWORD"] == ("set", "env-file")
    assert result.returncode == 1
    assert "from-file" not in result.output and "from-environment" not in result.output
    # The file alone: the environment's values do not count, nor its empty one.
    alone, by_name = _check(cli, project, "--env-file", env_file, "--env-file-only", env=env)
    assert alone.returncode == 0, alone.output
    assert {source for _, source in by_name.values()} == {"env-file"}


def test_the_file_is_read_as_python_dotenv_reads_it(tmp_path, cli):
    """python-dotenv semantics, not ours: `${X}` expands (to nothing when X is unset),
    a name without `=` sets nothing, a comment is no value."""
    project = copy_samples(tmp_path / "p")
    env_file = tmp_path / "f.env"
    env_file.write_text(
        "AFRICASTAY_SMTP_PASSWORD=${NOT_SET_ANYWHERE}\n"  # expands to ""
        "AFRICASTAY_VAPI_API_KEY\n"  # no value at all
        "# OPENAI_API_KEY=commented-out\n"
        "AFRICASTAY_SENDGRID_API_KEY='multi\nline'\n"
        'SUPABASE_SERVICE_KEY="a ${NOT_SET_ANYWHERE}b"\n'
    )
    env = {"NOT_SET_ANYWHERE": ""}
    _, by_name = _check(cli, project, "--env-file", env_file, "--env-file-only", env=env)
    assert by_name["AFRICASTAY_SMTP_PASSWORD"] == ("empty", "env-file")
    assert by_name["AFRICASTAY_VAPI_API_KEY"] == ("missing", None)
    assert by_name["OPENAI_API_KEY"] == ("missing", None)
    assert by_name["AFRICASTAY_SENDGRID_API_KEY"] == ("set", "env-file")
    assert by_name["SUPABASE_SERVICE_KEY"] == ("set", "env-file")


def test_text_output_says_where_each_value_came_from(tmp_path, cli):
    project = copy_samples(tmp_path / "p")
    env_file = tmp_path / "f.env"
    env_file.write_text("AFRICASTAY_SMTP_PASSWORD=hunter2-fake\n")
    result = cli(
        "--project-dir", project, "check-env", "africastay", "--env-file", env_file,
        env={"OPENAI_API_KEY": "env-fake"},
    )  # fmt: skip
    assert result.returncode == 1
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "env-file" in lines["AFRICASTAY_SMTP_PASSWORD"]
    assert "environment" in lines["OPENAI_API_KEY"]
    assert "hunter2-fake" not in result.output and "env-fake" not in result.output


def test_a_missing_env_file_or_only_without_a_file_is_a_usage_error(tmp_path, cli):
    project = copy_samples(tmp_path / "p")
    missing = cli("--project-dir", project, "check-env", "--env-file", tmp_path / "nope.env")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in missing.output
    only = cli("--project-dir", project, "check-env", "--env-file-only")
    assert only.returncode == 2 and "--env-file-only needs --env-file" in only.stderr
