"""`drop.closed` for each way a drop ends: an admin closes it, its last edition is claimed, or
its window ends. One event per drop (its ID names the drop), reported by the transaction that
marks the drop's end reported (`nft_drop.end_reported_at`, set only where unset): whichever
end comes first is the one told, once, whatever the number of processes.

An admin's close and a sell-out are reported in the transaction that makes them. A window
that ends is no change of any row, so `watch_drop_ends` looks for ended windows every few
seconds (where webhooks are delivered) and reports each in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.webhooks.outbox import drop_closed, record
from db.models import Drop, utcnow

log = logging.getLogger(__name__)

CLOSED, SOLD_OUT, ENDED = "closed", "sold_out", "ended"
# How often ended windows are looked for, and how many are reported per look.
WATCH_EVERY_S = 10.0
WATCH_LIMIT = 100


async def report_end(session: AsyncSession, drop_id: int, reason: str) -> bool:
    """In `session`'s transaction: `drop.closed` for the drop, unless its end was reported
    already; whether it is reported now."""
    now = utcnow()
    ended = await session.execute(
        update(Drop)
        .where(Drop.id == drop_id, Drop.end_reported_at.is_(None))
        .values(end_reported_at=now)
        .returning(Drop.platform, Drop.community_id)
    )
    row = ended.first()
    if row is None:
        return False
    await record(session, [drop_closed(drop_id, row.platform, row.community_id, now, reason)])
    return True


async def report_ended_windows(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Report drops whose window has ended since they were last looked at; how many."""
    now = utcnow()
    async with sessions.begin() as session:
        ended = list(
            await session.scalars(
                select(Drop.id)
                .where(Drop.ends_at <= now, Drop.end_reported_at.is_(None))
                .order_by(Drop.ends_at)
                .limit(WATCH_LIMIT)
            )
        )
        reported = [await report_end(session, drop_id, ENDED) for drop_id in ended]
    return sum(reported)


async def watch_drop_ends(
    sessions: async_sessionmaker[AsyncSession], every_s: float = WATCH_EVERY_S
) -> None:
    """Report ended windows until cancelled; a failed look is logged and made again later."""
    while True:
        try:
            await report_ended_windows(sessions)
        except Exception:  # a database hiccup must not end the watch
            log.warning("looking for drops whose window ended failed", exc_info=True)
        await asyncio.sleep(every_s)
