"""The ``${VAR}`` / ``${VAR:-default}`` reference syntax, and how deep a walk may go.

The platform's runtime resolves names ``[A-Z_][A-Z0-9_]*`` (a shell's, upper case).
References are *read* more broadly (lower case, a leading digit: ``${smtp_password}``,
``${9LIVES_SMTP_PASSWORD}``) so that one the runtime cannot resolve is recognised
as a reference and reported (a warning in ``validate``, an error from ``resolve()``,
"missing" in ``check-env``), never taken for a literal secret.
"""

from __future__ import annotations

import re
from typing import Any

# A whole-value reference: ${VAR} or ${VAR:-default}.
FULL_REFERENCE = re.compile(r"\A\$\{([A-Za-z0-9_]+)(?::-([^}]*))?\}\Z")
# References anywhere in a string (resolve() and check-env accept both).
REFERENCE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::-([^}]*))?\}")
# A name the runtime resolves.
RUNTIME_NAME = re.compile(r"\A[A-Z_][A-Z0-9_]*\Z")

# Deeper than any real client file; keeps every recursive walk far from Python's limit.
MAX_DEPTH = 64


def is_reference(value: Any) -> bool:
    """True for a string that is one whole reference (``${VAR}``, ``${VAR:-x}``)."""
    return isinstance(value, str) and FULL_REFERENCE.match(value) is not None


def resolvable(name: str) -> bool:
    """True for a variable name the platform's runtime (and a shell) can resolve."""
    return RUNTIME_NAME.match(name) is not None
