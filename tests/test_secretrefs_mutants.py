"""Secret detection and extraction at the edges the rest of the suite left open: each
test kills mutants of ``tenant_migrator/secretrefs/`` that survived it (listed in
tests/MUTATION.md). Only the package's public names are used, so the tests hold
whatever the modules inside it become.

Fake secrets are built from the documented shapes (prefix + the documented alphabet
and length) out of ``FAKE``/``0`` filler, never copied from anywhere.
"""

from __future__ import annotations

import dataclasses

import pytest

from tenant_migrator import secretrefs
from tenant_migrator.errors import MigratorError
from tenant_migrator.secretrefs import (
    KEPT,
    REFERENCED,
    REMOVED,
    MissingEnvironment,
    dotenv_quote,
    extract,
    resolve,
    resolve_local_ref,
    rules_from_schema,
)


def _body(n: int, alphabet: str = "FAKE0") -> str:
    return (alphabet * (n // len(alphabet) + 1))[:n]


# kind, the shortest value of each documented variant, the same one character short.
# A new variant or shape is one row.
SHAPE_BOUNDARIES = [
    ("stripe", "sk_live_" + _body(10), "sk_live_" + _body(9)),
    ("stripe", "sk_test_" + _body(10), "sk_test_" + _body(9)),
    ("stripe", "rk_live_" + _body(10), "rk_live_" + _body(9)),
    ("stripe", "rk_test_" + _body(10), "rk_test_" + _body(9)),
    ("openai", "sk-proj-" + _body(20), "sk-proj-" + _body(19)),
    ("openai", "sk-svcacct-" + _body(20), "sk-svcacct-" + _body(19)),
    ("openai", "sk-admin-" + _body(20), "sk-admin-" + _body(19)),
    ("aws_access_key", "AKIA" + _body(16), "AKIA" + _body(15)),
    ("aws_access_key", "ASIA" + _body(16), "ASIA" + _body(15)),
    ("github", "ghp_" + _body(30), "ghp_" + _body(29)),
    ("github", "gho_" + _body(30), "gho_" + _body(29)),
    ("github", "ghu_" + _body(30), "ghu_" + _body(29)),
    ("github", "ghs_" + _body(30), "ghs_" + _body(29)),
    ("github", "ghr_" + _body(30), "ghr_" + _body(29)),
    ("github", "github_pat_" + _body(30), "github_pat_" + _body(29)),
    ("slack", "xoxa-" + _body(10), "xoxa-" + _body(9)),
    ("slack", "xoxb-" + _body(10), "xoxb-" + _body(9)),
    ("slack", "xoxp-" + _body(10), "xoxp-" + _body(9)),
    ("slack", "xoxo-" + _body(10), "xoxo-" + _body(9)),
    ("slack", "xoxs-" + _body(10), "xoxs-" + _body(9)),
    ("slack", "xoxr-" + _body(10), "xoxr-" + _body(9)),
    *(
        (
            "slack_webhook",
            f"https://hooks.slack.com/services/T{_body(8, 'A0')}/B{_body(8, 'A0')}/{_body(24)}",
            f"https://hooks.slack.com/services/T{_body(t, 'A0')}/B{_body(b, 'A0')}/{_body(n)}",
        )
        for t, b, n in ((7, 8, 24), (8, 7, 24), (8, 8, 23))
    ),
    ("google_api_key", "AIza" + _body(35), "AIza" + _body(34)),
    ("sendgrid", "SG." + _body(10) + "." + _body(10), "SG." + _body(10) + "." + _body(9)),
    ("sendgrid", "SG." + _body(10) + "." + _body(10), "SG." + _body(9) + "." + _body(10)),
    ("jwt", "eyJ" + _body(5) + ".eyJ" + _body(5) + ".", "eyJ" + _body(5) + ".eyJ" + _body(4) + "."),
    ("jwt", "eyJ" + _body(5) + ".eyJ" + _body(5) + ".", "eyJ" + _body(4) + ".eyJ" + _body(5) + "."),
]


@pytest.mark.parametrize(("kind", "shortest", "too_short"), SHAPE_BOUNDARIES)
def test_each_shape_variant_is_found_at_its_shortest_and_not_one_shorter(kind, shortest, too_short):
    # The kind is the report's ``shape:<kind>`` (a contract), so it is named here.
    assert secretrefs.find_secret_shape(shortest) == kind
    assert not secretrefs.looks_like_secret(too_short)


def test_an_aws_key_id_one_character_longer_is_no_aws_key():
    # The id is exactly 20 characters: a longer run of them is something else.
    assert not secretrefs.looks_like_secret("AKIA" + _body(17))


def test_the_shortest_shape_is_found_even_at_the_length_pre_check():
    # 15 characters: the pre-check skips shorter strings only.
    shortest = "xoxb-" + _body(10)
    assert len(shortest) == 15
    assert secretrefs.looks_like_secret(shortest)
    extraction = extract({"note": shortest}, "acme")
    assert extraction.config == {"note": "${ACME_NOTE}"}


# Key names: every spelling the rule names; a new one is one row.
SECRET_KEYS = [
    "password",
    "smtp_password",
    "PASSWORD",
    "passwd",
    "db_passwd",
    "secret",
    "client_secret",
    "token",
    "refresh_token",
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "API_KEY",
    "private_key",
    "privatekey",
    "private-key",
]
PLAIN_KEYS = ["name", "pass", "key", "api", "private", "keystore", "primary_color"]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_a_secret_key_name_makes_its_plain_value_a_reference(key):
    assert secretrefs.is_secret_key(key)
    extraction = extract({"section": {key: "plain-words-here"}}, "acme")
    (ref,) = extraction.secrets
    assert ref.action == REFERENCED and ref.literal == "plain-words-here"
    assert extraction.config["section"][key] == "${" + ref.env_var + "}"


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_an_ordinary_key_keeps_its_plain_value(key):
    assert not secretrefs.is_secret_key(key)
    assert extract({key: "plain-words-here"}, "acme").config == {key: "plain-words-here"}


def test_a_list_of_plain_strings_under_a_secret_key_is_referenced_item_by_item():
    extraction = extract({"smtp": {"passwords": ["hunter-fake-one", "x"]}}, "acme")
    assert extraction.config == {
        "smtp": {"passwords": ["${ACME_SMTP_PASSWORDS_0}", "${ACME_SMTP_PASSWORDS_1}"]}
    }
    assert [s.literal for s in extraction.secrets] == ["hunter-fake-one", "x"]


def test_a_shaped_default_under_an_ordinary_key_leaves_the_config():
    shaped = "sk-proj-" + _body(24)
    extraction = extract({"assistant": {"model_key": "${OPENAI_KEY:-" + shaped + "}"}}, "acme")
    assert extraction.config == {"assistant": {"model_key": "${OPENAI_KEY}"}}
    (ref,) = extraction.secrets
    assert (ref.env_var, ref.action, ref.literal) == ("OPENAI_KEY", REFERENCED, shaped)
    assert ref.reason == "reference-default"


def test_an_ordinary_default_under_an_ordinary_key_is_left_alone():
    extraction = extract({"region": "${REGION:-eu-west-1}"}, "acme")
    assert extraction.config == {"region": "${REGION:-eu-west-1}"} and extraction.secrets == ()


@pytest.mark.parametrize(
    "reference", ["${smtp_password}", "${Mixed_Case1}", "${SMTP_PASSWORD:-}", "${_X}"]
)
def test_a_lower_case_or_empty_default_reference_is_kept_not_taken_as_a_literal(reference):
    extraction = extract({"email": {"smtp": {"password": reference}}}, "acme")
    assert extraction.config == {"email": {"smtp": {"password": reference}}}
    (ref,) = extraction.secrets
    assert ref.action == KEPT and ref.literal is None


def test_without_x_secret_annotations_the_baseline_rules_still_apply():
    """The platform's own schema carries none: anon_key and the service key must
    still be found by their paths, not only by chance of their key names."""
    rules = rules_from_schema({"type": "object", "properties": {}})
    assert set(secretrefs.BASELINE_RULES) <= set(rules)
    doc = {
        "infrastructure": {
            "supabase": {"anon_key": "anon-fake-value", "service_key": "service-fake-value"}
        }
    }
    extraction = extract(doc, "acme", rules)
    assert extraction.config == {
        "infrastructure": {"supabase": {"anon_key": "${ACME_SUPABASE_ANON_KEY}"}}
    }
    by_path = {s.json_path: s for s in extraction.secrets}
    assert by_path["/infrastructure/supabase/service_key"].action == REMOVED
    assert by_path["/infrastructure/supabase/service_key"].literal == "service-fake-value"


def test_the_service_key_s_default_literal_is_kept_for_secrets_out():
    doc = {"infrastructure": {"supabase": {"service_key": "${SUPABASE_SERVICE_KEY:-fake-dflt}"}}}
    extraction = extract(doc, "acme")
    assert extraction.config == {"infrastructure": {"supabase": {}}}
    (ref,) = extraction.secrets
    assert (ref.action, ref.literal) == (REMOVED, "fake-dflt")


def test_a_removed_reference_without_default_has_no_literal():
    doc = {"infrastructure": {"supabase": {"service_key": "${SUPABASE_SERVICE_KEY}"}}}
    (ref,) = extract(doc, "acme").secrets
    assert (ref.action, ref.literal) == (REMOVED, None)


def test_a_third_env_name_collision_gets_its_own_suffix():
    # Three pointers that all turn into ACME_A_B.
    doc = {"a": {"b": {"password": "x1-fake"}}}
    doc["a-b"] = {"password": "x2-fake"}
    doc["a_b"] = {"password": "x3-fake"}
    extraction = extract(doc, "acme")
    names = [s.env_var for s in extraction.secrets]
    assert len(set(names)) == 3
    assert sorted(names) == ["ACME_A_B_PASSWORD", "ACME_A_B_PASSWORD_2", "ACME_A_B_PASSWORD_3"]


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        # A newline stays a newline inside double quotes (python-dotenv, sh and bash
        # all read it so); a carriage return has no such spelling and is refused
        # when the file is written (tests/test_dotenv_readers.py).
        ("a\nb", '"a\nb"'),
        ("a\tb", '"a\tb"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("plain", "plain"),
    ],
)
def test_dotenv_quoting_escapes_what_double_quotes_need_and_round_trips(value, quoted):
    import io

    from dotenv import dotenv_values

    assert dotenv_quote(value) == quoted
    assert dotenv_values(stream=io.StringIO(f"X={dotenv_quote(value)}\n"))["X"] == value


def test_a_secret_reference_is_immutable():
    (ref,) = extract({"password": "frozen-fake"}, "acme").secrets
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.literal = "other"  # type: ignore[misc]


def test_an_extraction_and_a_rule_are_immutable():
    extraction = extract({"password": "frozen-fake"}, "acme")
    with pytest.raises(dataclasses.FrozenInstanceError):
        extraction.config = {}  # type: ignore[misc]
    rule = secretrefs.SecretRule("SMTP_PASSWORD")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.env = "OTHER"  # type: ignore[misc]


# --- depth limits ------------------------------------------------------------------------


def _nested(levels: int, leaf: object) -> object:
    value = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


def _depth_errors(extraction) -> list:
    return [p for p in extraction.problems if "levels deep" in p.message]


def test_extraction_accepts_mappings_nested_to_the_limit_and_refuses_one_deeper():
    # The document is level 0: MAX_DEPTH levels of mappings below it are accepted.
    limit = secretrefs.MAX_DEPTH
    assert _depth_errors(extract(_nested(limit + 1, "x"), "acme")) == []
    assert _depth_errors(extract(_nested(limit + 2, "x"), "acme"))


def test_extraction_accepts_a_list_at_the_limit_and_refuses_one_deeper():
    limit = secretrefs.MAX_DEPTH
    assert _depth_errors(extract(_nested(limit, ["x"]), "acme")) == []
    assert _depth_errors(extract(_nested(limit + 1, ["x"]), "acme"))
    # Under a secret key (items are walked one by one, not copied) the same limit.
    assert _depth_errors(extract(_nested(limit - 1, {"password": ["x"]}), "acme")) == []
    assert _depth_errors(extract(_nested(limit, {"password": ["x"]}), "acme"))


def test_resolve_accepts_nesting_to_the_limit_and_refuses_one_deeper():
    limit = secretrefs.MAX_DEPTH
    assert resolve(_nested(limit, "plain"), environ={}) == _nested(limit, "plain")
    with pytest.raises(MigratorError, match="levels deep"):
        resolve(_nested(limit + 1, "plain"), environ={})


def test_resolve_reports_a_missing_variable():
    with pytest.raises(MissingEnvironment):
        resolve({"password": "${NOT_SET_ANYWHERE_FAKE}"}, environ={})


def test_schema_rules_are_found_thirty_levels_down():
    schema: dict = {"x-secret": {"env": "DEEP_SECRET"}}
    for _ in range(30):
        schema = {"type": "object", "properties": {"k": schema}}
    rules = rules_from_schema(schema)
    assert rules["/k" * 30].env == "DEEP_SECRET"


def test_schema_rules_thirty_one_levels_down_are_past_the_walk_s_limit():
    schema: dict = {"x-secret": {"env": "TOO_DEEP"}}
    for _ in range(31):
        schema = {"type": "object", "properties": {"k": schema}}
    assert "/k" * 31 not in rules_from_schema(schema)


def _ref_chain(hops: int) -> tuple[dict, dict]:
    """(schema, node): from ``node`` it takes ``hops`` $refs to reach the target."""
    defs: dict = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(hops - 2)}
    defs[f"d{hops - 2}"] = {"$ref": "#/$defs/target"}
    defs["target"] = {"type": "string", "x-secret": {"env": "CHAINED"}}
    return {"$defs": defs}, {"$ref": "#/$defs/d0"}


def test_a_local_ref_is_followed_through_twenty_hops_and_no_more():
    schema, node = _ref_chain(20)
    assert resolve_local_ref(schema, node) == schema["$defs"]["target"]
    # One hop more: the walk stops at the ref it reached (no endless loop on a cycle).
    schema, node = _ref_chain(21)
    assert resolve_local_ref(schema, node) == {"$ref": "#/$defs/target"}


def test_a_ref_to_another_document_is_left_as_it_is():
    node = {"$ref": "https://example.com/other.schema.json#/$defs/x"}
    assert resolve_local_ref({"$defs": {"x": {"type": "string"}}}, node) is node


def test_references_walks_to_the_depth_limit_and_no_deeper():
    limit = secretrefs.MAX_DEPTH
    assert [name for _p, name, _d in secretrefs.references(_nested(limit, "${AT_LIMIT}"))] == [
        "AT_LIMIT"
    ]
    assert secretrefs.references(_nested(limit + 1, "${TOO_DEEP}")) == []
    assert secretrefs.references({"k": [_nested(limit - 2, "${IN_A_LIST}")]}) != []
    assert secretrefs.references({"k": [_nested(limit - 1, "${TOO_DEEP}")]}) == []


def test_a_tenant_without_secrets_adds_nothing_to_the_shared_check():
    from pathlib import Path

    from tenant_migrator.results import TenantResult

    shared = secretrefs.SharedSecrets()
    empty = TenantResult("acme", Path("clients/acme/client.yaml"), None)
    assert shared.add(empty) is False


def test_extraction_accepts_a_mapping_in_a_list_at_the_limit_and_refuses_one_deeper():
    # [ {…} ]: the list is one level and the mapping in it another, as anywhere else.
    limit = secretrefs.MAX_DEPTH
    assert _depth_errors(extract(_nested(limit - 1, [{"k": "x"}]), "acme")) == []
    assert _depth_errors(extract(_nested(limit, [{"k": "x"}]), "acme"))


def test_mappings_inside_a_list_under_an_ordinary_key_are_walked():
    doc = {"contacts": [{"password": "walked-fake"}, 5, None, True, 1.5, "plain"]}
    extraction = extract(doc, "acme")
    assert extraction.config == {
        "contacts": [{"password": "${ACME_CONTACTS_0_PASSWORD}"}, 5, None, True, 1.5, "plain"]
    }
    assert [s.literal for s in extraction.secrets] == ["walked-fake"]


def test_a_rule_on_list_items_references_each_plain_item():
    rules = {"/webhooks/*": secretrefs.SecretRule("WEBHOOK_SIGNING")}
    extraction = extract({"webhooks": ["plain-item-one", "two"]}, "acme", rules)
    assert extraction.config == {
        "webhooks": ["${ACME_WEBHOOK_SIGNING}", "${ACME_WEBHOOK_SIGNING_2}"]
    }
    assert [s.literal for s in extraction.secrets] == ["plain-item-one", "two"]


# --- messages, rules, the environment check ----------------------------------------------


def test_a_key_is_shown_quoted_unless_it_is_long_or_shaped_like_a_secret():
    assert secretrefs.shown_key("k" * 60, "(hidden)") == repr("k" * 60)
    assert secretrefs.shown_key("k" * 61, "(hidden)") == "(hidden)"
    assert secretrefs.shown_key("xoxb-" + _body(10), "(hidden)") == "(hidden)"


def test_collect_literals_maps_each_variable_to_its_literal():
    refs = [
        secretrefs.SecretReference("/a", "A_VAR", REFERENCED, "fake-a"),
        secretrefs.SecretReference("/b", "B_VAR", KEPT, None),
    ]
    assert secretrefs.collect_literals(refs) == {"A_VAR": "fake-a"}


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("OPENAI_API_KEY", "must be an object"),
        ({"env": "not a name"}, "'env' must be an environment variable name"),
        ({"env": 5}, "'env' must be an environment variable name"),
        ({"env": "SMTP_PASSWORD", "scope": "global"}, "'scope' must be 'tenant' or 'shared'"),
        ({"env": "SMTP_PASSWORD", "store": "no"}, "'store' must be true or false"),
    ],
)
def test_a_malformed_x_secret_annotation_is_an_error_naming_where_it_is(annotation, message):
    schema = {"properties": {"smtp": {"properties": {"pw": {"x-secret": annotation}}}}}
    with pytest.raises(secretrefs.SchemaRuleError, match=message) as caught:
        rules_from_schema(schema)
    assert "x-secret at /smtp/pw" in str(caught.value)


def test_an_unresolvable_name_is_named_in_the_error_unless_it_looks_like_a_secret():
    with pytest.raises(secretrefs.UnresolvableReference, match=r"lower_name \(used at /a\)"):
        resolve({"a": "${lower_name}"}, environ={})
    shaped = "xoxb_" + _body(10)  # no shape: "_" is not slack's "-"
    with pytest.raises(secretrefs.UnresolvableReference) as caught:
        resolve({"a": "${" + shaped.lower() + "}"}, environ={})
    assert shaped.lower() in str(caught.value)


def test_resolve_accepts_a_list_at_the_limit_and_refuses_one_deeper():
    limit = secretrefs.MAX_DEPTH
    assert resolve(_nested(limit - 1, ["plain"]), environ={}) == _nested(limit - 1, ["plain"])
    with pytest.raises(MigratorError, match="levels deep"):
        resolve(_nested(limit, ["plain"]), environ={})


def test_the_shared_check_notes_a_tenant_exactly_when_it_has_a_variable_to_check():
    from pathlib import Path

    from tenant_migrator.results import TenantResult

    def result(*secrets):
        return TenantResult("acme", Path("clients/acme/client.yaml"), None, secrets=secrets)

    per_tenant = secretrefs.SecretReference("/p", "ACME_P", REFERENCED, "fake-p")
    shared = secretrefs.SecretReference(
        "/s", "SHARED_S", REFERENCED, "fake-s", scope=secretrefs.SHARED
    )
    kept = secretrefs.SecretReference("/k", "ACME_K", KEPT, None)
    assert secretrefs.SharedSecrets().add(result(per_tenant)) is True
    assert secretrefs.SharedSecrets().add(result(shared)) is True
    assert secretrefs.SharedSecrets().add(result(kept)) is False


def test_an_env_variable_is_ok_when_set_or_defaulted_and_is_immutable():
    def status(s):
        return secretrefs.EnvVariable("A", s, True, (("acme", "/a"),))

    assert [status(s).ok for s in (secretrefs.SET, secretrefs.DEFAULT)] == [True, True]
    assert [status(s).ok for s in (secretrefs.EMPTY, secretrefs.MISSING)] == [False, False]
    with pytest.raises(dataclasses.FrozenInstanceError):
        status(secretrefs.SET).status = secretrefs.MISSING  # type: ignore[misc]


# --- whole values, names, nesting --------------------------------------------------------

WHOLE_SHAPES = [
    "http://hooks.slack.com/services/T" + _body(8, "A0") + "/B" + _body(8, "A0") + "/" + _body(24),
    *(f"xoxe.xox{c}-{_body(10)}" for c in "abposr"),  # Slack refresh-token pairs
]


@pytest.mark.parametrize("value", WHOLE_SHAPES)
def test_a_value_that_is_one_shape_from_end_to_end_moves_without_a_partial_warning(value):
    # A warning says "the value contains a secret": only for text around a shape.
    extraction = extract({"hook": value}, "acme")
    assert extraction.config == {"hook": "${ACME_HOOK}"}
    assert extraction.problems == ()


def test_a_shape_s_body_inside_a_longer_word_is_left_as_it_is():
    # "axoxb-…": the boundary rules it out although the quick body pre-check matched.
    extraction = extract({"note": "axoxb-" + _body(10)}, "acme")
    assert extraction.config == {"note": "axoxb-" + _body(10)}
    assert extraction.secrets == ()


def test_an_unresolvable_reference_named_like_a_secret_is_not_echoed():
    name = "sk_live_" + _body(10)
    (problem,) = extract({"hook": "${" + name + "}"}, "acme").problems
    assert problem.message.startswith("this reference names a variable")
    assert problem.message.endswith("rename its variable")
    assert name not in problem.message


def test_an_unresolvable_reference_in_a_plain_list_is_warned_about_too():
    (problem,) = extract({"hosts": ["${lower_name}"]}, "acme").problems
    assert "${lower_name} names a variable the platform's runtime cannot resolve" in (
        problem.message
    )


@pytest.mark.parametrize("leaf", [{"password": [["x"]]}, {"hosts": [["x"]]}])
def test_lists_in_lists_count_one_level_each(leaf):
    # document → 62 mappings → the leaf mapping → list → list → "x": 65 levels in all.
    assert _depth_errors(extract(_nested(62, leaf), "acme")) == []
    assert _depth_errors(extract(_nested(63, leaf), "acme"))


def test_the_documented_nesting_limit_is_64_levels():
    # README: "more than 64 levels of nesting" is refused.
    assert secretrefs.MAX_DEPTH == 64
    assert _depth_errors(extract(_nested(65, "x"), "acme")) == []
    assert _depth_errors(extract(_nested(66, "x"), "acme"))


def test_conflicting_literals_without_a_tenant_are_named_by_their_paths():
    refs = [
        secretrefs.SecretReference("/a", "A_VAR", REFERENCED, "fake-one"),
        secretrefs.SecretReference("/b", "A_VAR", REFERENCED, "fake-two"),
    ]
    with pytest.raises(secretrefs.SecretsFileError, match=r"A_VAR \(from /a, /b\)\."):
        secretrefs.collect_literals(refs)


def test_schema_rules_are_found_thirty_levels_down_through_array_items_and_no_further():
    def under_items(levels: int) -> dict:
        schema: dict = {"x-secret": {"env": "DEEP_ITEM"}}
        for _ in range(levels):
            schema = {"type": "array", "items": schema}
        return schema

    assert rules_from_schema(under_items(30))["/*" * 30].env == "DEEP_ITEM"
    assert "/*" * 31 not in rules_from_schema(under_items(31))


def test_a_boolean_subschema_is_skipped():
    # JSON Schema allows `true` / `false` as a schema: no annotation can be in one.
    rules = rules_from_schema({"properties": {"anything": True, "nothing": False}})
    assert rules == dict(secretrefs.BASELINE_RULES)


def test_a_shape_is_immutable():
    from tenant_migrator.secretrefs import shapes

    with pytest.raises(dataclasses.FrozenInstanceError):
        shapes.SHAPES["sendgrid"].label = "other"  # type: ignore[misc]


def test_two_tenants_may_both_move_a_default_out_of_a_reference_to_the_same_variable():
    # ${DB_PASSWORD:-…}: the file chose the name, so it is no per-tenant name made from
    # the tenant id, and two tenants naming it are no clash (the shared check compares
    # only the names the extraction made).
    from pathlib import Path

    from tenant_migrator.results import TenantResult

    shared = secretrefs.SharedSecrets()
    for tenant in ("acme", "globex"):
        (ref,) = extract({"password": "${DB_PASSWORD:-" + tenant + "-fake}"}, tenant).secrets
        assert ref.reason == "reference-default"
        shared.add(TenantResult(tenant, Path(f"clients/{tenant}/client.yaml"), None, (), (ref,)))
    assert shared.conflicts() == {}
