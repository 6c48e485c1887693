"""Token names, descriptions and the ERC-721 metadata document.

The metadata is canonically encoded (sorted keys, no spaces, UTF-8), so the same request always
gives the same bytes, and it embeds the source message (the idempotency key), so two requests
never give the same bytes. The token ID is the sha2-256 digest of these bytes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from bot.errors import TextRejected
from bot.i18n import N_

NAME_MAX = 100
DESCRIPTION_MAX = 1000

_MASS_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
# Discord's user, role and channel mention syntax, and slash-command mentions.
_DISCORD_MENTION = re.compile(r"<(@[!&]?|#|/[\w -]+:)\d+>")
# Control and invisible characters, and lone surrogates (no UTF-8 form: nothing could store
# or encode them).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Markup that chat clients render: **bold**, __underline__, ~~strike~~, ||spoiler||, `code`,
# [text](link), HTML tags, and a leading # heading or > quote.
_NAME_MARKUP = re.compile(
    r"\*\*|__|~~|\|\||`|\[[^\]]*\]\([^)]*\)|</?[a-zA-Z][^>]*>|^\s*(#{1,3}\s|>\s)"
)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


# Whole sentences per field (msgids, translated where shown): a translation needs the noun's
# gender and case, which a "{what}" placeholder would not give it.
_MENTIONS = {
    "name": (
        N_("The name may not contain @everyone or @here."),
        N_("The name may not mention members, roles or channels."),
    ),
    "description": (
        N_("The description may not contain @everyone or @here."),
        N_("The description may not mention members, roles or channels."),
    ),
}


def _refuse_mentions(text: str, what: str) -> None:
    mass, mentions = _MENTIONS[what]
    if _MASS_MENTION.search(text):
        raise TextRejected(mass)
    if _DISCORD_MENTION.search(text):
        raise TextRejected(mentions)


def clean_name(name: str, *, max_length: int = NAME_MAX) -> str:
    """The token name, NFC-normalised and trimmed. Refused: empty; longer than `max_length`
    characters; control or invisible direction characters; @everyone/@here and Discord
    mentions; chat markup (bold, underline, strike, spoiler, code, links, HTML tags, headings,
    quotes), since a name is shown verbatim on marketplaces."""
    text = _normalise(name)
    if not text:
        raise TextRejected(N_("The name is empty. Give your NFT a name."))
    if len(text) > max_length:
        raise TextRejected(
            N_("The name is {length} characters long; the limit is {most}."),
            length=f"{len(text):,}",
            most=max_length,
        )
    if _CONTROL.search(text) or "\n" in text or "\t" in text:
        raise TextRejected(N_("The name may not contain line breaks or control characters."))
    _refuse_mentions(text, "name")
    if _NAME_MARKUP.search(text):
        raise TextRejected(
            N_(
                "The name may not contain formatting such as **bold**, links or HTML. "
                "Use plain words."
            )
        )
    return text


def clean_description(text: str, *, max_length: int = DESCRIPTION_MAX) -> str:
    """The description, NFC-normalised and trimmed (it may be empty). Line breaks and ordinary
    punctuation are fine, since adapters escape it when they render it. Refused: longer than
    `max_length` characters; control characters; @everyone/@here and Discord mentions."""
    cleaned = _normalise(text)
    if len(cleaned) > max_length:
        raise TextRejected(
            N_("The description is {length} characters long; the limit is {most}."),
            length=f"{len(cleaned):,}",
            most=max_length,
        )
    if _CONTROL.search(cleaned.replace("\n", "").replace("\t", "")):
        raise TextRejected(N_("The description may not contain control characters."))
    _refuse_mentions(cleaned, "description")
    return cleaned


def canonical_json(document: dict[str, Any]) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8, no NaN: one document, one encoding."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def build_metadata(
    *,
    name: str,
    description: str,
    image_cid: str,
    creator: dict[str, str],
    source: dict[str, str],
    external_url: str | None = None,
    attributes: list[dict[str, str | int]] | None = None,
    mime: str | None = None,
    width: int | None = None,
    height: int | None = None,
    extra_properties: dict[str, Any] | None = None,
) -> bytes:
    """The ERC-721 metadata JSON (name, description, image, attributes, external_url) plus a
    `properties` object recording the creator and the source chat message (and
    `extra_properties`, such as a drop's edition and claimer)."""
    traits: list[dict[str, str | int]] = [
        {"trait_type": "Platform", "value": source.get("platform", "")},
        {"trait_type": "Creator", "value": creator.get("name") or creator.get("user_id", "")},
        *(attributes or []),
    ]
    document: dict[str, Any] = {
        "name": name,
        "description": description,
        "image": f"ipfs://{image_cid}",
        "attributes": traits,
        "properties": {
            "creator": dict(creator),
            "source": dict(source),
            "image": {
                k: v
                for k, v in {"mime": mime, "width": width, "height": height}.items()
                if v is not None
            },
            **(extra_properties or {}),
        },
    }
    if external_url:
        document["external_url"] = external_url
    return canonical_json(document)
