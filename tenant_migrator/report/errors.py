"""The words the CLI shows for an error (``render.print_error``), from its data.

An error's own message (``str()``) is what a Python-API caller sees: complete, but
built from ids, counts and paths only. Most are the whole text already (a rollback
refused, rows changed while writing: run numbers and tenant ids). A blocked-tenants
refusal is not: the CLI also shows each drifted value, last import → database, as it
is in the row, so redacted (an admin may have pasted a key into it) and cut short.
"""

from __future__ import annotations

from tenant_migrator.drift_errors import BlockedTenants
from tenant_migrator.errors import MigratorError
from tenant_migrator.planning import Change
from tenant_migrator.redaction import redact_change, short_value


def error_text(err: MigratorError) -> str:
    """What the CLI prints after ``error: `` for ``err``."""
    if isinstance(err, BlockedTenants):
        return err.message(drift_line)
    return str(err)


def drift_line(change: Change) -> str:
    """One drifted change of a blocked tenant: both values redacted, shortened."""
    c = redact_change(change)
    old, new = short_value(c.old), short_value(c.new)
    return f"{c.op.value} {c.path}: {old} (last import) → {new} (database)"
