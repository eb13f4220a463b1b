"""The ``--secrets-out`` file reads back exactly with every reader it is meant for.

Three real readers, no parser of our own: python-dotenv's ``dotenv_values`` (which
expands ``${NAME}`` in every value), and ``set -a; . FILE`` in sh (dash) and in
bash, whose environment is dumped with ``env -0``. A value none of them can agree
on (a carriage return, a NUL) is refused, naming tenant and path, never the value.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenant_migrator.secretrefs import (
    REFERENCED,
    REMOVED,
    SecretReference,
    SecretsFileError,
    write_secrets_file,
)
from tenant_migrator.secretrefs.dotenv import BACKTICK_VAR, DOLLAR_VAR

SHELLS = [name for name in ("sh", "dash", "bash") if shutil.which(name)]
HELPERS = {DOLLAR_VAR, BACKTICK_VAR}

# Each row: a value a secret may hold, and why it is here.
VALUES = {
    "PLAIN": "abc-123_x.y:z@h+1,2=3",
    "EMPTY": "",
    "SPACED": "two words",
    "BRACED": "x${HOME}y",  # python-dotenv expanded this to x/rooty
    "DOLLAR_NAME": "p$HOME$1$$$",
    "DOLLAR_END": "ends-with-$",
    "DEFAULT_SYNTAX": "${SMTP_PASSWORD:-hunter2}",
    "BACKTICKS": "`id` and $(id)",
    "SINGLE": "it's 'quoted'",
    "DOUBLE": 'say "hi"',
    "BACKSLASHES": "a\\b\\\\c\\n\\t\\'\\\"\\$\\`\\",
    "TRAILING_BACKSLASH": "ends-with\\",
    "MULTI": "-----BEGIN KEY-----\nline one\n\nline three\n-----END KEY-----\n",
    "NEWLINE_FIRST": "\nstarts with a newline",
    "BACKSLASH_NEWLINE": "a\\\nb",
    "TAB": "a\tb",
    "HASH": "# not a comment #x",
    "SPACE_HASH": "value #with hash",
    "LEADING_SPACES": "  padded  ",
    "UNICODE": "Karibu — Arusha ✓ ü",
    "EQUALS_QUOTE": "a='b'\"c\"",
    "EVERYTHING": "'\"`$\\ ${X} $(y) \n\t#!*?[a]~&;|<>",
}


def _refs(values: dict[str, str]) -> list[SecretReference]:
    return [SecretReference(f"/{name.lower()}", name, REFERENCED, v) for name, v in values.items()]


def _read_with_shell(shell: str, path: Path) -> dict[str, str]:
    # An empty environment, so only the file's variables (and the shell's own few) show.
    out = subprocess.run(
        [shutil.which(shell), "-c", f'set -a; . "{path}"; env -0'],
        capture_output=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/home/reader"},
        check=True,
    ).stdout
    pairs = (item.decode("utf-8").partition("=") for item in out.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def _read_all(path: Path, names: set[str]) -> dict[str, dict[str, str]]:
    readers = {"python-dotenv": dict(dotenv_values(path))}
    for shell in SHELLS:
        readers[shell] = _read_with_shell(shell, path)
    return {reader: {k: v for k, v in got.items() if k in names} for reader, got in readers.items()}


def test_the_real_shells_are_there():
    # Without them the table below would compare python-dotenv with itself.
    assert "sh" in SHELLS and "bash" in SHELLS


def test_every_value_of_the_table_reads_back_exactly_with_every_reader(tmp_path):
    target = tmp_path / "secrets.env"
    assert write_secrets_file(target, _refs(VALUES)) == len(VALUES)
    for reader, got in _read_all(target, set(VALUES)).items():
        assert got == VALUES, reader


def test_helpers_are_defined_only_when_a_value_needs_them(tmp_path):
    plain = tmp_path / "plain.env"
    write_secrets_file(plain, _refs({"A": 'it\'s "fine"\nsecond line'}))
    assert DOLLAR_VAR not in plain.read_text() and BACKTICK_VAR not in plain.read_text()
    dollar = tmp_path / "dollar.env"
    write_secrets_file(dollar, _refs({"A": "a$b"}))
    assert f"{DOLLAR_VAR}='$'" in dollar.read_text()
    assert BACKTICK_VAR not in dollar.read_text()
    for reader, got in _read_all(dollar, {"A", DOLLAR_VAR}).items():
        assert got == {"A": "a$b", DOLLAR_VAR: "$"}, reader


# Everything a secret can hold but a carriage return and NUL (refused, below).
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
    max_size=40,
)
_SPECIAL = st.text(alphabet="'\"`$\\{}()\n\t #=:-!*~", max_size=20)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(_TEXT, _SPECIAL), min_size=1, max_size=6))
def test_any_value_reads_back_exactly_with_every_reader(tmp_path, values):
    named = {f"V_{i}": value for i, value in enumerate(values)}
    target = tmp_path / "secrets.env"
    write_secrets_file(target, _refs(named), force=True)
    for reader, got in _read_all(target, set(named)).items():
        assert got == named, reader


@pytest.mark.parametrize(
    ("value", "why"),
    [("line\r\nnext", "carriage return"), ("a\rb", "carriage return"), ("a\x00b", "NUL")],
)
def test_a_value_no_reader_pair_agrees_on_is_refused_naming_tenant_and_path(tmp_path, value, why):
    from tenant_migrator.pipeline import TenantResult

    target = tmp_path / "secrets.env"
    result = TenantResult(
        "acme",
        tmp_path / "client.yaml",
        None,
        (),
        (
            SecretReference("/email/smtp/password", "ACME_SMTP_PASSWORD", REFERENCED, value),
            SecretReference("/ok", "ACME_OK", REFERENCED, "fine"),
        ),
    )
    with pytest.raises(SecretsFileError) as caught:
        write_secrets_file(target, [result])
    message = str(caught.value)
    assert "acme /email/smtp/password → ACME_SMTP_PASSWORD" in message
    assert why in message and "ACME_OK" not in message
    assert value not in message
    assert not target.exists()


def test_a_variable_named_like_a_helper_is_refused(tmp_path):
    target = tmp_path / "secrets.env"
    with pytest.raises(SecretsFileError, match=DOLLAR_VAR):
        write_secrets_file(target, _refs({DOLLAR_VAR: "x"}))
    assert not target.exists()


def test_the_service_keys_default_literal_reaches_the_file_and_reads_back(tmp_path):
    """``service_key: ${SUPABASE_SERVICE_KEY:-<literal>}``: the field is removed from the
    config, and its default literal is what the platform needs in its environment."""
    from clientdocs import valid_document, write_client

    from tenant_migrator.pipeline import load_tenants
    from tenant_migrator.settings import Settings

    literal = "fake-service-$key-`x`-0000000000"
    document = valid_document("acme")
    document["infrastructure"]["supabase"]["service_key"] = (
        "${SUPABASE_SERVICE_KEY:-" + literal + "}"
    )
    project = tmp_path / "p"
    write_client(project, "acme", document)
    result = load_tenants(Settings(project))
    assert result.ok, [p.format() for r in result.results for p in r.problems]
    removed = [s for s in result.results[0].secrets if s.action == REMOVED]
    assert [s.env_var for s in removed] == ["SUPABASE_SERVICE_KEY"]
    target = tmp_path / "s.env"
    write_secrets_file(target, result.results)
    for reader, got in _read_all(target, {"SUPABASE_SERVICE_KEY"}).items():
        assert got == {"SUPABASE_SERVICE_KEY": literal}, reader
