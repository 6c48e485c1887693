"""Ordering under a burst: work after an acknowledgement waits for the acknowledgements still
pending (bot/acknowledge.py)."""

from __future__ import annotations

import asyncio

from bot.acknowledge import AcknowledgeFirst


async def test_work_after_an_acknowledgement_waits_for_the_others() -> None:
    gate = AcknowledgeFirst(patience_s=5, quiet_s=0.01)
    second_acknowledged = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with gate.acknowledging():
            order.append("first acknowledged")
        await gate.settled()
        order.append("first works")

    async def second() -> None:
        async with gate.acknowledging():
            await second_acknowledged.wait()
            order.append("second acknowledged")
        await gate.settled()
        order.append("second works")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await asyncio.sleep(0.1)
    assert order == ["first acknowledged"]  # held back while the second is pending
    second_acknowledged.set()
    await asyncio.gather(*tasks)
    assert order[:2] == ["first acknowledged", "second acknowledged"]
    assert sorted(order[2:]) == ["first works", "second works"]


async def test_an_acknowledgement_that_hangs_holds_up_others_only_for_the_patience() -> None:
    gate = AcknowledgeFirst(patience_s=0.2, quiet_s=0.01)
    hang = asyncio.Event()

    async def stuck() -> None:
        async with gate.acknowledging():
            await hang.wait()

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    await asyncio.wait_for(gate.settled(), 5)
    assert not task.done()  # still pending, yet the work went ahead
    hang.set()
    await task


async def test_with_nothing_pending_work_goes_ahead_after_the_quiet_period() -> None:
    gate = AcknowledgeFirst(patience_s=5, quiet_s=0.01)
    await asyncio.wait_for(gate.settled(), 1)
