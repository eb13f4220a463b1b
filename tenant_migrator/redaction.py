"""Values read from the database, made safe and short to show.

Records never carry secrets (the pipeline turned them into references), but rows
read from the database might: an admin can paste anything into the app. The reports
show such values (plan, PR comment, the drift refusal's lines in
``report/errors.py``); the library's own messages never hold one, so nothing outside
``report/`` uses this module any more.
"""

from __future__ import annotations

import json
from typing import Any

from tenant_migrator import secretrefs
from tenant_migrator.planning import Change, unescape
from tenant_migrator.secretrefs import shapes

REDACTED = "<redacted>"
# A value longer than this, as one line of JSON, is shown as a summary.
SHORT_VALUE_WIDTH = 60


def redact(value: Any, key: str = "", every: bool = False) -> Any:
    """``value`` with every value that looks like a secret replaced by a marker.

    By extraction's rules (``secretrefs.shapes``): a string with a well-known secret
    shape; a string or number under a secret-looking key (``*password*``,
    ``*api_key*`` …) that is no reference; 32 hex under a Twilio-ish key; any value
    below a ``secrets``/``credentials``/``api_keys`` mapping (``every``).
    """
    named = shapes.SECRET_CONTAINER if every else shapes.key_class(key) if key else 0
    if isinstance(value, str):
        if secretrefs.looks_like_secret(value) or (named and not secretrefs.is_reference(value)):
            return REDACTED
        if key and shapes.HEX32.fullmatch(value) and shapes.is_hex_secret_key(key):
            return REDACTED
        return value
    if isinstance(value, dict):
        inside = named == shapes.SECRET_CONTAINER
        return {k: redact(v, k, inside) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key, every) for v in value]
    if type(value) in (int, float) and named >= shapes.SECRET_VALUE:
        return REDACTED
    return value


def _last_key(path: str) -> str:
    """The key a change's value sits under: its last segment that is no list index.

    An item of a list has its list's key, as in ``redact``: a change to
    ``/tenant_config/smtp/passwords/0`` is under ``passwords``. (A mapping key made
    of digits reads as an index too; the key above it decides then, which can only
    hide more.)
    """
    for token in reversed(path.split("/")[1:]):
        if not token.isdigit():
            return unescape(token)
    return ""


def redact_change(change: Change, *, new_from_record: bool = False) -> Change:
    """``change`` with database-side values redacted. ``new_from_record``: ``new``
    comes from a record, secret-free by construction (and possibly a whole
    document, too big to walk for nothing)."""
    key = _last_key(change.path)
    new = change.new if new_from_record else redact(change.new, key)
    return Change(change.path, change.op, redact(change.old, key), new)


def short_value(value: Any) -> str:
    """One line for a value: JSON, long ones cut down to a summary."""
    width = SHORT_VALUE_WIDTH
    if isinstance(value, dict | list) and len(value) > width // 4:
        text = ""  # surely too long: do not serialize a whole document to find out
    else:
        text = json.dumps(value, ensure_ascii=False)
        if len(text) <= width:
            return text
    if isinstance(value, dict):
        keys = ", ".join(value)
        return f"{{{len(value)} keys: {keys[:width]}{'…' if len(keys) > width else ''}}}"
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return text[: width - 1] + "…"
