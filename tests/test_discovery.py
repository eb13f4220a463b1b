"""Discovery: which directories are tenants, id rules, selecting tenants by name."""

from __future__ import annotations

import os

import pytest
from clientdocs import make_project, valid_document, write_client

from tenant_migrator import discovery
from tenant_migrator.errors import UsageError
from tenant_migrator.pipeline import load_one, load_tenants
from tenant_migrator.settings import Settings


def test_skips_hidden_underscore_templates_and_plain_files(tmp_path):
    project = make_project(tmp_path, {"alpha": valid_document("alpha")})
    for skipped in (".git", "_shared", "new.template"):
        write_client(project, skipped, valid_document())
    (project / "clients" / "client.yaml.template").write_text("client: {}\n")
    (project / "clients" / "README.md").write_text("docs\n")
    (project / "clients" / "notes").mkdir()
    found = discovery.discover(project / "clients")
    assert [f.tenant_id for f in found.files] == ["alpha"]
    (note,) = found.problems  # a directory without client.yaml is worth a word
    assert not note.is_error and note.path.name == "notes"


def test_yml_extension_and_ambiguous_pair(tmp_path):
    project = make_project(tmp_path, {})
    (project / "clients" / "ymlonly").mkdir()
    (project / "clients" / "ymlonly" / "client.yml").write_text("client: {}\n")
    write_client(project, "both", valid_document("both"))
    (project / "clients" / "both" / "client.yml").write_text("client: {}\n")
    files = {f.tenant_id: f for f in discovery.discover(project / "clients").files}
    assert files["ymlonly"].path.name == "client.yml" and files["ymlonly"].problem is None
    assert "both client.yaml and client.yml" in files["both"].problem
    results = {r.tenant_id: r for r in load_tenants(Settings(project)).results}
    assert results["both"].record is None


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("africastay", True),
        ("safarirun-t0vc", True),
        ("a_b-9", True),
        ("0day", True),
        ("x" * 50, True),
        ("x" * 51, False),
        ("Upper", False),
        ("-leading", False),
        ("has space", False),
        ("café", False),
    ],
)
def test_tenant_id_rule(tmp_path, name, ok):
    project = make_project(tmp_path, {name: valid_document()})
    (result,) = load_tenants(Settings(project)).results
    assert result.ok is ok
    if not ok:
        assert "rename the directory" in result.errors[0].message


def test_selection_returns_only_named_tenants_sorted(tmp_path):
    project = make_project(tmp_path, {n: valid_document(n) for n in ("c", "a", "b")})
    result = load_tenants(Settings(project), ["c", "a", "c"])
    assert [r.tenant_id for r in result.results] == ["a", "c"]


def test_unknown_tenant_names_close_matches(tmp_path):
    project = make_project(tmp_path, {n: valid_document(n) for n in ("africastay", "beach")})
    with pytest.raises(UsageError) as caught:
        load_tenants(Settings(project), ["africastya", "zzz"])
    message = str(caught.value)
    assert "unknown tenant 'africastya'" in message and "did you mean africastay?" in message
    assert "unknown tenant 'zzz'" in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("name", ["../etc", "a/b", "..", ".hidden"])
def test_names_cannot_escape_clients_dir(tmp_path, name):
    project = make_project(tmp_path, {"a": valid_document("a")})
    with pytest.raises(UsageError):
        load_tenants(Settings(project), [name])


def test_load_one_reads_only_its_own_directory(tmp_path, monkeypatch):
    project = make_project(tmp_path, {n: valid_document(n) for n in ("a", "b")})

    def no_listing(*args, **kwargs):
        raise AssertionError("clients/ must not be listed to load one tenant")

    monkeypatch.setattr(os, "scandir", no_listing)
    monkeypatch.setattr(os, "listdir", no_listing)
    result = load_one(Settings(project), "b")
    assert result.ok and result.record.id == "b"


def test_load_one_unknown_is_a_usage_error_with_suggestions(tmp_path):
    project = make_project(tmp_path, {"beachresorts": valid_document("beachresorts")})
    with pytest.raises(UsageError, match="did you mean beachresorts"):
        load_one(Settings(project), "beachresort")
