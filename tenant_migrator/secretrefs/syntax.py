"""The ``${VAR}`` / ``${VAR:-default}`` reference syntax, and how deep a walk may go."""

from __future__ import annotations

import re
from typing import Any

# A whole-value reference: ${VAR} or ${VAR:-default}.
FULL_REFERENCE = re.compile(r"\A\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}\Z")
# References anywhere in a string (resolve() and check-env accept both).
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Deeper than any real client file; keeps every recursive walk far from Python's limit.
MAX_DEPTH = 64


def is_reference(value: Any) -> bool:
    """True for a string that is one whole reference (``${VAR}``, ``${VAR:-x}``)."""
    return isinstance(value, str) and FULL_REFERENCE.match(value) is not None
