"""Which members holder roles decide: who might hold at all, whose verified address a
transfer names, whose custody a confirmed transaction of the bot changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.holders.custody import custody_counts
from bot.holders.rules import Rule
from db.models import (
    FINAL,
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


async def custody_of_tokens(
    sessions: async_sessionmaker[AsyncSession], token_ids: set[int]
) -> tuple[dict[str, set[str]], set[int]]:
    """Members whose custody may have changed with these ERC-721 tokens moving (a mint into
    custody, a withdrawal out of it, seen in the logs), by platform; and the tokens whose
    move the database has not recorded yet (a mint not confirmed there, a withdrawal on its
    way), to be asked about again. Token IDs are unique to a request (derived from its
    content), so a token names its member."""
    users: dict[str, set[str]] = {}
    unsettled: set[int] = set()
    ordered = sorted(token_ids)
    for start in range(0, len(ordered), 1_000):
        keys = [f"0x{token_id:064x}" for token_id in ordered[start : start + 1_000]]
        async with sessions() as session:
            requests = list(
                await session.execute(
                    select(
                        MintRequest.id,
                        MintRequest.platform,
                        MintRequest.requester_id,
                        MintRequest.token_id,
                        MintRequest.phase,
                        Withdrawal.status,
                    )
                    .outerjoin(Withdrawal, Withdrawal.id == MintRequest.withdrawal_id)
                    .where(MintRequest.token_id.in_(keys), MintRequest.edition.is_(None))
                )
            )
            claimers = {
                request_id: (platform, user_id)
                for request_id, platform, user_id in await session.execute(
                    select(DropClaim.request_id, DropClaim.platform, DropClaim.user_id).where(
                        DropClaim.request_id.in_([r[0] for r in requests])
                    )
                )
            }
        for request_id, platform, requester, token, phase, withdrawal in requests:
            who_platform, who = claimers.get(request_id, (platform, requester))
            users.setdefault(who_platform, set()).add(who)
            moving = withdrawal is not None and not WithdrawalStatus(withdrawal).is_final
            if phase not in FINAL or moving:
                unsettled.add(int(str(token), 16))
    return users, unsettled
