"""Values read from the database never reach a report as they are: a secret an admin
pasted into a row (shaped like one, or under a secret-looking key) is shown as
``<redacted>`` in the JSON, Markdown and text plans, the rollback preview, and a
connection error never repeats a ``PGPASSWORD``. Pure: no database.

Each test here kills a mutant that survived the rest of the suite (tests/MUTATION.md).
"""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from tenant_migrator import database, redaction
from tenant_migrator.planning import Action, BlockedReason, Change, Op, Plan, TenantPlan
from tenant_migrator.report import plan as plan_report
from tenant_migrator.report import runs as runs_report
from tenant_migrator.store.rollback import RollbackEntry, RollbackOutcome
from tenant_migrator.store.tables import RowAction

# Fake values of the documented shapes (an OpenAI key is sk- and 20+ of [A-Za-z0-9_-]).
SHAPED = "sk-" + "FAKE" * 6 + "0000"
SHAPED_2 = "sk-" + "FAKE" * 6 + "1111"
# No shape at all: only its key (``password``) says it is a secret.
BY_KEY = "correct-horse-battery"
SECRETS = (SHAPED, SHAPED_2, BY_KEY)


def _drifted(**extra) -> TenantPlan:
    """A tenant whose row was edited in the database: both sides of a drift change
    come from the database."""
    return TenantPlan(
        id="africastay",
        action=Action.BLOCKED,
        reason=BlockedReason.EDITED,
        drift_run=3,
        drift=(
            Change("/tenant_config/openai/api_key", Op.REPLACE, SHAPED, SHAPED_2),
            Change("/tenant_config/email/smtp/password", Op.ADD, None, BY_KEY),
            Change("/tenant_config/branding/tagline", Op.REPLACE, "old words", "new words"),
        ),
        changes=(
            # old: the database's; new: the record's (a reference, never a literal).
            Change(
                "/tenant_config/openai/api_key", Op.REPLACE, SHAPED_2, "${AFRICASTAY_OPENAI_KEY}"
            ),
        ),
        **extra,
    )


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_json_plan_redacts_both_sides_of_drift_and_the_database_side_of_changes():
    out = plan_report.tenant_to_json(_drifted())
    _assert_clean(json.dumps(out))
    drift = {c["path"]: c for c in out["drift"]}
    assert drift["/tenant_config/openai/api_key"]["old"] == redaction.REDACTED
    assert drift["/tenant_config/openai/api_key"]["new"] == redaction.REDACTED
    assert drift["/tenant_config/email/smtp/password"]["new"] == redaction.REDACTED
    assert drift["/tenant_config/branding/tagline"]["new"] == "new words"
    (change,) = out["changes"]
    assert change["old"] == redaction.REDACTED
    assert change["new"] == "${AFRICASTAY_OPENAI_KEY}"


def test_markdown_plan_redacts_database_values_and_ends_each_table_with_a_blank_line():
    text = plan_report.render_markdown(Plan(tenants=(_drifted(),)))
    _assert_clean(text)
    assert text.count(redaction.REDACTED) == 4  # drift: old+new, password add; change: old
    assert '`"new words"`' in text and '`"${AFRICASTAY_OPENAI_KEY}"`' in text
    lines = text.splitlines()
    # A Markdown table runs until a blank line: each must end with one.
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and not lines[i + 1].startswith("|"):
            assert lines[i + 1] == "", (line, lines[i + 1])


def _text(render, *args) -> str:
    buffer = io.StringIO()
    render(*args, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def test_text_plan_redacts_drift_and_what_force_would_write():
    text = _text(plan_report.render_text, Plan(tenants=(_drifted(),)))
    _assert_clean(text)
    assert text.count(redaction.REDACTED) == 4
    assert "new words" in text and "${AFRICASTAY_OPENAI_KEY}" in text


def test_text_plan_redacts_the_database_side_of_a_forced_update():
    forced = TenantPlan(
        id="africastay",
        action=Action.UPDATE,
        forced=True,
        reason=BlockedReason.EDITED,
        changes=(Change("/tenant_config/email/smtp/password", Op.REPLACE, BY_KEY, "${X}"),),
    )
    text = _text(plan_report.render_text, Plan(tenants=(forced,)))
    _assert_clean(text)
    assert f'password: "{redaction.REDACTED}" → "${{X}}"' in text


def test_rollback_preview_redacts_both_sides():
    """A rollback restores previous values over the current row: both from the database."""
    outcome = RollbackOutcome(
        run_id=5,
        dry_run=True,
        entries=(
            RollbackEntry(
                "africastay",
                RowAction.RESTORE,
                (
                    Change("/tenant_config/openai/api_key", Op.REPLACE, SHAPED, SHAPED_2),
                    Change("/tenant_config/email/smtp/password", Op.ADD, None, BY_KEY),
                ),
            ),
        ),
    )
    text = _text(runs_report.render_rollback, outcome)
    _assert_clean(text)
    assert text.count(redaction.REDACTED) == 3


def test_a_reference_under_a_secret_key_is_shown_and_a_literal_is_not():
    assert redaction.redact({"password": "${SMTP_PASSWORD}"}) == {"password": "${SMTP_PASSWORD}"}
    assert redaction.redact({"password": BY_KEY}) == {"password": redaction.REDACTED}
    assert redaction.redact([BY_KEY], "api-key") == [redaction.REDACTED]
    assert redaction.redact({"note": BY_KEY, "n": 3}) == {"note": BY_KEY, "n": 3}


def test_redact_change_uses_the_last_path_segment_as_the_key():
    change = Change("/tenant_config/smtp~1x/password", Op.REPLACE, BY_KEY, "${P}")
    redacted = redaction.redact_change(change)
    assert redacted == Change(change.path, Op.REPLACE, redaction.REDACTED, "${P}")
    keyed_by_escape = Change("/tenant_config/a~1api_key", Op.ADD, None, BY_KEY)
    assert redaction.redact_change(keyed_by_escape).new == redaction.REDACTED


KEYS_16 = {f"key_{c}": 1 for c in "abcdefghijklmnop"}
KEYS_8 = {f"key_{c}": 1 for c in "abcdefgh"}  # over 60 as JSON; its keys fit


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x" * 58, json.dumps("x" * 58)),  # 60 with its quotes: fits
        ("x" * 59, '"' + "x" * 58 + "…"),  # 61: cut to 59 and an ellipsis
        (["abcd"] * 15, "[15 items]"),  # 15 items fit the 60 // 4 quick check; too long
        (list(range(15)), json.dumps(list(range(15)))),
        (list(range(16)), "[16 items]"),  # more than 60 // 4 items: not serialized at all
        ({"k": "v"}, '{"k": "v"}'),
        (KEYS_16, "{16 keys: " + ", ".join(KEYS_16)[:60] + "…}"),
        (KEYS_8, "{8 keys: " + ", ".join(KEYS_8) + "}"),
    ],
)
def test_short_value_at_and_around_its_width(value, shown):
    assert redaction.short_value(value) == shown


# --- PGPASSWORD -------------------------------------------------------------------------

ENV_PASSWORD = "pg-env-Pa55word-fake"


def test_a_pgpassword_is_redacted_from_a_connection_error(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", ENV_PASSWORD)
    target = database.Target(url=None)
    message = f'password authentication failed for "{ENV_PASSWORD}"'
    assert database.redact(message, target) == 'password authentication failed for "***"'


def test_a_pgpassword_is_redacted_even_when_the_url_has_a_password_too(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", ENV_PASSWORD)
    target = database.Target(url="postgresql://u:urlsecret-fake@db.example/postgres")
    message = f"{ENV_PASSWORD} and urlsecret-fake"
    assert database.redact(message, target) == "*** and ***"


def test_without_pgpassword_an_ordinary_message_is_left_alone(monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    message = "connection refused at 127.0.0.1:1"
    assert database.redact(message, database.Target(url=None)) == message


# --- the record's side is shown as it is --------------------------------------------------


def _empty_password_change() -> Change:
    # Extraction leaves an empty value under a secret key as it is (nothing to hide):
    # the record's side of a change is shown, not walked for secrets again.
    return Change("/tenant_config/email/smtp/password", Op.REPLACE, BY_KEY, "")


@pytest.mark.parametrize("action", [Action.UPDATE, Action.BLOCKED])
def test_the_record_side_of_a_change_is_shown_as_the_record_has_it(action):
    tenant = TenantPlan(
        id="africastay",
        action=action,
        reason=BlockedReason.DATABASE_OWNED if action is Action.BLOCKED else None,
        changes=(_empty_password_change(),),
    )
    plan = Plan(tenants=(tenant,))
    (change,) = plan_report.tenant_to_json(tenant)["changes"]
    assert (change["old"], change["new"]) == (redaction.REDACTED, "")
    markdown = plan_report.render_markdown(plan)
    assert f'| `"{redaction.REDACTED}"` | `""` |' in markdown
    text = _text(plan_report.render_text, plan)
    assert f'password: "{redaction.REDACTED}" → ""' in text
    _assert_clean(markdown + text)


# --- URLs in messages ---------------------------------------------------------------------

REDACTED_URLS = [
    (
        "postgresql://u:p%40ss@h:5432/db?sslmode=require&password=qp",
        "postgresql://u:***@h:5432/db?sslmode=require&password=***",
    ),
    ("postgres://u:pw@h/db", "postgres://u:***@h/db"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("postgresql://h/db?PASSWORD=x", "postgresql://h/db?PASSWORD=***"),
    ("postgresql://u:@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u:a/b@h/d", "<malformed database URL, not shown>"),
]


@pytest.mark.parametrize(("url", "shown"), REDACTED_URLS)
def test_redact_url_hides_every_password_and_keeps_the_rest(url, shown):
    assert database.redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql://u:p%40ss@h/db", "p@ss"),
        ("postgresql://u@h/db?password=qp", "qp"),
        ("postgresql://u:url-pw@h/db?password=qp", "url-pw"),
        ("postgresql://u@h/db", None),
        ("postgresql://u:pw@[::1/db", None),  # unparseable: no password, no exception
    ],
)
def test_url_password_is_the_decoded_password_of_the_url_or_its_query(url, password):
    assert database.url_password(url) == password


def test_password_candidates_cover_raw_encoded_query_and_pieces():
    whole, pieces = database.password_candidates(
        "postgresql://u:p%40ss@h/db?sslmode=require&Password=qp"
    )
    assert whole == {"p@ss", "p%40ss", "qp"}
    assert pieces == {"p%40ss"}
    whole, pieces = database.password_candidates("postgresql://u:ab/cd:ef@h/db")
    assert {"ab/cd:ef"} <= whole
    assert {"ab", "cd", "ef", "ab/cd", "cd:ef", "ab/cd:ef"} == pieces
    # A one-character piece would eat every such letter of a message: never a piece.
    _whole, pieces = database.password_candidates("postgresql://u:a/bc@h/db")
    assert pieces == {"bc", "a/bc"}
    # A text that is no postgresql:// URL is hidden whole; nothing empty ever is.
    assert database.password_candidates(" not-a-url ") == ({"not-a-url"}, set())
    assert database.password_candidates("mysql://u:pw@h") == ({"mysql://u:pw@h"}, set())
    assert database.password_candidates("") == (set(), set())
    assert database.password_candidates("postgresql://u@h/db") == (set(), set())


def test_redact_hides_longer_candidates_first_and_pieces_only_as_whole_tokens():
    target = database.Target(url="postgresql://u:ab/cd@h/db")
    assert database.redact("auth failed: ab/cd, cd; abc and cdx", target) == (
        "auth failed: ***, ***; abc and cdx"
    )


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/tenant_config/smtp/passwords/0", redaction.REDACTED),  # an item: its list's key
        ("/tenant_config/api_keys/2/10", redaction.REDACTED),  # nested lists
        ("/tenant_config/secrets/region", BY_KEY),  # only the last key decides
        ("/tenant_config/contacts/0/name", BY_KEY),
        ("/columns/name", BY_KEY),
    ],
)
def test_a_change_inside_a_list_is_redacted_by_the_list_s_key(path, shown):
    """diff_json diffs lists item by item: a database literal in a list under a
    secret key must not show up through its index."""
    change = redaction.redact_change(Change(path, Op.REPLACE, BY_KEY, "${X}"))
    assert change.old == shown
    tenant = TenantPlan(
        id="t", action=Action.UPDATE, changes=(Change(path, Op.REPLACE, BY_KEY, "${X}"),)
    )
    text = _text(plan_report.render_text, Plan(tenants=(tenant,)))
    assert (BY_KEY in text) is (shown == BY_KEY)


def test_longer_pieces_are_hidden_before_the_pieces_inside_them():
    # The pieces of "xy/zw:uv" (beyond the parsed password "xy") include zw, uv and zw:uv.
    target = database.Target(url="postgresql://u:xy/zw:uv@h/db")
    assert database.redact("quoted: zw:uv", target) == "quoted: ***"


def test_short_value_shows_non_ascii_text_as_it_is_and_measures_it_in_characters():
    assert redaction.short_value("Zürich — Côte d'Ivoire") == '"Zürich — Côte d\'Ivoire"'
    assert redaction.short_value("é" * 58) == '"' + "é" * 58 + '"'  # 60 characters: fits


def test_a_blank_query_value_is_kept_in_a_redacted_url():
    url = "postgresql://u:pw@h/db?application_name=&password=qp"
    assert database.redact_url(url) == "postgresql://u:***@h/db?application_name=&password=***"


def test_a_password_inside_a_longer_password_does_not_leave_the_longer_one_s_rest():
    # The URL's password and its query's password=: the longer is hidden first, or
    # hiding the shorter inside it would leave "-2" of it in the message.
    target = database.Target(url="postgresql://u:fake-pw@h/db?password=fake-pw-2")
    assert database.redact("rejected fake-pw-2 and fake-pw", target) == "rejected *** and ***"


def test_the_password_is_hidden_url_encoded_even_when_the_url_writes_it_raw():
    target = database.Target(url="postgresql://u:p!ss-fake@h/db")
    assert database.redact("dsn password=p%21ss-fake", target) == "dsn password=***"


def test_the_widest_span_is_hidden_decoded_when_the_parser_found_no_password():
    # A raw "/" ends the URL's host part early: urlsplit sees no user, no password.
    # The span up to the last "@" is still hidden, as written and decoded.
    target = database.Target(url="postgresql://u:p%21/ss@h/db")
    assert database.url_password(target.url) is None
    assert database.redact("auth p!/ss and p%21/ss", target) == "auth *** and ***"


def test_grouped_updates_redact_the_database_side_and_show_the_record_side():
    # More than GROUP_UPDATES_ABOVE tenants making one change are shown as one line:
    # its old value came from the database, its new one from the records.
    n = plan_report.GROUP_UPDATES_ABOVE + 1
    tenants = tuple(
        TenantPlan(id=f"t{i:02}", action=Action.UPDATE, changes=(_empty_password_change(),))
        for i in range(n)
    )
    ((words, ids),), alone = plan_report.group_changes(tenants)
    assert words == f'/tenant_config/email/smtp/password "{redaction.REDACTED}" → ""'
    assert len(ids) == n and alone == set()
    text = _text(plan_report.render_text, Plan(tenants=tenants))
    assert f'{n} tenants: /tenant_config/email/smtp/password "{redaction.REDACTED}" → ""' in text
    _assert_clean(text)
