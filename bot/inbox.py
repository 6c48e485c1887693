"""The durable inbox: every update the bot will act on is committed before it is acknowledged.

A chat platform's adapter records an update (a Telegram update, a Discord interaction) here
before it confirms it to the platform or shows the member anything: before the polling offset
moves past it, before the webhook answers 200, before a deferral or a "minting…" reply. Then it
hands the update to its handlers, and the inbox records the outcome: processed, or a failed
attempt with its error. Rows not processed are dispatched again, after a crash or a failure,
until processed or, after `max_attempts` failures, given up (listed by `python -m bot status`).
Dispatching again is safe: the request key still decides duplicates.

A row in hand is leased (`lease`, DISPATCH_LEASE by default) to the dispatcher that took it
(`taken_by`), which renews the lease of every row it still handles at each round of `resume`: a
process that dies stops renewing, and another takes its rows over once their leases run out,
while a handler that runs long (waiting its turn at a platform's limits) keeps its own. With
SQLite one process runs, so a row taken before this inbox was opened is an earlier life's, and
is taken again at once.

Records share transactions (group commit), so a burst costs a few commits, not one per update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inbox_rows import (
    ENTRY_COLUMNS,
    InboxEntry,
    Record,
    count_entries,
    entry_of,
    given_up_entries,
    insert_records,
    write_acknowledgements,
)
from bot.process_locks import process_identity
from db.group_commit import GroupCommit
from db.models import InboxUpdate, utcnow

log = logging.getLogger(__name__)

__all__ = ["DurableInbox", "InboxEntry", "Owns"]

GROUP_LIMIT = 500  # rows per transaction; a larger burst takes several
# A row in hand whose lease is not renewed for this long is taken over by another dispatcher
# (its process died, or lost the database). Several renewals (RESUME_EVERY_S) fit in it.
DISPATCH_LEASE = timedelta(seconds=30)
# The wait before a failed row is dispatched again: the first, then tripled each time.
RETRY_FIRST = timedelta(seconds=5)
RESUME_EVERY_S = 5.0  # how often `resume` looks for rows to dispatch again
PRUNE_EVERY_S = 3600.0
ERROR_CHARS = 2000  # how much of an error is kept

Dispatch = Callable[["InboxEntry"], Awaitable[None]]
GivenUp = Callable[["InboxEntry", str], Awaitable[None]]
# Is a row's payload this dispatcher's to dispatch again? (Discord: is its guild on one of
# this process's shards.) Rows of others are left to them.
Owns = Callable[[dict[str, Any]], bool]
# How many candidate rows an `Owns` filter looks at per round, oldest first.
OWNED_SCAN = 1000


class DurableInbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_attempts: int,
        retention: timedelta,
        lease: timedelta = DISPATCH_LEASE,
    ) -> None:
        self.sessions = sessions
        self.max_attempts = max_attempts
        self.retention = retention
        self.lease = lease
        self.me = process_identity()  # this dispatcher's name on the rows it holds
        # Rows taken in hand before this moment were taken by an earlier life of the process:
        # ours to dispatch again at once, unless other processes share the database.
        self.opened_at = utcnow()
        bind = sessions.kw.get("bind")
        self.shared = bind is not None and bind.dialect.name != "sqlite"
        self._in_hand: set[int] = set()
        self._records = GroupCommit[Record, InboxEntry](
            self._commit_records, limit=GROUP_LIMIT, name="record-inbox"
        )
        self._processed = GroupCommit[int, None](
            self._commit_processed, limit=GROUP_LIMIT, name="inbox-processed"
        )
        self._acknowledged = GroupCommit[tuple[int, dict[str, Any]], None](
            self._commit_acknowledged, limit=GROUP_LIMIT, name="inbox-acknowledged"
        )

    # ----- recording -------------------------------------------------------------------------

    async def record(self, platform: str, update_id: str, payload: dict[str, Any]) -> InboxEntry:
        """Commit an update before anything acknowledges it; many concurrent records share a
        transaction. The entry is `fresh` unless this (platform, update_id) was recorded
        before. Raises if the database refused it: the caller must then not acknowledge it."""
        entry = await self._records.submit(Record(platform, update_id, payload))
        if entry.fresh:
            self._in_hand.add(entry.id)
        return entry

    async def record_many(
        self, platform: str, items: list[tuple[str, dict[str, Any]]]
    ) -> list[InboxEntry]:
        """`record` for a batch (a page of getUpdates), committed together; one entry per
        item, in order."""
        entries = await self._records.submit_all(
            [Record(platform, update_id, payload) for update_id, payload in items]
        )
        self._in_hand.update(e.id for e in entries if e.fresh)
        return entries

    async def acknowledged(self, entry_id: int, acknowledgement: dict[str, Any]) -> None:
        """Remember what the member was shown for this update (a "minting…" reply's chat and
        message IDs), so that handling it again after a crash edits that reply instead of
        sending another."""
        await self._acknowledged.submit((entry_id, acknowledgement))

    async def processed(self, entry_id: int) -> None:
        """The update's handlers finished: it is never dispatched again."""
        await self._processed.submit(entry_id)
        self._in_hand.discard(entry_id)

    async def failed(self, entry_id: int, error: str) -> bool:
        """Dispatching the update failed: count the attempt and keep the error. It is
        dispatched again after a back-off; after `max_attempts` failures it is given up.
        Returns True once it is given up."""
        now = utcnow()
        try:
            async with self.sessions.begin() as session:
                attempts = await session.scalar(
                    update(InboxUpdate)
                    .where(InboxUpdate.id == entry_id)
                    .values(attempts=InboxUpdate.attempts + 1, last_error=error[:ERROR_CHARS])
                    .returning(InboxUpdate.attempts)
                )
                if attempts is None:  # pruned meanwhile
                    return False
                given_up = int(attempts) >= self.max_attempts
                retry_at = now + RETRY_FIRST * 3 ** (attempts - 1)
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.id == entry_id)
                    .values(
                        given_up_at=now if given_up else None,
                        taken_at=now,
                        due_at=now if given_up else retry_at,
                    )
                )
        finally:
            self._in_hand.discard(entry_id)
        return given_up

    # ----- dispatching -----------------------------------------------------------------------

    async def unprocessed(
        self, platform: str, limit: int = 100, *, owns: Owns | None = None
    ) -> list[InboxEntry]:
        """Take in hand up to `limit` of the platform's rows to dispatch again, oldest first:
        those whose lease ran out (their dispatcher died), failed ones whose back-off is over,
        and on SQLite those taken before this inbox was opened (by an earlier life). Never
        those given up, processed, or in hand here; with `owns`, only rows it owns (among the
        OWNED_SCAN oldest candidates). Each row is taken by one dispatcher, even with several
        processes sharing the database."""
        now = utcnow()
        due = InboxUpdate.due_at <= now
        free = and_(
            InboxUpdate.platform == platform,
            InboxUpdate.processed_at.is_(None),
            InboxUpdate.given_up_at.is_(None),
            due if self.shared else or_(due, InboxUpdate.taken_at < self.opened_at),
        )
        wanted = select(InboxUpdate.id).where(free).order_by(InboxUpdate.id).limit(limit)
        async with self.sessions.begin() as session:
            chosen: Any = wanted.scalar_subquery()
            if owns is not None:  # payloads are JSON text: chosen here, not in SQL
                candidates = await session.execute(
                    select(InboxUpdate.id, InboxUpdate.payload)
                    .where(free)
                    .order_by(InboxUpdate.id)
                    .limit(OWNED_SCAN)
                )
                chosen = [r.id for r in candidates if owns(orjson.loads(r.payload))][:limit]
                if not chosen:
                    return []
            # The condition again in the UPDATE: a racing process that took a row first has
            # moved its taken_at past our opening, so the row is no longer free for us.
            rows = (
                await session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.id.in_(chosen), free)
                    .values(taken_at=now, due_at=now + self.lease, taken_by=self.me)
                    .returning(*ENTRY_COLUMNS)
                )
            ).all()
        # A row still in hand here past its lease is taken again (its lease renewed), not
        # handed out twice. (Filtered here, not in the query: the set may be large.)
        entries = sorted(
            (entry_of(row, fresh=False) for row in rows if row.id not in self._in_hand),
            key=lambda e: e.id,
        )
        self._in_hand.update(e.id for e in entries)
        return entries

    async def renew(self) -> None:
        """Extend the lease of every row this dispatcher still handles, unless another has
        taken it over meanwhile (this process stalled past its lease)."""
        held = sorted(self._in_hand)
        for start in range(0, len(held), GROUP_LIMIT):
            async with self.sessions.begin() as session:
                await session.execute(
                    update(InboxUpdate)
                    .where(
                        InboxUpdate.id.in_(held[start : start + GROUP_LIMIT]),
                        InboxUpdate.taken_by == self.me,
                        InboxUpdate.processed_at.is_(None),
                    )
                    .values(due_at=utcnow() + self.lease)
                )

    async def handle(self, entry: InboxEntry, dispatch: Dispatch, given_up: GivenUp | None) -> bool:
        """Run `dispatch(entry)` and record how it went: processed if it returned, a failed
        attempt with its error if it raised (and `given_up(entry, error)` once it is given
        up). Returns whether it was processed."""
        try:
            await dispatch(entry)
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            log.warning(
                "%s update %s failed (attempt %d): %s",
                entry.platform,
                entry.update_id,
                entry.attempts + 1,
                error,
                exc_info=err,
            )
            if await self.failed(entry.id, error) and given_up is not None:
                log.error("%s update %s given up: %s", entry.platform, entry.update_id, error)
                await given_up(entry, error)
            return False
        await self.processed(entry.id)
        return True

    async def resume(
        self,
        platform: str,
        dispatch: Dispatch,
        given_up: GivenUp | None = None,
        *,
        every_s: float | None = None,
        owns: Owns | None = None,
    ) -> None:
        """Until cancelled: renew the leases of the rows in hand here, and dispatch the
        platform's rows that need it again (`unprocessed`, those `owns` owns), at once and then
        every `every_s` seconds (by default: RESUME_EVERY_S, or a third of the lease if
        shorter), each in a task of its own."""
        if every_s is None:  # often enough to renew each lease a few times before it runs out
            every_s = min(RESUME_EVERY_S, self.lease.total_seconds() / 3)
        tasks: set[asyncio.Task[bool]] = set()
        try:
            while True:
                try:
                    await self.renew()
                    while entries := await self.unprocessed(platform, owns=owns):
                        for entry in entries:
                            task = asyncio.create_task(
                                self.handle(entry, dispatch, given_up),
                                name=f"{platform}-update-{entry.update_id}",
                            )
                            tasks.add(task)
                            task.add_done_callback(_forget(tasks))
                except Exception as err:  # the database is away: look again later
                    log.warning("%s inbox: could not look for updates to resume: %s", platform, err)
                await asyncio.sleep(every_s)
        finally:
            for task in tasks:
                task.cancel()
            # Ended with them: none is left touching the database after this returns.
            await asyncio.gather(*tasks, return_exceptions=True)

    # ----- keeping it small ------------------------------------------------------------------

    async def prune(self) -> int:
        """Delete rows processed, or given up, longer than the retention ago. Returns how
        many."""
        cutoff = utcnow() - self.retention
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(InboxUpdate).where(
                    or_(InboxUpdate.processed_at < cutoff, InboxUpdate.given_up_at < cutoff)
                )
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def keep_tidy(self, every_s: float = PRUNE_EVERY_S) -> None:
        """Until cancelled: prune now and every `every_s` seconds."""
        while True:
            try:
                if pruned := await self.prune():
                    log.info("inbox: pruned %d updates handled long ago", pruned)
            except Exception as err:
                log.warning("inbox: pruning failed (%s); trying again later", err)
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        """Let the transactions in flight finish."""
        for writer in (self._records, self._processed, self._acknowledged):
            await writer.close()

    # ----- what operators see ----------------------------------------------------------------

    async def given_up(self, platform: str | None = None, limit: int = 100) -> list[InboxEntry]:
        """Updates given up after `max_attempts` failed dispatches, newest first, with their
        last error."""
        return await given_up_entries(self.sessions, platform, limit)

    async def counts(self) -> dict[str, int]:
        """How many rows wait to be processed ("waiting") and how many were given up."""
        return await count_entries(self.sessions)

    # ----- transactions ----------------------------------------------------------------------

    async def _commit_records(self, group: list[Record]) -> list[InboxEntry | Exception]:
        now = utcnow()
        taken = {"taken_at": now, "due_at": now + self.lease, "taken_by": self.me}
        async with self.sessions.begin() as session:
            return await insert_records(session, group, taken)

    async def _commit_processed(self, entry_ids: list[int]) -> list[None]:
        async with self.sessions.begin() as session:
            await session.execute(
                update(InboxUpdate)
                .where(InboxUpdate.id.in_(sorted(set(entry_ids))))
                .values(processed_at=utcnow())
            )
        return [None] * len(entry_ids)

    async def _commit_acknowledged(self, group: list[tuple[int, dict[str, Any]]]) -> list[None]:
        async with self.sessions.begin() as session:
            await write_acknowledgements(session, dict(group))  # one per entry: the last said
        return [None] * len(group)


def _forget(tasks: set[asyncio.Task[bool]]) -> Callable[[asyncio.Task[bool]], None]:
    def done(task: asyncio.Task[bool]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatching an update failed", exc_info=task.exception())

    return done
