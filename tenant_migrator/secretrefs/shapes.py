"""What looks like a secret: well-known secret shapes, and key names that hold secrets.

One table (``SHAPES``) gives each shape its kind (the ``shape:<kind>`` of a report),
the words a message uses for it, and its pattern. Everything else here is derived
from that table, so a new shape is one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shape:
    """One well-known secret shape.

    ``boundary`` + ``body`` is the pattern. The boundary keeps "helpdesk-…" from
    looking like "sk-…"; the body alone matches wherever the whole pattern does,
    which the pre-check below relies on.
    """

    label: str
    boundary: str
    body: str


# Kind → shape. The order is the alternation's order: the first kind that matches
# at a position names the match.
SHAPES: Mapping[str, Shape] = {
    "private_key": Shape(
        "PEM private key",
        "",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?",
    ),
    "jwt": Shape("JWT", r"\b", r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "sendgrid": Shape(
        "SendGrid API key", r"(?<![A-Za-z0-9])", r"SG\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    ),
    "stripe": Shape(
        "Stripe secret key", r"(?<![A-Za-z0-9])", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"
    ),
    "openai": Shape("OpenAI API key", r"(?<![A-Za-z0-9_-])", r"sk-[A-Za-z0-9_-]{20,}"),
    "aws_access_key": Shape(
        "AWS access key id", r"(?<![A-Za-z0-9])", r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"
    ),
    "github": Shape(
        "GitHub token",
        r"(?<![A-Za-z0-9])",
        r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
    ),
    "slack": Shape("Slack token", r"(?<![A-Za-z0-9])", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    "google_api_key": Shape("Google API key", r"(?<![A-Za-z0-9])", r"AIza[A-Za-z0-9_-]{35}"),
}

# Every shape, each in a group named by its kind (``match.lastgroup``).
SHAPE_RE = re.compile(
    "|".join(f"(?P<{kind}>{shape.boundary}{shape.body})" for kind, shape in SHAPES.items())
)
# The bodies alone: without a lookbehind in front, the regex engine can skip ahead
# to a possible first character, so as a pre-check it is 4-5x faster on the strings
# of a client file than ``SHAPE_RE`` itself.
SHAPE_HINT_RE = re.compile("|".join(f"(?:{shape.body})" for shape in SHAPES.values()))


def _shortest_match(pattern: str) -> int:
    """The fewest characters ``pattern`` can match, as Python's regex parser computes it."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # Python 3.11+

        return int(_parser.parse(pattern).getwidth()[0])
    except Exception:  # pragma: no cover - another Python's internals: never skip the search
        return 0


# No shape fits in fewer characters (15: a Slack token), so the many short values of
# a client file (names, codes, ports, colours) skip the regexes altogether.
SHAPE_MIN = _shortest_match(SHAPE_RE.pattern)


def shape_match(text: str) -> re.Match[str] | None:
    """``SHAPE_RE.search(text)``, ruling out cheaply the text that cannot match."""
    if len(text) < SHAPE_MIN or SHAPE_HINT_RE.search(text) is None:
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


# Key names that hold secrets (case-insensitive substring of the key, `-` read as `_`).
_SECRET_KEY = re.compile(r"password|passwd|secret|token|api_?key|private_?key", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    """True for a key name that says its value is a secret (``smtp_password``, ``api-key``)."""
    return _SECRET_KEY.search(name.replace("-", "_")) is not None
