"""The secretrefs package's own pieces: the rules' trie, the one table of shapes, and
the deprecated ``tenant_migrator.secrets`` name the platform may still import.

(What the package does to documents is tests/test_secrets.py; its shortcuts are
held to the long way in tests/test_fast_paths.py.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_migrator import secretrefs
from tenant_migrator.problems import escape
from tenant_migrator.secretrefs import SecretRule, extract, shapes
from tenant_migrator.secretrefs.extraction import RuleNode, rule_trie

_segment = st.sampled_from(["email", "smtp", "password", "*", "a/b", "x~y", "api_key", ""])
_pointers = st.lists(_segment, min_size=1, max_size=4).map(
    lambda parts: "".join("/" + escape(p) for p in parts)
)


@settings(max_examples=300, deadline=None)
@given(
    rules=st.dictionaries(
        _pointers,
        st.builds(SecretRule, st.sampled_from(["A_KEY", "B_KEY"]), st.sampled_from(["tenant"])),
        max_size=6,
    ),
    probe=st.lists(_segment, min_size=1, max_size=5),
)
def test_the_rule_trie_finds_exactly_the_rule_of_each_pointer(rules, probe):
    trie = rule_trie(rules)
    assert isinstance(trie, RuleNode) and trie.rule is None
    node: RuleNode | None = trie
    for depth, segment in enumerate(probe, start=1):
        node = node.children.get(segment) if node is not None else None
        pointer = "".join("/" + escape(p) for p in probe[:depth])
        expected = rules.get(pointer)
        assert (node.rule if node is not None else None) == expected
        # A node exists exactly where some rule lies at or below its path.
        below = any(p == pointer or p.startswith(pointer + "/") for p in rules)
        assert (node is not None) == below


def test_rule_nodes_are_frozen_values():
    trie = rule_trie({"/email/smtp/password": SecretRule("SMTP_PASSWORD")})
    leaf = trie.children["email"].children["smtp"].children["password"]
    assert leaf == RuleNode(SecretRule("SMTP_PASSWORD"), {})
    with pytest.raises(AttributeError):
        leaf.rule = None  # type: ignore[misc]


def test_a_secret_rule_takes_store_only_by_keyword():
    assert SecretRule("X", "shared", store=False).store is False
    with pytest.raises(TypeError):
        SecretRule("X", "shared", False)  # type: ignore[misc]


@pytest.mark.parametrize("kind", sorted(shapes.SHAPES))
def test_every_shape_kind_is_named_in_words_by_its_own_table_entry(kind):
    # One table: the partial-value warning names the shape by its entry's label.
    from test_shapes import POSITIVE  # one row per documented format

    examples = {}
    for name, value in POSITIVE:
        examples.setdefault(name, value.splitlines()[0] if name == "private_key" else value)
    assert set(examples) == set(shapes.SHAPES)
    extraction = extract({"note": f"see {examples[kind]} here"}, "acme", {})
    assert [s.reason for s in extraction.secrets] == [f"shape:{kind}"]
    (warning,) = extraction.problems
    assert f"looks like a {shapes.SHAPES[kind].label};" in warning.message


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_old_module_name_still_resolves_for_the_platform_with_a_deprecation_warning():
    done = _python(
        "import tenant_migrator.secrets as old, tenant_migrator.secretrefs as new\n"
        "assert old.resolve is new.resolve and old.references is new.references\n"
        "assert old.MissingEnvironment is new.MissingEnvironment\n"
        "assert sorted(old.__all__) == ['MissingEnvironment', 'references', 'resolve']\n"
        "print(old.resolve({'k': '${V:-d}', 'n': '${N}'}, {'N': 'x'}))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'k': 'd', 'n': 'x'}"
    assert "DeprecationWarning: tenant_migrator.secrets is deprecated" in done.stderr
    assert "tenant_migrator.secretrefs" in done.stderr


def test_the_old_module_name_offers_nothing_but_the_run_time_api():
    done = _python("from tenant_migrator.secrets import extract")
    assert done.returncode == 1
    assert "cannot import name 'extract'" in done.stderr


def test_the_package_exports_the_run_time_api():
    for name in ("resolve", "MissingEnvironment", "references", "check_environment"):
        assert name in secretrefs.__all__
        assert getattr(secretrefs, name) is not None
