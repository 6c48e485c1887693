"""Withdrawals (bot/withdrawals.py): custodial tokens move to the owner's verified address,
once per token however the command is repeated, and never to an unproven address."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from sqlalchemy import select, update

from bot.app import Runtime
from bot.chain.contract import Collection
from bot.chain.fees import current_fees
from bot.chain.wallet import HotWallet
from bot.config import ANVIL_DEV_KEYS
from bot.env_values import Secret
from bot.errors import NotAllowed, RequestRejected
from bot.minting.types import short_token_id
from db.models import ChainTx, MintRequest, SigningAudit, WithdrawalStatus
from tests.support import COLLECTOR, DEV_MINTER, Inbox, answered, balance, sign_message, submission

pytestmark = pytest.mark.db

USER = ("test", "u1")


async def mint_to_custody(runtime: Runtime, inbox: Inbox, *message_ids: str) -> list[int]:
    tokens = []
    for message_id in message_ids:
        await runtime.service.submit(submission(message_id))
    for message_id in message_ids:
        result = await answered(runtime, inbox, f"test:chat:{message_id}")
        assert result.minted and result.custodial
        assert result.token_id is not None
        tokens.append(result.token_id)
    return tokens


async def link_verified(runtime: Runtime) -> None:
    challenge = await runtime.wallets.challenge(*USER, COLLECTOR.address)
    await runtime.wallets.verify(*USER, "Ada", sign_message(challenge.message))


async def test_one_token_moves_to_the_verified_address_once(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    first, second = await mint_to_custody(runtime, inbox, "401", "402")
    await link_verified(runtime)

    asked = await runtime.withdrawals.withdraw("test:chat:w1", *USER, short_token_id(first))
    assert [v.token_id for v in asked] == [first]
    # The same command delivered again, at once and later: the same withdrawal.
    again, twice = await asyncio.gather(
        runtime.withdrawals.withdraw("test:chat:w1", *USER, short_token_id(first)),
        runtime.withdrawals.withdraw("test:chat:w1", *USER, short_token_id(first)),
    )
    assert [v.token_id for v in again] == [v.token_id for v in twice] == [first]

    done = await runtime.withdrawals.wait("test:chat:w1", timeout=30)
    assert [v.status for v in done] == [WithdrawalStatus.CONFIRMED]
    assert done[0].tx_url and done[0].tx_hash and done[0].tx_hash in done[0].tx_url
    assert await collection.owner_of(first) == COLLECTOR.address
    assert await collection.owner_of(second) == DEV_MINTER.address  # the other stays

    # Another command for the same token: nothing left to move.
    with pytest.raises(RequestRejected, match="None of your tokens in custody"):
        await runtime.withdrawals.withdraw("test:chat:w2", *USER, short_token_id(first))
    results, _ = await runtime.service.requests_of(*USER, minted_only=True)
    by_token = {r.token_id: r for r in results}
    assert not by_token[first].custodial and by_token[first].recipient == COLLECTOR.address
    assert by_token[second].custodial

    async with runtime.sessions() as session:
        transfers = list(await session.scalars(select(ChainTx).where(ChainTx.kind == "withdraw")))
        audit = list(
            await session.scalars(select(SigningAudit).where(SigningAudit.reason == "withdraw"))
        )
    assert len(transfers) == 1 and transfers[0].gas_used is not None
    assert len(audit) == 1 and audit[0].requesters == "test:u1"
    assert "test:chat:w1" in audit[0].request_keys


async def test_all_tokens_move_and_a_double_click_moves_nothing_twice(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    tokens = await mint_to_custody(runtime, inbox, "411", "412", "413")
    await link_verified(runtime)

    # Two clicks of "withdraw all": two commands racing for the same tokens.
    outcomes = await asyncio.gather(
        runtime.withdrawals.withdraw("test:chat:a", *USER),
        runtime.withdrawals.withdraw("test:chat:b", *USER),
        return_exceptions=True,
    )
    moved = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if isinstance(o, RequestRejected)]
    assert len(moved) == 1 and len(refused) == 1, outcomes
    assert sorted(v.token_id for v in moved[0]) == sorted(tokens)
    assert "already on" in str(refused[0])

    asked_key = "test:chat:a" if outcomes[0] is moved[0] else "test:chat:b"
    done = await runtime.withdrawals.wait(asked_key, timeout=30)
    assert {v.status for v in done} == {WithdrawalStatus.CONFIRMED}
    assert await balance(collection, COLLECTOR.address) == 3
    assert await balance(collection, DEV_MINTER.address) == 0


async def test_a_withdrawal_to_an_unverified_address_is_refused(
    bot_env: dict[str, str], collection: Collection
):
    from bot.config import load_settings
    from tests.support import running

    settings = load_settings({**bot_env, "ALLOW_UNVERIFIED_WALLETS": "true"})
    async with running(settings) as (runtime, inbox):
        [token] = await mint_to_custody(runtime, inbox, "421")
        with pytest.raises(NotAllowed, match="proved is yours"):
            await runtime.withdrawals.withdraw("test:chat:w", *USER)  # nothing linked
        await runtime.wallets.set_unverified(*USER, "Ada", COLLECTOR.address)
        with pytest.raises(NotAllowed, match="proved is yours"):
            await runtime.withdrawals.withdraw("test:chat:w", *USER)
        assert await runtime.withdrawals.views("test:chat:w") == []
    assert await collection.owner_of(token) == DEV_MINTER.address


async def test_unknown_token_ids_and_an_empty_custody_are_refused(bot: tuple[Runtime, Inbox]):
    runtime, inbox = bot
    await mint_to_custody(runtime, inbox, "431")
    await link_verified(runtime)
    with pytest.raises(RequestRejected, match="None of your tokens"):
        await runtime.withdrawals.withdraw("test:chat:y", *USER, "zz<b>")
    assert await runtime.withdrawals.views("test:chat:y") == []

    await runtime.withdrawals.withdraw("test:chat:x", *USER)
    await runtime.withdrawals.wait("test:chat:x", timeout=30)
    with pytest.raises(RequestRejected, match="no tokens in custody"):
        await runtime.withdrawals.withdraw("test:chat:z", *USER)


async def test_a_token_whose_holder_never_approved_stays_and_the_rest_go(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    stuck, free = await mint_to_custody(runtime, inbox, "441", "442")
    # `stuck` sits at an address that never approved the hot wallet (say, a custody address
    # of long ago), and the records say so.
    elsewhere = Account.create().address
    await collection.transact(
        HotWallet(Secret(ANVIL_DEV_KEYS[0])),
        "transferFrom",
        DEV_MINTER.address,
        elsewhere,
        stuck,
        fees=await current_fees(collection.w3, 10**9, 100 * 10**9),
    )
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(MintRequest)
            .where(MintRequest.token_id == f"0x{stuck:064x}")
            .values(recipient=elsewhere)
        )
    await link_verified(runtime)

    asked = await runtime.withdrawals.withdraw("test:chat:s", *USER)
    assert [v.token_id for v in asked] == [free]
    done = await runtime.withdrawals.wait("test:chat:s", timeout=30)
    assert [v.status for v in done] == [WithdrawalStatus.CONFIRMED]
    assert await collection.owner_of(free) == COLLECTOR.address
    assert await collection.owner_of(stuck) == elsewhere
    with pytest.raises(NotAllowed, match="has not approved"):
        await runtime.withdrawals.withdraw("test:chat:t", *USER, short_token_id(stuck))
