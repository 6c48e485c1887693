"""The holder gate as drop-creating commands offer it: a collection named by address or as
"ours" (the community's own contract, else the operator's shared one), an optional ERC-1155
token ID, and a minimum."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.community_collections.records import SHARED
from bot.drops.gates.holder import MAX_MIN, HolderGate, parse_address, parse_min, parse_token_id
from bot.errors import RequestRejected
from bot.i18n import N_
from bot.i18n.said import Said, said
from db.models import CollectionStatus, Standard

if TYPE_CHECKING:
    from bot.community_collections.service import CommunityCollections

OURS = "ours"
NOT_A_MINIMUM = N_("a holder gate's minimum is a whole number between 1 and {most}")
T = TypeVar("T")


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
        N_("There is no editions contract here yet: name the ERC-1155 contract by its address.")
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
    """The gate an admin asked for; `RequestRejected` in their words (and language) if it is
    not one, naming the part that is wrong."""
    token = _parsed(
        parse_token_id, token_id, said(N_("{value} is not a token ID"), value=repr(token_id))
    )
    count = _parsed(parse_min, minimum, said(NOT_A_MINIMUM, most=MAX_MIN))
    if of.strip().lower() == OURS:
        contract = await our_contract(
            collections, shared_collection, platform, community_id, editions=token is not None
        )
    else:
        contract = of
    not_an_address = N_("{value} is not a contract address (0x and 40 hex digits)")
    return HolderGate(
        _parsed(parse_address, contract, said(not_an_address, value=repr(contract))),
        token,
        count,
    )


def _parsed(parse: Callable[[Any], T], value: object, refusal: Said) -> T:
    """`parse(value)`, or `RequestRejected` saying `refusal` (the parsers' own `ValueError`s
    are in English, for operators' files)."""
    try:
        return parse(value)
    except ValueError:
        raise RequestRejected(N_("Holders only: {reason}."), reason=refusal) from None
