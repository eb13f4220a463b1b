"""Secrets: find them, turn literals into ${ENV} references, resolve references at run time.

The rules (which fields are secrets, which env var each maps to, per-tenant or
shared) are annotations in config/schema.json; this module reads them from there:

    "password": {"type": ["string", "null"],
                 "x-secret": {"env": "SMTP_PASSWORD", "scope": "tenant"}}

``scope: tenant`` names the variable ``{TENANT_ID}_{env}`` (id upper-cased, ``-`` →
``_``), ``scope: shared`` names it ``{env}``; ``store: false`` removes the field from
``tenant_config`` altogether (the Supabase service key). Besides the annotated
fields, any key whose name contains password/secret/token/api_key/private_key holds
a secret, and every string is scanned for well-known secret shapes (JWT, ``sk-…``,
``SG.…``, ``AKIA…``, ``sk_live_…``, PEM private keys, GitHub tokens, …).

Where a secret shape appears *inside* a longer value (a key pasted into an email
signature) the whole value becomes the reference: storing the rest of the string
would need the platform to interpolate inside strings, and cutting the key out
silently would change the value. The report says so, so someone can clean it up.

A literal never goes anywhere but ``SecretReference.literal`` (excluded from repr)
and, from there, only into ``write_secrets_file``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_migrator.errors import MigratorError
from tenant_migrator.problems import Problem, Severity, escape, unescape

REFERENCED = "referenced"
KEPT = "kept"
REMOVED = "removed"

TENANT = "tenant"
SHARED = "shared"


@dataclass(frozen=True, slots=True)
class SecretReference:
    """One secret found in a client file.

    ``json_path``: RFC 6901 pointer of the field (``/email/smtp/password``).
    ``env_var``: the variable the reference names (``AFRICASTAY_SMTP_PASSWORD``).
    ``action``: "referenced" (literal replaced by ``${env_var}``), "kept" (already a
    reference), or "removed" (field dropped, e.g. the Supabase service key).
    ``literal``: the secret value itself; only ``--secrets-out`` may ever write it.
    It is excluded from repr so it cannot leak through logs or tracebacks.
    ``scope``: "tenant" (variable prefixed with the tenant id) or "shared".
    ``reason``: why it is a secret — "schema" (x-secret annotation), "key-name",
    or "shape:<kind>" (e.g. "shape:sendgrid"); "reference-default" when the literal
    was the default of a ``${VAR:-default}``.
    ``line``/``column``: where it is in the file (1-based), when known.
    """

    json_path: str
    env_var: str
    action: str
    literal: str | None = field(default=None, repr=False, compare=False)
    scope: str = TENANT
    reason: str = "schema"
    line: int | None = None
    column: int | None = None

    @property
    def reference(self) -> str:
        return "${" + self.env_var + "}"

    def to_json(self) -> dict[str, Any]:
        """The public description (never the literal)."""
        return {
            "path": self.json_path,
            "env_var": self.env_var,
            "action": self.action,
            "scope": self.scope,
            "reason": self.reason,
            "line": self.line,
            "column": self.column,
        }


# --- rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretRule:
    env: str
    scope: str = TENANT
    store: bool = True


# The fields the platform is known to keep secrets in. The schema's annotations are
# the rules; these only apply if a project's schema forgets one of them, so a stale
# schema can never let one of these reach the database.
BASELINE_RULES: Mapping[str, SecretRule] = {
    "/infrastructure/openai/api_key": SecretRule("OPENAI_API_KEY", SHARED),
    "/infrastructure/vapi/api_key": SecretRule("VAPI_API_KEY", TENANT),
    "/infrastructure/supabase/anon_key": SecretRule("SUPABASE_ANON_KEY", TENANT),
    "/infrastructure/supabase/service_key": SecretRule("SUPABASE_SERVICE_KEY", SHARED, store=False),
    "/email/sendgrid/api_key": SecretRule("SENDGRID_API_KEY", TENANT),
    "/email/smtp/password": SecretRule("SMTP_PASSWORD", TENANT),
}

_ENV_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


class SchemaRuleError(MigratorError):
    """An x-secret annotation in the schema is malformed."""


def rules_from_schema(schema: Mapping[str, Any]) -> dict[str, SecretRule]:
    """``x-secret`` annotations → {schema path: rule}; array items appear as ``*``.

    Follows ``properties``, ``items`` and local ``$ref``s. Baseline rules fill gaps.
    """
    rules: dict[str, SecretRule] = {}

    def visit(node: Any, pointer: str, depth: int) -> None:
        node = resolve_local_ref(schema, node)
        if not isinstance(node, Mapping) or depth > 30:
            return
        annotation = node.get("x-secret")
        if annotation is not None:
            rules[pointer] = _parse_rule(annotation, pointer)
        for name, sub in (node.get("properties") or {}).items():
            visit(sub, f"{pointer}/{escape(name)}", depth + 1)
        items = node.get("items")
        if isinstance(items, Mapping):
            visit(items, f"{pointer}/*", depth + 1)

    visit(schema, "", 0)
    for pointer, rule in BASELINE_RULES.items():
        rules.setdefault(pointer, rule)
    return rules


def resolve_local_ref(schema: Mapping[str, Any], node: Any) -> Any:
    """``node`` with its local ``$ref`` (``#/definitions/...``) followed, up to 20 hops.

    A ref into ``schema`` that does not exist gives ``{}``; a non-local ref is left as is.
    """
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target.get(unescape(part), {})
        node, seen = target, seen + 1
    return node


def _parse_rule(annotation: Any, pointer: str) -> SecretRule:
    where = f"config/schema.json: x-secret at {pointer or '/'}"
    if not isinstance(annotation, Mapping):
        raise SchemaRuleError(
            f"{where} must be an object like {{'env': 'NAME', 'scope': 'tenant'}}"
        )
    env = annotation.get("env")
    scope = annotation.get("scope", TENANT)
    store = annotation.get("store", True)
    if not isinstance(env, str) or not _ENV_NAME.match(env):
        raise SchemaRuleError(f"{where}: 'env' must be an environment variable name")
    if scope not in (TENANT, SHARED):
        raise SchemaRuleError(f"{where}: 'scope' must be 'tenant' or 'shared'")
    if not isinstance(store, bool):
        raise SchemaRuleError(f"{where}: 'store' must be true or false")
    return SecretRule(env, scope, store)


# --- detection -------------------------------------------------------------------------

# Key names that hold secrets (case-insensitive substring of the key, `-` read as `_`).
_SECRET_KEY = re.compile(r"password|passwd|secret|token|api_?key|private_?key", re.IGNORECASE)

# Well-known secret shapes, as (boundary, body). Boundaries keep "helpdesk-…" from
# looking like "sk-…". The body alone matches wherever the whole pattern does, and
# without a lookbehind in front the regex engine can skip ahead to a possible first
# character: as a pre-check it is 4-5x faster on the strings of a client file.
_SHAPES: dict[str, tuple[str, str]] = {
    "private_key": (
        "",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?",
    ),
    "jwt": (r"\b", r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "sendgrid": (r"(?<![A-Za-z0-9])", r"SG\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "stripe": (r"(?<![A-Za-z0-9])", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"),
    "openai": (r"(?<![A-Za-z0-9_-])", r"sk-[A-Za-z0-9_-]{20,}"),
    "aws_access_key": (r"(?<![A-Za-z0-9])", r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    "github": (
        r"(?<![A-Za-z0-9])",
        r"(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})",
    ),
    "slack": (r"(?<![A-Za-z0-9])", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    "google_api_key": (r"(?<![A-Za-z0-9])", r"AIza[A-Za-z0-9_-]{35}"),
}
_SHAPE_RE = re.compile(
    "|".join(f"(?P<{name}>{boundary}{body})" for name, (boundary, body) in _SHAPES.items())
)
_SHAPE_HINT_RE = re.compile("|".join(f"(?:{body})" for _boundary, body in _SHAPES.values()))


def _shortest_match(pattern: str) -> int:
    """The fewest characters ``pattern`` can match, as Python's regex parser computes it."""
    try:
        from re import _parser  # type: ignore[attr-defined]  # Python 3.11+

        return int(_parser.parse(pattern).getwidth()[0])
    except Exception:  # pragma: no cover - another Python's internals: never skip the search
        return 0


# No shape fits in fewer characters (15: a Slack token), so the many short values of
# a client file (names, codes, ports, colours) skip the regexes altogether.
_SHAPE_MIN = _shortest_match(_SHAPE_RE.pattern)


def _shape_match(text: str) -> re.Match[str] | None:
    """``_SHAPE_RE.search(text)``, ruling out cheaply the text that cannot match."""
    if len(text) < _SHAPE_MIN or _SHAPE_HINT_RE.search(text) is None:
        return None
    return _SHAPE_RE.search(text)


# A whole-value reference: ${VAR} or ${VAR:-default}.
_FULL_REFERENCE = re.compile(r"\A\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}\Z")
# References anywhere in a string (resolve() and check-env accept both).
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Deeper than any real client file; keeps every recursive walk far from Python's limit.
MAX_DEPTH = 64


def find_secret_shape(text: str) -> str | None:
    """The kind of the first well-known secret shape inside ``text``, if any."""
    match = _shape_match(text)
    return match.lastgroup if match else None


def looks_like_secret(text: str) -> bool:
    """True if ``text`` contains a well-known secret shape (for redacting displays)."""
    return _shape_match(text) is not None


def shown_key(key: str, hidden: str) -> str:
    """``repr(key)`` for a message, or ``hidden`` when the key is long or shaped like a
    secret: keys are names, not values; still, never echo anything shaped like a secret."""
    if len(key) > 60 or find_secret_shape(key):
        return hidden
    return repr(key)


def is_secret_key(name: str) -> bool:
    return _SECRET_KEY.search(name.replace("-", "_")) is not None


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and _FULL_REFERENCE.match(value) is not None


def env_prefix(tenant_id: str) -> str:
    """``safari-run`` → ``SAFARI_RUN`` (the platform's rule for per-tenant variables)."""
    return tenant_id.upper().replace("-", "_")


def env_name_for_path(tenant_id: str, pointer: str) -> str:
    """Variable name for a secret found outside the annotated fields:
    ``/branding/email_signature`` → ``AFRICASTAY_BRANDING_EMAIL_SIGNATURE``."""
    body = re.sub(r"[^A-Z0-9]+", "_", unescape(pointer).upper())
    return f"{env_prefix(tenant_id)}_{body.strip('_') or 'SECRET'}"


# --- extraction ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extraction:
    """``config``: the document with secrets replaced (a fresh tree, no aliases).
    ``problems``: errors (depth, secret-shaped keys) and warnings (partial values)."""

    config: dict[str, Any]
    secrets: tuple[SecretReference, ...]
    problems: tuple[Problem, ...]


Locate = Callable[[str], tuple[int | None, int | None]]


def extract(
    document: Mapping[str, Any],
    tenant_id: str,
    rules: Mapping[str, SecretRule] | None = None,
    *,
    path: Path | None = None,
    locate: Locate | None = None,
) -> Extraction:
    """Replace every secret literal in ``document`` by a ``${ENV}`` reference.

    Pure: returns a new tree. ``locate(pointer)`` gives positions for the report.
    """
    walker = _Extractor(tenant_id, BASELINE_RULES if rules is None else rules, path, locate)
    config = walker.mapping(document, walker.trie, 0)
    return Extraction(config, tuple(walker.secrets), tuple(walker.problems))


# Rules as a trie over path segments ("*" for list items; the rule itself under
# None), so the walk looks rules up per key instead of building path strings.
_TRIES: dict[int, tuple[Mapping[str, SecretRule], dict[Any, Any]]] = {}


def _rule_trie(rules: Mapping[str, SecretRule]) -> dict[Any, Any]:
    cached = _TRIES.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    trie: dict[Any, Any] = {}
    for pointer, rule in rules.items():
        node = trie
        for raw in pointer.split("/")[1:]:
            node = node.setdefault(unescape(raw), {})
        node[None] = rule
    if len(_TRIES) > 16:
        _TRIES.clear()
    _TRIES[id(rules)] = (rules, trie)  # holds ``rules`` so its id stays unique
    return trie


# Per key name: (looks like a secret itself, names a secret). Key names repeat across
# thousands of files, so each is checked once per process.
_KEY_FLAGS: dict[str, tuple[bool, bool]] = {}


def _key_flags(name: str) -> tuple[bool, bool]:
    flags = _KEY_FLAGS.get(name)
    if flags is None:
        flags = (_shape_match(name) is not None, is_secret_key(name))
        if len(_KEY_FLAGS) > 50_000:
            _KEY_FLAGS.clear()
        _KEY_FLAGS[name] = flags
    return flags


def _plain(value: Any) -> bool:
    """True for a number, boolean or null, and for a string that can hold neither a
    secret shape nor a reference: where no rule or key name applies, such a value
    is copied as it is (what ``_Extractor.value`` would return, sooner)."""
    kind = type(value)
    if kind is str:
        return "${" not in value and (
            len(value) < _SHAPE_MIN or _SHAPE_HINT_RE.search(value) is None
        )
    return value is None or kind is int or kind is float or kind is bool


class _Extractor:
    def __init__(
        self,
        tenant_id: str,
        rules: Mapping[str, SecretRule],
        path: Path | None,
        locate: Locate | None,
    ) -> None:
        self.tenant_id = tenant_id
        self.prefix = env_prefix(tenant_id)
        self.trie = _rule_trie(rules)
        self.path = path or Path("client.yaml")
        self.locate = locate
        self.parts: list[str] = []  # path of the node being visited
        self.secrets: list[SecretReference] = []
        self.problems: list[Problem] = []
        self.used_names: dict[str, str] = {}  # env var -> pointer (unique per tenant)

    def pointer(self) -> str:
        return "".join("/" + escape(part) for part in self.parts)

    def position(self, pointer: str) -> tuple[int | None, int | None]:
        return self.locate(pointer) if self.locate else (None, None)

    def problem(self, pointer: str, message: str, severity: Severity) -> None:
        line, column = self.position(pointer)
        self.problems.append(Problem(self.path, message, pointer, line, column, severity))

    def too_deep(self) -> None:
        self.problem(
            self.pointer(),
            f"nested more than {MAX_DEPTH} levels deep; a client file is a handful of levels",
            Severity.ERROR,
        )

    def mapping(self, value: Mapping[str, Any], trie: Any, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            self.too_deep()
            return {}
        parts = self.parts
        out: dict[str, Any] = {}
        for name, item in value.items():
            shaped, secret_name = _KEY_FLAGS.get(name) or _key_flags(name)
            if shaped:
                self.problem(
                    self.pointer(),
                    "a key here looks like a secret (a token or API key used as a key name); "
                    "a key cannot become a reference — remove it",
                    Severity.ERROR,
                )
                continue
            child = trie.get(name) if trie else None
            rule = child.get(None) if child else None
            if rule is None and not secret_name:
                # ``_plain`` inline: most values take this way, and this is the inner
                # loop of every file.
                kind = type(item)
                if kind is str:
                    if "${" not in item and (
                        len(item) < _SHAPE_MIN or _SHAPE_HINT_RE.search(item) is None
                    ):
                        out[name] = item
                        continue
                elif item is None or kind is int or kind is float or kind is bool:
                    out[name] = item
                    continue
            parts.append(name)
            if rule is not None and not rule.store:
                self.remove(item, rule)
            else:
                out[name] = self.value(item, child, rule, secret_name, depth)
            parts.pop()
        return out

    def value(
        self, value: Any, trie: Any, rule: SecretRule | None, by_name: bool, depth: int
    ) -> Any:
        if isinstance(value, str):
            return self.string(value, rule, by_name and rule is None)
        if isinstance(value, dict):
            return self.mapping(value, trie, depth + 1)
        if isinstance(value, list):
            if depth + 1 > MAX_DEPTH:
                self.too_deep()
                return None
            child = trie.get("*") if trie else None
            child_rule = child.get(None) if child else None
            parts = self.parts
            out = []
            plain_items = child_rule is None and not by_name
            for index, item in enumerate(value):
                if plain_items and _plain(item):
                    out.append(item)
                    continue
                parts.append(str(index))
                out.append(self.value(item, child, child_rule, by_name, depth + 1))
                parts.pop()
            return out
        return value

    def string(self, value: str, rule: SecretRule | None, by_name: bool) -> str:
        if "${" in value:
            full = _FULL_REFERENCE.match(value)
            if full is not None:
                return self.reference(value, full, rule, by_name)
        if rule is not None or by_name:
            if not value.strip():
                return value  # empty: nothing to hide
            return self.replace(value, rule, "schema" if rule is not None else "key-name")
        match = _shape_match(value)
        if match is None:
            return value
        kind = match.lastgroup or "secret"
        whole = _SHAPE_RE.fullmatch(value.strip()) is not None
        reference = self.replace(value, None, f"shape:{kind}")
        if not whole:
            self.problem(
                self.pointer(),
                f"this value contains what looks like a {_KIND_NAMES.get(kind, kind)}; the whole "
                f"value was moved to {reference} — take the secret out of the text in the file",
                Severity.WARNING,
            )
        return reference

    def reference(
        self, value: str, match: re.Match[str], rule: SecretRule | None, by_name: bool
    ) -> str:
        name, default = match.group(1), match.group(2)
        secret_field = rule is not None or by_name
        if default and (secret_field or _shape_match(default)):
            # The default is a literal secret: keep the variable, move the default out.
            self.record(name, REFERENCED, default, rule, "reference-default")
            return "${" + name + "}"
        if secret_field:
            self.record(name, KEPT, None, rule, "schema" if rule else "key-name")
        return value

    def replace(self, literal: str, rule: SecretRule | None, reason: str) -> str:
        pointer = self.pointer()
        if rule is not None:
            env = rule.env if rule.scope == SHARED else f"{self.prefix}_{rule.env}"
        else:
            env = env_name_for_path(self.tenant_id, pointer)
        env = self.unique(env, pointer)
        self.record(env, REFERENCED, literal, rule, reason, pointer)
        return "${" + env + "}"

    def unique(self, env: str, pointer: str) -> str:
        candidate, n = env, 1
        while self.used_names.get(candidate, pointer) != pointer:
            n += 1
            candidate = f"{env}_{n}"
        self.used_names[candidate] = pointer
        return candidate

    def remove(self, value: Any, rule: SecretRule) -> None:
        literal = None
        env = rule.env if rule.scope == SHARED else f"{self.prefix}_{rule.env}"
        # Only a string can be a usable secret; a reference keeps just its default.
        if isinstance(value, str) and value.strip():
            full = _FULL_REFERENCE.match(value)
            if full is None:
                literal = value
            elif full.group(2):
                literal = full.group(2)
        self.record(env, REMOVED, literal, rule, "schema")

    def record(
        self,
        env: str,
        action: str,
        literal: str | None,
        rule: SecretRule | None,
        reason: str,
        pointer: str | None = None,
    ) -> None:
        pointer = self.pointer() if pointer is None else pointer
        line, column = self.position(pointer)
        scope = rule.scope if rule is not None else TENANT
        self.secrets.append(
            SecretReference(pointer, env, action, literal, scope, reason, line, column)
        )


_KIND_NAMES = {
    "private_key": "PEM private key",
    "jwt": "JWT",
    "sendgrid": "SendGrid API key",
    "stripe": "Stripe secret key",
    "openai": "OpenAI API key",
    "aws_access_key": "AWS access key id",
    "github": "GitHub token",
    "slack": "Slack token",
    "google_api_key": "Google API key",
}


def literal_fingerprint(literal: str) -> str:
    """A stable, non-reversible tag for comparing literals without holding them."""
    return hashlib.sha256(literal.encode("utf-8")).hexdigest()


# --- run time: references → values -----------------------------------------------------


class MissingEnvironment(MigratorError):
    """``resolve`` found references to variables that are not set."""

    def __init__(self, missing: Mapping[str, list[str]]) -> None:
        self.missing = dict(missing)
        names = ", ".join(
            f"{name} (used at {', '.join(paths)})" for name, paths in sorted(self.missing.items())
        )
        count = len(self.missing)
        super().__init__(
            f"{count} environment variable{'s are' if count != 1 else ' is'} not set: {names}; "
            "set them (e.g. from the --secrets-out file) before starting the tenant"
        )


def references(config: Any) -> list[tuple[str, str, str | None]]:
    """Every ``${VAR}`` / ``${VAR:-default}`` in ``config``: (pointer, VAR, default or None)."""
    found: list[tuple[str, str, str | None]] = []

    def visit(value: Any, pointer: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, str):
            if "${" in value:
                for match in _REFERENCE.finditer(value):
                    found.append((pointer, match.group(1), match.group(2)))
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{pointer}/{escape(key)}", depth + 1)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{pointer}/{index}", depth + 1)

    visit(config, "", 0)
    return found


def resolve(config: Any, environ: Mapping[str, str] | None = None) -> Any:
    """``tenant_config`` with every reference replaced by its value from ``environ``.

    Shell semantics: ``${VAR}`` needs VAR set (empty is a value); ``${VAR:-default}``
    uses the default when VAR is unset or empty. Every missing variable is collected
    and reported in one ``MissingEnvironment`` error (names and paths, never values).
    Returns a new structure; ``config`` is not modified.
    """
    env = os.environ if environ is None else environ
    missing: dict[str, list[str]] = {}

    def substitute(match: re.Match[str], pointer: str) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            missing.setdefault(name, []).append(pointer or "/")
            return ""
        return value

    def visit(value: Any, pointer: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise MigratorError(f"configuration nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            if "${" not in value:
                return value
            return _REFERENCE.sub(lambda m: substitute(m, pointer), value)
        if isinstance(value, dict):
            return {k: visit(v, f"{pointer}/{escape(k)}", depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, f"{pointer}/{i}", depth + 1) for i, v in enumerate(value)]
        return value

    result = visit(config, "", 0)
    if missing:
        raise MissingEnvironment(missing)
    return result


# --- check-env: which referenced variables are unset here ------------------------------

SET = "set"
EMPTY = "empty"
DEFAULT = "default"
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class EnvVariable:
    """One variable the tenants reference. ``status``: "set"; "empty" (set to "" and
    needed without a default); "default" (unset or empty, every use has a default);
    "missing" (unset, some use has no default). Never carries the value."""

    name: str
    status: str
    required: bool
    uses: tuple[tuple[str, str], ...]  # (tenant id, JSON pointer)

    @property
    def tenants(self) -> tuple[str, ...]:
        return tuple(sorted({tenant for tenant, _ in self.uses}))

    @property
    def ok(self) -> bool:
        return self.status in (SET, DEFAULT)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "required": self.required,
            "tenants": list(self.tenants),
            "uses": [{"tenant": t, "path": p} for t, p in self.uses],
        }


def check_environment(
    results: Iterable[Any], environ: Mapping[str, str] | None = None
) -> tuple[EnvVariable, ...]:
    """Every variable referenced by the loaded tenants (TenantResults with a record),
    plus the variables of removed fields (the platform reads those from its
    environment too), with whether ``environ`` provides it. Sorted by name."""
    env = os.environ if environ is None else environ
    uses: dict[str, list[tuple[str, str]]] = {}
    required: dict[str, bool] = {}
    for result in results:
        if result.record is None:
            continue
        found = references(result.record.tenant_config)  # a fresh list per call
        found += [
            (ref.json_path, ref.env_var, None) for ref in result.secrets if ref.action == REMOVED
        ]
        for pointer, name, default in found:
            uses.setdefault(name, []).append((result.tenant_id, pointer or "/"))
            required[name] = required.get(name, False) or default is None
    variables = []
    for name in sorted(uses):
        value = env.get(name)
        if value:
            status = SET
        elif required[name]:
            status = MISSING if value is None else EMPTY
        else:
            status = DEFAULT
        variables.append(EnvVariable(name, status, required[name], tuple(sorted(uses[name]))))
    return tuple(variables)


# --- --secrets-out ---------------------------------------------------------------------


class SecretsFileError(MigratorError):
    """The secrets file could not be written (exists, conflicting values, I/O)."""


def collect_literals(items: Iterable[Any]) -> dict[str, str]:
    """{env var: literal} from TenantResults or SecretReferences.

    The same variable with two different literals cannot be written to one file:
    that raises (naming the variable and tenants, never the values).
    """
    values: dict[str, str] = {}
    owners: dict[str, set[str]] = {}
    conflicts: dict[str, set[str]] = {}
    for item in items:
        refs = getattr(item, "secrets", None)
        # A TenantResult's tenant_id, or a TenantPlan's id.
        tenant = getattr(item, "tenant_id", None) or getattr(item, "id", None)
        for ref in [item] if refs is None else refs:
            if ref.literal is None or ref.action == KEPT:
                continue
            previous = values.setdefault(ref.env_var, ref.literal)
            owners.setdefault(ref.env_var, set()).add(tenant or ref.json_path)
            if previous != ref.literal:
                conflicts[ref.env_var] = owners[ref.env_var]
    if conflicts:
        detail = "; ".join(
            f"{name} (from {', '.join(sorted(who))})" for name, who in sorted(conflicts.items())
        )
        raise SecretsFileError(
            f"different literal values for the same variable: {detail}. One environment "
            "variable cannot hold both; make the files agree or reference per-tenant variables"
        )
    return values


def refuse_existing(path: Path | str, force: bool) -> None:
    """Raise if ``path`` exists and ``force`` is not given: commands check this before
    any work, so a second run fails at once rather than after writing."""
    if not force and Path(path).exists():
        raise _exists(Path(path))


def _exists(path: Path) -> SecretsFileError:
    return SecretsFileError(
        f"{path} already exists; refusing to overwrite a secrets file (use --force)"
    )


def write_secrets_file(path: Path | str, items: Iterable[Any], force: bool = False) -> int:
    """Write every extracted literal as dotenv ``NAME=value`` lines; returns the count.

    ``items``: TenantResults or TenantPlans (their ``secrets``), or SecretReferences. The file is
    created with mode 0600 from the start (never world-readable, not even for a
    moment) and refused if it exists, unless ``force`` — then it is replaced
    atomically by a new 0600 file. Values that are not plain words are written
    double-quoted with backslash escapes (``\\\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t``), the
    syntax python-dotenv and docker compose read.
    """
    target = Path(path)
    values = collect_literals(items)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [
        f"# Secrets taken out of client.yaml files by tenant-migrator, {stamp}.",
        "# Keep this file private: load it into the platform's environment, then delete it.",
    ]
    lines += [f"{name}={dotenv_quote(value)}" for name, value in sorted(values.items())]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        if force:
            _replace_private(target, payload)
        else:
            _create_private(target, payload)
    except FileExistsError:
        raise _exists(target) from None
    except OSError as err:
        raise SecretsFileError(f"cannot write {target}: {err.strerror or err}") from None
    return len(values)


_PLAIN_VALUE = re.compile(r"\A[A-Za-z0-9_./:@+,=-]*\Z")


def dotenv_quote(value: str) -> str:
    if _PLAIN_VALUE.match(value):
        return value
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def dotenv_unquote(text: str) -> str:
    """Inverse of ``dotenv_quote`` (for tests and tooling)."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    mapping = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
    return re.sub(r"\\(.)", lambda m: mapping.get(m.group(1), "\\" + m.group(1)), text[1:-1])


_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_private(target: Path, payload: bytes) -> None:
    # O_EXCL: fails on an existing file or symlink, so nothing is ever overwritten
    # or followed; 0o600 applies from creation (umask can only remove bits).
    fd = os.open(target, _FLAGS, 0o600)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        target.unlink(missing_ok=True)
        raise
    os.close(fd)


def _replace_private(target: Path, payload: bytes) -> None:
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _create_private(temp, payload)
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
