"""tenant-migrator: move client.yaml tenant configuration into PostgreSQL, safely.

The package is a library with a thin CLI on top (``cli.py``). The pipeline, one
module per step:

    discovery -> loader -> validation -> secretrefs -> record -> planning -> apply -> report

See ARCHITECTURE.md for which module owns what, and README "Python API" for the
names below: the entry points a platform calls (load, plan, import, rollback,
history, export, resolve, check_environment, migrate). They are imported on first
use, not with the package: ``import tenant_migrator`` (and so ``tenant-migrator
--help``) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_API: dict[str, str] = {
    "Settings": "tenant_migrator.settings",
    "MigratorError": "tenant_migrator.errors",
    # load
    "load_tenants": "tenant_migrator.pipeline",
    "stream_tenants": "tenant_migrator.pipeline",
    "load_one": "tenant_migrator.pipeline",
    # plan, import (and sync)
    "plan_tenants": "tenant_migrator.streaming",
    "import_tenants": "tenant_migrator.streaming",
    "ImportOptions": "tenant_migrator.streaming",
    # history, rollback, export
    "list_runs": "tenant_migrator.store",
    "rollback": "tenant_migrator.store",
    "read_snapshot": "tenant_migrator.store",
    "export_tenant": "tenant_migrator.export",
    # secrets at run time
    "resolve": "tenant_migrator.secretrefs",
    "references": "tenant_migrator.secretrefs",
    "MissingEnvironment": "tenant_migrator.secretrefs",
    "check_environment": "tenant_migrator.secretrefs",
    # migrate
    "load_project_migrations": "tenant_migrator.migrations",
    "migrate_target": "tenant_migrator.migrations",
}

__all__ = ["__version__", *_API]


def _on_first_use(namespace: dict[str, Any], names: dict[str, str]) -> tuple[Any, Any]:
    """``__getattr__, __dir__ = _on_first_use(globals(), {name: module, …})``: a
    package's names imported on first use (PEP 562). Here, so that the package
    loads nothing else; ``secretrefs`` and ``migrations`` use it too.

    Only for names not yet in the module: the first use imports the defining
    module and keeps the object in ``namespace``, so later uses are a plain lookup.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__


__getattr__, __dir__ = _on_first_use(globals(), _API)
