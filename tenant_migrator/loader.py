"""client.yaml bytes → plain JSON-able data, with the platform's ``yaml.safe_load`` meaning.

The platform read these files with ``yaml.safe_load``, so a value must mean here
what it meant there (YAML 1.1: ``yes`` is true, ``2024-01-05`` is a date). We use
the same resolver and constructors, on libyaml's C parser when present, and add
the checks ``safe_load`` does not make: duplicate keys (it silently keeps the
last one), non-string keys, alias bombs, and values JSONB cannot hold.

Positions: the C parser composes a node graph that already carries every node's
line and column; construction then runs over those nodes. We keep the root node
next to the data and walk it only when a problem needs a location. In a file
without aliases (a tree) each node is built straight by its tag's constructor,
without ``construct_object``'s bookkeeping, so the happy path costs less than a
plain ``yaml.load(..., CSafeLoader)`` (0.46 against 0.81 ms for a generated file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tenant_migrator.errors import ClientFileError
from tenant_migrator.problems import Problem, Severity
from tenant_migrator.secretrefs import shown_key
from tenant_migrator.settings import DEFAULT_MAX_FILE_BYTES
from tenant_migrator.yamlnodes import all_nodes, children, node_paths, walk

try:
    from yaml import CSafeLoader as _BaseLoader

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    HAVE_LIBYAML = False

# A real client.yaml has a few hundred nodes; an anchor/alias document expanding to
# more than this is an attack ("billion laughs") or a mistake either way.
MAX_ALIAS_EXPANSION = 100_000

_NUL_ESCAPES = (b"\\0", b"\\x00", b"\\u0000", b"\\U00000000")
_NUL_ADVICE = "store (neither in a column nor in jsonb); remove it"

_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

_SCALAR_KIND = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null",
    _TIMESTAMP_TAG: "a date",
}


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """One loaded client file: its data plus what is needed to point into it.

    ``data`` is JSON-able: dicts with str keys, lists, str, int, float, bool, None.
    ``notes`` are warnings found while loading (dates turned into strings).
    ``root`` is the composed node graph, used only to locate problems.
    """

    path: Path
    data: dict[str, Any]
    root: Node = field(repr=False)
    notes: tuple[Problem, ...] = ()

    def locate(self, pointer: str, *, key: bool = False) -> tuple[int | None, int | None]:
        """1-based (line, column) of the value at RFC 6901 ``pointer``.

        With ``key=True`` the position of the mapping key itself (where an unknown
        key is written). Falls back to the deepest existing ancestor.
        """
        node, key_node = walk(self.root, pointer)
        mark = (key_node if key and key_node is not None else node).start_mark
        return mark.line + 1, mark.column + 1

    def problem(
        self, pointer: str, message: str, severity: Severity = Severity.ERROR, *, key: bool = False
    ) -> Problem:
        line, column = self.locate(pointer, key=key)
        return Problem(self.path, message, pointer, line, column, severity)


# --- reading ---------------------------------------------------------------------------


def read_client_file(path: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The file's bytes, refusing files over ``max_bytes`` before reading them whole."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as err:
        reason = err.strerror or str(err)
        message = f"cannot read the file: {reason}; check it exists and is readable"
        raise _fail(path, message, None) from None
    if len(data) > max_bytes:
        raise _fail(
            path,
            f"file is larger than the {max_bytes:,}-byte limit; a client.yaml is a few KB — "
            "check it is the right file (or raise the limit with --max-file-bytes)",
        )
    return data


def load_file(path: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> LoadedDocument:
    return load_bytes(read_client_file(path, max_bytes), path)


def load_bytes(data: bytes, path: Path) -> LoadedDocument:
    """Parse one client file. Raises ``ClientFileError`` with every problem found."""
    _check_utf8(data, path)
    loader = _Loader(data, path)
    try:
        try:
            value = loader.get_single_data()
        except yaml.MarkedYAMLError as err:
            raise ClientFileError([_yaml_problem(err, path)]) from None
        except yaml.YAMLError as err:  # unmarked: e.g. reader errors on odd input
            raise _fail(path, f"not valid YAML: {err}") from None
        except RecursionError:
            # Only the pure-Python fallback parser recurses; libyaml caps nesting itself.
            raise _fail(path, "nested too deeply to be a client file") from None
        if loader.found:
            errors = [p for p in loader.resolve_found() if p.is_error]
            if errors:
                raise ClientFileError(errors)
        root = loader.root
        if root is None:
            raise _fail(path, "file is empty; a client.yaml is a mapping with a `client:` section")
        if not isinstance(value, dict):
            mark = root.start_mark
            raise _fail(
                path,
                f"top level is {_node_kind(root)}, not a mapping; a client.yaml starts with "
                "keys such as `client:`",
                mark,
            )
        notes = tuple(p for p in loader.resolve_found() if not p.is_error) if loader.found else ()
        return LoadedDocument(path, value, root, notes)
    finally:
        loader.dispose()


def _fail(path: Path, message: str, mark: Any = "start") -> ClientFileError:
    """One-problem error; ``mark``: a yaml Mark, None (no position) or the file start."""
    if mark == "start":
        return ClientFileError([Problem(path, message, "", 1, 1)])
    if mark is None:
        return ClientFileError([Problem(path, message)])
    return ClientFileError([Problem(path, message, "", mark.line + 1, mark.column + 1)])


def _check_utf8(data: bytes, path: Path) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        column = len(data[line_start : err.start].decode("utf-8", "replace")) + 1
        raise ClientFileError(
            [
                Problem(
                    path,
                    f"not valid UTF-8 (byte 0x{data[err.start]:02x}); save the file as UTF-8",
                    line=line,
                    column=column,
                )
            ]
        ) from None


def _yaml_problem(err: yaml.MarkedYAMLError, path: Path) -> Problem:
    # Only the problem/context texts: str(err) may quote the source line, and the
    # source line may hold a secret.
    mark = err.problem_mark or err.context_mark
    text = err.problem or "invalid YAML"
    if err.context and err.problem_mark is not None:
        where = ""
        if err.context_mark is not None and err.context_mark.line != err.problem_mark.line:
            where = f" at line {err.context_mark.line + 1}"
        text = f"{text} ({err.context}{where})"
    if isinstance(err, yaml.constructor.ConstructorError):
        # Tags such as !!python/object or custom !Tags: safe_load refused them too.
        text = (
            f"unsupported YAML: {text}; a client.yaml may use only plain values "
            "(strings, numbers, true/false, lists, mappings)"
        )
    elif isinstance(err, yaml.composer.ComposerError):
        text = f"YAML structure error: {text}"
    else:
        text = f"YAML syntax error: {text}"
    line = mark.line + 1 if mark else None
    column = mark.column + 1 if mark else None
    return Problem(path, text, "", line, column)


# --- the loader ------------------------------------------------------------------------


class _Loader(_BaseLoader):
    """``yaml.safe_load``'s loader plus checks. Problems are collected, not raised
    one by one, so a file with three duplicate keys reports all three."""

    def __init__(self, data: bytes, path: Path) -> None:
        super().__init__(data)
        self.path = path
        self.root: Node | None = None
        # (node, message, severity, point at the key?) — located only if non-empty.
        self.found: list[tuple[Node, str, Severity, bool]] = []
        # Cheap byte checks decide whether the costlier walks can matter at all.
        self._may_alias = b"*" in data
        self._may_merge = b"<<" in data or b"merge" in data
        # A NUL comes only from a double-quoted escape (the reader refuses the byte).
        # One memchr for a backslash first: the escapes' own scans cost ~50 µs a file.
        self._may_nul = b"\\" in data and any(escape in data for escape in _NUL_ESCAPES)
        self._merged: dict[Node, int] = {}
        self._resolved: list[Problem] | None = None

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        self.root = node
        if node is None:
            return None
        if self._may_nul:
            self._find_nul(node)
        if self._may_alias:
            _check_expansion(node, self.path)
            return self.construct_document(node)
        # No alias: the graph is a tree, so each node is built once and nothing needs
        # construct_object's bookkeeping (its cache and recursion guards).
        return self._construct(node)

    def _find_nul(self, root: Node) -> None:
        keys = {id(k) for n in all_nodes(root) if isinstance(n, MappingNode) for k, _ in n.value}
        for node in all_nodes(root):
            if isinstance(node, ScalarNode) and "\x00" in node.value:
                what = "key" if id(node) in keys else "string"
                message = f"this {what} contains the NUL character (\\0), which PostgreSQL cannot "
                self.found.append((node, message + _NUL_ADVICE, Severity.ERROR, what == "key"))

    def _construct(self, node: Node, deep: bool = True) -> Any:
        """``construct_object(node, deep)``. In an alias-free document, where no node
        is reached twice, the tags of a plain client file (the pipeline's inner
        loop) are built straight by their constructors; any other tag, and every
        node of a document with aliases, goes the long way."""
        if self._may_alias:
            return self.construct_object(node, deep=deep)
        tag, kind = node.tag, type(node)
        if kind is ScalarNode:
            if tag == _STR_TAG:
                return node.value
            scalar = _DIRECT_SCALARS.get(tag)
            if scalar is not None:
                return scalar(self, node)
        elif kind is MappingNode and tag == _MAP_TAG:
            return self.construct_mapping(node)
        elif kind is SequenceNode and tag == _SEQ_TAG:
            return self.construct_sequence(node)
        return self.construct_object(node, deep=True)

    def flatten_mapping(self, node: MappingNode) -> None:
        if not self._may_merge:
            super().flatten_mapping(node)
            return
        if node in self._merged:
            return
        own = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        super().flatten_mapping(node)
        # Merged pairs are placed first; remember how many so that an explicit key
        # may override a merged one (YAML merge semantics) without being a duplicate.
        self._merged[node] = len(node.value) - own

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise yaml.constructor.ConstructorError(
                None, None, f"expected a mapping, found {_node_kind(node)}", node.start_mark
            )
        self.flatten_mapping(node)
        merged = self._merged.get(node, 0) if self._may_merge else 0
        mapping: dict[str, Any] = {}
        own_keys: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            if not (isinstance(key_node, ScalarNode) and key_node.tag == _STR_TAG):
                self.found.append((key_node, _non_string_key(key_node), Severity.ERROR, True))
                continue
            key = key_node.value
            if merged:
                if index < merged:
                    pass  # from a merge: later explicit keys may override it
                elif key in own_keys:
                    self._duplicate(node, key_node, key, start=merged)
                    continue
                else:
                    own_keys.add(key)
            elif key in mapping:
                self._duplicate(node, key_node, key, start=0)
                continue
            if type(value_node) is ScalarNode and value_node.tag == _STR_TAG:
                # What construct_object would return, without its bookkeeping: most
                # values are strings, and this is the inner loop of every file.
                mapping[key] = value_node.value
            else:
                mapping[key] = self._construct(value_node, deep)
        return mapping

    def construct_sequence(self, node: Node, deep: bool = False) -> list[Any]:
        if not isinstance(node, SequenceNode):
            return super().construct_sequence(node, deep=deep)  # raises its usual error
        return [
            child.value
            if type(child) is ScalarNode and child.tag == _STR_TAG
            else self._construct(child, deep)
            for child in node.value
        ]

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        """The tag YAML gives an untagged node: ``BaseResolver.resolve`` for the safe
        loader (no path resolvers), with the regexes looked up once per first
        character and the answer remembered per short value (values such as
        ``true``, ``587`` or ``en`` repeat in every file)."""
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        if not implicit[0]:
            return _STR_TAG
        tag = _RESOLVED.get(value)
        if tag is None:
            tag = _STR_TAG
            table = _implicit_resolvers(type(self))
            pairs = table.get(value[:1])
            for candidate, regexp in table[None] if pairs is None else pairs:
                if regexp.match(value):
                    tag = candidate
                    break
            if len(value) <= 40:
                if len(_RESOLVED) > 100_000:
                    _RESOLVED.clear()
                _RESOLVED[value] = tag
        return tag

    def _duplicate(self, node: MappingNode, key_node: ScalarNode, key: str, start: int) -> None:
        first = next(k for k, _ in node.value[start:] if k.tag == _STR_TAG and k.value == key)
        self.found.append(
            (
                key_node,
                f"duplicate key {shown_key(key, _HIDDEN)} (first defined at line "
                f"{first.start_mark.line + 1}); YAML would silently keep only the last "
                "value — remove or rename one of them",
                Severity.ERROR,
                True,
            )
        )

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:
        value = super().construct_yaml_timestamp(node)
        text = value.isoformat()
        self.found.append(
            (
                node,
                # The value is not echoed: a date-shaped string could sit in a secret field.
                "YAML reads this unquoted value as a date/time; stored as the ISO-8601 string "
                f"it denotes ({_iso_shape(text)}) — quote it in the file to make that explicit",
                Severity.WARNING,
                False,
            )
        )
        return text

    def construct_yaml_float(self, node: ScalarNode) -> float | None:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            self.found.append(
                (
                    node,
                    f"{node.value!r} is not a finite number (NaN/Infinity); JSONB cannot store "
                    "it — use a number or quote it as a string",
                    Severity.ERROR,
                    False,
                )
            )
            return None
        return value

    def _unsupported(self, node: Node, what: str) -> None:
        self.found.append(
            (
                node,
                f"{what} cannot be stored in JSONB; use a plain string, list or mapping",
                Severity.ERROR,
                False,
            )
        )

    def construct_yaml_binary(self, node: Node) -> None:
        self._unsupported(node, "binary data (!!binary)")

    def construct_yaml_set(self, node: Node) -> None:
        self._unsupported(node, "a set (!!set)")

    def construct_yaml_omap(self, node: Node) -> None:
        self._unsupported(node, "an ordered map (!!omap)")

    def construct_yaml_pairs(self, node: Node) -> None:
        self._unsupported(node, "a list of pairs (!!pairs)")

    def resolve_found(self) -> list[Problem]:
        """The collected problems with JSON paths (one walk of the graph, only now)."""
        if self._resolved is None:
            paths = node_paths(self.root) if self.root is not None else {}
            problems = []
            for node, message, severity, _is_key in self.found:
                mark = node.start_mark
                problems.append(
                    Problem(
                        self.path,
                        message,
                        paths.get(node, ""),
                        mark.line + 1,
                        mark.column + 1,
                        severity,
                    )
                )
            problems.sort(key=lambda p: (p.line or 0, p.column or 0))
            self._resolved = problems
        return self._resolved


for _tag, _method in (
    (_TIMESTAMP_TAG, _Loader.construct_yaml_timestamp),
    ("tag:yaml.org,2002:float", _Loader.construct_yaml_float),
    ("tag:yaml.org,2002:binary", _Loader.construct_yaml_binary),
    ("tag:yaml.org,2002:set", _Loader.construct_yaml_set),
    ("tag:yaml.org,2002:omap", _Loader.construct_yaml_omap),
    ("tag:yaml.org,2002:pairs", _Loader.construct_yaml_pairs),
    ("tag:yaml.org,2002:map", _Loader.construct_yaml_map),
):
    _Loader.add_constructor(_tag, _method)

# The scalar tags ``_Loader._construct`` builds straight from their constructors (the
# loader's own, as registered: a NaN float is still reported).
_DIRECT_SCALARS = {
    tag: _Loader.yaml_constructors[tag]
    for tag in (
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
        _TIMESTAMP_TAG,
    )
}


_RESOLVED: dict[str, str] = {}
_RESOLVER_TABLES: dict[type, dict[str | None, tuple[Any, ...]]] = {}


def _implicit_resolvers(cls: type) -> dict[str | None, tuple[Any, ...]]:
    """First character ('' for the empty value; None: any other) → the (tag, regexp)
    pairs ``BaseResolver.resolve`` tries for it, in its order."""
    table = _RESOLVER_TABLES.get(cls)
    if table is None:
        if cls.yaml_path_resolvers:  # pragma: no cover - the safe loader has none
            raise AssertionError("path resolvers would make tags depend on the position")
        wildcard = tuple(cls.yaml_implicit_resolvers.get(None, ()))
        table = {
            first: (*pairs, *wildcard)
            for first, pairs in cls.yaml_implicit_resolvers.items()
            if first is not None
        }
        table.setdefault("", wildcard)
        table[None] = wildcard
        _RESOLVER_TABLES[cls] = table
    return table


# --- node graph helpers ----------------------------------------------------------------


def _check_expansion(root: Node, path: Path) -> None:
    """Fail fast if aliases expand the document past MAX_ALIAS_EXPANSION nodes.

    Sizes are computed on the composed graph, memoised per node, so a billion-laughs
    file costs a few hundred steps here instead of gigabytes later. Iterative, so a
    deep document cannot exhaust the Python stack; a node that contains itself
    (a recursive alias) cannot become JSON at all.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if children_done:
            on_path.discard(ident)
            total = 1 + sum(size[id(child)] for child in children(node))
            if total > MAX_ALIAS_EXPANSION:
                raise _fail(
                    path,
                    f"anchors/aliases expand to more than {MAX_ALIAS_EXPANSION:,} values "
                    "(a 'billion laughs' file?); write the values out or use fewer aliases",
                    node.start_mark,
                )
            size[ident] = total
            continue
        if ident in size:
            continue
        if ident in on_path:
            raise _fail(
                path,
                "an alias refers to a node that contains it (a recursive structure); "
                "JSON cannot represent that — remove the alias",
                node.start_mark,
            )
        on_path.add(ident)
        stack.append((node, True))
        # A child still on the path is pushed anyway: popping it reports the recursion.
        stack.extend((child, False) for child in children(node) if id(child) not in size)


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return _SCALAR_KIND.get(node.tag, "a scalar value")


def _non_string_key(key_node: Node) -> str:
    if not isinstance(key_node, ScalarNode):
        return (
            f"a mapping key must be a string, found {_node_kind(key_node)} used as a key; "
            "JSONB object keys are strings"
        )
    kind = _SCALAR_KIND.get(key_node.tag, f"a value tagged {key_node.tag}")
    text = shown_key(key_node.value, _HIDDEN)
    quoted = f" ('{key_node.value}':)" if text != _HIDDEN else ""
    return (
        f"mapping key {text} is read by YAML as {kind}, not a string; JSONB object keys "
        f"are strings — quote it{quoted} if a string is meant"
    )


_HIDDEN = "(key not shown)"


def _iso_shape(text: str) -> str:
    return "YYYY-MM-DD" if len(text) == 10 else "YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]"
