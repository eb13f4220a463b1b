"""The tenant record: the row the import writes for one tenant (a plain value).

Mapping from client.yaml (documented in README "How client.yaml maps to the row"):

    id              <- the directory name under clients/
    name            <- client.name
    short_name      <- client.short_name
    timezone        <- client.timezone
    currency        <- client.currency
    primary_email   <- email.primary   (also admin_email/support_email on insert)
    gcp_project_id  <- infrastructure.gcp.project_id
    gcp_dataset     <- infrastructure.gcp.dataset
    tenant_config   <- the document without `client`, secrets replaced by ${ENV} references
    config_source   =  'database'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONFIG_SOURCE = "database"

# Columns the tool owns and rewrites on every import, in write order.
OWNED_COLUMNS: tuple[str, ...] = (
    "name",
    "short_name",
    "timezone",
    "currency",
    "primary_email",
    "gcp_project_id",
    "gcp_dataset",
)
# Written only when the row is created (the platform copied email.primary there).
INSERT_ONLY_COLUMNS: tuple[str, ...] = ("admin_email", "support_email")


@dataclass(frozen=True, slots=True)
class TenantRecord:
    id: str
    name: str
    short_name: str | None
    timezone: str | None
    currency: str | None
    primary_email: str | None
    gcp_project_id: str | None
    gcp_dataset: str | None
    tenant_config: dict[str, Any] = field(default_factory=dict)

    def columns(self) -> dict[str, Any]:
        """The owned scalar columns, by name (not tenant_config, not config_source)."""
        return {name: getattr(self, name) for name in OWNED_COLUMNS}
