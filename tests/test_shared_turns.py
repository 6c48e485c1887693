"""Turns every process takes through the database (bot/shared_turns.py), and the live drop
counters that use them: across processes, at most one edit of a drop's announcements per
interval, and the last claim always shown."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import pytest

from bot.live_counters import LiveCounters
from bot.runtime import Runtime
from bot.shared_turns import SharedTurns
from db.models import utcnow
from tests.support import Inbox

pytestmark = pytest.mark.db


async def test_one_taker_per_interval_whoever_asks(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    # Several processes' worth of takers on one database, asking at once.
    takers = [SharedTurns(runtime.sessions) for _ in range(5)]
    waits = await asyncio.gather(*(t.take("alert:x", 60) for t in takers for _ in range(4)))
    assert sorted(waits)[:2] == [0.0, pytest.approx(60, abs=5)]
    assert waits.count(0.0) == 1
    assert await takers[0].take("alert:y", 60) == 0.0  # another key is its own turn
    await takers[1].release("alert:")
    assert await takers[2].take("alert:x", 60) == 0.0  # released: taken again at once


async def test_counters_of_two_processes_edit_in_turn_and_show_the_last_claim(
    bot: tuple[Runtime, Inbox],
):
    runtime, _ = bot
    turns = SharedTurns(runtime.sessions)
    interval = 0.3
    shows: list[tuple[str, int]] = []
    taken: list[datetime] = []  # when each edit's turn was asked for, of those granted
    claimed = 0

    async def turn(drop_id: int, every: float) -> float:
        asked = utcnow()
        wait = await turns.take(f"drop:{drop_id}", every)
        if not wait:
            taken.append(asked)
        return wait

    def counter(process: str) -> LiveCounters:
        async def show(drop_id: int) -> None:
            shows.append((process, claimed))

        return LiveCounters(show, interval, turn=turn)

    a, b = counter("a"), counter("b")
    for n in range(12):  # claims arriving on both processes for a while
        claimed = n + 1
        (a if n % 2 else b).touch(7)
        await asyncio.sleep(interval / 3)
    async with asyncio.timeout(30):
        while a._tasks or b._tasks:
            await asyncio.sleep(0.05)
    await a.close()
    await b.close()
    # The database granted every edit's turn, none within the interval of the one before, so
    # a burst on two processes makes no more edits than one process would.
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(taken)]
    assert len(taken) == len(shows) and all(gap >= interval * 0.99 for gap in gaps), gaps
    assert {process for process, _ in shows} == {"a", "b"}
    assert shows[-1][1] == 12  # the last count is shown
