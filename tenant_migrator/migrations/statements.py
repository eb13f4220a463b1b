"""Splitting a SQL script into statements the way psql does.

A migration runs statement by statement (as ``psql -f`` sends it), so that a
failure names its line and column, and so that a file marked to run outside a
transaction can send ``CREATE INDEX CONCURRENTLY`` on its own.
"""

from __future__ import annotations

import re
from functools import cache


# Compiled on first use, not on import: a class up to \uffff costs re ~8 ms to
# compile, and most commands import this module without splitting any SQL (sync).
@cache
def _dollar_tag_re() -> re.Pattern[str]:
    return re.compile(r"\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$")


@cache
def _ident_char_re() -> re.Pattern[str]:
    return re.compile(r"[A-Za-z0-9_$\x80-\uffff]")


def split_statements(sql: str) -> list[str]:
    """Split a SQL script at top-level semicolons, like psql does.

    Semicolons inside 'strings' (also E'…' with backslash escapes), "identifiers",
    $tag$ dollar quotes $tag$, -- line comments and /* nested */ block comments do
    not split. Comments before a statement and statements that are only comments
    are dropped; the others are returned trimmed, without the final semicolon.
    """
    return [statement for _, statement in statement_spans(sql)]


def statement_spans(sql: str) -> list[tuple[int, str]]:
    """``split_statements`` with each statement's offset in ``sql``."""
    statements: list[tuple[int, str]] = []
    start: int | None = None  # where the current statement's first code character is
    i = 0
    n = len(sql)

    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if ch == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            continue
        if ch == ";":
            if start is not None:
                statements.append((start, sql[start:i].rstrip()))
            start = None
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        if start is None:
            start = i
        if ch == "'":
            # E'...' strings treat backslash as an escape; plain ones do not.
            prefix_e = i > 0 and sql[i - 1] in "eE"
            escapes = prefix_e and (i < 2 or not _ident_char_re().match(sql[i - 2]))
            i = _skip_quoted(sql, i, "'", backslash_escapes=escapes)
        elif ch == '"':
            i = _skip_quoted(sql, i, '"', backslash_escapes=False)
        elif ch == "$" and (i == 0 or not _ident_char_re().match(sql[i - 1])):
            match = _dollar_tag_re().match(sql, i)
            if match:
                tag = match.group(0)
                end = sql.find(tag, match.end())
                i = n if end < 0 else end + len(tag)
            else:
                i += 1
        else:
            i += 1

    if start is not None:
        statements.append((start, sql[start:].rstrip()))
    return statements


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    n = len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _skip_quoted(sql: str, i: int, quote: str, *, backslash_escapes: bool) -> int:
    i += 1
    n = len(sql)
    while i < n:
        ch = sql[i]
        if backslash_escapes and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and sql[i + 1] == quote:  # doubled quote: an escaped quote
                i += 2
                continue
            return i + 1
        i += 1
    return n
