"""A collection's own metadata: the document `contractURI` points at (name, description, image,
external link and the royalty fields marketplaces read), stored and pinned like a token's,
and replaced later by the operator's admin key (`collection metadata`)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.content.images import CheckedImage
from bot.content.metadata import canonical_json, clean_description
from bot.content.store import ContentStore
from bot.errors import RequestRejected
from bot.i18n import N_

LINK = re.compile(r"https?://[^\s<>\"']{1,200}")


@dataclass(frozen=True)
class CollectionText:
    """What a community says of its collection, besides its name."""

    description: str = ""
    external_link: str | None = None
    image: bytes | None = None  # as uploaded: checked and stripped before it is stored


NO_TEXT = CollectionText()


@dataclass(frozen=True)
class StoredMetadata:
    """The stored document's CID, and every CID it needs pinned (its image's too)."""

    cid: str
    image_cid: str | None

    @property
    def cids(self) -> list[str]:
        return [self.cid, *([self.image_cid] if self.image_cid else [])]


def checked_link(link: str | None) -> str | None:
    """The community's site as marketplaces link it: http(s) only, one line, no quotes."""
    if link is None or not link.strip():
        return None
    if not LINK.fullmatch(link.strip()):
        raise RequestRejected(N_("The external link must be an http:// or https:// address."))
    return link.strip()


def document(
    *, name: str, owner: str, royalty_bps: int, text: CollectionText, image_cid: str | None
) -> bytes:
    """The collection-level metadata, canonically encoded."""
    fields: dict[str, object] = {
        "name": name,
        "description": text.description,
        "seller_fee_basis_points": royalty_bps,
        "fee_recipient": owner,
    }
    if text.external_link:
        fields["external_link"] = text.external_link
    if image_cid:
        fields["image"] = f"ipfs://{image_cid}"
    return canonical_json(fields)


async def store(
    content: ContentStore,
    check: Callable[[bytes], CheckedImage],
    *,
    name: str,
    owner: str,
    royalty_bps: int,
    text: CollectionText,
) -> StoredMetadata:
    """Check the text and image, then store the image and the document. Raises
    `RequestRejected` (or a subclass) for what cannot be used."""
    text = CollectionText(
        clean_description(text.description), checked_link(text.external_link), text.image
    )
    image_cid = None
    if text.image is not None:
        checked = await asyncio.to_thread(check, text.image)
        image_cid = await asyncio.to_thread(content.put_file, checked.data)
    block = document(
        name=name, owner=owner, royalty_bps=royalty_bps, text=text, image_cid=image_cid
    )
    return StoredMetadata(await asyncio.to_thread(content.put_file, block), image_cid)
