"""Secret shapes and key names, one row per documented format variant.

Every value here is fake: built to the provider's documented shape (prefix,
alphabet, length) from filler characters, so it collides with no real key. A new
rule is one row in a table below: a positive row (must be found), a near miss
(must not be), a length at, below and above its limit.
"""

from __future__ import annotations

import pytest

from tenant_migrator.secretrefs import REFERENCED, extract, rules_from_schema, shapes

H32 = "0123456789abcdef" * 2  # 32 hex
H40 = H32 + "01234567"  # 40 hex
B62 = "FAKEfake0000FAKEfake0000FAKEfake"  # 32 base62


# (kind, value): found in free text, under an ordinary key, as the whole value.
POSITIVE = [
    # RFC 7468 PEM blocks: PKCS#1, PKCS#8, SEC1, OpenSSH, OpenPGP.
    ("private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIfake\n-----END RSA PRIVATE KEY-----"),
    ("private_key", "-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----"),
    ("private_key", "-----BEGIN EC PRIVATE KEY-----\nMHcfake\n-----END EC PRIVATE KEY-----"),
    (
        "private_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bfake\n-----END OPENSSH PRIVATE KEY-----",
    ),
    ("private_key", "-----BEGIN PGP PRIVATE KEY BLOCK-----"),
    # RFC 7519 JWT: base64url header.payload.signature, both JSON objects ("eyJ").
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJlLWZha2U"),
    # RFC 3986 userinfo in a URL: database DSNs, Redis (empty user), AMQP, MongoDB SRV.
    ("url_credentials", "postgresql://app:FAKEpass0@db.example.com:5432/app"),
    ("url_credentials", "postgres://app:FAKE%40pass@db.example.com/app?sslmode=require"),
    ("url_credentials", "redis://:FAKEpass0@cache.example:6379/0"),
    ("url_credentials", "amqp://user:FAKEpass0@mq.example/vhost"),
    ("url_credentials", "mongodb+srv://user:FAKEpass0@cluster0.example.net/db"),
    ("url_credentials", "mysql://root:p@ss@db.example/x"),  # an "@" left unencoded
    # Slack incoming webhooks: https://hooks.slack.com/services/T…/B…/<24 characters>.
    ("slack_webhook", "https://hooks.slack.com/services/T00000000/B00000000/" + B62[:24]),
    ("slack_webhook", "https://hooks.slack.com/services/TFAKE0000/BFAKE0000/" + B62),
    # SendGrid: SG.<22>.<43>.
    ("sendgrid", "SG.fakefakefake00fakefa.fakefakefakefake0000fakefakefakefake0000fak"),
    # Stripe secret (sk_) and restricted (rk_) keys, in test, live and prod mode.
    ("stripe", "sk_test_" + B62),
    ("stripe", "sk_live_" + B62),
    ("stripe", "sk_prod_" + B62),
    ("stripe", "rk_test_" + B62),
    ("stripe", "rk_live_" + B62),
    ("stripe", "rk_prod_" + B62),
    # Stripe webhook signing secrets: whsec_ + base62.
    ("stripe_webhook", "whsec_" + B62),
    # OpenAI: project, service-account and admin keys; older keys carry T3BlbkFJ.
    ("openai", "sk-proj-" + B62 + "_-" + B62),
    ("openai", "sk-svcacct-" + B62),
    ("openai", "sk-admin-" + B62),
    ("openai", "sk-" + B62[:20] + "T3BlbkFJ" + B62[:20]),
    # AWS access key ids: AKIA (long-term), ASIA (temporary), ABIA, ACCA, A3T*.
    ("aws_access_key", "AKIA" + "FAKE" * 4),
    ("aws_access_key", "ASIA" + "FAKE" * 4),
    ("aws_access_key", "ABIA" + "FAKE" * 4),
    ("aws_access_key", "ACCA" + "FAKE" * 4),
    ("aws_access_key", "A3TX" + "FAKE" * 4),
    # GitHub: personal (ghp_), OAuth (gho_), user-to-server (ghu_), server-to-server
    # (ghs_), refresh (ghr_) tokens, 36 base62; fine-grained github_pat_.
    ("github", "ghp_" + B62 + "0000"),
    ("github", "gho_" + B62 + "0000"),
    ("github", "ghu_" + B62 + "0000"),
    ("github", "ghs_" + B62 + "0000"),
    ("github", "ghr_" + B62 + "0000"),
    ("github", "github_pat_11FAKE0000_" + B62 + B62),
    # Slack tokens: bot, user, app-level, workspace/legacy, rotating and refresh.
    ("slack", "xoxb-0000000000-0000000000000-" + B62[:24]),
    ("slack", "xoxp-0000000000-0000000000-0000000000000-" + H32),
    ("slack", "xoxa-2-" + B62),
    ("slack", "xoxo-" + B62),
    ("slack", "xoxs-" + B62),
    ("slack", "xoxr-" + B62),
    ("slack", "xoxe-1-" + B62),
    ("slack", "xoxe.xoxp-1-" + B62),
    ("slack", "xapp-1-A0000000000-0000000000000-" + H32),
    # Google API keys: AIza + 35.
    ("google_api_key", "AIza" + B62 + "FAK"),
    # Supabase: personal access tokens sbp_ + 40 hex; the new secret API keys.
    ("supabase_access_token", "sbp_" + H40),
    ("supabase_secret_key", "sb_secret_" + B62[:22] + "_" + B62[:8]),
    ("supabase_secret_key", "sb_secret_FAKE-fake_0000FAKEfake00"),
    # Twilio: API key SIDs SK + 32 hex, account SIDs AC + 32 hex.
    ("twilio", "SK" + H32),
    ("twilio", "AC" + H32),
    ("twilio", "AC" + H32.upper()),
    # Mailgun private API keys: key- + 32 (hex, or the base36 of its docs).
    ("mailgun", "key-" + H32),
    ("mailgun", "key-fakefakefakefakefake000000000000"),
]


@pytest.mark.parametrize(("kind", "value"), POSITIVE)
def test_each_documented_form_is_found_as_a_whole_value_under_any_key(kind, value):
    assert shapes.find_secret_shape(value) == kind
    result = extract({"notes": {"misc": value}}, "acme", {})
    (found,) = result.secrets
    assert (found.reason, found.action, found.literal) == (f"shape:{kind}", REFERENCED, value)
    assert result.config == {"notes": {"misc": "${ACME_NOTES_MISC}"}}
    assert result.problems == ()  # the whole value was the secret: nothing to take out


@pytest.mark.parametrize(("kind", "value"), POSITIVE)
def test_each_documented_form_is_found_inside_text_and_the_whole_value_moves(kind, value):
    text = f"Ops note: use {value} for the integration"
    result = extract({"notes": text}, "acme", {})
    (found,) = result.secrets
    assert found.reason == f"shape:{kind}" and found.literal == text
    assert result.config == {"notes": "${ACME_NOTES}"}
    (warning,) = result.problems
    assert not warning.is_error and shapes.SHAPES[kind].label in warning.message


def test_every_kind_has_a_positive_row():
    assert {kind for kind, _ in POSITIVE} == set(shapes.SHAPES)


# Near misses: must NOT be taken for a secret in free text.
NEGATIVE = [
    # Supabase publishable keys are public by design (they replace the anon JWT).
    "sb_publishable_" + B62[:22] + "_" + B62[:8],
    "sbp_" + H40[:39],  # 39 hex
    "sbp_" + H40 + "0",  # 41 hex
    "sbp_" + "FAKE" * 10,  # not hex
    "sb_secret_short",
    # OpenAI's sk- is also a slug: only the specific forms are keys in free text.
    "https://tours.example/sk-bratislava-tours/day-1",
    "sk-bratislava-tours-and-transfers-2025",
    "sk-" + B62,
    "helpdesk-proj-" + B62,  # "sk-proj-" inside a word
    "sk-" + B62[:19] + "T3BlbkFJ" + B62[:20],  # older keys: 20, the marker, 20
    "sk-" + B62[:21] + "T3BlbkFJ" + B62[:20],
    # Twilio: 31/33 hex, non-hex, another prefix, inside a word.
    "SK" + H32[:31],
    "SK" + H32 + "0",
    "AC" + "g" * 32,
    "SX" + H32,
    "TASK" + H32,
    # Mailgun: 31/33 characters, inside a word.
    "key-" + H32[:31],
    "key-" + H32 + "0",
    "monkey-" + H32,
    # Stripe: another mode, too short, publishable keys.
    "sk_dev_" + B62,
    "sk_test_" + "a" * 9,
    "pk_live_" + B62,
    "whsec_" + "a" * 23,
    # Slack: an unknown type, too short, a webhook with short parts, another host.
    "xoxz-" + B62,
    "xoxb-" + "0" * 9,
    "https://hooks.slack.com/services/T000/B000/xyz",
    "https://hooks.example.com/services/T00000000/B00000000/" + B62[:24],
    # AWS: 15/17 characters after the prefix, another prefix, inside a word, a zone.
    "AKIA" + "A" * 15,
    "AKIA" + "A" * 17,
    "AKIB" + "A" * 16,
    "xASIA" + "A" * 16,
    "ASIA/Tokyo",
    # Google: 34 characters.
    "AIza" + "a" * 34,
    # GitHub: too short, another letter.
    "ghp_" + "a" * 29,
    "ghx_" + B62 + "0000",
    # URLs without a password, with a reference or an empty one, a port.
    "https://user@example.com/x",
    "https://example.com:8443/path",
    "postgres://app:${DB_PASSWORD}@db.example/app",
    "postgres://app:@db.example/app",
    "mailto:user:x@example.com",
    # Ordinary words.
    "helpdesk-agent-configuration-v2-long-name",
    "Skip-the-queue",
    "eyJust a word",
    "key-lime pie for the desert tour",
]


@pytest.mark.parametrize("value", NEGATIVE)
def test_near_misses_are_not_secrets(value):
    assert shapes.find_secret_shape(value) is None
    assert extract({"notes": {"misc": value}}, "acme", {}).secrets == ()


# (kind, prefix, filler, limit, exact): at least ``limit`` filler characters after the
# prefix (exactly ``limit`` for the fixed-length ones).
LENGTHS = [
    ("slack", "xoxb-", "0", 10, False),
    ("google_api_key", "AIza", "A", 35, False),
    ("aws_access_key", "AKIA", "A", 16, True),
    ("aws_access_key", "ASIA", "Z", 16, True),
    ("twilio", "SK", "a", 32, True),
    ("twilio", "AC", "0", 32, True),
    ("mailgun", "key-", "a", 32, True),
    ("supabase_access_token", "sbp_", "a", 40, True),
    ("supabase_secret_key", "sb_secret_", "a", 20, False),
    ("stripe", "sk_test_", "a", 10, False),
    ("stripe", "rk_live_", "a", 10, False),
    ("stripe_webhook", "whsec_", "a", 24, False),
    ("github", "ghp_", "a", 30, False),
    ("github", "github_pat_", "a", 30, False),
    ("openai", "sk-proj-", "a", 20, False),
    ("openai", "sk-svcacct-", "a", 20, False),
    ("sendgrid", "SG.aaaaaaaaaa.", "a", 10, False),
]


@pytest.mark.parametrize(("kind", "prefix", "filler", "limit", "exact"), LENGTHS)
@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_length_limits_at_below_and_above(kind, prefix, filler, limit, exact, delta):
    value = prefix + filler * (limit + delta)
    expected = kind if delta == 0 or (delta > 0 and not exact) else None
    assert shapes.find_secret_shape(value) == expected
    assert shapes.find_secret_shape(f"x {value} y") == expected


def test_the_shortest_shapes_set_the_lengths_below_which_nothing_is_searched():
    # 15: a Slack token, the shortest shape but one; 8: a URL with a password
    # ("a://:p@h"), which strings shorter than 15 are searched for only when they hold "://".
    assert (shapes.SHAPE_MIN, shapes.URL_MIN) == (15, 8)
    assert shapes.find_secret_shape("xoxb-" + "0" * 10) == "slack"
    assert shapes.find_secret_shape("xoxb-" + "0" * 9) is None
    assert shapes.find_secret_shape("a://:p@h") == "url_credentials"
    assert shapes.find_secret_shape("a://:p@") is None
    for value, kind in (("a://:p@h", "url_credentials"), ("xoxb-" + "0" * 10, "slack")):
        result = extract({"n": value, "m": [value]}, "acme", {})
        assert [s.reason for s in result.secrets] == [f"shape:{kind}"] * 2


def test_every_alternative_of_the_pre_check_starts_with_a_literal_character():
    # What lets the engine skip to the next possible first character instead of
    # trying every position of every string (see shapes.SHAPE_HINT_RE).
    from re import _parser  # type: ignore[attr-defined]

    (op, (_, alternatives)), *rest = _parser.parse(shapes.SHAPE_HINT_RE.pattern).data
    assert op is _parser.BRANCH and not rest
    assert len(alternatives) >= len(shapes.SHAPES)
    for alternative in alternatives:
        assert alternative.data[0][0] is _parser.LITERAL, alternative


# --- OpenAI: free text versus fields that say what they hold --------------------------


def test_an_openai_key_after_a_hyphen_or_in_a_default_inside_text_is_found():
    key = "sk-proj-" + B62
    for text in (f"run --key-{key}", f"Authorization: Bearer ${{OPENAI_KEY:-{key}}}"):
        result = extract({"notes": text}, "acme", {})
        assert [s.literal for s in result.secrets] == [text], text
        assert result.config == {"notes": "${ACME_NOTES}"}


def test_a_plain_sk_key_is_caught_by_the_field_but_not_in_free_text():
    plain = "sk-" + B62
    rules = rules_from_schema({})  # the baseline: infrastructure.openai.api_key
    document = {
        "infrastructure": {"openai": {"api_key": plain}},
        "integrations": {"tours": {"api_key": plain}},
        "notes": f"see https://tours.example/{plain}/",
    }
    result = extract(document, "acme", rules)
    reasons = {s.json_path: s.reason for s in result.secrets}
    assert reasons == {
        "/infrastructure/openai/api_key": "schema",
        "/integrations/tours/api_key": "key-name",
    }
    assert result.config["notes"] == document["notes"]


def test_a_secret_default_of_a_reference_under_an_ordinary_key_is_moved_out():
    key = "sk-proj-" + B62
    result = extract({"extras": {"endpoint": f"${{AI_KEY:-{key}}}"}}, "acme", {})
    assert result.config == {"extras": {"endpoint": "${AI_KEY}"}}
    (moved,) = result.secrets
    assert (moved.env_var, moved.literal, moved.reason) == ("AI_KEY", key, "reference-default")


def test_sb_publishable_keys_stay_in_the_config():
    key = "sb_publishable_" + B62[:22] + "_" + B62[:8]
    result = extract({"infrastructure": {"supabase": {"publishable": key}}}, "acme", {})
    assert (
        result.secrets == () and result.config["infrastructure"]["supabase"]["publishable"] == key
    )


def test_a_twilio_auth_token_is_32_hex_under_a_twilio_or_auth_key():
    for key in ("twilio_auth", "twilio", "auth", "twilioAuth"):
        result = extract({"sms": {key: H32}}, "acme", {})
        assert [s.literal for s in result.secrets] == [H32], key
    # 31 hex, or 32 under another key: not a token.
    assert extract({"sms": {"twilio_auth": H32[:31]}}, "acme", {}).secrets == ()
    assert extract({"sms": {"colour_hash": H32}}, "acme", {}).secrets == ()


def test_a_dsn_is_moved_whole_under_any_key():
    dsn = "postgresql://app:FAKEpass0@db.example.com:5432/app"
    result = extract({"reporting": {"target": dsn}}, "acme", {})
    assert result.config == {"reporting": {"target": "${ACME_REPORTING_TARGET}"}}
    (found,) = result.secrets
    assert found.literal == dsn and found.reason == "shape:url_credentials"


# --- key names --------------------------------------------------------------------------

V, T, C, N = shapes.SECRET_VALUE, shapes.SECRET_TEXT, shapes.SECRET_CONTAINER, shapes.NOT_SECRET

# (key, what it says of its value): each rule with its snake, dashed, camel and upper
# forms. SECRET_VALUE: a string or a number under it is a secret; SECRET_TEXT: a
# string only (``max_tokens: 4096`` is a setting); SECRET_CONTAINER: every value below.
KEY_NAMES = [
    *[(k, V) for k in ("password", "smtp_password", "smtp-password", "smtpPassword")],
    *[(k, V) for k in ("SMTP_PASSWORD", "Password", "db_password")],
    *[(k, V) for k in ("passwd", "db_passwd", "db-passwd", "dbPasswd")],
    *[(k, V) for k in ("pwd", "db_pwd", "db-pwd", "dbPwd", "DB_PWD")],
    *[(k, V) for k in ("passphrase", "ssh_passphrase", "ssh-passphrase", "sshPassphrase")],
    *[(k, V) for k in ("secret", "client_secret", "client-secret", "clientSecret")],
    *[(k, V) for k in ("token", "auth_token", "webhook-token", "authToken", "api_token")],
    *[(k, V) for k in ("api_key", "apikey", "api-key", "apiKey", "API_KEY", "stripe_api_key")],
    *[(k, V) for k in ("private_key", "privatekey", "private-key", "privateKey")],
    *[(k, V) for k in ("ssh_private_key",)],
    *[(k, V) for k in ("signing_key", "signingkey", "signing-key", "signingKey")],
    *[(k, V) for k in ("client_key", "clientkey", "client-key", "clientKey")],
    *[(k, V) for k in ("access_key", "accesskey", "aws-access-key", "accessKey")],
    *[(k, V) for k in ("authorization", "Authorization", "proxy-authorization")],
    *[(k, V) for k in ("proxyAuthorization",)],
    *[(k, V) for k in ("dsn", "sentry_dsn", "sentry-dsn", "sentryDsn", "DSN")],
    *[(k, V) for k in ("connection_string", "connectionstring", "connection-string")],
    *[(k, V) for k in ("connectionString", "db_connection_string")],
    *[(k, V) for k in ("database_url", "databaseurl", "database-url", "databaseUrl")],
    *[(k, V) for k in ("DATABASE_URL",)],
    # Every value below these is a secret.
    *[(k, C) for k in ("secrets", "stripe_secrets", "credentials", "credential")],
    *[(k, C) for k in ("gcp-credentials", "gcpCredentials", "api_keys", "api-keys", "apiKeys")],
    # The word, but not at the end: a string is a secret, a number a setting.
    *[(k, T) for k in ("max_tokens", "password_min_length", "token_ttl", "secret_rotation")],
    *[(k, T) for k in ("credentials_file", "pwd_hint", "dsn_region")],
    # Near misses.
    *[(k, N) for k in ("name", "passport", "author", "monkey", "database", "connection")],
    *[(k, N) for k in ("url", "adsnetwork", "sendsnap", "rpwdx", "keys")],
]


@pytest.mark.parametrize(("key", "expected"), KEY_NAMES)
def test_key_names(key, expected):
    assert shapes.key_class(key) == expected
    assert shapes.is_secret_key(key) == (expected != N)
    result = extract({"extras": {key: "some literal value"}}, "acme", {})
    assert [s.reason for s in result.secrets] == (["key-name"] if expected != N else [])
    numbers = extract({"extras": {key: 123456}}, "acme", {})
    assert [s.literal for s in numbers.secrets] == (["123456"] if expected in (V, C) else [])
