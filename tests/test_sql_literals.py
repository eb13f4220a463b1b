"""Values written into SQL text (``database.literal``, ``text_array``) mean exactly
what they were, and ``fetch_json`` reads back exactly what the server selected.

The hot statements of plan, import and sync carry their values in their text
(one round trip, no prepare: see ``tests/test_round_trips.py``), so the quoting
is held here against the real server, for any text, with
``standard_conforming_strings`` on and off.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenant_migrator import database
from tenant_migrator.database import fetch_json, literal, text_array

# Any text PostgreSQL can hold: no NUL, no lone surrogate (not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))


async def _round_trip(url: str, values: list[str | None], conforming: str) -> object:
    async with database.connection(url) as conn:
        await conn.execute(f"SET standard_conforming_strings = {conforming}")
        return await fetch_json(conn, f"to_jsonb({text_array(values)})")


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(TEXT, st.none()), max_size=12), conforming=st.booleans())
def test_any_text_written_into_a_statement_reads_back_unchanged(server_url, values, conforming):
    got = asyncio.run(_round_trip(server_url, values, "on" if conforming else "off"))
    assert got == values


@pytest.mark.parametrize(
    "value", ["it's", "back\\slash", "\\'; DROP TABLE tenants; --", "E'x'", "$$", 'é\n\t\r"x,']
)
def test_quotes_and_backslashes_cannot_end_the_literal(server_url, value):
    assert asyncio.run(_round_trip(server_url, [value], "off")) == [value]


def test_a_nul_character_is_refused_before_anything_is_sent():
    with pytest.raises(ValueError, match="NUL"):
        literal("a\0b")


def test_fetch_json_reads_large_values_and_null(server_url):
    big = "x," * 200_000  # larger than the csv module's field limit, with commas

    async def go() -> tuple[object, object]:
        async with database.connection(server_url) as conn:
            return (
                await fetch_json(conn, f"to_jsonb({literal(big)}::text)"),
                await fetch_json(conn, "NULL::jsonb"),
            )

    assert asyncio.run(go()) == (big, None)
