"""Deprecated: use ``tenant_migrator.secretrefs`` (same functions, same behaviour).

The platform's run-time API was documented as ``tenant_migrator.secrets.resolve``;
this module keeps exactly that API (``resolve``, ``MissingEnvironment``,
``references``) working for one more release, with a ``DeprecationWarning``. The
tool itself never imports it (tests/test_import_graph.py), and it holds nothing
else: a module named ``secrets`` shadows the standard library's wherever the
package directory lands on ``sys.path``, so it is going away.
"""

import warnings

from tenant_migrator.secretrefs.runtime import MissingEnvironment, references, resolve

__all__ = ["MissingEnvironment", "references", "resolve"]

warnings.warn(
    "tenant_migrator.secrets is deprecated: import resolve, MissingEnvironment and "
    "references from tenant_migrator.secretrefs",
    DeprecationWarning,
    stacklevel=2,
)
