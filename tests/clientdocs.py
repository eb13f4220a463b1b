"""Helpers for the client-file tests: a valid document, and throwaway projects."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "config" / "schema.json"
SAMPLES = REPO / "clients"

_VALID: dict[str, Any] = {
    "client": {
        "id": "acme",
        "name": "Acme Travel",
        "short_name": "acme",
        "timezone": "Africa/Johannesburg",
        "currency": "ZAR",
    },
    "branding": {"company_name": "Acme", "primary_color": "#aabbcc"},
    "destinations": [{"name": "Zanzibar", "code": "ZNZ", "enabled": True}],
    "infrastructure": {
        "gcp": {"project_id": "acme-prod", "region": "africa-south1", "dataset": "acme_data"},
        "supabase": {"url": "https://acme.supabase.co", "anon_key": "${ACME_SUPABASE_ANON_KEY}"},
        "openai": {"api_key": "${OPENAI_API_KEY}", "model": "gpt-4o-mini"},
    },
    "email": {
        "primary": "sales@acme.example",
        "smtp": {"host": "smtp.acme.example", "port": 587, "username": "sales@acme.example"},
        "imap": {"host": "imap.acme.example", "port": 993},
    },
}


def valid_document(tenant_id: str = "acme") -> dict[str, Any]:
    doc = copy.deepcopy(_VALID)
    doc["client"]["id"] = tenant_id
    return doc


def dump(document: Any) -> str:
    # ASCII escapes: PyYAML's emitter folds a raw NEL (U+0085) when allow_unicode is on.
    return yaml.safe_dump(document, sort_keys=False)


def make_project(root: Path, tenants: dict[str, str | bytes | dict[str, Any]]) -> Path:
    """A project dir with config/schema.json and clients/<id>/client.yaml per entry
    (text, raw bytes, or a document to dump)."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCHEMA, root / "config" / "schema.json")
    (root / "clients").mkdir(exist_ok=True)
    for tenant_id, content in tenants.items():
        write_client(root, tenant_id, content)
    return root


def write_client(root: Path, tenant_id: str, content: str | bytes | dict[str, Any]) -> Path:
    directory = root / "clients" / tenant_id
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "client.yaml"
    if isinstance(content, dict):
        content = dump(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def copy_samples(root: Path) -> Path:
    """The repository's sample tenants in a fresh project dir."""
    make_project(root, {})
    shutil.copytree(SAMPLES, root / "clients", dirs_exist_ok=True)
    return root


# Every class of bad input the loader must refuse, for the loader and CLI tests.
BOMB = b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' + b"".join(
    f"{n}: &{n} [{','.join(['*' + p] * 10)}]\n".encode()
    for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)

# (tenant, bytes, expected line, expected column or None, fragment of the message)
BAD_INPUTS = [
    ("syntax", b"client:\n  id: [unclosed\n", 3, 1, "YAML syntax error"),
    ("tab-indent", b"client:\n\tname: x\n", 2, 1, "YAML syntax error"),
    ("empty", b"", 1, 1, "file is empty"),
    ("only-comments", b"# nothing\n# here\n", 1, 1, "file is empty"),
    ("top-list", b"- a\n- b\n", 1, 1, "top level is a list, not a mapping"),
    ("top-scalar", b"just text\n", 1, 1, "top level is a scalar value"),
    ("multi-doc", b"a: 1\n---\nb: 2\n", 2, 1, "another document"),
    ("dup-top", b"client: {}\nemail: {}\nclient: {}\n", 3, 1, "duplicate key 'client'"),
    ("dup-nested", b"client:\n  id: x\n  name: A\n  name: B\n", 4, 3, "first defined at line 3"),
    ("dup-after-merge", b"b: &b {x: 1}\nc:\n  <<: *b\n  y: 1\n  y: 2\n", 5, 3, "duplicate key 'y'"),
    ("key-int", b"client:\n  1: x\n", 2, 3, "mapping key '1' is read by YAML as an integer"),
    ("key-bool", b"client:\n  yes: x\n", 2, 3, "read by YAML as a boolean"),
    ("key-null", b"client:\n  null: x\n", 2, 3, "read by YAML as null"),
    ("key-float", b"1.5: x\n", 1, 1, "read by YAML as a number"),
    ("key-date", b"2024-01-05: x\n", 1, 1, "read by YAML as a date"),
    ("key-list", b"? [a, b]\n: x\n", 1, 3, "found a list used as a key"),
    ("nan", b"rate: .nan\n", 1, 7, "not a finite number"),
    ("inf", b"rate: -.inf\n", 1, 7, "not a finite number"),
    ("binary", b"logo: !!binary aGVsbG8=\n", 1, 7, "binary data (!!binary)"),
    ("set", b"tags: !!set {a, b}\n", 1, 7, "a set (!!set)"),
    ("omap", b"o: !!omap [{a: 1}]\n", 1, 4, "ordered map"),
    ("python-tag", b"x: !!python/object:os.system ls\n", 1, 4, "unsupported YAML"),
    ("custom-tag", b"x: !Ref foo\n", 1, 4, "unsupported YAML"),
    ("alias-bomb", BOMB, 5, 4, "billion laughs"),
    ("recursive-alias", b"a: &a [1, *a]\n", 1, 4, "recursive structure"),
    ("undefined-alias", b"a: *nope\n", 1, 4, "undefined alias"),
    ("bad-utf8", b"client:\n  name: caf\xe9 bar\n", 2, 12, "not valid UTF-8"),
    ("utf16", "\ufeffclient: x\n".encode("utf-16"), 1, 1, "not valid UTF-8"),
    ("too-deep-flow", b"a: " + b"[" * 2000 + b"]" * 2000 + b"\n", 1, None, "nesting depth"),
    # A NUL (only an escape can write one) fits no column and no jsonb value.
    ("nul-column", b'client:\n  id: x\n  name: "Ac\\0me"\n', 3, 9, "contains the NUL character"),
    ("nul-key", b'email:\n  "ke\\x00y": x\n', 2, 3, "this key contains the NUL"),
    ("nul-list-item", b'a: [ok, "b\\u0000"]\n', 1, 9, "this string contains the NUL"),
    ("nul-long-escape", b'a:\n  b: "\\U00000000"\n', 2, 6, "contains the NUL character"),
]
