"""``export --all --dir DIR``: every tenant's client.yaml written into a directory,
onto existing files without noise.

A tenant without a file gets ``export.export_tenant``'s text. Onto an existing file
the export is an *edit*, made with ruamel.yaml's round-trip mode (it keeps comments,
key order, flow or block style and quoting): only the values that differ from the
database are replaced, keys the row lacks are removed, keys the file lacks are
appended to their mapping. So ``git diff`` shows exactly what changed:

- "differ" is decided with the tool's own reading of the file (``loader``, YAML 1.1
  as on the platform) and jsonb's equality (``changes.same``), never with
  ruamel's (YAML 1.2: ``yes`` is a string there); a file whose meaning already
  equals the row is not written at all (a zero-line diff);
- a replaced string keeps the quoting it had; a new one is quoted where YAML 1.1
  would read it as something else (``'yes'``, ``'0777'``);
- ruamel re-emits a changed file with one indentation: of the usual layouts the one
  that reproduces the file best is used, so a consistently indented file changes
  only where its values do;
- every edited text is read back with the tool's loader and must mean exactly the
  row; when it does not (anchors and merge keys can defeat an edit) the file is
  written fresh, and a warning says its comments were not kept.

Secrets: the row holds ``${ENV}`` references, so the files do too; a literal the
old file held is replaced by its reference (the CLI asks for ``--force`` first).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_migrator import export, loader
from tenant_migrator.changes import same
from tenant_migrator.errors import ClientFileError, MigratorError

if TYPE_CHECKING:
    from tenant_migrator.settings import Settings

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"

# (mapping indent, sequence indent, dash offset): block lists flush with their key,
# or indented by two, under two- or four-space mappings.
_LAYOUTS = ((2, 2, 0), (2, 4, 2), (4, 4, 0), (4, 6, 2), (4, 4, 2))
_STR_TAG = "tag:yaml.org,2002:str"
_YAML_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


@dataclass(frozen=True, slots=True)
class FileExport:
    """What exporting one tenant does to its file. ``text`` is None when unchanged."""

    tenant_id: str
    path: Path
    action: str
    text: str | None
    warnings: tuple[str, ...] = ()


async def read_snapshots(settings: Settings) -> dict[str, dict[str, Any]]:
    """Every tenant's owned columns and tenant_config, in one read-only transaction
    (the store's own reads; what ``read_snapshot`` gives for one tenant)."""
    from tenant_migrator import store

    async with store.connected(settings) as (conn, _), conn.transaction(readonly=True):
        schema = await store.read_schema(conn)
        if not schema.complete:
            raise MigratorError(
                "the tenants table has no tenant_config yet (migration 012 is not applied); "
                "nothing to export"
            )
        rows, _states = await store.read_rows(conn, schema, None)
    return {tenant_id: dict(row.snapshot) for tenant_id, row in rows.items()}


def target_path(directory: Path, tenant_id: str) -> Path:
    """``DIR/<tenant>/client.yaml``, or the tenant's existing ``client.yml``."""
    folder = directory / tenant_id
    yml = folder / "client.yml"
    return (
        yml if yml.is_file() and not (folder / "client.yaml").exists() else folder / "client.yaml"
    )


def export_files(
    directory: Path, snapshots: Mapping[str, Mapping[str, Any]], rules: Any = None
) -> list[FileExport]:
    """What to write for every tenant (sorted by id). Reads the existing files only.
    ``rules``: the schema's secret rules (``CompiledSchema.secret_rules``)."""
    return [
        export_file(target_path(directory, t), t, snapshots[t], rules) for t in sorted(snapshots)
    ]


def export_file(
    path: Path, tenant_id: str, snapshot: Mapping[str, Any], rules: Any = None
) -> FileExport:
    document, warnings = export.client_document(tenant_id, snapshot)
    if not path.exists():
        text = export.export_tenant(tenant_id, snapshot).text
        return FileExport(tenant_id, path, CREATED, text, tuple(warnings))
    original = path.read_text(encoding="utf-8")
    try:
        current = loader.load_bytes(original.encode("utf-8"), path).data
    except ClientFileError:
        current = None
    kept = _kept_references(current, tenant_id, rules) if current is not None else frozenset()
    if current is not None and same(_without(current, kept), document):
        return FileExport(tenant_id, path, UNCHANGED, None, tuple(warnings))
    text = edited(original, current, document, kept) if current is not None else None
    if text is None:
        warnings.append(
            f"{path.name} could not be edited in place (it does not load, or uses anchors or "
            "merge keys the edit would change); written fresh: its comments were not kept"
        )
        text = export.export_tenant(tenant_id, snapshot).text
    return FileExport(tenant_id, path, UPDATED, text, tuple(warnings))


def _kept_references(current: Any, tenant_id: str, rules: Any) -> frozenset[str]:
    """Pointers of ``store: false`` fields (the service key) the file fills with a
    reference: import drops them whatever they hold, so the row never has them, and
    removing the file's reference would be noise. A literal there is not kept."""
    from tenant_migrator import secretrefs

    extraction = secretrefs.extract(current, tenant_id, rules)
    return frozenset(
        ref.json_path
        for ref in extraction.secrets
        if ref.action == secretrefs.REMOVED and ref.literal is None
    )


def _without(document: Any, pointers: frozenset[str]) -> Any:
    """``document`` without the values at ``pointers`` (mapping keys only)."""
    if not pointers:
        return document
    import copy

    from tenant_migrator.problems import unescape

    trimmed = copy.deepcopy(document)
    for pointer in pointers:
        *parents, last = [unescape(t) for t in pointer.split("/")[1:]]
        node = trimmed
        for key in parents:
            node = node.get(key) if type(node) is dict else None
        if type(node) is dict:
            node.pop(last, None)
    return trimmed


def edited(
    original: str, current: Any, document: Mapping[str, Any], kept: frozenset[str] = frozenset()
) -> str | None:
    """``original`` (which the tool reads as ``current``) with its values changed to
    ``document``'s, or None if no edit reads back as exactly ``document`` (besides the
    ``kept`` references)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    def make(layout: tuple[int, int, int]) -> Any:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096  # never fold a long value onto a second line
        mapping, sequence, offset = layout
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        return yaml

    try:
        tree = make(_LAYOUTS[0]).load(original)
    except YAMLError:
        return None
    layout = min(_LAYOUTS, key=lambda lay: _distance(original, _dump(make(lay), tree)))
    yaml = make(layout)
    tree = _merge(yaml.load(original), current, document, "", kept)
    text = _dump(yaml, tree)
    try:
        reread = loader.load_bytes(text.encode("utf-8"), Path("client.yaml")).data
    except ClientFileError:
        return None
    return text if same(_without(reread, kept), dict(document)) else None


def _dump(yaml: Any, tree: Any) -> str:
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def _distance(a: str, b: str) -> int:
    """How many lines differ (the size of the diff ``git`` would show)."""
    import difflib

    matcher = difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False)
    same_lines = sum(block.size for block in matcher.get_matching_blocks())
    return len(a.splitlines()) + len(b.splitlines()) - 2 * same_lines


def _merge(node: Any, current: Any, wanted: Any, pointer: str, kept: frozenset[str]) -> Any:
    """``node`` (ruamel's tree of the file at ``pointer``) turned into ``wanted``,
    touching only what differs from ``current`` (the tool's reading of the file)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from tenant_migrator.problems import escape

    if isinstance(node, CommentedMap) and type(current) is dict and type(wanted) is dict:
        for key in [k for k in node if k not in wanted]:
            if f"{pointer}/{escape(key)}" not in kept:
                _delete(node, key)
        for key, value in wanted.items():
            if key in node and key in current:
                if not same(current[key], value):
                    here = f"{pointer}/{escape(key)}"
                    node[key] = _merge(node[key], current[key], value, here, kept)
            else:
                node[key] = _fresh(value)
        return node
    if isinstance(node, CommentedSeq) and type(current) is list and type(wanted) is list:
        del node[len(wanted) :]
        for index, value in enumerate(wanted):
            if index < len(node) and index < len(current):
                if not same(current[index], value):
                    here = f"{pointer}/{index}"
                    node[index] = _merge(node[index], current[index], value, here, kept)
            else:
                node.append(_fresh(value))
        return node
    return _fresh(wanted, like=node)


def _delete(node: Any, key: str) -> None:
    """Remove ``key``, leaving the blank lines after it (ruamel keeps them as the
    key's comment) to the key before it, so the sections stay apart."""
    keys = list(node)
    comment = node.ca.items.pop(key, None)
    del node[key]
    post = comment[2] if comment and len(comment) > 2 else None
    index = keys.index(key)
    if post is None or index == 0 or post.value.strip():
        return
    previous = keys[index - 1]
    if previous not in node.ca.items and not isinstance(node[previous], dict | list):
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        # After a plain value the comment starts on its line: end that line first.
        blank = CommentToken("\n" + post.value, CommentMark(0), None)
        node.ca.items[previous] = [None, None, blank, None]


def _fresh(value: Any, like: Any = None) -> Any:
    """A new value for the tree: strings quoted as they were (``like``), or where
    YAML 1.1 would read them as something else; multi-line strings as ``|`` blocks."""
    from ruamel.yaml.scalarstring import (
        DoubleQuotedScalarString,
        LiteralScalarString,
        SingleQuotedScalarString,
    )

    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    if not isinstance(value, str):
        return value
    if any(ch in value for ch in _YAML_LINE_BREAKS) or "\r" in value:
        return DoubleQuotedScalarString(value)
    if "\n" in value:
        return LiteralScalarString(value)
    if isinstance(like, DoubleQuotedScalarString | SingleQuotedScalarString):
        return type(like)(value)
    return SingleQuotedScalarString(value) if _ambiguous(value) else value


def _ambiguous(value: str) -> bool:
    """True when YAML 1.1 would not read ``value`` written plain as this string."""
    import yaml

    if value != value.strip() or not value:
        return True
    tag = yaml.SafeLoader.resolve(yaml.SafeLoader, yaml.ScalarNode, value, (True, False))
    return tag != _STR_TAG


def existing(exports: Iterable[FileExport]) -> list[Path]:
    """The files an export would replace (created ones do not exist yet)."""
    return [e.path for e in exports if e.action != CREATED]


def write_files(exports: Iterable[FileExport]) -> None:
    """Write every created or updated file, each atomically (a temporary file in
    the same directory, then a rename), keeping an existing file's mode."""
    for item in exports:
        if item.text is None:
            continue
        item.path.parent.mkdir(parents=True, exist_ok=True)
        mode = item.path.stat().st_mode & 0o7777 if item.path.exists() else None
        temp = item.path.with_name(f".{item.path.name}.{os.getpid()}.tmp")
        temp.write_text(item.text, encoding="utf-8")
        if mode is not None:
            temp.chmod(mode)
        os.replace(temp, item.path)
