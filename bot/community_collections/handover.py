"""`collection handover`: the operator's admin address renounces its admin role on a
community's contracts, leaving the community's owner as their only administrator.

The operator's admin key signs this, not the hot wallet (which holds only the minter role), so
the transaction is sent directly and awaited, outside the hot wallet's nonce lane.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.chain.contract import DEFAULT_ADMIN_ROLE, Collection
from bot.chain.fees import Fees
from bot.chain.wallet import HotWallet
from bot.community_collections.records import CollectionView, view_of
from bot.community_collections.service import CommunityCollections
from bot.errors import NotAllowed, RequestRejected
from db.models import CollectionStatus, CommunityCollection, utcnow

log = logging.getLogger(__name__)


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
    w3 = collections.chain.collection.w3
    for row in rows:
        if row.operator_admin.lower() != admin.address.lower():
            raise NotAllowed(
                f"{row.address} was created with the admin {row.operator_admin}; the key "
                f"given is for {admin.address}."
            )
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
            row = stored
    async with collections.sessions() as session:
        done = await session.scalars(
            select(CommunityCollection).where(CommunityCollection.id.in_([r.id for r in rows]))
        )
        return [view_of(r) for r in done]
