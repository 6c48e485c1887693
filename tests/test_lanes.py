"""A pool of hot wallets: one nonce lane per key, leased by one process at a time, taken over
when its holder dies, passed over while stuck, and batches spread over the lanes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from eth_account import Account
from sqlalchemy import select, update
from web3 import AsyncWeb3

from bot.alerts import BalanceAlerts
from bot.app import open_runtime
from bot.chain.contract import Collection
from bot.chain.devchain import Anvil
from bot.chain.lanes import Lanes
from bot.chain.nonces import SigningStopped
from bot.chain.tx_engine import TxEngine
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.minting.content_workers import ContentWorkers, ImageLimits
from bot.minting.prepare import Preparer
from bot.minting.progress import Progress
from bot.minting.uploads import UploadVault
from bot.pool_roles import grant_pool
from bot.ports import RunningPlatforms
from bot.runtime import Runtime
from db.models import ChainTx, MintRequest, Phase, SigningAudit, utcnow
from tests.support import FEES, answered, replied, rpc, running, submission
from tests.test_alerts import AdminChannel

pytestmark = pytest.mark.db

POOL = (ANVIL_DEV_KEYS[0], ANVIL_DEV_KEYS[3])
SECOND = Account.from_key(POOL[1]).address


def pool_env(bot_env: dict[str, str], **more: str) -> dict[str, str]:
    env = {k: v for k, v in bot_env.items() if k != "HOT_WALLET_PRIVATE_KEY"}
    return {**env, "HOT_WALLET_KEYS": ",".join(POOL), **more}


def lanes_of(runtime: Runtime, me: str, takeover_s: float = 1.0) -> Lanes:
    """The pool's lanes as one more pipeline process `me` would hold them: engines of its
    own over the runtime's database and chain, leased (as on a shared database)."""
    engines = [
        TxEngine(
            sessions=runtime.sessions,
            w3=runtime.chain.w3,
            wallet=HotWallet(Secret(key)),
            chain_id=runtime.chain.chain_id,
            confirmations=1,
            bump_after=60,
            max_fee_cap=runtime.settings.max_fee_per_gas_wei,
        )
        for key in POOL
    ]

    async def may_mint(_wallet: str, _contract: str | None) -> bool:
        return True

    return Lanes(
        engines,
        runtime.sessions,
        takeover_s=takeover_s,
        shared=True,
        may_mint=may_mint,
        poll_interval=0.1,
        me=me,
    )


def held(lanes: Lanes) -> list[str]:
    return [e.wallet.address for e in lanes.engines if e.owned]


async def allocates(runtime: Runtime, engine: TxEngine) -> bool:
    """Whether `engine` may take a nonce now (rolled back: nothing is used)."""
    async with runtime.sessions() as session, session.begin():
        try:
            await engine.nonces.allocate(session)
        except SigningStopped:
            return False
        finally:
            await session.rollback()
    return True


@pytest.fixture
async def observer(bot_env: dict[str, str]) -> AsyncIterator[Runtime]:
    async with open_runtime(load_settings(pool_env(bot_env)), start=False) as runtime:
        yield runtime


async def test_two_processes_share_the_lanes_and_one_takes_over_a_dead_ones(observer: Runtime):
    a, b = lanes_of(observer, "a"), lanes_of(observer, "b")
    await a.start()
    assert len(held(a)) == 2  # alone, it holds the pool
    await b.start()
    assert held(b) == []  # both leases are live: nothing to take yet
    await a.beat()  # two members now: a gives its surplus back...
    await b.beat()  # ...and b takes it
    assert len(held(a)) == 1 and len(held(b)) == 1 and held(a) != held(b)
    mine, theirs = (0, 1) if a.engines[0].owned else (1, 0)
    # Only the holder signs: the row every signature locks says who holds the lane.
    assert await allocates(observer, a.engines[mine])
    assert not await allocates(observer, b.engines[mine])
    assert not await allocates(observer, a.engines[theirs])

    # a stops renewing (its process died): after LANE_TAKEOVER_S, b holds both lanes.
    async with asyncio.timeout(30):
        while len(held(b)) < 2:
            await asyncio.sleep(0.3)
            await b.beat()
    assert await allocates(observer, b.engines[mine])
    assert not await allocates(observer, a.engines[mine])  # a, back, signs nothing there
    await a.beat()
    assert held(a) == []  # and learns that it lost its lease

    await b.close()  # a clean stop gives the lanes back at once
    await a.beat()
    assert len(held(a)) == 2


async def test_a_lane_held_up_by_an_outside_transaction_is_passed_over(
    bot_env: dict[str, str], own_anvil: tuple[Anvil, AsyncWeb3, Collection]
):
    node, _, collection = own_anvil  # this test stops mining
    if True:
        env = pool_env(bot_env, RPC_URL=node.url, CONTRACT_ADDRESS=collection.address)
        async with open_runtime(load_settings(env), start=False) as runtime:
            lanes = lanes_of(runtime, "solo")
            await lanes.start()
            assert (await lanes.pick(None)) is not None
            # From outside, the second key sends a transaction that waits in the pool: it
            # holds the nonce the lane would use next.
            w3 = runtime.chain.w3
            await rpc(w3, "evm_setAutomine", False)
            outside = Account.from_key(POOL[1])
            nonce = await w3.eth.get_transaction_count(SECOND, "pending")
            tx = outside.sign_transaction(
                {"type": 2, "chainId": 31337, "nonce": nonce, "to": SECOND, "value": 0,
                 "gas": 21_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
            )  # fmt: skip
            await w3.eth.send_raw_transaction(tx.raw_transaction)
            await lanes.beat()
            assert "from outside holds nonce" in (lanes.describe()[SECOND]["stuck"] or "")
            for _ in range(3):  # every batch goes to the other lane, whatever its load
                picked = await lanes.pick(None)
                assert picked is not None and picked.wallet.address != SECOND
            await rpc(w3, "evm_mine")  # the outside transaction is mined: the lane moves
            await lanes.beat()
            assert lanes.describe()[SECOND]["stuck"] is None
            await lanes.close()


async def test_a_pool_spreads_batches_over_its_keys_and_the_audit_names_each(
    bot_env: dict[str, str],
):
    settings = load_settings(pool_env(bot_env))
    async with running(settings) as (runtime, inbox):
        admin = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
        said: list[str] = []
        assert await grant_pool(runtime, admin, FEES, said.append) == 1
        assert await grant_pool(runtime, admin, FEES, said.append) == 0  # a re-run: none
        subs = [submission(str(900 + n)) for n in range(8)]
        for sub in subs:  # one at a time: each batch is a transaction of its own
            handle = await runtime.service.submit(sub)
            assert (await answered(runtime, inbox, sub.key, timeout=60)).minted
            await replied(runtime, handle.request_id)
        async with runtime.sessions() as session:
            wallets = set(await session.scalars(select(ChainTx.wallet)))
            audited = set(await session.scalars(select(SigningAudit.wallet)))
            phases = set(await session.scalars(select(MintRequest.phase)))
        status = runtime.service.lanes.describe()  # alone, this process holds both lanes
        assert all(lane["owned"] and lane["stuck"] is None for lane in status.values())
    assert wallets == audited == {runtime.chain.wallet.address, SECOND}
    assert phases == {Phase.REPLIED}


async def test_pipeline_processes_prepare_each_group_once_and_take_over_a_dead_ones(
    observer: Runtime,
):
    service = observer.service
    for n in range(5):
        await service.submit(submission(str(950 + n)))

    def process() -> Preparer:  # the preparing stage of one more pipeline process
        return Preparer(
            observer.sessions,
            service.chain,
            UploadVault(observer.sessions),
            ContentWorkers(observer.content.directory, ImageLimits(10**7, 10**7, 10, 5), 1),
            Progress(),
            shared=True,
        )

    first, second = process(), process()
    _, group, uploads = await first._choose()
    assert len(group) == 5 and set(uploads) == {r.id for r in group}
    _, other, _ = await second._choose()
    assert other == []  # claimed: the second process prepares something else, or nothing
    async with observer.sessions.begin() as session:  # the first process died long ago
        await session.execute(update(MintRequest).values(prepare_claimed_until=utcnow()))
    _, taken, _ = await second._choose()
    assert [r.id for r in taken] == [r.id for r in group]


async def test_the_low_balance_alert_names_each_key_of_the_pool(observer: Runtime):
    heard: list[str] = []

    async def tell(text: str) -> None:
        heard.append(text)

    platforms = RunningPlatforms()
    platforms.add(AdminChannel("discord", tell))  # type: ignore[arg-type]
    alerts = BalanceAlerts(observer.service, platforms, low_wei=10**30, turns=observer.turns)
    assert await alerts.check()
    (said,) = heard
    assert f"Send funds to {observer.chain.wallet.address}" in said and f" {SECOND} has " in said
