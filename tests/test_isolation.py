"""One member's input fails only that member's request: limits decided atomically, addresses
nothing may be minted to refused, batches that would revert split to find the culprit, a
failed request asked again, answers that cannot be delivered given up (bounded)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.airdrop import read_rows
from bot.app import open_runtime
from bot.chain.contract import MINTER_ROLE, Collection
from bot.chain.tx_engine import AuditInfo, SpendCapReached
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.errors import RateLimited, RequestRejected
from bot.minting.intake import Intake, RateLimits
from bot.minting.recipients import ZERO_ADDRESS
from bot.minting.types import MintResult
from bot.runtime import Runtime
from db.engine import create_db_engine, session_factory
from db.models import MintRequest, Phase
from tests.rpc_proxy import RpcProxy
from tests.support import (
    DEV_ADMIN,
    FEES,
    Answering,
    Inbox,
    answered,
    png,
    poll_until,
    replied,
    run_cli,
    running,
    submission,
)

pytestmark = pytest.mark.db


def row_for(message_id: str, requester: str = "u1") -> dict[str, object]:
    """A chat request's row as the service records it (the columns rate limits read)."""
    return {
        "platform": "test",
        "chat_id": "chat",
        "message_id": message_id,
        "fingerprint": message_id,
        "requester_id": requester,
        "requester_name": "Ada",
        "community_id": "guild",
        "name": "Art",
        "description": "",
        "upload_digest": "0" * 64,
        "phase": Phase.REJECTED,  # nothing to prepare: this test is about recording
        "failure_reason": "test",
    }


async def test_thirty_concurrent_requests_over_three_processes_record_exactly_the_limit(
    bot: tuple[Runtime, Inbox], database_url: str
):
    """Three recorders with connections of their own, as three processes have: 30 requests
    from one member at once, with a limit of 5 a minute, record exactly 5."""
    engines = [create_db_engine(database_url) for _ in range(3)]
    try:
        intakes = [Intake(session_factory(e), RateLimits(member_per_minute=5)) for e in engines]
        outcomes = await asyncio.gather(
            *(intakes[i % 3].record(row_for(f"rl-{i}"), None) for i in range(30)),
            return_exceptions=True,
        )
        limited = [o for o in outcomes if isinstance(o, RateLimited)]
        assert len(limited) == 25, outcomes
        assert all(1 <= o.retry_after <= 60 for o in limited)
        other = await intakes[0].record(row_for("rl-other", requester="u2"), None)
        assert not other.duplicate  # another member is not held up
        async with session_factory(engines[0])() as session:
            recorded = await session.scalar(
                select(func.count()).where(MintRequest.requester_id == "u1")
            )
        assert recorded == 5
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_community_limit_holds_under_concurrency_too(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    intake = Intake(runtime.sessions, RateLimits(community_per_minute=7))
    outcomes = await asyncio.gather(
        *(intake.record(row_for(f"cl-{i}", requester=f"m{i}"), None) for i in range(20)),
        return_exceptions=True,
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 7
    assert sum(isinstance(o, RateLimited) for o in outcomes) == 13


@pytest.fixture
def unverified_env(bot_env: dict[str, str]) -> dict[str, str]:
    return {**bot_env, "ALLOW_UNVERIFIED_WALLETS": "true"}


async def test_addresses_nothing_may_be_minted_to_are_refused_with_the_reason(
    unverified_env: dict[str, str], collection: Collection
):
    async with running(load_settings(unverified_env)) as (runtime, inbox):
        cases = {
            "500": (ZERO_ADDRESS, "zero address"),
            "501": (collection.address, "collection contract's own address"),
            "502": (collection.address.lower(), "collection contract's own address"),
        }
        for message_id, (address, _) in cases.items():
            await runtime.service.submit(submission(message_id, recipient=address))
        good = submission("503")
        await runtime.service.submit(good)
        for message_id, (_, why) in cases.items():
            result = await answered(runtime, inbox, f"test:chat:{message_id}")
            assert result.phase == Phase.REJECTED and why in (result.failure_reason or "")
        assert (await answered(runtime, inbox, good.key)).minted
        for address, why in cases.values():
            with pytest.raises(RequestRejected, match=why):
                await runtime.wallets.set_unverified("test", "u1", "Ada", address)
    rows, bad = read_rows(f"{ZERO_ADDRESS}\n{collection.address}\n", collection=collection.address)
    assert rows == [] and [b.line for b in bad] == [1, 2]


async def queue_old_row(runtime: Runtime, message_id: str, recipient: str) -> None:
    """A request queued before addresses were checked (or by a bug): its recipient is one the
    contract refuses. Only the batch's simulation can still catch it."""
    async with runtime.sessions.begin() as session:
        session.add(
            MintRequest(
                platform="test",
                chat_id="chat",
                message_id=message_id,
                fingerprint="old",
                requester_id="u9",
                name="Old",
                upload_digest="0" * 64,
                phase=Phase.QUEUED,
                token_id="0x" + os.urandom(32).hex(),
                recipient=recipient,
            )
        )
    runtime.service.batch_queued_by_others()


async def test_a_batch_that_would_revert_fails_only_its_culprit(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    good = [submission(str(600 + i)) for i in range(4)]
    for s in good[:2]:
        await runtime.service.submit(s)
    await queue_old_row(runtime, "old-1", ZERO_ADDRESS)
    for s in good[2:]:
        await runtime.service.submit(s)
    bad = await answered(runtime, inbox, "test:chat:old-1")
    assert bad.phase == Phase.FAILED and "TransferToZeroAddress" in (bad.failure_reason or "")
    for s in good:
        result = await answered(runtime, inbox, s.key)
        assert result.minted and await collection.exists(result.token_id or 0)
    assert not await collection.exists(bad.token_id or 0)


async def test_a_batch_that_reverts_on_chain_is_split_until_the_culprit_is_alone(
    bot_env: dict[str, str], proxy: RpcProxy, collection: Collection
):
    """The simulation misses it (the proxy says every simulation passes): the batch reverts
    on chain, its requests are queued again in ever smaller batches, the culprit ends failed
    after a bounded number of tries, and the others are minted once."""
    settings = load_settings({**bot_env, "RPC_URL": proxy.url})
    async with running(settings) as (runtime, inbox):
        proxy.mode = "simulations_pass"
        await queue_old_row(runtime, "old-2", ZERO_ADDRESS)
        good = [submission(str(700 + i)) for i in range(3)]
        for s in good:
            await runtime.service.submit(s)
        bad = await answered(runtime, inbox, "test:chat:old-2", timeout=90)
        assert bad.phase == Phase.FAILED and "reverted" in (bad.failure_reason or "")
        for s in good:
            result = await answered(runtime, inbox, s.key, timeout=60)
            assert result.minted and await collection.exists(result.token_id or 0)
        async with runtime.sessions() as session:
            attempts = await session.scalar(
                select(MintRequest.attempts).where(MintRequest.message_id == "old-2")
            )
        assert attempts == 9  # bounded: halved down to alone, then a last few tries


async def test_a_request_that_failed_for_good_may_be_asked_again_and_mints_once(
    bot: tuple[Runtime, Inbox], collection: Collection, minter: HotWallet, admin: HotWallet
):
    runtime, inbox = bot
    await collection.transact(admin, "revokeRole", MINTER_ROLE, minter.address, fees=FEES)
    asked = submission("800")
    await runtime.service.submit(asked)
    failed = await answered(runtime, inbox, asked.key)
    assert failed.phase == Phase.FAILED
    assert "AccessControlUnauthorizedAccount" in (failed.failure_reason or "")
    await collection.transact(admin, "grantRole", MINTER_ROLE, minter.address, fees=FEES)
    # The same message once more (the member clicks again once told it failed).
    assert await runtime.service.admit(("test", "chat", "800"), "c", _asker(), author_id="u1")
    handle = await runtime.service.submit(asked)
    assert handle.reopened and not handle.duplicate

    def minted() -> list[MintResult]:
        return [a for a in inbox.for_key(asked.key) if a.minted]

    await poll_until(lambda: minted(), 30, lambda: f"answers: {inbox.for_key(asked.key)}")
    assert minted()[0].token_id == failed.token_id  # derived from the key: the same token
    assert await collection.owner_of(failed.token_id or 0) == runtime.service.chain.custody_address
    # An edited message is still refused, and a minted one is not opened again.
    again = await runtime.service.submit(asked)
    assert again.duplicate and not again.reopened


def _asker():  # type: ignore[no-untyped-def]
    from bot.communities import Asker

    return Asker("u1", frozenset(), is_admin=False)


async def test_an_answer_that_cannot_be_delivered_ends_recorded_and_listed(
    bot_env: dict[str, str],
):
    settings = load_settings({**bot_env, "ANSWER_MAX_ATTEMPTS": "2"})
    async with running(settings) as (runtime, inbox):
        tries: list[str] = []

        async def gone(result: MintResult) -> None:
            tries.append(result.key)
            raise ConnectionError("the chat is gone")

        runtime.service.answer_through("gone", Answering(gone))
        await runtime.service.submit(submission("900", platform="gone"))
        good = submission("901")
        await runtime.service.submit(good)
        assert (await answered(runtime, inbox, good.key)).minted

        async def given_up() -> int:
            return (await runtime.service.undeliverable())[0]

        async with asyncio.timeout(30):
            while await given_up() != 1:
                await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # longer than the next back-off: no third try comes
        assert tries == ["gone:chat:900"] * 2
        _, listed = await runtime.service.undeliverable()
        assert listed[0].answer_error == "ConnectionError: the chat is gone"
    out = await asyncio.to_thread(run_cli, "status", env=bot_env)
    assert out.returncode == 0, out.output
    assert "answers given up as undeliverable: 1" in out.stdout
    assert "gone:chat:900" in out.stdout and "the chat is gone" in out.stdout


async def test_an_answer_slow_to_show_does_not_hold_up_the_ones_decided_after_it(
    bot_env: dict[str, str],
):
    """A chat at its flood limit can take long to show an answer: requests decided meanwhile
    are answered beside it, not after it."""
    async with running(load_settings(bot_env)) as (runtime, inbox):
        handed: list[str] = []
        release = asyncio.Event()

        async def slow(result: MintResult) -> None:
            handed.append(result.key)
            await release.wait()

        runtime.service.answer_through("slow", Answering(slow))
        handle = await runtime.service.submit(submission("920", platform="slow"))
        async with asyncio.timeout(60):
            while not handed:
                await asyncio.sleep(0.05)
        good = submission("921")
        await runtime.service.submit(good)
        assert (await answered(runtime, inbox, good.key, timeout=60)).minted
        release.set()
        await replied(runtime, handle.request_id)
        assert handed == ["slow:chat:920"]  # answered once


async def test_the_daily_spend_cap_is_decided_one_signer_at_a_time(bot_env: dict[str, str]):
    """Two transactions signed at once with room for one under the cap: one is refused."""
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        engine = runtime.txs
        await engine.reconcile()
        async with runtime.sessions() as session:
            spent = await engine.spent_today(session)
        one = 21_000 * FEES.max_fee_per_gas
        engine.max_spend_per_day = spent + one + one // 2

        async def sign() -> str:
            try:
                async with runtime.sessions.begin() as session:
                    await engine.create(
                        session,
                        kind="test",
                        to=DEV_ADMIN.address,
                        data=b"",
                        gas_limit=21_000,
                        fees=FEES,
                        audit=AuditInfo("test", [], []),
                    )
                    await asyncio.sleep(0.2)  # hold the transaction open: the other must wait
                return "signed"
            except SpendCapReached:
                return "refused"

        assert sorted(await asyncio.gather(sign(), sign())) == ["refused", "signed"]


@pytest.mark.slow
async def test_a_group_whose_preparation_keeps_failing_ends_and_the_rest_go_on(
    bot: tuple[Runtime, Inbox],
):
    """The content store breaks (its directory replaced by a file) while one request is
    being prepared: it is tried a bounded number of times, fails with a reason, and once the
    store is back, new requests mint."""
    runtime, inbox = bot
    store = Path(runtime.content.directory)
    moved = store.with_name("moved-away")
    store.rename(moved)  # noqa: ASYNC240 (a test's quick file moves)
    store.write_bytes(b"not a directory")  # noqa: ASYNC240
    try:
        broken = submission("950")
        await runtime.service.submit(broken)
        result = await answered(runtime, inbox, broken.key, timeout=60)
        assert result.phase == Phase.FAILED and "could not be processed" in (
            result.failure_reason or ""
        )
    finally:
        store.unlink()  # noqa: ASYNC240
        moved.rename(store)
    fine = submission("951", image=png(951))
    await runtime.service.submit(fine)
    assert (await answered(runtime, inbox, fine.key)).minted


@pytest.mark.parametrize("text", ["\x00", "a\ud800b"])
async def test_text_no_database_can_store_fails_only_its_own_request(
    bot: tuple[Runtime, Inbox], text: str
):
    """NUL (PostgreSQL refuses it) and a lone surrogate (no UTF-8 form) in a name, a
    description or a display name, recorded in the same group commit as a good request."""
    runtime, inbox = bot
    hostile = [
        submission("970", name=text),
        submission("971", description=text),
        submission("972", requester_name=text),
    ]
    good = submission("973")
    handles = await asyncio.gather(
        *(runtime.service.submit(s) for s in [*hostile, good]), return_exceptions=True
    )
    assert not any(isinstance(h, BaseException) for h in handles), handles
    for s in hostile[:2]:
        result = await answered(runtime, inbox, s.key)
        assert result.phase == Phase.REJECTED and "control characters" in (
            result.failure_reason or ""
        )
    assert (await answered(runtime, inbox, hostile[2].key)).minted  # the name is cleaned
    assert (await answered(runtime, inbox, good.key)).minted
