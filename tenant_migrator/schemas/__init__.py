"""The published JSON Schemas (draft 2020-12) of the commands' ``--format json`` output.

``<command>.schema.json`` for plan, validate, import (also sync's), check-env,
audit, rollback, migrate, migrate status (``migrate-status``) and export: the
documented contract. The suite validates what the commands print against them
(tests/schemacheck.py), so the two cannot drift apart.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = (
    "plan",
    "validate",
    "import",
    "check-env",
    "audit",
    "rollback",
    "migrate",
    "migrate-status",
    "export",
)


def load(name: str) -> dict[str, Any]:
    """The schema for command ``name`` (one of ``NAMES``)."""
    if name not in NAMES:
        raise KeyError(f"no published schema for {name!r}; there are: {', '.join(NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)
