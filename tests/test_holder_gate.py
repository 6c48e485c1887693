"""Holdings read from the chain (bot/chain/holdings.py) and the holder gate
(bot/drops/gates/holder.py): balances as the contracts report them, cached briefly, bounded in
time; a drop only members holding enough (on their verified wallet or in custody) may claim."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.contract import Collection
from bot.chain.holdings import ChainHoldings, HoldingsUnavailable, web3_eth_call
from bot.chain.wallet import HotWallet
from bot.drops.allowlists import Allowlists
from bot.drops.gates import load_gates, store_gates
from bot.drops.gates.holder import HolderGate
from bot.errors import DropLimitReached, NotAllowed, RequestRejected
from bot.holders.options import holder_gate
from bot.ports import Claimant
from bot.runtime import Runtime
from tests.platform_stub import RecordingPlatform
from tests.support import COLLECTOR, FEES, Inbox, answered, png, sign_message, submission
from tests.token_kinds import club_contracts, mint_editions

HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil dev account 3
OTHER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil dev account 4


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_balances_are_the_contracts_own_and_cached_for_a_few_seconds(
    w3: AsyncWeb3, collection: Collection, minter: HotWallet
) -> None:
    clock = Clock()
    holdings = ChainHoldings(web3_eth_call(w3), cache_s=5, timeout=10, clock=clock)
    for token in (1, 2):
        await collection.mint(minter, HOLDER, token, FEES)
    assert await holdings.held(collection.address, HOLDER) == 2
    assert await holdings.held(collection.address.lower(), OTHER) == 0
    assert holdings.calls == 2

    await collection.mint(minter, HOLDER, 3, FEES)
    clock.now += 4  # still within the cache's life: no call, the balance it read
    assert await holdings.held(collection.address, HOLDER.lower()) == 2
    assert holdings.calls == 2
    clock.now += 2
    assert await holdings.held(collection.address, HOLDER) == 3
    assert holdings.calls == 3
    # Past the cache, when a transfer was seen: the chain's word now.
    await collection.mint(minter, HOLDER, 4, FEES)
    assert await holdings.fresh(collection.address, HOLDER) == 4


async def test_an_erc1155_balance_is_of_one_token(w3: AsyncWeb3, minter: HotWallet) -> None:
    club = await club_contracts(w3, minter, minter.address)
    await mint_editions(club.editions, minter, 77, {1: HOLDER, 2: HOLDER, 3: OTHER})
    holdings = ChainHoldings(web3_eth_call(w3), cache_s=5, timeout=10)
    assert await holdings.held(club.editions.address, HOLDER, 77) == 2
    assert await holdings.held(club.editions.address, OTHER, 77) == 1
    assert await holdings.held(club.editions.address, HOLDER, 78) == 0


async def test_no_answer_in_time_or_no_number_is_a_clear_failure(w3: AsyncWeb3) -> None:
    async def hangs(to: str, data: bytes) -> Any:
        await asyncio.Event().wait()

    with pytest.raises(HoldingsUnavailable, match="no balance from the chain in 0.05 s"):
        await ChainHoldings(hangs, cache_s=5, timeout=0.05).held(OTHER, HOLDER)
    # An address without code answers balanceOf with nothing at all.
    with pytest.raises(HoldingsUnavailable, match="answered balanceOf with no number"):
        await ChainHoldings(web3_eth_call(w3), cache_s=5, timeout=10).held(OTHER, HOLDER)


def test_a_holder_gate_is_stored_and_read_back_and_refuses_bad_parameters() -> None:
    gate = HolderGate(OTHER.lower(), 2**255 + 7, 3)
    (back,) = load_gates(store_gates([gate]))
    assert back == gate
    assert back.describe() == f"holders of at least 3 of {OTHER.lower()} #{2**255 + 7}"
    for params, problem in [
        ({"contract": "0x12"}, "not a contract address"),
        ({"contract": OTHER, "min": 0}, "between 1 and"),
        ({"contract": OTHER, "token_id": "x"}, "not a token ID"),
    ]:
        (unknown,) = load_gates([{"kind": "holder", "params": params}])
        assert unknown.kind == "unknown" and problem in unknown.describe()


@pytest.mark.db
async def test_a_holder_drop_counts_the_verified_wallet_and_custody(
    bot: tuple[Runtime, Inbox], collection: Collection, minter: HotWallet
) -> None:
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("test", inbox))
    drop = await runtime.drops.create_drop(
        platform="test",
        community_id="g",
        created_by="admin",
        name="Holders",
        image=png(21),
        per_user_limit=5,
        gates=[HolderGate(collection.address.lower(), None, 2)],
    )

    async def claim(user: str) -> int:
        return (await runtime.drops.claim(drop.id, Claimant("test", user), user)).n

    with pytest.raises(NotAllowed, match="link and verify your wallet"):
        await claim("u1")
    # One token in custody (a chat mint of theirs), one on the wallet they prove is theirs.
    await runtime.service.submit(submission("501"))
    assert (await answered(runtime, inbox, "test:chat:501")).custodial
    with pytest.raises(NotAllowed, match="at least 2 of"):
        await claim("u1")
    await collection.mint(minter, COLLECTOR.address, 9, FEES)
    challenge = await runtime.wallets.challenge("test", "u1", COLLECTOR.address)
    await runtime.wallets.verify("test", "u1", "Ada", sign_message(challenge.message))
    assert await claim("u1") == 1
    # Another member's custody is not theirs, nor is an empty wallet enough.
    empty = Account.create()
    challenge = await runtime.wallets.challenge("test", "u2", empty.address)
    await runtime.wallets.verify("test", "u2", "Max", sign_message(challenge.message, empty))
    with pytest.raises(NotAllowed, match=r"you hold 0 \(0 in your wallet, 0 in custody\)"):
        await claim("u2")


@pytest.mark.db
async def test_the_commands_name_the_collection_as_ours_or_by_address(
    bot: tuple[Runtime, Inbox],
) -> None:
    runtime, _ = bot

    async def gate(of: str, token_id: str | None = None, minimum: int = 1) -> HolderGate:
        return await holder_gate(
            runtime.collections, runtime.collection.address, "test", "g",
            of=of, token_id=token_id, minimum=minimum,
        )  # fmt: skip

    # A community without a collection of its own: ours is the shared collection.
    assert await gate("ours", minimum=2) == HolderGate(runtime.collection.address.lower(), None, 2)
    assert await gate(f" {OTHER} ", "0x10") == HolderGate(OTHER.lower(), 16, 1)
    with pytest.raises(RequestRejected, match="no editions contract here yet"):
        await gate("ours", "5")
    with pytest.raises(RequestRejected, match="'0x12' is not a contract address"):
        await gate("0x12")
    with pytest.raises(RequestRejected, match="'five' is not a token ID"):
        await gate(OTHER, "five")


async def test_an_allowlist_and_a_holder_gate_together_ask_for_both(
    bot: tuple[Runtime, Inbox], collection: Collection, minter: HotWallet
) -> None:
    """Every gate of a drop must let a claimant in: on the list AND holding. The list's
    allowance sets how many a member may claim; the holder gate does not change it."""
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("discord", inbox))
    listed_holder, listed_empty, unlisted_holder = (Account.create() for _ in range(3))
    drop, _ = await Allowlists(runtime.sessions).create_drop(
        runtime.drops,
        allowlist=b"discord:1,2\ndiscord:2,2\n",
        created_by="admin",
        platform="discord",
        community_id="g1",
        name="Both",
        image=png(23),
        supply=10,
        gates=[HolderGate(collection.address.lower(), None, 1)],
    )
    assert [g.kind for g in drop.gates] == ["holder", "allowlist"]
    for user, account in (("1", listed_holder), ("2", listed_empty), ("3", unlisted_holder)):
        challenge = await runtime.wallets.challenge("discord", user, account.address)
        await runtime.wallets.verify(
            "discord", user, user, sign_message(challenge.message, account)
        )
    await collection.mint(minter, listed_holder.address, 31, FEES)
    await collection.mint(minter, unlisted_holder.address, 32, FEES)

    async def claim(user: str) -> int:
        return (await runtime.drops.claim(drop.id, Claimant("discord", user), user)).n

    assert [await claim("1"), await claim("1")] == [1, 2]  # listed, holding: its allowance
    with pytest.raises(DropLimitReached, match="you may claim 2"):
        await claim("1")
    with pytest.raises(NotAllowed, match=r"is for holders of .*; you hold 0"):
        await claim("2")  # listed, holding nothing
    with pytest.raises(NotAllowed, match="not on it"):
        await claim("3")  # holding, not listed
    assert (await runtime.drops.info(drop.id)).claimed == 2
