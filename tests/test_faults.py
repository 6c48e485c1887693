"""Fault injection: crashes, a lying RPC, a stolen nonce, a stuck transaction, an empty wallet,
an RPC outage and a reorg. Each ends with exactly one token for the request, the request
confirmed, and one final answer."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select, update
from web3 import AsyncWeb3

from bot.app import open_runtime
from bot.chain.contract import Collection, CollectionParams, deploy_collection
from bot.chain.devchain import Anvil
from bot.chain.wallet import HotWallet
from bot.config import Settings, load_settings
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.runtime import Runtime
from db.models import ChainTx, MintRequest, Phase, TxStatus
from tests.rpc_proxy import RpcProxy
from tests.support import (
    DEV_ADMIN,
    DEV_MINTER,
    FEES,
    Inbox,
    answered,
    balance,
    png,
    rpc,
    run_cli,
    running,
    submission,
)

pytestmark = pytest.mark.db


# ----- crashes (real subprocesses killed with SIGKILL) -----------------------------------------


def mint_cli(env: dict[str, str], image: Path, key: str, **extra: str):  # type: ignore[no-untyped-def]
    return run_cli(
        "mint",
        str(image),
        "--name",
        "Crash test",
        "--key",
        key,
        "--json",
        env={**env, **extra},
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "collection"),
    [
        ("after_sign", "direct"),
        ("after_send", "direct"),
        ("after_confirm", "direct"),
        ("after_send", "clone"),  # a community's collection is a clone: the same holds
    ],
    indirect=["collection"],
)
async def test_killed_mid_mint_then_restart_finishes(
    point: str, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    image = tmp_path / "art.png"
    image.write_bytes(png(1))
    killed = await asyncio.to_thread(mint_cli, bot_env, image, "k1", MINTBOT_CRASH_AT=point)
    assert killed.returncode == -9, killed.output

    restarted = await asyncio.to_thread(mint_cli, bot_env, image, "k1")
    assert restarted.returncode == 0, restarted.output
    result = json.loads(restarted.stdout)
    assert result["phase"] in ("confirmed", "replied")
    assert await balance(collection, DEV_MINTER.address) == 1
    assert await collection.owner_of(int(result["token_id"])) == DEV_MINTER.address

    status = await asyncio.to_thread(run_cli, "status", "k1", "--json", env=bot_env)
    assert json.loads(status.stdout)["phase"] == "replied"


@pytest.mark.slow
async def test_same_key_from_two_processes_at_once(
    bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    image = tmp_path / "art.png"
    image.write_bytes(png(2))
    first, second = await asyncio.gather(
        asyncio.to_thread(mint_cli, bot_env, image, "shared"),
        asyncio.to_thread(mint_cli, bot_env, image, "shared"),
    )
    assert first.returncode == 0 and second.returncode == 0, first.output + second.output
    assert json.loads(first.stdout)["token_id"] == json.loads(second.stdout)["token_id"]
    assert await balance(collection, DEV_MINTER.address) == 1


# ----- in-process faults ---------------------------------------------------------------------


def on_own_anvil(
    bot_env: dict[str, str], own_anvil: tuple[Anvil, AsyncWeb3, Collection], **extra: str
) -> Settings:
    """Settings for a bot on the test's own anvil (one a test may stop mining on)."""
    node, _, collection = own_anvil
    return load_settings(
        {**bot_env, "RPC_URL": node.url, "CONTRACT_ADDRESS": collection.address, **extra}
    )


async def run_one(runtime: Runtime, inbox: Inbox, message_id: str, timeout: float = 60):
    sub = submission(message_id)
    await runtime.service.submit(sub)
    return await answered(runtime, inbox, sub.key, timeout=timeout)


async def test_send_times_out_although_the_node_took_it(
    bot_env: dict[str, str], collection: Collection, proxy: RpcProxy
):
    proxy.mode = "swallow_send"
    settings = load_settings({**bot_env, "RPC_URL": proxy.url, "RPC_TIMEOUT_S": "1"})
    async with running(settings) as (runtime, inbox):
        result = await run_one(runtime, inbox, "10")
    assert proxy.swallowed >= 1
    assert result.minted
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_node_that_already_imported_the_transaction(
    bot_env: dict[str, str], collection: Collection, proxy: RpcProxy
):
    proxy.mode = "already_imported"
    settings = load_settings({**bot_env, "RPC_URL": proxy.url})
    async with running(settings) as (runtime, inbox):
        result = await run_one(runtime, inbox, "11")
        async with runtime.sessions() as session:
            tx = await session.scalar(select(ChainTx))
            assert tx is not None
            attempts = [(a.tx_hash, a.sent_at is not None) for a in tx.attempts]
    assert proxy.swallowed >= 1
    assert result.minted
    assert await balance(collection, DEV_MINTER.address) == 1
    # Taken as sent at once: one signature, recorded as broadcast, never re-signed.
    assert attempts == [(tx.mined_hash, True)]


async def test_a_send_answered_after_the_confirmation_does_not_undo_it(
    bot_env: dict[str, str], proxy: RpcProxy
):
    """The node mines the batch and the watcher confirms it (and the member is answered)
    while the broadcast's own reply is still on its way; recording the broadcast afterwards
    must not make the transaction open again, nor the answered request merely confirmed."""
    proxy.mode = "hold_send"
    # The watcher looks only when this test says: on its own it could look before the node
    # has the transaction and broadcast it again itself, and that reply would be held too.
    settings = load_settings(
        {**bot_env, "RPC_URL": proxy.url, "RPC_TIMEOUT_S": "30", "POLL_INTERVAL_S": "300"}
    )
    async with running(settings) as (runtime, inbox):
        sub = submission("12")
        request_id = (await runtime.service.submit(sub)).request_id
        async with asyncio.timeout(30):  # mined, and its reply held
            while not proxy.swallowed:
                await asyncio.sleep(0.05)
        await runtime.watcher.look_once()
        await answered(runtime, inbox, sub.key)
        async with asyncio.timeout(10):
            while (await states(runtime, request_id))[0] != Phase.REPLIED:
                await asyncio.sleep(0.05)
        proxy.release.set()
        async with asyncio.timeout(10):  # the broadcast is recorded
            while not (await states(runtime, request_id))[2]:
                await asyncio.sleep(0.05)
        await runtime.watcher.look_once()
        phase, status, _ = await states(runtime, request_id)
    assert proxy.swallowed == 1
    assert (phase, status) == (Phase.REPLIED, TxStatus.CONFIRMED)


async def test_the_watcher_leaves_a_broadcast_in_flight_to_its_sender(
    bot_env: dict[str, str], proxy: RpcProxy, w3: AsyncWeb3
):
    """The node has the batch but has not mined it, and the broadcast's reply is still on its
    way: the watcher, finding the transaction signed, leaves it to that broadcast instead of
    sending the same bytes again and waiting on the same reply."""
    proxy.mode = "hold_send"
    settings = load_settings(
        {**bot_env, "RPC_URL": proxy.url, "RPC_TIMEOUT_S": "30", "POLL_INTERVAL_S": "300"}
    )
    await rpc(w3, "evm_setAutomine", False)
    try:
        async with running(settings) as (runtime, inbox):
            sub = submission("14")
            await runtime.service.submit(sub)
            async with asyncio.timeout(30):  # with the node, not mined, its reply held
                while not proxy.swallowed:
                    await asyncio.sleep(0.05)
            look = asyncio.create_task(runtime.watcher.look_once())
            async with asyncio.timeout(25):  # the look ends, or it broadcast a second time
                while not look.done() and proxy.swallowed == 1:
                    await asyncio.sleep(0.05)
            assert proxy.swallowed == 1
            await look
            await rpc(w3, "evm_mine")
            proxy.release.set()
            await answered(runtime, inbox, sub.key)
    finally:
        await rpc(w3, "evm_setAutomine", True)


async def test_a_transaction_confirmed_twice_leaves_its_answer_recorded(
    bot_env: dict[str, str],
):
    """A stale write that reopens a confirmed transaction (the race above, had it been lost)
    gets it confirmed again; its requests, answered already, stay answered."""
    async with running(load_settings(bot_env)) as (runtime, inbox):
        request_id = await answered_and_recorded(runtime, inbox, "13")
        async with runtime.sessions.begin() as session:
            await session.execute(update(ChainTx).values(status=TxStatus.SENT))
        await runtime.watcher.look_once()
        phase, status, _ = await states(runtime, request_id)
    assert (phase, status) == (Phase.REPLIED, TxStatus.CONFIRMED)
    assert len(inbox.for_key(submission("13").key)) == 1


async def answered_and_recorded(runtime: Runtime, inbox: Inbox, message_id: str) -> int:
    """Submit a mint, wait for its answer and for the answer to be recorded; its request ID."""
    sub = submission(message_id)
    handle = await runtime.service.submit(sub)
    await answered(runtime, inbox, sub.key)
    async with asyncio.timeout(10):
        while (await states(runtime, handle.request_id))[0] != Phase.REPLIED:
            await asyncio.sleep(0.05)
    return handle.request_id


async def states(runtime: Runtime, request_id: int) -> tuple[str, str | None, bool]:
    """A request's phase, its transaction's status, and whether its broadcast is recorded."""
    async with runtime.sessions() as session:
        request = await session.get(MintRequest, request_id)
        assert request is not None
        tx = await session.get(ChainTx, request.tx_id) if request.tx_id else None
        sent = tx is not None and tx.attempts[-1].sent_at is not None
        return request.phase, tx.status if tx else None, sent


@pytest.mark.slow
async def test_rpc_down_for_thirty_seconds_mid_batch(
    bot_env: dict[str, str], collection: Collection, proxy: RpcProxy
):
    settings = load_settings({**bot_env, "RPC_URL": proxy.url, "RPC_TIMEOUT_S": "2"})
    async with running(settings) as (runtime, inbox):
        subs = [submission(str(20 + i)) for i in range(5)]
        for sub in subs:
            await runtime.service.submit(sub)
        async with asyncio.timeout(30):  # down as soon as the batch is signed
            while True:
                async with runtime.sessions() as session:
                    if await session.scalar(select(ChainTx.id)):
                        break
                await asyncio.sleep(0.01)
        proxy.mode = "down"
        await asyncio.sleep(30)
        proxy.mode = "pass"
        results = [await answered(runtime, inbox, s.key, timeout=60) for s in subs]
    assert all(r.minted for r in results)
    assert await balance(collection, DEV_MINTER.address) == 5
    assert len({r.token_id for r in results}) == 5


@pytest.mark.slow
async def test_nonce_used_by_a_transaction_from_outside(
    bot_env: dict[str, str], collection: Collection, w3: AsyncWeb3, tmp_path: Path
):
    image = tmp_path / "art.png"
    image.write_bytes(png(3))
    killed = await asyncio.to_thread(
        mint_cli, bot_env, image, "stolen", MINTBOT_CRASH_AT="after_sign"
    )
    assert killed.returncode == -9
    # Someone else spends the nonce the bot signed for, with the same key, from outside.
    wallet = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    outside = wallet.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "to": DEV_ADMIN.address,
            "value": 1,
            "gas": 21_000,
            "nonce": await w3.eth.get_transaction_count(wallet.address),  # type: ignore[arg-type]
            **FEES.as_tx_fields(),
        }
    )
    await w3.eth.wait_for_transaction_receipt(
        await w3.eth.send_raw_transaction(outside.raw_transaction)
    )

    restarted = await asyncio.to_thread(mint_cli, bot_env, image, "stolen")
    assert restarted.returncode == 0, restarted.output
    assert await balance(collection, DEV_MINTER.address) == 1
    settings = load_settings(bot_env)
    async with open_runtime(settings, start=False) as runtime, runtime.sessions() as session:
        txs = list(await session.scalars(select(ChainTx).order_by(ChainTx.nonce)))
    assert [t.status for t in txs] == [TxStatus.DROPPED, TxStatus.CONFIRMED]
    assert txs[1].nonce == txs[0].nonce + 1


@pytest.mark.parametrize("own_anvil", ["direct", "clone"], indirect=True)
async def test_a_stuck_transaction_is_replaced_at_the_same_nonce(
    bot_env: dict[str, str], own_anvil: tuple[Anvil, AsyncWeb3, Collection]
):
    _, w3, collection = own_anvil
    await rpc(w3, "evm_setAutomine", False)
    settings = on_own_anvil(bot_env, own_anvil, FEE_BUMP_AFTER_S="1")
    async with running(settings) as (runtime, inbox):
        sub = submission("30")
        await runtime.service.submit(sub)
        async with asyncio.timeout(60):
            while True:
                async with runtime.sessions() as session:
                    tx = await session.scalar(select(ChainTx))
                    if tx is not None and len(tx.attempts) >= 2:
                        break
                await asyncio.sleep(0.1)
        await rpc(w3, "evm_mine")
        result = await answered(runtime, inbox, sub.key)
        async with runtime.sessions() as session:
            tx = await session.scalar(select(ChainTx))
    assert result.minted
    assert tx is not None and len(tx.attempts) >= 2
    fees = [a.max_fee_per_gas for a in tx.attempts]
    assert fees == sorted(fees) and fees[-1] > fees[0]
    assert tx.mined_hash in {a.tx_hash for a in tx.attempts}
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_nonce_taken_in_the_mempool_at_a_higher_fee(
    bot_env: dict[str, str], own_anvil: tuple[Anvil, AsyncWeb3, Collection]
):
    """ "replacement transaction underpriced": an outside transaction waits in the mempool at the
    nonce the bot is about to use, paying more than the bot's fee cap allows. The bot bumps as
    far as the cap lets it, then once the outsider is mined it gives its work a new nonce."""
    _, w3, collection = own_anvil
    await rpc(w3, "evm_setAutomine", False)
    settings = on_own_anvil(bot_env, own_anvil, MAX_FEE_PER_GAS_GWEI="100")
    async with running(settings) as (runtime, inbox):
        wallet = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
        nonce = await w3.eth.get_transaction_count(wallet.address, "pending")  # type: ignore[arg-type]
        outside = wallet.sign_transaction(
            {
                "type": 2,
                "chainId": 31337,
                "to": DEV_ADMIN.address,
                "value": 1,
                "gas": 21_000,
                "nonce": nonce,
                "maxFeePerGas": 500 * 10**9,
                "maxPriorityFeePerGas": 500 * 10**9,
            }
        )
        await w3.eth.send_raw_transaction(outside.raw_transaction)
        sub = submission("31")
        await runtime.service.submit(sub)
        async with asyncio.timeout(60):  # the bot signed at the taken nonce and tried to send
            while True:
                async with runtime.sessions() as session:
                    tx = await session.scalar(select(ChainTx))
                    if tx is not None and len(tx.attempts) >= 2:
                        break
                await asyncio.sleep(0.1)
        assert tx.nonce == nonce
        await rpc(w3, "evm_setAutomine", True)
        await rpc(w3, "evm_mine")  # the outsider wins the nonce
        result = await answered(runtime, inbox, sub.key, timeout=60)
        async with runtime.sessions() as session:
            txs = list(await session.scalars(select(ChainTx).order_by(ChainTx.nonce)))
    assert result.minted
    assert [t.status for t in txs] == [TxStatus.DROPPED, TxStatus.CONFIRMED]
    assert [t.nonce for t in txs] == [nonce, nonce + 1]
    assert all(a.max_fee_per_gas <= 100 * 10**9 for a in txs[0].attempts)
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_an_empty_wallet_waits_then_finishes_after_funding(
    bot_env: dict[str, str], w3: AsyncWeb3, anvil: Anvil
):
    # A collection whose minter is a brand-new key with no funds at all.
    empty_key = "0x" + os.urandom(32).hex()
    empty = Account.from_key(empty_key)
    deployer = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    deployment = await deploy_collection(
        w3,
        deployer,
        CollectionParams(
            "Empty",
            "E",
            DEV_ADMIN.address,
            DEV_ADMIN.address,
            empty.address,
            DEV_ADMIN.address,
            0,
            "",
        ),
        FEES,
    )
    collection = Collection(w3, deployment.address)
    settings = load_settings(
        {**bot_env, "HOT_WALLET_PRIVATE_KEY": empty_key, "CONTRACT_ADDRESS": deployment.address}
    )
    async with running(settings) as (runtime, inbox):
        sub = submission("40")
        handle = await runtime.service.submit(sub)
        async with asyncio.timeout(30):
            while True:
                current = await runtime.service.result(handle.request_id)
                if runtime.service.waiting_reason:
                    break
                await asyncio.sleep(0.1)
        assert "needs funds" in (runtime.service.waiting_reason or "")
        assert empty.address in (runtime.service.waiting_reason or "")
        assert not current.is_final
        await rpc(w3, "anvil_setBalance", empty.address, hex(10**18))
        result = await answered(runtime, inbox, sub.key)
    assert result.minted
    assert await collection.owner_of(result.token_id or 0) == empty.address
    assert await w3.eth.get_transaction_count(empty.address) == 1  # type: ignore[arg-type]


async def test_a_reorg_after_one_confirmation(
    bot_env: dict[str, str], own_anvil: tuple[Anvil, AsyncWeb3, Collection]
):
    _, w3, collection = own_anvil
    settings = on_own_anvil(bot_env, own_anvil, CONFIRMATIONS="3")
    snapshot = await rpc(w3, "evm_snapshot")
    async with running(settings) as (runtime, inbox):
        sub = submission("50")
        handle = await runtime.service.submit(sub)
        async with asyncio.timeout(30):
            while True:
                async with runtime.sessions() as session:
                    tx = await session.scalar(select(ChainTx))
                    if tx is not None and tx.status == TxStatus.MINED:
                        break
                await asyncio.sleep(0.05)
        first_block = tx.block_hash
        assert await rpc(w3, "evm_revert", snapshot) is True  # the block with our mint is gone
        assert await balance(collection, DEV_MINTER.address) == 0
        async with asyncio.timeout(60):
            while not inbox.for_key(sub.key):
                await rpc(w3, "evm_mine")
                await asyncio.sleep(0.2)
        result = inbox.for_key(sub.key)[0]
        # The answer is recorded once delivered: a moment after the inbox has it.
        async with asyncio.timeout(30):
            while True:
                async with runtime.sessions() as session:
                    request = await session.get(MintRequest, handle.request_id)
                    tx = await session.scalar(select(ChainTx))
                if request is not None and request.phase == Phase.REPLIED:
                    break
                await asyncio.sleep(0.05)
    assert result.minted
    assert tx is not None and tx.block_hash != first_block
    assert await balance(collection, DEV_MINTER.address) == 1
    assert len(inbox.for_key(sub.key)) == 1
