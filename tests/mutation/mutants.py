"""Generating mutants: one small change to one node of a module's AST, written back
into the source text at that node's span (everything else byte for byte). See
``run.py`` for what runs them."""

from __future__ import annotations

import ast
import copy
import dataclasses
import glob
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Mutant:
    target: str
    file: str
    line: int
    text: str  # the original line, stripped
    change: str
    start: tuple[int, int]  # (line, byte col) of the replaced span
    end: tuple[int, int]
    replacement: str

    @property
    def key(self) -> str:
        return f"{self.file}:{self.line}: {self.change}"


_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult}
_BINOPS[ast.Div] = ast.Mult
_CMPOPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_DELETABLE_CALLS = {"append", "add", "extend", "update", "insert", "discard", "setdefault"}
_SQL_SWAPS = (
    ("IS NOT DISTINCT FROM", "IS DISTINCT FROM"),
    ("IS DISTINCT FROM", "IS NOT DISTINCT FROM"),
    (" AND ", " OR "),
    ("IS NOT NULL", "IS NULL"),
    ("md5(", "("),
)
_REGEX_HINT = re.compile(r"\(\?|\\[dswbAZ]|\[[^\]]+\]|\{\d|\|")


def _regex_variants(pattern: str) -> Iterator[tuple[str, str]]:
    """(description, pattern): one alternative dropped, a quantifier moved by one, a
    letter dropped from a small class, an optional character made required."""
    # Spans of groups (and the whole pattern), honouring escapes and classes.
    spans: list[tuple[int, int]] = [(0, len(pattern))]
    stack: list[int] = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            start = stack.pop()
            inner = start + 1
            if pattern.startswith("?:", inner) or pattern.startswith("?=", inner):
                inner += 2
            elif pattern.startswith("?P<", inner):
                inner = pattern.index(">", inner) + 1
            elif pattern.startswith("?<!", inner) or pattern.startswith("?<=", inner):
                inner += 3
            elif pattern.startswith("?!", inner):
                inner += 2
            spans.append((inner, i))
        i += 1
    for lo, hi in spans:
        bars, depth, j, cls = [], 0, lo, False
        while j < hi:
            ch = pattern[j]
            if ch == "\\":
                j += 2
                continue
            if cls:
                cls = ch != "]"
            elif ch == "[":
                cls = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == "|" and depth == 0:
                bars.append(j)
            j += 1
        if not bars:
            continue
        edges = [lo - 1, *bars, hi]
        for k in range(len(edges) - 1):
            a, b = edges[k] + 1, edges[k + 1]
            branch = pattern[a:b]
            if not branch:
                continue
            cut = (a - 1, b) if k > 0 else (a, b + 1)
            yield f"regex: drop alternative {branch!r}", pattern[: cut[0]] + pattern[cut[1] :]
    for m in re.finditer(r"(?<!\\)\{(\d+)(,?)(\d*)\}", pattern):
        for idx in (1, 3):
            if not m.group(idx):
                continue
            n = int(m.group(idx))
            for d in (-1, 1):
                if n + d < 0:
                    continue
                lo, hi = m.span(idx)
                yield (
                    f"regex: {m.group(0)} at {m.start()} bound {n}→{n + d}",
                    pattern[:lo] + str(n + d) + pattern[hi:],
                )
    for m in re.finditer(r"(?<!\\)\[([a-z]{2,8})\]", pattern):
        for c in m.group(1):
            narrowed = m.group(1).replace(c, "", 1)
            yield (
                f"regex: [{m.group(1)}] without {c!r}",
                pattern[: m.start()] + f"[{narrowed}]" + pattern[m.end() :],
            )
    for m in re.finditer(r"(?<=[A-Za-z0-9_-])\?", pattern):
        yield (
            f"regex: {pattern[m.start() - 1]}? made required",
            pattern[: m.start()] + pattern[m.end() :],
        )


class _Generator(ast.NodeVisitor):
    def __init__(self, target: Any, file: str, source: str) -> None:
        self.target = target
        self.file = file
        self.lines = source.splitlines()
        self.tree = ast.parse(source)
        self.mutants: list[Mutant] = []
        self.skip: set[int] = set()  # ids of nodes never mutated (annotations, docstrings)
        self.allowed: list[tuple[int, int]] | None = None
        self.line_re = re.compile(target.lines) if target.lines else None
        self._mark_skipped()
        if target.scope:
            self.allowed = []
            for node in ast.walk(self.tree):
                names: list[str] = []
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names = [node.name]
                elif isinstance(node, ast.Assign | ast.AnnAssign) and node in self.tree.body:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                if set(names) & set(target.scope):
                    self.allowed.append((node.lineno, node.end_lineno or node.lineno))

    def _mark_skipped(self) -> None:
        for node in ast.walk(self.tree):
            annotations = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                annotations.append(node.returns)
                args = node.args
                for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                    if a is not None:
                        annotations.append(a.annotation)
            if isinstance(node, ast.AnnAssign):
                annotations.append(node.annotation)
            body = getattr(node, "body", None)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                first = body[0] if body else None
                if (
                    isinstance(first, ast.Expr)
                    and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)
                ):
                    annotations.append(first)
            # ``if TYPE_CHECKING:`` blocks never run.
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                annotations.append(node)
            # f-string parts have unreliable positions on 3.11: the f-string is
            # mutated whole (SQL swaps) or not at all.
            if isinstance(node, ast.JoinedStr):
                annotations.extend(node.values)
            for a in annotations:
                if a is not None:
                    for sub in ast.walk(a):
                        self.skip.add(id(sub))

    def _ok(self, node: ast.AST) -> bool:
        if id(node) in self.skip:
            return False
        line = node.lineno
        if self.allowed is not None and not any(a <= line <= b for a, b in self.allowed):
            return False
        if self.line_re is not None:
            text = "\n".join(self.lines[node.lineno - 1 : node.end_lineno])
            if not self.line_re.search(text):
                return False
        return True

    def _add(self, node: ast.AST, change: str, replacement: ast.AST | str) -> None:
        text = replacement if isinstance(replacement, str) else ast.unparse(replacement)
        self.mutants.append(
            Mutant(
                target=self.target.name,
                file=self.file,
                line=node.lineno,
                text=self.lines[node.lineno - 1].strip(),
                change=change,
                start=(node.lineno, node.col_offset),
                end=(node.end_lineno, node.end_col_offset),
                replacement=text,
            )
        )

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr | ast.stmt) and self._ok(node):
            self._mutate(node)
        super().generic_visit(node)

    def _mutate(self, node: ast.AST) -> None:  # one branch per operator

        def clone() -> ast.AST:
            return copy.deepcopy(node)

        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            new = clone()
            new.op = _BINOPS[type(node.op)]()
            self._add(node, f"{_sym(node.op)} → {_sym(new.op)}", new)
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _CMPOPS:
                    new = clone()
                    new.ops[i] = _CMPOPS[type(op)]()
                    self._add(node, f"{_sym(op)} → {_sym(new.ops[i])}", new)
        elif isinstance(node, ast.BoolOp):
            new = clone()
            new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self._add(node, f"{_sym(node.op)} → {_sym(new.op)}", new)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._add(node, "not removed", node.operand)
        elif isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.JoinedStr):
            self._fstring(node)
        elif isinstance(node, ast.Tuple | ast.List | ast.Set) and 2 <= len(node.elts) <= 30:
            if all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                for i, e in enumerate(node.elts):
                    new = clone()
                    del new.elts[i]
                    self._add(node, f"element {e.value!r} removed", new)
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in self.target.unwrap and node.args:
                self._add(node, f"{name}(x, …) → x", node.args[0])
        elif isinstance(node, ast.Return):
            if node.value is not None and not _is_none(node.value):
                self._add(node, "return value → return None", "return None")
        elif isinstance(node, ast.Raise):
            self._add(node, "raise removed", "pass")
        elif isinstance(node, ast.Continue | ast.Break):
            self._add(node, f"{type(node).__name__.lower()} removed", "pass")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            if _call_name(node.value) in _DELETABLE_CALLS:
                self._add(node, f".{_call_name(node.value)}(…) removed", "pass")
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOPS:
            new = clone()
            new.op = _BINOPS[type(node.op)]()
            self._add(node, f"{_sym(node.op)}= → {_sym(new.op)}=", new)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bool):
            self._add(node, f"{value} → {not value}", repr(not value))
        elif value is None:
            return  # None → something else is mostly a type error; cheap noise
        elif isinstance(value, int):
            for d in (-1, 1):
                self._add(node, f"{value} → {value + d}", repr(value + d))
        elif isinstance(value, str):
            if value == "":
                self._add(node, "'' → 'XX'", repr("XX"))
            elif len(value) < 2000 and _REGEX_HINT.search(value) and _compiles(value):
                for change, pattern in _regex_variants(value):
                    if _compiles(pattern):
                        self._add(node, change, _str_literal(pattern))
            elif self._compared(node):
                self._add(node, f"{value!r} → 'XX'", repr("XX"))

    def _compared(self, node: ast.Constant) -> bool:
        for parent in ast.walk(self.tree):
            if isinstance(parent, ast.Compare) and (
                parent.left is node or any(c is node for c in parent.comparators)
            ):
                return True
        return False

    def _fstring(self, node: ast.JoinedStr) -> None:

        for old, new_text in _SQL_SWAPS:
            for i, part in enumerate(node.values):
                if isinstance(part, ast.Constant) and old in part.value:
                    new = copy.deepcopy(node)
                    new.values[i].value = part.value.replace(old, new_text, 1)
                    self._add(node, f"SQL {old.strip()!r} → {new_text.strip()!r}", new)


def _sym(op: ast.AST) -> str:
    return {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.FloorDiv: "//",
        ast.Lt: "<",
        ast.LtE: "<=",
        ast.Gt: ">",
        ast.GtE: ">=",
        ast.Eq: "==",
        ast.NotEq: "!=",
        ast.Is: "is",
        ast.IsNot: "is not",
        ast.In: "in",
        ast.NotIn: "not in",
        ast.And: "and",
        ast.Or: "or",
    }[type(op)]


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _str_literal(value: str) -> str:
    if "\n" not in value and '"' not in value and not value.endswith("\\"):
        return 'r"' + value + '"'
    return repr(value)


def generate(target: Any, root: Path) -> list[Mutant]:
    """Every valid mutant of ``target``'s files under ``root`` (a ``run.Target``)."""
    mutants = []
    for pattern in target.files:
        for path in sorted(glob.glob(str(root / pattern))):
            rel = str(Path(path).relative_to(root))
            source = Path(path).read_text()
            gen = _Generator(target, rel, source)
            gen.visit(gen.tree)
            seen: set[tuple[str, str]] = set()
            for m in gen.mutants:
                if (m.key, m.replacement) not in seen and _valid(source, m):
                    seen.add((m.key, m.replacement))
                    mutants.append(m)
    # Same change twice on one line (two `is` in it): number them, so that each
    # survivor has its own note.
    counts: dict[str, int] = {}
    for i, m in enumerate(mutants):
        counts[m.key] = counts.get(m.key, 0) + 1
        if counts[m.key] > 1:
            mutants[i] = dataclasses.replace(m, change=f"{m.change} #{counts[m.key]}")
    return mutants


def apply(source: str, m: Mutant) -> str:
    raw = source.encode().splitlines(keepends=True)
    (l1, c1), (l2, c2) = m.start, m.end
    head = b"".join(raw[: l1 - 1]) + raw[l1 - 1][:c1]
    tail = raw[l2 - 1][c2:] + b"".join(raw[l2:])
    text = m.replacement
    if l2 > l1 or "\n" in text:
        text = f"({text})" if not text.startswith(("return", "pass")) else text
    return (head + text.encode() + tail).decode()


def _valid(source: str, m: Mutant) -> bool:
    try:
        mutated = apply(source, m)
        compile(mutated, m.file, "exec")
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return False
    return mutated != source
