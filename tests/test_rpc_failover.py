"""RPC_URLS: requests go to the first healthy endpoint; a failing one rests and is tried again
later; a definitive answer is never failed over; every endpoint is checked against CHAIN_ID."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.chain import client
from bot.chain.devchain import Anvil
from bot.chain.endpoint import EndpointFault, EndpointPool
from bot.config import load_settings
from bot.errors import ChainError
from tests.rpc_proxy import RpcProxy
from tests.support import DEV_MINTER, balance, running
from tests.test_faults import run_one


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def two(anvil: Anvil) -> AsyncIterator[tuple[RpcProxy, RpcProxy]]:
    first, second = RpcProxy(anvil.url), RpcProxy(anvil.url)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


def body(method: str, *params: object) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()


async def test_fail_over_rest_and_return(two: tuple[RpcProxy, RpcProxy]):
    first, second = two
    clock = Clock()
    pool = EndpointPool([first.url, second.url], 31337, clock=clock)
    async with aiohttp.ClientSession() as session:
        assert await pool.check(session, 5) == 31337

        async def ask() -> tuple[int, int]:
            before = len(first.calls), len(second.calls)
            answer = json.loads(await pool.post(session, body("eth_blockNumber"), 5))
            assert answer["result"].startswith("0x")
            return len(first.calls) - before[0], len(second.calls) - before[1]

        assert await ask() == (1, 0)  # the first endpoint, while it is healthy
        for mode, status in (("status", 429), ("status", 503), ("rate_limited", 0)):
            first.mode, first.status = mode, status
            clock.now += 3600  # its rest from the last round is over
            assert await ask() == (1, 1)  # tried, failed, the second answered
            assert await ask() == (0, 1)  # resting: not tried at all
        first.mode = "pass"
        clock.now += 3600
        assert await ask() == (1, 0)  # back, and first again

        # A definitive answer is the answer: a transaction that does not decode.
        before = len(second.calls)
        answer = json.loads(await pool.post(session, body("eth_sendRawTransaction", "0x00"), 5))
        assert "error" in answer and len(second.calls) == before

        # Both failing: each tried once, then a transient fault naming no URL's secrets.
        first.mode = second.mode = "down"
        before = len(first.calls), len(second.calls)
        with pytest.raises(EndpointFault) as caught:
            await pool.post(session, body("eth_blockNumber"), 5)
        assert (len(first.calls) - before[0], len(second.calls) - before[1]) == (1, 1)
        assert isinstance(caught.value, ConnectionError) and "HTTP 503" in str(caught.value)


async def test_every_endpoint_is_checked_against_chain_id(two: tuple[RpcProxy, RpcProxy]):
    first, second = two
    second.mode = "other_chain"
    with pytest.raises(ChainError) as caught:
        await client.connect([first.url, second.url], 31337, timeout=5)
    assert str(caught.value) == (
        f"CHAIN_ID: the RPC at {second.url} is chain 1, but CHAIN_ID is 31337"
    )
    # One that does not answer at start is checked before its first use, and then not used.
    second.mode = "down"
    w3 = await client.connect([second.url, first.url], 31337, timeout=5)
    try:
        second.mode = "other_chain"
        second.calls.clear()
        w3.provider.pool._rest_until.clear()  # type: ignore[attr-defined]  # its rest is over
        assert await w3.eth.block_number >= 0
        assert second.calls == ["eth_chainId"]  # asked its chain, refused, never used
        assert await w3.eth.block_number >= 0
        assert second.calls == ["eth_chainId"]
    finally:
        await client.close(w3)


async def test_the_bot_keeps_minting_when_the_first_endpoint_dies(
    bot_env: dict[str, str], collection, two: tuple[RpcProxy, RpcProxy]
):
    first, second = two
    env = {k: v for k, v in bot_env.items() if k != "RPC_URL"}
    settings = load_settings({**env, "RPC_URLS": f"{first.url},{second.url}"})
    async with running(settings) as (runtime, inbox):
        assert (await run_one(runtime, inbox, "31")).minted
        assert "eth_sendRawTransaction" in first.calls
        assert "eth_sendRawTransaction" not in second.calls
        await first.stop()  # dies mid-run: connections refused from now on
        for message_id in ("32", "33"):
            assert (await run_one(runtime, inbox, message_id)).minted
    assert second.calls.count("eth_sendRawTransaction") >= 1
    assert await balance(collection, DEV_MINTER.address) == 3
