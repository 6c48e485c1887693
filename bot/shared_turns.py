"""Turns that every bot process takes through the database: whatever must happen at most once
per interval across processes (a low-balance alert, the edit of a drop's live counter) asks
for the turn of its key first. The database decides who had it last: a conditional UPDATE
(or the first INSERT) takes it, and a racing process finds it taken, whatever its memory says.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import insert_unless_present
from db.models import SharedTurn, aware_utc, utcnow

_TURNS: Table = SharedTurn.__table__  # type: ignore[assignment]
KEY_MAX = 200


class SharedTurns:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def take(self, key: str, every: float) -> float:
        """Take the turn of `key` if no process took it in the last `every` seconds: 0 if
        taken now, else the seconds until it is free."""
        key, now = key[:KEY_MAX], utcnow()
        async with self.sessions.begin() as session:
            # Row-locked on PostgreSQL: a racing process re-reads the row after this commits
            # and finds it taken.
            taken = await session.execute(
                update(_TURNS)
                .where(_TURNS.c.key == key, _TURNS.c.taken_at <= now - timedelta(seconds=every))
                .values(taken_at=now)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return 0.0
            first = await session.execute(
                insert_unless_present(session, _TURNS).values(key=key, taken_at=now)
            )
            if first.rowcount == 1:  # type: ignore[attr-defined]
                return 0.0
            last = await session.scalar(select(_TURNS.c.taken_at).where(_TURNS.c.key == key))
        if last is None:
            return every  # deleted meanwhile: ask again later
        # Not taken: never 0, even where the clocks of two machines disagree.
        return max((aware_utc(last) + timedelta(seconds=every) - now).total_seconds(), 0.05)

    async def release(self, prefix: str) -> None:
        """Free every turn whose key starts with `prefix`: the next asker takes it at once."""
        async with self.sessions.begin() as session:
            await session.execute(delete(_TURNS).where(_TURNS.c.key.startswith(prefix)))
