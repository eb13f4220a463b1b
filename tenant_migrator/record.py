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

from collections.abc import Mapping
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


# Keys of the `client` section that become columns (id is the directory name).
_CLIENT_COLUMNS = ("id", "name", "short_name", "timezone", "currency")


def build_record(tenant_id: str, document: Mapping[str, Any]) -> TenantRecord:
    """The row for one tenant from its (validated, secrets-replaced) document.

    Pure. ``tenant_config`` is the document without the ``client`` section, whose
    fields live in columns; keys of ``client`` that have no column are kept under
    ``tenant_config.client`` so nothing is dropped (``client.id`` is not kept: the
    directory name is the id, and a mismatch is reported by validation).
    """
    client = document.get("client")
    client = client if isinstance(client, Mapping) else {}
    email = document.get("email")
    gcp = _section(document, "infrastructure", "gcp")
    config = {key: value for key, value in document.items() if key != "client"}
    extra = {key: value for key, value in client.items() if key not in _CLIENT_COLUMNS}
    if extra:
        config = {"client": extra, **config}
    name = _text(client.get("name"))
    return TenantRecord(
        id=tenant_id,
        name=name if name is not None else tenant_id,
        short_name=_text(client.get("short_name")),
        timezone=_text(client.get("timezone")),
        currency=_text(client.get("currency")),
        primary_email=_text(email.get("primary")) if isinstance(email, Mapping) else None,
        gcp_project_id=_text(gcp.get("project_id")),
        gcp_dataset=_text(gcp.get("dataset")),
        tenant_config=config,
    )


def _section(document: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    node: Any = document
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


def _text(value: Any) -> str | None:
    # The schema guarantees strings for validated files; stay total for other callers.
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
