"""Names, descriptions and the canonical ERC-721 metadata document."""

from __future__ import annotations

import json

import pytest

from bot.content.metadata import build_metadata, clean_description, clean_name
from bot.errors import TextRejected

CREATOR = {"platform": "discord", "user_id": "42", "name": "Ada"}
SOURCE = {"platform": "discord", "chat_id": "7", "message_id": "99"}
CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def metadata(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "name": "Sunset",
        "description": "over the bay",
        "image_cid": CID,
        "creator": CREATOR,
        "source": SOURCE,
    }
    fields.update(changes)
    return build_metadata(**fields)  # type: ignore[arg-type]


def test_document_has_what_marketplaces_read():
    doc = json.loads(
        metadata(external_url="https://example.org/t/1", mime="image/png", width=8, height=8)
    )
    assert doc["name"] == "Sunset" and doc["description"] == "over the bay"
    assert doc["image"] == f"ipfs://{CID}"
    assert doc["external_url"] == "https://example.org/t/1"
    assert {"trait_type": "Creator", "value": "Ada"} in doc["attributes"]
    assert doc["properties"]["source"] == SOURCE
    assert doc["properties"]["creator"] == CREATOR
    assert doc["properties"]["image"] == {"mime": "image/png", "width": 8, "height": 8}


def test_encoding_is_canonical_and_stable():
    data = metadata(name="Été")
    assert data == metadata(name="Été")
    assert b" " not in data.replace(b"over the bay", b"")
    assert (
        data
        == json.dumps(
            json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert "Été".encode() in data  # UTF-8, not \\u escapes


def test_another_source_message_gives_other_bytes():
    other = dict(SOURCE, message_id="100")
    assert metadata() != metadata(source=other)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("n" * 10_000, "10,000 characters"),
        ("n" * 101, "limit is 100"),
        ("hello @everyone", "@everyone"),
        ("ping @HERE now", "@everyone or @here"),
        ("for <@123456>", "mention"),
        ("role <@&77>", "mention"),
        ("chan <#88>", "mention"),
        ("**bold**", "formatting"),
        ("__under__", "formatting"),
        ("||spoiler||", "formatting"),
        ("`code`", "formatting"),
        ("[click](http://evil.example)", "formatting"),
        ("<b>x</b>", "formatting"),
        ("# Heading", "formatting"),
        ("two\nlines", "line breaks"),
        ("bell\x07", "control"),
        ("rtl\u202eoverride", "control"),
    ],
)
def test_names_refused(name: str, words: str):
    with pytest.raises(TextRejected) as caught:
        clean_name(name)
    assert words in str(caught.value)


def test_names_accepted_and_normalised():
    assert clean_name("  Cat #3  ") == "Cat #3"
    assert clean_name("Cafe\u0301") == "Café"  # NFC
    assert clean_name("me@example.org's art") == "me@example.org's art"
    assert clean_name("2 * 3 = 6") == "2 * 3 = 6"


def test_descriptions():
    assert clean_description("") == ""
    assert clean_description("*soft* light\n\nsecond paragraph") == (
        "*soft* light\n\nsecond paragraph"
    )
    with pytest.raises(TextRejected, match="@everyone"):
        clean_description("free mint @everyone")
    with pytest.raises(TextRejected, match="1,001 characters"):
        clean_description("d" * 1001)
