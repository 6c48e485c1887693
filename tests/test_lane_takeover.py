"""Two `pipeline` processes on PostgreSQL with a pool of two keys: one dies right after
signing a batch, before sending it; the other takes its lanes over once the leases expire
and sends the very bytes it signed, so the token is minted once, at the nonce signed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.chain.contract import Collection
from bot.chain.wallet import HotWallet
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.pool_roles import grant_pool
from db.models import ChainTx, MintRequest, Phase, TxStatus
from tests.support import DEV_MINTER, FEES, balance, bot_process, observed, submission
from tests.test_lanes import pool_env
from tests.test_roles import on_postgres, until_logged

pytestmark = pytest.mark.db


async def test_a_lane_signed_on_by_a_dead_process_is_sent_by_the_one_taking_it_over(
    bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    if not on_postgres(bot_env["DATABASE_URL"]):
        pytest.skip("pipeline processes share PostgreSQL; SQLite runs one process")
    env = pool_env(bot_env, LANE_TAKEOVER_S="2", POLL_INTERVAL_S="0.2")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    async with observed(env) as runtime:
        await grant_pool(runtime, HotWallet(Secret(ANVIL_DEV_KEYS[1])), FEES, lambda _: None)
        crashing = {**env, "MINTBOT_CRASH_AT": "after_sign"}
        async with bot_process(crashing, first_log, ["run", "--role", "pipeline"]) as first:
            await until_logged(first_log, "(role pipeline)", first)
            await runtime.service.submit(submission("700"))
            async with asyncio.timeout(60):
                assert await first.wait() == -9  # killed itself, the batch signed, unsent
        async with runtime.sessions() as session:
            (signed,) = (await session.scalars(select(ChainTx))).all()
            assert signed.status == TxStatus.SIGNED
            signed_hash, signed_nonce = signed.attempts[-1].tx_hash, signed.nonce

        async with bot_process(env, second_log, ["run", "--role", "pipeline"]) as second:
            await until_logged(second_log, "took lane " + signed.wallet, second)
            async with asyncio.timeout(60):
                while True:
                    async with runtime.sessions() as session:
                        request = await session.scalar(select(MintRequest))
                        assert request is not None
                        if request.phase == Phase.CONFIRMED:
                            break
                    await asyncio.sleep(0.2)
        async with runtime.sessions() as session:
            (tx,) = (await session.scalars(select(ChainTx))).all()
    assert tx.status == TxStatus.CONFIRMED and tx.nonce == signed_nonce
    assert tx.mined_hash == signed_hash  # the bytes the dead process signed, sent as they were
    assert await balance(collection, DEV_MINTER.address) == 1
