"""Secret references: find secrets in client files, turn literals into ``${ENV}``
references, and resolve those references at run time.

(Named ``secretrefs``, not ``secrets``: a module of that name shadows the standard
library's ``secrets`` wherever the package directory lands on ``sys.path``.)

One module per concern:

- ``model``: ``SecretReference`` (one secret found) and its vocabulary;
- ``rules``: which fields are secrets, from the schema's ``x-secret`` annotations;
- ``shapes``: well-known secret shapes (JWT, ``sk-…``, ``SG.…`` …) and secret key names;
- ``syntax``: the ``${VAR}`` / ``${VAR:-default}`` syntax;
- ``extraction``: the walk replacing every literal by a reference (the hot path);
- ``shared``: the cross-file check that a shared variable gets one value;
- ``dotenv``: ``--secrets-out`` (the only way a literal leaves the process);
- ``envcheck``: ``check-env``;
- ``runtime``: ``resolve()`` for the platform, ``references()``.

A literal never goes anywhere but ``SecretReference.literal`` (excluded from repr)
and, from there, only into ``write_secrets_file``.

The names of ``dotenv``, ``envcheck`` and ``runtime`` are imported on first use
(``__getattr__``): loading client files (``sync``, ``plan``) needs none of them.
"""

from __future__ import annotations

from tenant_migrator import _on_first_use
from tenant_migrator.secretrefs.extraction import (
    Extraction,
    env_name_for_path,
    env_prefix,
    extract,
)
from tenant_migrator.secretrefs.model import (
    KEPT,
    REFERENCED,
    REMOVED,
    SHARED,
    TENANT,
    SecretReference,
)
from tenant_migrator.secretrefs.rules import (
    BASELINE_RULES,
    SchemaRuleError,
    SecretRule,
    resolve_local_ref,
    rules_from_schema,
)
from tenant_migrator.secretrefs.shapes import (
    find_secret_shape,
    is_secret_key,
    looks_like_secret,
    shown_key,
)
from tenant_migrator.secretrefs.shared import SharedSecrets, literal_fingerprint
from tenant_migrator.secretrefs.syntax import MAX_DEPTH, is_reference

# Name -> the module that defines it, imported by the first use of one of its names.
_ON_USE = {
    **dict.fromkeys(
        (
            "SecretsFileError",
            "check_target",
            "collect_literals",
            "dotenv_quote",
            "refuse_existing",
            "write_secrets_file",
        ),
        "tenant_migrator.secretrefs.dotenv",
    ),
    **dict.fromkeys(
        ("DEFAULT", "EMPTY", "MISSING", "SET", "EnvVariable", "check_environment"),
        "tenant_migrator.secretrefs.envcheck",
    ),
    **dict.fromkeys(
        ("MissingEnvironment", "UnresolvableReference", "references", "resolve"),
        "tenant_migrator.secretrefs.runtime",
    ),
}

__all__ = [
    "BASELINE_RULES",
    "DEFAULT",
    "EMPTY",
    "KEPT",
    "MAX_DEPTH",
    "MISSING",
    "REFERENCED",
    "REMOVED",
    "SET",
    "SHARED",
    "TENANT",
    "EnvVariable",
    "Extraction",
    "MissingEnvironment",
    "SchemaRuleError",
    "SecretReference",
    "SecretRule",
    "SecretsFileError",
    "SharedSecrets",
    "UnresolvableReference",
    "check_environment",
    "check_target",
    "collect_literals",
    "dotenv_quote",
    "env_name_for_path",
    "env_prefix",
    "extract",
    "find_secret_shape",
    "is_reference",
    "is_secret_key",
    "literal_fingerprint",
    "looks_like_secret",
    "references",
    "refuse_existing",
    "resolve",
    "resolve_local_ref",
    "rules_from_schema",
    "shown_key",
    "write_secrets_file",
]

__getattr__, __dir__ = _on_first_use(globals(), _ON_USE)
