"""Which requests are a community's tokens, as the engagement queries (bot/leaderboard_gallery.py)
count them: what its members minted in chat, the claims of its drops (whose requests are filed
under the "drop" origin, their chat the drop's ID), how many editions of an artwork are minted,
and the names members go by. Plain SQLAlchemy that runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MINTED, Drop, DropClaim, MintRequest, PlatformUser

# The origin of every drop claim's request (bot.drops.types.DROP_ORIGIN); its chat is the
# drop's ID. Named here too: the engagement queries do not load the drops package.
DROP_ORIGIN = "drop"


def minted_in(platform: str, community_id: str) -> list[ColumnElement[bool]]:
    """The minted requests members of the community made in chat (in any contract)."""
    return [
        MintRequest.platform == platform,
        MintRequest.community_id == community_id,
        MintRequest.phase.in_(MINTED),
    ]


def claimed_in(platform: str, community_id: str) -> ColumnElement[bool]:
    """The minted claims of the community's drops (numbered tokens and editions alike)."""
    drops = select(cast(Drop.id, String)).where(
        Drop.platform == platform, Drop.community_id == community_id
    )
    return and_(
        MintRequest.platform == DROP_ORIGIN,
        MintRequest.chat_id.in_(drops),
        MintRequest.phase.in_(MINTED),
    )


def drop_of_claim() -> ColumnElement[bool]:
    """A claim's drop: its request's chat is the drop's ID."""
    return and_(MintRequest.platform == DROP_ORIGIN, MintRequest.chat_id == cast(Drop.id, String))


async def editions_minted(
    session: AsyncSession, requests: list[MintRequest]
) -> dict[tuple[str | None, str | None], int]:
    """How many editions of each artwork among `requests` are minted, by (contract, token ID)."""
    artworks = {(r.contract, r.token_id) for r in requests if r.edition is not None}
    if not artworks:
        return {}
    rows = await session.execute(
        select(MintRequest.contract, MintRequest.token_id, func.count())
        .where(
            MintRequest.token_id.in_({token_id for _, token_id in artworks}),
            MintRequest.edition.is_not(None),
            MintRequest.phase.in_(MINTED),
        )
        .group_by(MintRequest.contract, MintRequest.token_id)
    )
    return {(contract, token_id): int(n) for contract, token_id, n in rows.all()}


async def member_names(
    session: AsyncSession, platform: str, member_ids: set[str]
) -> dict[str, str]:
    """Each member's name as last seen: the newest request's, else their newest drop
    claim's, else their linked account's."""
    if not member_ids:
        return {}
    names = {
        str(u.user_id): str(u.display_name)
        for u in await session.scalars(
            select(PlatformUser).where(
                PlatformUser.platform == platform, PlatformUser.user_id.in_(member_ids)
            )
        )
        if u.display_name
    }
    # A member who only claimed from drops is named by their claims.
    newest_claims = (
        select(func.max(DropClaim.id))
        .where(DropClaim.platform == platform, DropClaim.user_id.in_(member_ids))
        .group_by(DropClaim.user_id)
    )
    for member, name in await session.execute(
        select(DropClaim.user_id, DropClaim.user_name).where(
            DropClaim.id.in_(newest_claims), DropClaim.user_name != ""
        )
    ):
        names[str(member)] = str(name)
    newest = (
        select(func.max(MintRequest.id))
        .where(MintRequest.platform == platform, MintRequest.requester_id.in_(member_ids))
        .group_by(MintRequest.requester_id)
    )
    for member, name in await session.execute(
        select(MintRequest.requester_id, MintRequest.requester_name).where(
            and_(MintRequest.id.in_(newest), MintRequest.requester_name != "")
        )
    ):
        names[str(member)] = str(name)
    return names
