"""MINTER_ROLE for every key of the hot-wallet pool (`python -m bot wallet grant-pool`, and
`deploy` on the local chain), on each contract the operator's admin administers.

A pool key without the role on a contract is simply not used for that contract's batches
(`bot.chain.lanes`); granting it spreads those batches over one more lane. Each grant first
asks the chain, so a re-run grants only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.chain.contract import MINTER_ROLE, Collection
from bot.chain.fees import Fees
from bot.chain.wallet import HotWallet
from db.models import CollectionStatus, CommunityCollection

if TYPE_CHECKING:
    from bot.runtime import Runtime


async def operated_contracts(runtime: Runtime) -> tuple[list[Collection], list[str]]:
    """The contracts the hot wallets mint in that the operator's admin administers (the shared
    collection first, then the live community contracts not handed over), and the addresses
    of those handed over to their communities (their owners grant roles there)."""
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(CommunityCollection.address, CommunityCollection.handed_over_at).where(
                    CommunityCollection.chain_id == runtime.chain.chain_id,
                    CommunityCollection.status == CollectionStatus.LIVE,
                )
            )
        ).all()
    w3 = runtime.chain.w3
    ours = [Collection(w3, a) for a, handed_over in rows if handed_over is None]
    theirs = [address for address, handed_over in rows if handed_over is not None]
    # Community contracts (ERC-721 and ERC-1155 alike) answer AccessControl as the collection.
    return [runtime.collection, *ours], theirs


async def grant_pool(
    runtime: Runtime, admin: HotWallet, fees: Fees, say: Callable[[str], None]
) -> int:
    """Grant MINTER_ROLE to each pool key lacking it, as `admin`; returns the grants made."""
    keys = [wallet.address for wallet in runtime.chain.more_wallets]
    if not keys:
        say("one hot wallet only (HOT_WALLET_KEYS is not set): nothing to grant")
        return 0
    ours, theirs = await operated_contracts(runtime)
    granted = 0
    for contract in ours:
        for key in keys:
            if await contract.is_minter(key):
                say(f"{key} holds MINTER_ROLE on {contract.address} already")
                continue
            receipt = await contract.transact(admin, "grantRole", MINTER_ROLE, key, fees=fees)
            granted += 1
            tx_hash = receipt["transactionHash"].to_0x_hex()
            say(f"granted MINTER_ROLE on {contract.address} to {key} ({tx_hash})")
    for address in theirs:
        say(f"{address} was handed over to its community: its owner grants roles there")
    return granted
