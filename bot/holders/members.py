"""Which members holder roles decide: who might hold at all, whose verified address a
transfer names, whose custody a confirmed transaction of the bot changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.holders.custody import custody_counts
from bot.holders.rules import Rule
from db.models import (
    MINTED,
    DropClaim,
    HolderMember,
    MintRequest,
    PlatformUser,
    Withdrawal,
    WithdrawalStatus,
)


async def candidates(session: AsyncSession, rule: Rule) -> set[str]:
    """Everyone who might hold: members with a verified address, members custody holds for,
    and members given the role before."""
    users = set(
        await session.scalars(
            select(PlatformUser.user_id).where(
                PlatformUser.platform == rule.platform,
                PlatformUser.address_verified.is_(True),
                PlatformUser.address.is_not(None),
            )
        )
    )
    users |= set(await custody_counts(session, rule.platform, rule.contract, rule.token_id))
    users |= set(
        await session.scalars(select(HolderMember.user_id).where(HolderMember.rule_id == rule.id))
    )
    return users


async def verified_addresses(
    session: AsyncSession, platform: str, users: set[str]
) -> dict[str, str]:
    """The verified address (lower-case) of each of `users` who has one."""
    rows = await session.execute(
        select(PlatformUser.user_id, PlatformUser.address).where(
            PlatformUser.platform == platform,
            PlatformUser.user_id.in_(users),
            PlatformUser.address_verified.is_(True),
        )
    )
    return {user_id: address.lower() for user_id, address in rows if address}


async def users_at(
    sessions: async_sessionmaker[AsyncSession], platform: str, addresses: set[str]
) -> set[str]:
    """The members of `platform` whose verified address is one of `addresses`."""
    async with sessions() as session:
        return set(
            await session.scalars(
                select(PlatformUser.user_id).where(
                    PlatformUser.platform == platform,
                    PlatformUser.address_verified.is_(True),
                    func.lower(PlatformUser.address).in_(sorted(addresses)),
                )
            )
        )


async def custody_changed(
    sessions: async_sessionmaker[AsyncSession], tx_ids: set[int]
) -> dict[str, set[str]]:
    """Members whose custody a confirmed transaction of the bot changed (a mint into custody,
    a withdrawal out of it), by platform."""
    users: dict[str, set[str]] = {}
    async with sessions() as session:
        minted = select(MintRequest.id).where(
            MintRequest.tx_id.in_(tx_ids), MintRequest.phase.in_(MINTED)
        )
        rows: list[Any] = list(
            await session.execute(
                select(MintRequest.platform, MintRequest.requester_id).where(
                    MintRequest.id.in_(minted)
                )
            )
        )
        rows += await session.execute(
            select(DropClaim.platform, DropClaim.user_id).where(DropClaim.request_id.in_(minted))
        )
        rows += await session.execute(
            select(Withdrawal.platform, Withdrawal.user_id).where(
                Withdrawal.tx_id.in_(tx_ids), Withdrawal.status == WithdrawalStatus.CONFIRMED
            )
        )
    for platform, user_id in rows:
        users.setdefault(platform, set()).add(user_id)
    return users
