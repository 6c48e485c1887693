"""Names for "Mint as NFT": the first line of the message, without Discord's markup, is a name
the core accepts (it refuses formatting, mentions and control characters in names)."""

from __future__ import annotations

import pytest

from bot.content.metadata import clean_name
from cogs.mint import name_from_text


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("<a:dance:123456> Sunset", "Sunset"),
        ("<:cat:42>Harbour <t:1700000000:R>", "Harbour"),
        ("-# small print\nsecond", "small print"),
        ("# Big title", "Big title"),
        ("> quoted words", "quoted words"),
        ("**bold** and _soft_", "bold and soft"),
        ("", "photo"),
        ("<t:1700000000>", "photo"),
    ],
)
def test_a_message_line_becomes_a_name_the_core_accepts(text: str, name: str):
    made = name_from_text(text, "photo.png")
    assert made == name
    assert clean_name(made) == name
