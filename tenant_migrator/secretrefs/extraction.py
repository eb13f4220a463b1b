"""The extraction walk: every secret literal in a document → a ``${ENV}`` reference.

A value is a secret when its field has a rule (``rules.py``), when its key name says
so (``password``, ``api_key`` …), or when it contains a well-known secret shape
(``shapes.py``). Where a shape appears *inside* a longer value (a key pasted into an
email signature) the whole value becomes the reference: storing the rest of the
string would need the platform to interpolate inside strings, and cutting the key
out silently would change the value. A warning says so, so someone can clean it up.

This is the hottest code of a bulk import after YAML parsing (every key and value
of every file passes here): see ``_Extractor`` for what keeps it fast, and
tests/test_fast_paths.py for the property tests holding each shortcut to the long way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_migrator.problems import Problem, Severity, escape, unescape
from tenant_migrator.secretrefs.model import (
    KEPT,
    REFERENCED,
    REMOVED,
    SHARED,
    TENANT,
    SecretReference,
)
from tenant_migrator.secretrefs.rules import BASELINE_RULES, SecretRule
from tenant_migrator.secretrefs.shapes import (
    HEX32,
    NOT_SECRET,
    SECRET_CONTAINER,
    SECRET_TEXT,
    SECRET_VALUE,
    SHAPE_HINT_RE,
    SHAPE_MIN,
    SHAPE_RE,
    URL_MARK,
    find_secret_shape,
    is_hex_secret_key,
    key_class,
    shape_label,
    shape_match,
)
from tenant_migrator.secretrefs.syntax import FULL_REFERENCE, MAX_DEPTH, REFERENCE, resolvable


def env_prefix(tenant_id: str) -> str:
    """``safari-run`` → ``SAFARI_RUN`` (the platform's rule for per-tenant variables).

    A name the runtime resolves cannot start with a digit, so an id that does gets
    a ``_`` in front: ``9lives-travel`` → ``_9LIVES_TRAVEL``. No tenant id starts
    with ``_``, so that prefix is no other tenant's.
    """
    prefix = tenant_id.upper().replace("-", "_")
    return "_" + prefix if prefix[:1].isdigit() else prefix


def env_name_for_path(tenant_id: str, pointer: str) -> str:
    """Variable name for a secret found outside the annotated fields:
    ``/branding/email_signature`` → ``AFRICASTAY_BRANDING_EMAIL_SIGNATURE``."""
    body = re.sub(r"[^A-Z0-9]+", "_", unescape(pointer).upper())
    return f"{env_prefix(tenant_id)}_{body.strip('_') or 'SECRET'}"


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
    walker = _Extractor(
        tenant_id, BASELINE_RULES if rules is None else rules, path=path, locate=locate
    )
    config = walker.mapping(document, walker.trie, 0)
    return Extraction(config, tuple(walker.secrets), tuple(walker.problems))


# --- the rules as a trie -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleNode:
    """One segment of the rules' paths: the rule of exactly this path, if any, and
    the nodes of the next segments by key (``"*"``: a list's items).

    The walk looks rules up one key at a time, so it never builds a path string
    to find out that a field has no rule.
    """

    rule: SecretRule | None = None
    children: Mapping[str, RuleNode] = field(default_factory=dict)


def rule_trie(rules: Mapping[str, SecretRule]) -> RuleNode:
    """The rules (``{pointer: rule}``) as a trie of ``RuleNode``s, built once per rules."""
    cached = _TRIES.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    trie = _node(None, [([unescape(raw) for raw in p.split("/")[1:]], r) for p, r in rules.items()])
    if len(_TRIES) > 16:
        _TRIES.clear()
    _TRIES[id(rules)] = (rules, trie)  # holds ``rules`` so its id stays unique
    return trie


_TRIES: dict[int, tuple[Mapping[str, SecretRule], RuleNode]] = {}


def _node(rule: SecretRule | None, below: list[tuple[list[str], SecretRule]]) -> RuleNode:
    """The node whose own rule is ``rule`` and whose descendants hold ``below``
    (each a path relative to this node, and its rule)."""
    by_key: dict[str, tuple[SecretRule | None, list[tuple[list[str], SecretRule]]]] = {}
    for segments, sub_rule in below:
        own, deeper = by_key.get(segments[0], (None, []))
        if len(segments) == 1:
            own = sub_rule
        else:
            deeper.append((segments[1:], sub_rule))
        by_key[segments[0]] = (own, deeper)
    return RuleNode(rule, {key: _node(own, deeper) for key, (own, deeper) in by_key.items()})


# --- the walk ----------------------------------------------------------------------------

# Per key name: (looks like a secret itself, what it says of its value (``key_class``),
# 32 hex under it are a secret). Key names repeat across thousands of files, so each
# is checked once per process.
_KEY_FLAGS: dict[str, tuple[bool, int, bool]] = {}


def _key_flags(name: str) -> tuple[bool, int, bool]:
    flags = _KEY_FLAGS.get(name)
    if flags is None:
        flags = (shape_match(name) is not None, key_class(name), is_hex_secret_key(name))
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
            (len(value) < SHAPE_MIN and URL_MARK not in value)
            or SHAPE_HINT_RE.search(value) is None
        )
    return value is None or kind is int or kind is float or kind is bool


class _Extractor:
    """One document's walk: copies the tree, replacing secrets as it goes, and
    collects the ``SecretReference``s and ``Problem``s it finds.

    ``mapping`` and ``value`` recurse together down the document and, in step, down
    the rules' trie (``RuleNode``: the node of the field being visited, or None
    once no rule lies below it). For each field the walk knows three things: the
    rule of its path (``rule``), whether its key name marks a secret (``by_name``),
    and the trie node below it (for the rules of nested fields). ``parts`` is the
    path of the field being visited, as keys and indexes; a JSON pointer is built
    from it only when something is recorded.

    Speed: most values of a client file are short strings, numbers and booleans
    under ordinary keys. ``mapping`` copies those in its inner loop without a call
    (``_plain`` inlined), key names are classified once per process
    (``_key_flags``), and the shape regexes run only on strings long enough and
    with a shape's body in them (``shapes.shape_match``). A value that reaches
    ``value``/``string`` is one that could be a secret or a reference.
    """

    def __init__(
        self,
        tenant_id: str,
        rules: Mapping[str, SecretRule],
        *,
        path: Path | None = None,
        locate: Locate | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.prefix = env_prefix(tenant_id)
        self.trie = rule_trie(rules)
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

    def mapping(
        self, value: Mapping[str, Any], node: RuleNode | None, depth: int, every: bool = False
    ) -> dict[str, Any]:
        """``value`` with its secrets replaced; ``every``: it is the value of a key
        like ``secrets`` or ``credentials``, so every value below it is a secret."""
        if depth > MAX_DEPTH:
            self.too_deep()
            return {}
        parts = self.parts
        children = node.children if node is not None else None
        out: dict[str, Any] = {}
        for name, item in value.items():
            shaped, named, hex_key = _KEY_FLAGS.get(name) or _key_flags(name)
            if shaped:
                self.problem(
                    self.pointer(),
                    "a key here looks like a secret (a token or API key used as a key name); "
                    "a key cannot become a reference — remove it",
                    Severity.ERROR,
                )
                continue
            child = children.get(name) if children else None
            rule = child.rule if child is not None else None
            if every:
                named = SECRET_CONTAINER
            if rule is None and not named:
                # ``_plain`` inline: most values take this way, and this is the inner
                # loop of every file.
                kind = type(item)
                if kind is str:
                    if "${" not in item and (
                        (len(item) < SHAPE_MIN and URL_MARK not in item)
                        or SHAPE_HINT_RE.search(item) is None
                    ):
                        if not hex_key or len(item) != 32 or HEX32.fullmatch(item) is None:
                            out[name] = item
                            continue
                        named = SECRET_TEXT  # a Twilio auth token under ``twilio_auth``
                elif item is None or kind is int or kind is float or kind is bool:
                    out[name] = item
                    continue
            parts.append(name)
            if rule is not None and not rule.store:
                self.remove(item, rule)
            elif type(item) is dict:
                # What ``value`` does with a mapping, one call sooner (sections are
                # most of the values that get this far).
                out[name] = self.mapping(item, child, depth + 1, named == SECRET_CONTAINER)
            else:
                out[name] = self.value(item, child, rule, depth, by_name=named)
            parts.pop()
        return out

    def value(
        self,
        value: Any,
        node: RuleNode | None,
        rule: SecretRule | None,
        depth: int,
        *,
        by_name: int,
    ) -> Any:
        """``value`` (at ``parts``) with its secrets replaced. ``node``: the trie
        node of its path; ``rule``: that node's rule; ``by_name``: what its key (or,
        in a list, the list's key) says of it (``shapes.key_class``)."""
        if isinstance(value, str):
            return self.string(value, rule, by_name=by_name != NOT_SECRET and rule is None)
        if isinstance(value, dict):
            return self.mapping(value, node, depth + 1, by_name == SECRET_CONTAINER)
        if isinstance(value, list):
            if depth + 1 > MAX_DEPTH:
                self.too_deep()
                return None
            child = node.children.get("*") if node is not None else None
            child_rule = child.rule if child is not None else None
            parts = self.parts
            out = []
            plain_items = child_rule is None and not by_name
            for index, item in enumerate(value):
                if plain_items and _plain(item):
                    out.append(item)
                    continue
                parts.append(str(index))
                out.append(self.value(item, child, child_rule, depth + 1, by_name=by_name))
                parts.pop()
            return out
        if type(value) in (int, float) and (rule is not None or by_name >= SECRET_VALUE):
            return self.number(value, rule)
        return value

    def number(self, value: float, rule: SecretRule | None) -> str:
        """A number where a secret belongs (``smtp_password: 123456``): it is one too."""
        reference = self.replace(str(value), rule, "schema" if rule is not None else "key-name")
        self.problem(
            self.pointer(),
            f"this secret is a number in the file; it was moved to {reference} as YAML "
            "read it (a leading 0 or a long number reads differently) — quote it in the "
            "file to keep it exactly as written",
            Severity.WARNING,
        )
        return reference

    def string(self, value: str, rule: SecretRule | None, *, by_name: bool) -> str:
        if "${" in value:
            self.check_names(value)
            full = FULL_REFERENCE.match(value)
            if full is not None:
                return self.reference(value, full, rule, by_name=by_name)
        if rule is not None or by_name:
            if not value.strip():
                return value  # empty: nothing to hide
            return self.replace(value, rule, "schema" if rule is not None else "key-name")
        match = shape_match(value)
        if match is None:
            return value
        kind = match.lastgroup or "secret"
        whole = SHAPE_RE.fullmatch(value.strip()) is not None
        reference = self.replace(value, None, f"shape:{kind}")
        if not whole:
            self.problem(
                self.pointer(),
                f"this value contains what looks like a {shape_label(kind)}; the whole "
                f"value was moved to {reference} — take the secret out of the text in the file",
                Severity.WARNING,
            )
        return reference

    def check_names(self, value: str) -> None:
        """A warning for each reference in ``value`` the runtime cannot resolve."""
        for match in REFERENCE.finditer(value):
            name = match.group(1)
            if resolvable(name):
                continue
            fixed = name.upper()
            fixed = "_" + fixed if fixed[:1].isdigit() else fixed
            if find_secret_shape(name) is None:
                shown, advice = "${" + name + "}", f"write ${{{fixed}}} and set that variable"
            else:  # never echo a name shaped like a secret
                shown, advice = "this reference", "rename its variable"
            self.problem(
                self.pointer(),
                f"{shown} names a variable the platform's runtime cannot resolve (names are "
                f"upper case letters, digits and _, not starting with a digit) — {advice}",
                Severity.WARNING,
            )

    def reference(
        self, value: str, match: re.Match[str], rule: SecretRule | None, *, by_name: bool
    ) -> str:
        name, default = match.group(1), match.group(2)
        secret_field = rule is not None or by_name
        if default and (secret_field or shape_match(default)):
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
        # A reference keeps just its default; a number is a secret as YAML read it.
        if type(value) in (int, float):
            literal = str(value)
        elif isinstance(value, str) and value.strip():
            full = FULL_REFERENCE.match(value)
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
