"""What the bot's custody holds for members: tokens minted custodially for them (their chat
mints and drop claims) that no withdrawal has moved yet. A token on its way out still counts
until its withdrawal is confirmed (then the member's own address holds it), so a holding never
dips in between. Custody moves only by the bot's own transactions, so the database is the
record of it; balances of members' own addresses are asked of the chain.

A custodial token of the shared collection may be recorded without its contract (`contract`
NULL); its mint transaction was sent to the collection, so that is where it is looked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import MINTED, ChainTx, DropClaim, MintRequest


def _held_in(contract: str) -> ColumnElement[bool]:
    lower = contract.lower()
    return and_(
        MintRequest.custodial.is_(True),
        MintRequest.phase.in_(MINTED),
        MintRequest.token_id.is_not(None),
        or_(
            func.lower(MintRequest.contract) == lower,
            and_(MintRequest.contract.is_(None), func.lower(ChainTx.to_address) == lower),
        ),
    )


def _matches(stored: str | None, token_id: int | None) -> bool:
    return token_id is None or (stored is not None and int(stored, 16) == token_id)


async def custody_counts(
    session: AsyncSession,
    platform: str,
    contract: str,
    token_id: int | None = None,
    user_ids: Collection[str] | None = None,
) -> Counter[str]:
    """How many tokens of `contract` (of `token_id`, for an ERC-1155) custody holds for each
    member of `platform` (only those of `user_ids`, if given): their chat mints and their drop
    claims."""
    counts: Counter[str] = Counter()
    mints = (
        select(MintRequest.requester_id, MintRequest.token_id)
        .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
        .where(_held_in(contract), MintRequest.platform == platform)
    )
    claims = (
        select(DropClaim.user_id, MintRequest.token_id)
        .join(MintRequest, MintRequest.id == DropClaim.request_id)
        .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
        .where(_held_in(contract), DropClaim.platform == platform)
    )
    if user_ids is not None:
        mints = mints.where(MintRequest.requester_id.in_(list(user_ids)))
        claims = claims.where(DropClaim.user_id.in_(list(user_ids)))
    for query in (mints, claims):
        for user_id, stored in await session.execute(query):
            if _matches(stored, token_id):
                counts[user_id] += 1
    return counts
