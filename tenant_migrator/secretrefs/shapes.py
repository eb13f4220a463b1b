"""What looks like a secret: well-known secret shapes, and key names that hold secrets.

One table (``SHAPES``) gives each shape its kind (the ``shape:<kind>`` of a report),
the words a message uses for it, and its pattern. Everything else here is derived
from that table, so a new shape is one line (and one row of tests/test_shapes.py).

Not secrets, on purpose: Supabase's ``sb_publishable_…`` keys (meant for browsers,
like the old anon JWT minus the JWT), Twilio's phone numbers, ``sk-`` in a slug
(``/tours/sk-bratislava-tours/``). Fields named ``api_key`` and the schema's secret
fields still catch any value, a plain ``sk-…`` included: there the field says it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shape:
    """One well-known secret shape.

    ``boundary`` + ``(?:body)`` is the pattern. The boundary keeps "helpdesk-…" from
    looking like "sk-…" (a lookbehind), or is the part of a shape that can start
    anywhere (a URL's scheme); the body alone matches wherever the whole pattern
    does, which the pre-check below relies on. Each alternative of a body starts
    with a literal character (``sk_…|rk_…``, not ``(?:sk|rk)_…``): that is what
    lets the pre-check skip ahead (see ``SHAPE_HINT_RE``).
    """

    label: str
    boundary: str
    body: str


# Nothing alphanumeric right before: "monkey-…" is no Mailgun key, "xASIA…" no AWS id.
_WORD = r"(?<![A-Za-z0-9])"
# ... and nothing alphanumeric right after, for the shapes of a fixed length.
_END = r"(?![A-Za-z0-9])"
_HEX32 = r"[0-9a-fA-F]{32}"

# Kind → shape. The order is the alternation's order: the first kind that matches
# at a position names the match. Each line cites the format it follows.
SHAPES: Mapping[str, Shape] = {
    # RFC 7468 PEM, "-----BEGIN … PRIVATE KEY-----" (PKCS#1/#8, OpenSSH, PGP blocks).
    "private_key": Shape(
        "PEM private key",
        "",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?",
    ),
    # RFC 7519: base64url header "eyJ…" . payload "eyJ…" . signature.
    "jwt": Shape("JWT", r"\b", r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    # scheme://user:password@host (RFC 3986 userinfo): a DSN, a database URL, a broker
    # URL, up to the next space. Not when the password is already a ${REFERENCE},
    # nor user@host alone.
    "url_credentials": Shape(
        "password inside a URL",
        r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*",
        r"://[^\s:/?#@]*:(?!\$\{[^}]*\}@)[^\s/?#]+@[^\s/?#@][^\s]*",
    ),
    # Slack incoming webhooks: https://hooks.slack.com/services/T…/B…/<24 characters>.
    "slack_webhook": Shape(
        "Slack webhook URL",
        r"(?:https?://)?",
        r"hooks\.slack\.com/services/T[A-Z0-9]{8,}/B[A-Z0-9]{8,}/[A-Za-z0-9]{24,}",
    ),
    # SendGrid: "SG." + 22 + "." + 43 characters (base64url).
    "sendgrid": Shape("SendGrid API key", _WORD, r"SG\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    # Stripe secret and restricted keys: sk_/rk_ + test_/live_/prod_ + base62.
    "stripe": Shape(
        "Stripe secret key",
        _WORD,
        r"sk_(?:live|test|prod)_[A-Za-z0-9]{10,}|rk_(?:live|test|prod)_[A-Za-z0-9]{10,}",
    ),
    # Stripe webhook signing secrets: "whsec_" + base62.
    "stripe_webhook": Shape("Stripe webhook secret", _WORD, r"whsec_[A-Za-z0-9]{24,}"),
    # OpenAI: project, service-account and admin keys (sk-proj-, sk-svcacct-,
    # sk-admin-), and the older keys: 20, "T3BlbkFJ" (base64 of "OpenAI"), 20.
    # A plain "sk-…" is a slug as often as a key: only the specific forms here.
    "openai": Shape(
        "OpenAI API key",
        _WORD,
        r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})",
    ),
    # AWS access key ids: a 4-character type prefix (AKIA long-term, ASIA temporary,
    # ABIA STS service bearer, ACCA context-specific, A3T* older) + 16 of [A-Z0-9].
    "aws_access_key": Shape(
        "AWS access key id",
        _WORD,
        r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}" + _END,
    ),
    # GitHub: ghp_/gho_/ghu_/ghs_/ghr_ + 36 base62, fine-grained github_pat_ + 82.
    "github": Shape(
        "GitHub token",
        _WORD,
        r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
    ),
    # Slack: xoxb- (bot), xoxp- (user), xoxa-/xoxo-/xoxs-/xoxr-, xoxe- and
    # xoxe.xoxp- (rotating and refresh tokens), xapp- (app-level tokens).
    "slack": Shape(
        "Slack token",
        _WORD,
        r"(?:xox[abposre](?:\.xox[abposr])?|xapp)-[A-Za-z0-9-]{10,}",
    ),
    # Google API keys: "AIza" + 35 characters.
    "google_api_key": Shape("Google API key", _WORD, r"AIza[A-Za-z0-9_-]{35}"),
    # Supabase personal access tokens: "sbp_" + 40 hex (the management API's).
    "supabase_access_token": Shape("Supabase access token", _WORD, r"sbp_[0-9a-f]{40}" + _END),
    # Supabase secret API keys (the format replacing the service_role JWT).
    "supabase_secret_key": Shape("Supabase secret key", _WORD, r"sb_secret_[A-Za-z0-9_-]{20,}"),
    # Twilio: API key SIDs "SK" + 32 hex, account SIDs "AC" + 32 hex (an account SID
    # with its auth token is the whole credential, so neither is stored).
    "twilio": Shape("Twilio key or account SID", _WORD, f"SK{_HEX32}{_END}|AC{_HEX32}{_END}"),
    # Mailgun private API keys: "key-" + 32 characters (hex, or base36 in its docs).
    "mailgun": Shape("Mailgun API key", _WORD, r"key-[0-9a-zA-Z]{32}" + _END),
}

# Every shape, each in a group named by its kind (``match.lastgroup``).
SHAPE_RE = re.compile(
    "|".join(f"(?P<{kind}>{shape.boundary}(?:{shape.body}))" for kind, shape in SHAPES.items())
)
# The bodies alone, as one flat alternation: when every alternative starts with a
# literal character, the regex engine jumps from one possible first character to
# the next instead of trying each position (30-70x faster on text with none of
# them), so as a pre-check it costs a fraction of ``SHAPE_RE`` on the strings of a
# client file. A group around a body, or a body starting with ``(?:a|b)`` or a
# class, turns that off for the whole pattern (tests/test_shapes.py holds it).
SHAPE_HINT_RE = re.compile("|".join(shape.body for shape in SHAPES.values()))


def _shortest_match(pattern: str) -> int:
    """The fewest characters ``pattern`` can match, as Python's regex parser computes it."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # Python 3.11+

        return int(_parser.parse(pattern).getwidth()[0])
    except Exception:  # pragma: no cover - another Python's internals: never skip the search
        return 0


# No shape but a URL's password fits in fewer characters (15: a Slack token), and
# that one holds "://" (its shortest, "a://:p@h", is 8): so the many short values of
# a client file (codes, ports, colours, names) skip the regexes altogether, after
# one substring test. Keeping the URL out of the minimum halves the strings searched.
URL_MARK = "://"
_URL = SHAPES["url_credentials"]
URL_MIN = _shortest_match(f"{_URL.boundary}(?:{_URL.body})")
SHAPE_MIN = _shortest_match(
    "|".join(
        f"(?:{shape.boundary}(?:{shape.body}))"
        for kind, shape in SHAPES.items()
        if kind != "url_credentials"
    )
)


def shape_match(text: str) -> re.Match[str] | None:
    """``SHAPE_RE.search(text)``, ruling out cheaply the text that cannot match."""
    if len(text) < SHAPE_MIN and (len(text) < URL_MIN or URL_MARK not in text):
        return None
    if SHAPE_HINT_RE.search(text) is None:
        return None
    return SHAPE_RE.search(text)


def shape_label(kind: str) -> str:
    """The words for a kind in a message ("SendGrid API key")."""
    shape = SHAPES.get(kind)
    return shape.label if shape is not None else kind


def find_secret_shape(text: str) -> str | None:
    """The kind of the first well-known secret shape inside ``text``, if any."""
    match = shape_match(text)
    return match.lastgroup if match else None


def looks_like_secret(text: str) -> bool:
    """True if ``text`` contains a well-known secret shape (for redacting displays)."""
    return shape_match(text) is not None


def shown_key(key: str, hidden: str) -> str:
    """``repr(key)`` for a message, or ``hidden`` when the key is long or shaped like a
    secret: keys are names, not values; still, never echo anything shaped like a secret."""
    if len(key) > 60 or find_secret_shape(key):
        return hidden
    return repr(key)


# --- key names ---------------------------------------------------------------------------

# The words of a key name that say its value is a secret. Matched in the key read as
# snake_case (``smtpPassword``, ``smtp-password`` → ``smtp_password``), lower case.
# Long words anywhere in the key; the short ones (pwd, dsn) only as a word of their
# own ("adsnetwork" holds no DSN).
SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_?key",
    "private_?key",
    "signing_?key",
    "client_?key",
    "access_?key",
    "credentials?",
    "authorization",
    "connection_?string",
    "database_?url",
)
SHORT_SECRET_WORDS = ("pwd", "dsn")
_ANY_WORD = "|".join(
    [*SECRET_WORDS, *(rf"(?<![a-z]){word}(?![a-z])" for word in SHORT_SECRET_WORDS)]
)
_SECRET_KEY = re.compile(_ANY_WORD)
# A number is a secret only under a key that *ends* with the word (``smtp_password:
# 1234``); ``max_tokens: 4096`` and ``password_min_length: 12`` are settings.
_SECRET_KEY_FOR_NUMBERS = re.compile(rf"(?:{_ANY_WORD})\Z")
# A mapping under one of these names holds nothing but secrets, whatever its keys.
_SECRET_CONTAINER = re.compile(r"(?:\A|_)(?:secrets|credentials?|api_?keys)\Z")
# Twilio's auth token is 32 hex under a key like ``twilio_auth`` or ``auth``.
_HEX_SECRET_KEY = re.compile(r"twilio|auth")
HEX32 = re.compile(_HEX32)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# What a key name says about its value (``key_class``).
NOT_SECRET = 0
SECRET_TEXT = 1  # a string under it is a secret
SECRET_VALUE = 2  # a string or a number under it is a secret
SECRET_CONTAINER = 3  # every value below it (a mapping's, a list's) is a secret


def snake_key(name: str) -> str:
    """``smtpPassword`` / ``smtp-password`` / ``SMTP_PASSWORD`` → ``smtp_password``."""
    return _CAMEL.sub("_", name).replace("-", "_").lower()


@functools.lru_cache(maxsize=4096)
def key_class(name: str) -> int:
    """What ``name`` says about its value: ``NOT_SECRET``, ``SECRET_TEXT``,
    ``SECRET_VALUE`` or ``SECRET_CONTAINER``."""
    key = snake_key(name)
    if _SECRET_CONTAINER.search(key):
        return SECRET_CONTAINER
    if _SECRET_KEY_FOR_NUMBERS.search(key):
        return SECRET_VALUE
    if _SECRET_KEY.search(key):
        return SECRET_TEXT
    return NOT_SECRET


def is_secret_key(name: str) -> bool:
    """True for a key name that says its value is a secret (``smtp_password``, ``api-key``)."""
    return key_class(name) != NOT_SECRET


def is_hex_secret_key(name: str) -> bool:
    """True for a key under which 32 hex characters are a secret (Twilio's auth token
    under ``twilio_auth``, ``auth``)."""
    return _HEX_SECRET_KEY.search(snake_key(name)) is not None
