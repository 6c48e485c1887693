"""How much of a collection one member holds: the balance of their verified address, as the
chain says, plus what custody holds for them, as the database says."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.holders.custody import custody_counts
from bot.ports import Holdings
from db.models import PlatformUser


@dataclass(frozen=True)
class Held:
    """A member's holding of one collection (or one ERC-1155 token)."""

    wallet: int  # on their verified address (0 without one)
    custody: int  # in the bot's custody for them
    verified_address: str | None

    @property
    def total(self) -> int:
        return self.wallet + self.custody


async def verified_address(session: AsyncSession, platform: str, user_id: str) -> str | None:
    """The member's linked address if they proved it is theirs (signed the challenge); an
    address linked unverified names a wallet anyone could name, so it holds nothing here."""
    row = await session.get(PlatformUser, (platform, user_id))
    return row.address if row is not None and row.address_verified else None


async def held_by(
    sessions: async_sessionmaker[AsyncSession],
    holdings: Holdings,
    platform: str,
    user_id: str,
    contract: str,
    token_id: int | None = None,
) -> Held:
    """What `user_id` of `platform` holds of `contract` (of `token_id`, for an ERC-1155).
    Raises `HoldingsUnavailable` when the chain does not answer."""
    async with sessions() as session:
        address = await verified_address(session, platform, user_id)
        custody = await custody_counts(session, platform, contract, token_id, [user_id])
    wallet = await holdings.held(contract, address, token_id) if address else 0
    return Held(wallet, custody[user_id], address)
