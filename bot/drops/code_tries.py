"""Wrong codes, counted in the database so every process shares the count.

A try takes a slot before its code is compared: one of the member's `PER_MEMBER` for the drop
in the current window, and one of the drop's `PER_DROP` (all members together), each taken by
a conditional UPDATE, in one transaction. A try that finds no slot is refused without its code
being looked at, so a burst of tries (from one process or many) compares at most the slots'
worth. A right code, or a used one, gives its slots back; a wrong one keeps them. A window
starts at the first wrong try and lasts `WINDOW`: a member (or the drop) out of slots waits
for its end, and is told when that is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from bot.errors import CodeLocked
from bot.i18n import N_, _, ngettext
from bot.i18n.said import said
from bot.ports import Claimant
from db.engine import insert_unless_present
from db.models import CodeTries, DropCodeword, aware_utc

WINDOW = timedelta(hours=1)
# Wrong codes a member may give per drop per window, and a drop may take from everyone.
PER_MEMBER = 5
PER_DROP = 60

_TRIES: Table = CodeTries.__table__  # type: ignore[assignment]
_BOOKS: Table = DropCodeword.__table__  # type: ignore[assignment]


class CodeTriesCounter:
    """Takes and gives back the slots of tries."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        per_member: int = PER_MEMBER,
        per_drop: int = PER_DROP,
        window: timedelta = WINDOW,
    ) -> None:
        self.sessions = sessions
        self.per_member = per_member
        self.per_drop = per_drop
        self.window = window

    async def take(self, drop_id: int, claimant: Claimant, now: datetime) -> None:
        """A slot for one try, or `CodeLocked` saying until when none is left."""
        member = _member(drop_id, claimant)
        async with self.sessions.begin() as session:
            await session.execute(
                insert_unless_present(session, _TRIES).values(
                    drop_id=drop_id,
                    platform=claimant.platform,
                    user_id=claimant.user_id,
                    wrong=0,
                    window_start=None,
                )
            )
            if not await self._take(session, _TRIES, member, self.per_member, now):
                until = await self._window_end(session, _TRIES, member)
                raise CodeLocked(
                    said(
                        N_("Too many wrong codes: you can try again after {when}."),
                        when=_when(until),
                    ),
                    until,
                )
            drop = [_BOOKS.c.drop_id == drop_id]
            if not await self._take(session, _BOOKS, drop, self.per_drop, now):
                until = await self._window_end(session, _BOOKS, drop)
                # Raised inside the transaction: the member's slot is rolled back with it.
                raise CodeLocked(
                    said(
                        N_(
                            "Too many wrong codes were tried for this drop in the last hour: "
                            "codes are checked again after {when}."
                        ),
                        when=_when(until),
                    ),
                    until,
                )

    async def give_back(self, drop_id: int, claimant: Claimant) -> None:
        """Return a try's slots: its code was right, or used (no guess was spent)."""
        async with self.sessions.begin() as session:
            for table, where in (
                (_TRIES, _member(drop_id, claimant)),
                (_BOOKS, [_BOOKS.c.drop_id == drop_id]),
            ):
                await session.execute(
                    update(table).where(*where, table.c.wrong > 0).values(wrong=table.c.wrong - 1)
                )

    async def left(self, drop_id: int, claimant: Claimant, now: datetime) -> str:
        """What the member is told after a wrong code: how many more they may give in this
        window, or until when they wait. In the current locale: it is asked from the task
        answering that member."""
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(_TRIES.c.wrong, _TRIES.c.window_start).where(*_member(drop_id, claimant))
                )
            ).first()
        if row is None or row.window_start is None:
            return ""
        if aware_utc(row.window_start) <= now - self.window:
            return ""  # the window is over: the next wrong code starts a new one
        left = self.per_member - int(row.wrong)
        if left > 0:
            return ngettext(
                "{count} more wrong code and you wait an hour.",
                "{count} more wrong codes and you wait an hour.",
                left,
            ).format(count=left)
        until = aware_utc(row.window_start) + self.window
        return _("Too many wrong codes: you can try again after {when}.").format(when=_when(until))

    async def _take(
        self,
        session: AsyncSession,
        table: Table,
        where: list[ColumnElement[bool]],
        limit: int,
        now: datetime,
    ) -> bool:
        # The count restarts once its window is over; within it, a slot is free below limit.
        over = table.c.window_start.is_(None) | (table.c.window_start <= now - self.window)
        taken = await session.execute(
            update(table)
            .where(*where, over | (table.c.wrong < limit))
            .values(
                wrong=case((over, 1), else_=table.c.wrong + 1),
                window_start=case((over, now), else_=table.c.window_start),
            )
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    async def _window_end(
        self, session: AsyncSession, table: Table, where: list[ColumnElement[bool]]
    ) -> datetime:
        start = await session.scalar(select(table.c.window_start).where(*where))
        assert start is not None, "a table out of slots has a window"
        return aware_utc(start) + self.window


def _member(drop_id: int, claimant: Claimant) -> list[ColumnElement[bool]]:
    return [
        _TRIES.c.drop_id == drop_id,
        _TRIES.c.platform == claimant.platform,
        _TRIES.c.user_id == claimant.user_id,
    ]


def _when(moment: datetime) -> str:
    return aware_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
