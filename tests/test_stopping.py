"""Stopping the pipeline's loops always stops them.

A stop cancels each loop; a step cancelled midway may then fail with another error (its
clean-up on a database connection the cancellation broke). Caught as a failed step, that error
used to be logged and the loop went on, so the stop waited forever (a CI run hung in teardown
this way, in a scrub's `RESET lock_timeout`)."""

from __future__ import annotations

import asyncio

import pytest

from bot.minting.service import MintService


async def test_a_step_whose_clean_up_fails_when_cancelled_still_stops_its_loop():
    started = asyncio.Event()

    async def step() -> bool:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            raise RuntimeError("clean-up on a connection the cancellation broke")
        return False

    wake = asyncio.Event()
    wake.set()
    loop = asyncio.create_task(MintService._run_steps(wake, step, "testing", idle=60))
    await started.wait()
    loop.cancel()
    done, _ = await asyncio.wait([loop], timeout=10)
    assert done == {loop} and loop.cancelled()


async def test_a_step_that_fails_on_its_own_is_tried_again():
    tries = 0

    async def step() -> bool:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise RuntimeError("a fault of this step alone")
        return False

    wake = asyncio.Event()
    wake.set()
    loop = asyncio.create_task(MintService._run_steps(wake, step, "testing", idle=0.05))
    async with asyncio.timeout(10):
        while tries < 2:
            await asyncio.sleep(0.05)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
