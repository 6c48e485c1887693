"""What the operator's admin key does on a community's contracts: `collection handover`
renounces its admin role, leaving the community's owner as their only administrator; and
`collection metadata` points `contractURI` at a new document.

The admin key signs these, not the hot wallet (which holds only the minter role), so each
transaction is sent directly and awaited, outside the hot wallet's nonce lane.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from bot.chain.contract import DEFAULT_ADMIN_ROLE, Collection
from bot.chain.fees import Fees
from bot.chain.wallet import HotWallet
from bot.community_collections import metadata
from bot.community_collections.metadata import CollectionText
from bot.community_collections.records import CollectionView, view_of
from bot.community_collections.service import CommunityCollections
from bot.errors import NotAllowed, RequestRejected
from db.models import CollectionStatus, CommunityCollection, utcnow

log = logging.getLogger(__name__)


async def _live_rows(
    collections: CommunityCollections, platform: str, community_id: str, admin: HotWallet
) -> list[CommunityCollection]:
    """The community's live contracts, once `admin` is checked to be their operator admin."""
    async with collections.sessions() as session:
        rows = list(
            await session.scalars(
                select(CommunityCollection).where(
                    CommunityCollection.platform == platform,
                    CommunityCollection.community_id == community_id,
                    CommunityCollection.chain_id == collections.chain.chain_id,
                    CommunityCollection.status == CollectionStatus.LIVE,
                )
            )
        )
    if not rows:
        raise RequestRejected(f"{platform} community {community_id} has no live collection.")
    for row in rows:
        if row.operator_admin.lower() != admin.address.lower():
            raise NotAllowed(
                f"{row.address} was created with the admin {row.operator_admin}; the key "
                f"given is for {admin.address}."
            )
    return rows


async def replace_metadata(
    collections: CommunityCollections,
    platform: str,
    community_id: str,
    admin: HotWallet,
    fees: Fees,
    text: CollectionText,
    *,
    wait_s: float = 120.0,
) -> list[CollectionView]:
    """Store (and pin, waiting up to `wait_s`) a new collection document and point the
    community's contracts at it. A contract handed over to its community is administered by
    its owner alone: `NotAllowed` names the URI for them to set."""
    rows = await _live_rows(collections, platform, community_id, admin)
    first = rows[0]
    stored = await metadata.store(
        collections.content, collections.check_image, name=first.name, owner=first.owner,
        royalty_bps=first.royalty_bps, text=text,
    )  # fmt: skip
    uri = f"ipfs://{stored.cid}"
    if any(row.handed_over_at is not None for row in rows):
        raise NotAllowed(f"The collection was handed over: its owner sets contractURI to {uri}.")
    if collections.pinning:
        await collections.want_pinned(stored.cids)
        async with asyncio.timeout(wait_s):
            while True:
                async with collections.sessions() as session:
                    if await collections.published(session, stored.cids):
                        break
                await asyncio.sleep(collections.poll_interval)
    w3 = collections.chain.collection.w3
    for row in rows:
        await Collection(w3, row.address).transact(admin, "setContractURI", uri, fees=fees)
        async with collections.sessions.begin() as session:
            stored_row = await session.get(CommunityCollection, row.id)
            assert stored_row is not None
            stored_row.metadata_cid, stored_row.image_cid = stored.cid, stored.image_cid
        log.info("pointed %s's contractURI at %s", row.address, uri)
    return [v for v in [await collections.view(platform, community_id)] if v is not None]


async def hand_over(
    collections: CommunityCollections,
    platform: str,
    community_id: str,
    admin: HotWallet,
    fees: Fees,
) -> list[CollectionView]:
    """Renounce `admin`'s role on each live contract of the community (its collection and
    editions contract) whose owner holds the admin role too. Handing over again changes
    nothing. Raises `RequestRejected` if the community has no live contract, `NotAllowed`
    if `admin` is not the operator admin recorded for them."""
    rows = await _live_rows(collections, platform, community_id, admin)
    w3 = collections.chain.collection.w3
    for row in rows:
        contract = Collection(w3, row.address)  # both kinds answer AccessControl alike
        if not await contract.is_admin(row.owner):
            raise NotAllowed(
                f"The owner {row.owner} does not hold the admin role on {row.address}: "
                "handing over would leave it without an administrator."
            )
        if await contract.is_admin(admin.address):
            await contract.transact(
                admin, "renounceRole", DEFAULT_ADMIN_ROLE, admin.address, fees=fees
            )
            log.info("renounced the operator's admin role on %s", row.address)
        async with collections.sessions.begin() as session:
            stored = await session.get(CommunityCollection, row.id)
            assert stored is not None
            stored.handed_over_at = stored.handed_over_at or utcnow()
    async with collections.sessions() as session:
        done = await session.scalars(
            select(CommunityCollection).where(CommunityCollection.id.in_([r.id for r in rows]))
        )
        return [view_of(r) for r in done]
