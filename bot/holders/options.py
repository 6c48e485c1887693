"""The holder gate as drop-creating commands offer it: a collection named by address or as
"ours" (the community's own contract, else the operator's shared one), an optional ERC-1155
token ID, and a minimum."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.community_collections.records import SHARED
from bot.drops.gates.holder import HolderGate, parse_address, parse_min, parse_token_id
from bot.errors import RequestRejected
from db.models import CollectionStatus, Standard

if TYPE_CHECKING:
    from bot.community_collections.service import CommunityCollections

OURS = "ours"


async def our_contract(
    collections: CommunityCollections,
    shared_collection: str,
    platform: str,
    community_id: str,
    *,
    editions: bool,
) -> str:
    """The community's own collection (or editions contract), else the operator's shared one."""
    standard = Standard.ERC1155 if editions else Standard.ERC721
    for key in ((platform, community_id), SHARED):
        view = await collections.view(*key, standard)
        if view is not None and view.status != CollectionStatus.FAILED:
            return view.address
        if not editions:
            return shared_collection
    raise RequestRejected(
        "There is no editions contract here yet: name the ERC-1155 contract by its address."
    )


async def holder_gate(
    collections: CommunityCollections,
    shared_collection: str,
    platform: str,
    community_id: str,
    *,
    of: str,
    token_id: str | None = None,
    minimum: int = 1,
) -> HolderGate:
    """The gate an admin asked for; `RequestRejected` in their words if it is not one."""
    try:
        token = parse_token_id(token_id)
        count = parse_min(minimum)
        if of.strip().lower() == OURS:
            contract = await our_contract(
                collections, shared_collection, platform, community_id, editions=token is not None
            )
        else:
            contract = of
        return HolderGate(parse_address(contract), token, count)
    except ValueError as err:
        raise RequestRejected(f"Holders only: {err}.") from None
