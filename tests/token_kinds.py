"""Tokens of both kinds in a community's own contracts, for the tests of what shows and moves
them: a real factory's clones on anvil, editions minted into custody, and the rows the
pipeline records for an edition drop's claims (as `bot.drops.editions.Accepted.request_row`
and the claim writer write them)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import AsyncWeb3

from bot.chain.contract import Collection, CollectionParams
from bot.chain.editions import Editions
from bot.chain.factory import Factory, deploy_factory
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.drops.editions import token_name
from bot.drops.types import DROP_ORIGIN, claim_key
from db.models import (
    CollectionStatus,
    CommunityCollection,
    Drop,
    DropClaim,
    MintRequest,
    Phase,
    Standard,
    utcnow,
)
from tests.support import DEV_ADMIN, FEES

ART_CID = "bafkreiartworkartworkartworkartworkartworkartworkartworkar"


@dataclass(frozen=True)
class Club:
    """One community's own contracts, cloned by the factory; the hot wallet mints in both."""

    collection: Collection
    editions: Editions


async def club_contracts(w3: AsyncWeb3[Any], deployer: HotWallet, minter: str) -> Club:
    """Deploy a factory from `deployer` and clone a collection and an editions contract for a
    community, `minter` holding the minter role on both."""
    factory = Factory(w3, await deploy_factory(w3, deployer, FEES))
    salt = keccak(text="mintbot:test:club")
    params = CollectionParams(
        name="Art club",
        symbol="CLUB",
        owner=DEV_ADMIN.address,
        admin=DEV_ADMIN.address,
        minter=minter,
        royalty_receiver=DEV_ADMIN.address,
        royalty_bps=500,
        contract_uri="ipfs://club",
    )
    for data in (
        factory.encode_create_collection(salt, params),
        factory.encode_create_editions(salt, params),
    ):
        await send_and_confirm(w3, deployer, {"to": factory.address, "data": data}, FEES)
    return Club(
        Collection(w3, await factory.predict_collection(deployer.address, salt)),
        Editions(w3, await factory.predict_editions(deployer.address, salt)),
    )


async def mint_editions(
    editions: Editions, minter: HotWallet, token_id: int, holders: dict[int, str]
) -> None:
    """Mint edition n of `token_id` to `holders[n]`, as the batcher's call does."""
    data = editions.encode_mint_editions(token_id, list(holders.values()), list(holders))
    await send_and_confirm(editions.w3, minter, {"to": editions.address, "data": data}, FEES)


def live_collection(
    platform: str, community_id: str, standard: Standard, address: str
) -> CommunityCollection:
    """The record of a community's live contract, as the collections service leaves it."""
    return CommunityCollection(
        chain_id=31337,
        platform=platform,
        community_id=community_id,
        standard=standard,
        address=address,
        factory=address,
        salt="0x" + keccak(text=f"{platform}:{community_id}:{standard}").hex(),
        name="Art club",
        symbol="CLUB",
        owner=DEV_ADMIN.address,
        royalty_bps=500,
        operator_admin=DEV_ADMIN.address,
        metadata_cid=ART_CID,
        created_by="admin",
        status=CollectionStatus.LIVE,
        live_at=utcnow(),
    )


async def edition_drop(
    sessions: async_sessionmaker[AsyncSession],
    *,
    platform: str,
    community_id: str,
    editions: str,
    token_id: int,
    claims: list[tuple[str, str, str, bool]],
    name: str = "Sunrise",
    supply: int = 5,
) -> Drop:
    """An edition drop of `supply` in the `editions` contract and its minted claims, in order:
    (member ID, member name, recipient, custodial) each, edition numbers from 1."""
    async with sessions.begin() as session:
        drop = Drop(
            platform=platform,
            community_id=community_id,
            created_by="curator",
            name=name,
            description="The first light over the club's harbour.",
            image_cid=ART_CID,
            image_digest=hashlib.sha256(b"art").hexdigest(),
            image_mime="image/png",
            image_width=8,
            image_height=8,
            supply=supply,
            per_user_limit=supply,
            starts_at=utcnow() - timedelta(hours=1),
            claimed=len(claims),
            kind="edition",
            contract=editions,
            token_id=f"0x{token_id:064x}",
            metadata_cid=ART_CID,
        )
        session.add(drop)
        await session.flush()
        counts: dict[str, int] = {}
        for edition, (member, member_name, recipient, custodial) in enumerate(claims, 1):
            n = counts[member] = counts.get(member, 0) + 1
            key = claim_key(platform, member, n)
            request = MintRequest(
                platform=DROP_ORIGIN,
                chat_id=str(drop.id),
                message_id=key,
                fingerprint=drop.token_id[2:],  # type: ignore[index]
                requester_id=member,
                requester_name=member_name,
                community_id=community_id,
                name=token_name(drop, edition),
                description=drop.description,
                upload_digest=drop.image_digest,
                recipient=recipient,
                custodial=custodial,
                phase=Phase.CONFIRMED,
                image_cid=drop.image_cid,
                metadata_cid=drop.metadata_cid,
                token_id=drop.token_id,
                contract=editions,
                edition=edition,
            )
            session.add(request)
            await session.flush()
            session.add(
                DropClaim(
                    drop_id=drop.id,
                    platform=platform,
                    user_id=member,
                    user_name=member_name,
                    n=n,
                    edition=edition,
                    request_id=request.id,
                )
            )
    return drop
