"""What the dashboard's pages read of one community, and the one write of its own: giving an
undeliverable answer another round of tries. Each query names the platform and community
first, so it reads that community's rows through an index (`db.models.dashboard`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.i18n import _
from bot.i18n.said import Said
from db.models import MINTED, MintRequest, Phase, aware_utc

WEEK_DAYS = 7
LISTED = 50  # rows a listing shows, newest first
FAILED = (Phase.FAILED, Phase.REJECTED)


@dataclass(frozen=True)
class Problem:
    """A request that failed or was refused, or whose answer could not be delivered."""

    request_id: int
    name: str
    requester: str
    phase: str
    reason: str  # in English, as stored
    at: datetime
    # The reason untranslated where the request stored one (`failure_said`), for `shown`.
    said: Said | None = None

    def shown(self) -> str:
        """The reason in the current locale (the reading admin's): the stored `Said`, else the
        English through the catalogue (an older row, or an answer's delivery error as is)."""
        return self.said.text() if self.said is not None else _(self.reason)


class DashboardQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def mints_per_day(
        self, platform: str, community_id: str, today: date
    ) -> list[tuple[date, int]]:
        """Requests minted in each of the last WEEK_DAYS days (UTC) up to `today`, by the day
        they were made, oldest first. One count per day, each a range of the index alone: in
        SQLite a seventh of the time of one pass summing a CASE per day."""
        days = [today - timedelta(days=n) for n in range(WEEK_DAYS - 1, -1, -1)]
        starts = [datetime.combine(day, time(), tzinfo=UTC) for day in days]
        ends = [*starts[1:], starts[-1] + timedelta(days=1)]
        created = MintRequest.created_at
        counts = [
            _count(platform, community_id, MintRequest.phase.in_(MINTED), created >= s, created < e)
            for s, e in zip(starts, ends, strict=True)
        ]
        async with self.sessions() as session:
            row = (await session.execute(select(*counts))).one()
        return [(day, int(count)) for day, count in zip(days, row, strict=True)]

    async def by_phase(self, platform: str, community_id: str) -> dict[str, int]:
        """How many of the community's requests are in each phase (those with any). One count
        per phase, each a range of the index: GROUP BY over the same rows takes SQLite twice
        as long."""
        phases = list(Phase)
        counts = [_count(platform, community_id, MintRequest.phase == p) for p in phases]
        async with self.sessions() as session:
            row = (await session.execute(select(*counts))).one()
        return {str(p): int(n) for p, n in zip(phases, row, strict=True) if n}

    async def failures(self, platform: str, community_id: str) -> list[Problem]:
        """The newest requests that failed or were refused, with their reasons."""
        rows = await self._newest(
            platform, community_id, MintRequest.phase.in_(FAILED), MintRequest.created_at
        )
        return [
            _problem(r, r.failure_reason, r.created_at, Said.from_json(r.failure_said))
            for r in rows
        ]

    async def undeliverable(self, platform: str, community_id: str) -> list[Problem]:
        """The newest answers given up as undeliverable, with the last error."""
        given_up = MintRequest.undeliverable_at
        rows = await self._newest(platform, community_id, given_up.is_not(None), given_up)
        return [_problem(r, r.answer_error, r.undeliverable_at or r.updated_at) for r in rows]

    async def _newest(
        self,
        platform: str,
        community_id: str,
        which: ColumnElement[bool],
        newest_first: InstrumentedAttribute[Any],
    ) -> list[MintRequest]:
        """The community's LISTED newest requests `which` selects, by `newest_first`."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(MintRequest)
                .where(*_community(platform, community_id), which)
                .order_by(newest_first.desc())
                .limit(LISTED)
            )
            return list(rows)

    async def retry_answer(self, platform: str, community_id: str, request_id: int) -> bool:
        """Give an answer that was given up another full round of tries (delivery picks it up
        on its next look, bounded again by ANSWER_MAX_ATTEMPTS and ANSWER_GIVE_UP_HOURS from
        now). False if the community has no such given-up answer."""
        async with self.sessions.begin() as session:
            done = await session.execute(
                update(MintRequest)
                .where(
                    *_community(platform, community_id),
                    MintRequest.id == request_id,
                    MintRequest.undeliverable_at.is_not(None),
                    MintRequest.answered_at.is_(None),
                )
                .values(
                    undeliverable_at=None,
                    answer_attempts=0,
                    answer_due_at=None,
                    answer_error=None,
                )
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(done, "rowcount", 0))


def _count(platform: str, community_id: str, *where: ColumnElement[bool]) -> ScalarSelect[int]:
    """How many of the community's requests match `where`, as a scalar subquery."""
    query = select(func.count()).select_from(MintRequest)
    return query.where(*_community(platform, community_id), *where).scalar_subquery()


def _community(platform: str, community_id: str) -> tuple[ColumnElement[bool], ...]:
    return (MintRequest.platform == platform, MintRequest.community_id == community_id)


def _problem(
    request: MintRequest, reason: str | None, when: datetime, said: Said | None = None
) -> Problem:
    return Problem(
        request.id,
        request.name,
        request.requester_name,
        request.phase,
        reason or "",
        aware_utc(when),
        said,
    )
