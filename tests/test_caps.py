"""Spending controls pause minting with a reason admins can see; requests wait, never fail."""

from __future__ import annotations

import asyncio

import pytest
from web3 import AsyncWeb3

from bot.chain.contract import Collection
from bot.config import load_settings
from bot.runtime import Runtime
from db.models import Phase
from tests.support import DEV_MINTER, answered, balance, rpc, running, submission

pytestmark = pytest.mark.db


async def waiting_reason(runtime: Runtime, timeout: float = 20) -> str:
    async with asyncio.timeout(timeout):
        while not runtime.service.waiting_reason:
            await asyncio.sleep(0.05)
    return runtime.service.waiting_reason


async def test_the_fee_cap_pauses_minting_until_fees_fall(
    bot_env: dict[str, str], own_anvil: tuple[object, AsyncWeb3, Collection]
):
    node, w3, collection = own_anvil
    settings = load_settings(
        {
            **bot_env,
            "RPC_URL": node.url,
            "CONTRACT_ADDRESS": collection.address,  # type: ignore[attr-defined]
            "MAX_FEE_PER_GAS_GWEI": "0.0000001",
            "PRIORITY_FEE_GWEI": "0.00000001",
        }
    )
    async with running(settings) as (runtime, inbox):
        sub = submission("70")
        handle = await runtime.service.submit(sub)
        reason = await waiting_reason(runtime)
        assert "above the cap of 0.000 gwei (MAX_FEE_PER_GAS_GWEI)" in reason
        current = await runtime.service.result(handle.request_id)
        assert current.phase == Phase.QUEUED and current.waiting_reason == reason

        await rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(50))  # the network calms down
        result = await answered(runtime, inbox, sub.key)
    assert result.minted
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_the_daily_spending_cap_pauses_until_it_is_raised(
    bot_env: dict[str, str], collection: Collection
):
    capped = load_settings({**bot_env, "MAX_SPEND_PER_DAY_ETH": "0.000001"})
    sub = submission("71")
    async with running(capped) as (runtime, inbox):
        await runtime.service.submit(sub)
        reason = await waiting_reason(runtime)
        assert "spending cap (MAX_SPEND_PER_DAY_ETH) is reached" in reason
        await asyncio.sleep(1)
        assert not inbox.answers
    assert await balance(collection, DEV_MINTER.address) == 0

    raised = load_settings({**bot_env, "MAX_SPEND_PER_DAY_ETH": "1"})
    async with running(raised) as (runtime, inbox):
        result = await answered(runtime, inbox, sub.key)
    assert result.minted
    assert await balance(collection, DEV_MINTER.address) == 1
