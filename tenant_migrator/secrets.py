"""Secrets: find them, turn literals into ${ENV} references, resolve references at run time.

The rules (which fields are secrets, which env var each maps to, per-tenant or
shared) are annotations in config/schema.json; this module reads them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SecretReference:
    """One secret found in a client file.

    ``json_path``: RFC 6901 pointer of the field (``/email/smtp/password``).
    ``env_var``: the variable the reference names (``AFRICASTAY_SMTP_PASSWORD``).
    ``action``: "referenced" (literal replaced by ``${env_var}``), "kept" (already a
    reference), or "removed" (field dropped, e.g. the Supabase service key).
    ``literal``: the secret value itself; only ``--secrets-out`` may ever write it.
    It is excluded from repr so it cannot leak through logs or tracebacks.
    """

    json_path: str
    env_var: str
    action: str
    literal: str | None = field(default=None, repr=False, compare=False)
