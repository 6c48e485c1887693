"""The durable inbox on its own (SQLite and PostgreSQL): updates are committed once, a burst
shares transactions, rows left unprocessed by a dead process are taken over exactly once,
failures back off and end given up with their error, handled rows are pruned."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.inbox import DurableInbox, InboxEntry
from db.engine import create_db_engine, session_factory, upgrade

pytestmark = pytest.mark.db


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    db = create_db_engine(database_url)
    await upgrade(db)
    yield db
    await db.dispose()


def opened(engine: AsyncEngine, **options: Any) -> DurableInbox:
    """An inbox as a (re)started process opens it."""
    settings: dict[str, Any] = {"max_attempts": 3, "retention": timedelta(days=7)} | options
    return DurableInbox(session_factory(engine), **settings)


def died(engine: AsyncEngine) -> DurableInbox:
    """An inbox whose process dies: its leases are never renewed, so they run out (at once
    here: its lease is zero long)."""
    return opened(engine, lease=timedelta(0))


def commits(engine: AsyncEngine) -> list[int]:
    counted: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: counted.append(1))
    return counted


def update(n: int) -> dict[str, Any]:
    return {"update_id": n, "message": {"message_id": n, "text": f"/mint Art {n} ✓"}}


async def test_an_update_is_recorded_once_however_often_it_comes(engine: AsyncEngine):
    inbox = opened(engine)
    first = await inbox.record("telegram", "1", update(1))
    again = await inbox.record("telegram", "1", update(1))
    elsewhere = await inbox.record("discord", "1", {"id": "1"})
    assert first.fresh and not again.fresh and elsewhere.fresh
    assert again.id == first.id and elsewhere.id != first.id
    assert again.payload == first.payload == update(1)


async def test_a_burst_shares_a_few_transactions(engine: AsyncEngine):
    inbox = opened(engine)
    counted = commits(engine)
    entries = await asyncio.gather(
        *(inbox.record("telegram", str(n), update(n)) for n in [*range(300), *range(50)])
    )
    assert len({e.id for e in entries}) == 300
    assert sum(e.fresh for e in entries) == 300  # each update once, whichever copy came first
    assert len(counted) <= 5


async def test_a_page_of_updates_is_one_transaction(engine: AsyncEngine):
    inbox = opened(engine)
    await inbox.record("telegram", "7", update(7))
    counted = commits(engine)
    page = [(str(n), update(n)) for n in (5, 6, 7, 6)]
    entries = await inbox.record_many("telegram", page)
    assert len(counted) == 1
    assert [e.update_id for e in entries] == ["5", "6", "7", "6"]
    assert [e.fresh for e in entries] == [True, True, False, False]
    assert entries[1].id == entries[3].id


async def test_a_refused_record_raises(engine: AsyncEngine):
    inbox = opened(engine)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE inbox"))
    with pytest.raises(Exception, match="inbox"):
        await inbox.record("telegram", "1", update(1))


async def test_after_a_crash_unprocessed_updates_are_taken_over_once(engine: AsyncEngine):
    dead = died(engine)
    entries = await dead.record_many("telegram", [(str(n), update(n)) for n in range(250)])
    for entry in entries[:50]:
        await dead.processed(entry.id)
    assert await dead.unprocessed("telegram") == []  # its own are in hand
    # Two processes start after it died and look at once: each row goes to one of them.
    first, second = opened(engine), opened(engine)
    taken: list[InboxEntry] = []
    while batch := [*await first.unprocessed("telegram"), *await second.unprocessed("telegram")]:
        taken += batch
    assert sorted(e.update_id for e in taken) == sorted(str(n) for n in range(50, 250))
    assert len({e.id for e in taken}) == 200
    assert taken[0].payload == update(int(taken[0].update_id))
    assert await opened(engine).unprocessed("discord") == []


async def test_what_the_member_was_shown_comes_back_with_the_update(engine: AsyncEngine):
    dead = died(engine)
    entry = await dead.record("telegram", "1", update(1))
    await dead.acknowledged(entry.id, {"chat_id": -5, "message_id": 9})
    (again,) = await opened(engine).unprocessed("telegram")
    assert again.id == entry.id and again.acknowledgement == {"chat_id": -5, "message_id": 9}


async def test_failures_back_off_then_end_given_up_with_their_error(engine: AsyncEngine):
    inbox = opened(engine, max_attempts=3)
    entry = await inbox.record("telegram", "1", update(1))
    assert await inbox.failed(entry.id, "TimedOut: first") is False
    assert await inbox.unprocessed("telegram") == []  # waits out its back-off
    restarted = opened(engine, max_attempts=3)
    if restarted.shared:  # other processes may run: the back-off holds for all
        assert await restarted.unprocessed("telegram") == []
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE inbox SET due_at = received_at"))
    # (Alone on SQLite, a restart tries it at once: its failure was an earlier life's.)
    (again,) = await restarted.unprocessed("telegram")
    assert again.attempts == 1 and again.last_error == "TimedOut: first"
    assert await restarted.failed(entry.id, "TimedOut: second") is False
    async with engine.begin() as conn:  # the back-off is over
        await conn.execute(text("UPDATE inbox SET due_at = received_at"))
    (third,) = await restarted.unprocessed("telegram")
    assert third.attempts == 2
    assert await restarted.failed(entry.id, "BadRequest: " + "x" * 5000) is True
    assert await opened(engine).unprocessed("telegram") == []  # never again
    (given_up,) = await restarted.given_up()
    assert given_up.id == entry.id and given_up.attempts == 3
    assert given_up.last_error is not None and given_up.last_error.startswith("BadRequest: x")
    assert len(given_up.last_error) == 2000 and given_up.given_up_at is not None
    assert await restarted.counts() == {"waiting": 0, "given_up": 1}


async def test_handle_records_the_outcome_of_a_dispatch(engine: AsyncEngine):
    inbox = opened(engine, max_attempts=2)
    told: list[str] = []

    async def told_user(entry: InboxEntry, error: str) -> None:
        told.append(f"{entry.update_id}: {error}")

    async def ok(entry: InboxEntry) -> None:
        pass

    async def broken(entry: InboxEntry) -> None:
        raise ValueError("no such chat")

    good = await inbox.record("telegram", "1", update(1))
    bad = await inbox.record("telegram", "2", update(2))
    assert await inbox.handle(good, ok, told_user) is True
    assert await inbox.handle(bad, broken, told_user) is False
    assert told == []
    assert await inbox.handle(bad, broken, told_user) is False
    assert told == ["2: ValueError: no such chat"]
    assert await inbox.counts() == {"waiting": 0, "given_up": 1}


async def test_resume_dispatches_what_a_dead_process_left(engine: AsyncEngine):
    dead = died(engine)
    await dead.record_many("telegram", [(str(n), update(n)) for n in range(120)])
    inbox = opened(engine)
    seen: list[str] = []

    async def dispatch(entry: InboxEntry) -> None:
        seen.append(entry.update_id)

    resuming = asyncio.create_task(inbox.resume("telegram", dispatch, every_s=0.05))
    try:
        async with asyncio.timeout(30):
            while (await inbox.counts())["waiting"]:
                await asyncio.sleep(0.05)
    finally:
        resuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await resuming  # its handlers end while the database is still open
    assert sorted(seen, key=int) == [str(n) for n in range(120)]


async def test_handled_updates_are_pruned_after_the_retention(engine: AsyncEngine):
    inbox = opened(engine, retention=timedelta(0), max_attempts=1, lease=timedelta(0))
    done, waiting, broken = [await inbox.record("telegram", str(n), update(n)) for n in range(3)]
    await inbox.processed(done.id)
    await inbox.failed(broken.id, "gone")
    assert await inbox.prune() == 2
    (left,) = await opened(engine).unprocessed("telegram")  # never one still to handle
    assert left.id == waiting.id and await inbox.given_up() == []
    kept = opened(engine, retention=timedelta(days=7))
    await kept.processed(waiting.id)
    assert await kept.prune() == 0


async def test_an_update_in_hand_past_its_lease_is_not_handed_out_twice(engine: AsyncEngine):
    inbox = opened(engine)
    slow = await inbox.record("telegram", "1", update(1))
    async with engine.begin() as conn:  # its handler has been running longer than the lease
        await conn.execute(text("UPDATE inbox SET due_at = received_at"))
    assert await inbox.unprocessed("telegram") == []  # still being handled here
    async with engine.connect() as conn:  # and its lease was renewed
        assert await conn.scalar(text("SELECT due_at > received_at FROM inbox"))
    await inbox.processed(slow.id)
    assert await inbox.counts() == {"waiting": 0, "given_up": 0}


async def test_a_live_dispatcher_keeps_its_rows_and_a_dead_ones_are_taken_after_the_lease(
    engine: AsyncEngine,
):
    live = opened(engine, lease=timedelta(seconds=60))
    dead = opened(engine, lease=timedelta(seconds=60))
    kept = await live.record("telegram", "1", update(1))
    left = await dead.record("telegram", "2", update(2))
    async with engine.begin() as conn:  # a minute later: only the live one renewed its lease
        await conn.execute(text("UPDATE inbox SET due_at = received_at"))
    await live.renew()
    other = opened(engine)  # opened after both: on SQLite it takes every row left behind
    taken = await other.unprocessed("telegram")
    if other.shared:  # several processes: only the row whose lease ran out
        assert [e.id for e in taken] == [left.id]
    else:
        assert sorted(e.id for e in taken) == [kept.id, left.id]
    await dead.renew()  # too late: the row is another's now, and stays so
    async with engine.connect() as conn:
        holder = await conn.scalar(
            text("SELECT taken_by FROM inbox WHERE id = :id"), {"id": left.id}
        )
    assert holder == other.me
