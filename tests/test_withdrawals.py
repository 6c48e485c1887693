"""Withdrawals (bot/withdrawals.py): custodial tokens move to the owner's verified address,
once per token however the command is repeated, and never to an unproven address."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from eth_account import Account
from sqlalchemy import select, update

from bot.chain.contract import Collection
from bot.chain.fees import current_fees
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.env_values import Secret
from bot.errors import NotAllowed, RequestRejected
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.minting.types import short_token_id
from bot.runtime import Runtime
from bot.withdrawals import WITHDRAW_EDITION_GAS
from db.models import (
    ChainTx,
    MintRequest,
    SigningAudit,
    Standard,
    TxStatus,
    WithdrawalStatus,
)
from tests.rpc_proxy import RpcProxy
from tests.support import (
    COLLECTOR,
    DEV_MINTER,
    Inbox,
    answered,
    balance,
    poll_until,
    running,
    sign_message,
    submission,
)
from tests.token_kinds import (
    Club,
    club_contracts,
    edition_drop,
    live_collection,
    mint_editions,
)

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


# ----- tokens in a community's own contracts ---------------------------------------------


async def test_editions_and_a_clone_token_leave_custody_on_their_own_contracts(
    bot_env: dict[str, str], collection: Collection
):
    from bot.config import load_settings
    from tests.support import running

    hot = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    club = await club_contracts(collection.w3, HotWallet(Secret(ANVIL_DEV_KEYS[2])), hot.address)
    # Ada claimed editions 1 and 2 of an artwork, Bob edition 3: all in custody (the hot
    # wallet), minted before the bot starts so its nonces are its own.
    art = int.from_bytes(hashlib.sha256(b"sunrise").digest(), "big")
    custody = hot.address
    await mint_editions(club.editions, hot, art, {1: custody, 2: custody, 3: custody})
    async with running(load_settings(bot_env)) as (runtime, inbox):
        await edition_drop(
            runtime.sessions,
            platform="test",
            community_id="g",
            editions=club.editions.address,
            token_id=art,
            claims=[("u1", "Ada", custody, True)] * 2 + [("u2", "Bob", custody, True)],
        )
        async with runtime.sessions.begin() as session:
            session.add(live_collection("test", "g", Standard.ERC721, club.collection.address))
        # A mint from the community goes to its own collection (the pipeline fixes that).
        await runtime.service.submit(submission("451", community_id="g"))
        mine = await answered(runtime, inbox, "test:chat:451")
        assert mine.minted and mine.custodial and mine.token_id is not None
        assert mine.contract == club.collection.address
        assert await club.collection.owner_of(mine.token_id) == custody
        await link_verified(runtime)

        # /mynfts shows each edition apart, and the ID that names it alone.
        listed, total = await runtime.service.requests_of(*USER, minted_only=True)
        editions = sorted(r.edition for r in listed if r.edition is not None)
        assert total == 3 and editions == [1, 2]
        second = next(r for r in listed if r.edition == 2)
        assert second.token_ref == f"{short_token_id(art)}#2"
        assert second.token_label == f"{short_token_id(art)} edition #2"
        assert second.contract == club.editions.address and second.token_id == art

        # One edition by its number: one ERC-1155 transfer of 1, on the editions contract.
        asked = await runtime.withdrawals.withdraw("test:chat:e2", *USER, second.token_ref)
        assert [(v.token_id, v.edition, v.short_id) for v in asked] == [(art, 2, second.token_ref)]
        done = await runtime.withdrawals.wait("test:chat:e2", timeout=30)
        assert [v.status for v in done] == [WithdrawalStatus.CONFIRMED], done
        assert await club.editions.balance_of(COLLECTOR.address, art) == 1
        assert await club.editions.balance_of(custody, art) == 2

        # Everything else of Ada's: her last edition and her token in the club's collection;
        # Bob's edition stays.
        rest = await runtime.withdrawals.withdraw("test:chat:all", *USER)
        assert sorted((v.token_id, v.edition) for v in rest) == sorted(
            [(art, 1), (mine.token_id, None)]
        )
        done = await runtime.withdrawals.wait("test:chat:all", timeout=30)
        assert {v.status for v in done} == {WithdrawalStatus.CONFIRMED}, done
        assert await club.editions.balance_of(COLLECTOR.address, art) == 2
        assert await club.editions.balance_of(custody, art) == 1
        assert await club.collection.owner_of(mine.token_id) == COLLECTOR.address
        with pytest.raises(RequestRejected, match="no tokens in custody"):
            await runtime.withdrawals.withdraw("test:chat:again", *USER)

        async with runtime.sessions() as session:
            transfers = list(
                await session.scalars(
                    select(ChainTx).where(ChainTx.kind == "withdraw").order_by(ChainTx.id)
                )
            )
    first, *others = [t.to_address for t in transfers]
    assert first == club.editions.address
    assert sorted(others) == sorted([club.editions.address, club.collection.address])
    edition_gas = [t.gas_used for t in transfers if t.to_address == club.editions.address]
    print(f"safeTransferFrom of 1 edition out of custody: {edition_gas} gas")
    # The limit leaves at least half again what the transfer takes.
    assert all(g is not None and g * 3 // 2 <= WITHDRAW_EDITION_GAS for g in edition_gas)


async def two_editions_in_custody(
    collection: Collection, hot: HotWallet, artwork: bytes
) -> tuple[Club, int]:
    """A club's editions contract with editions 1 and 2 of `artwork` minted to custody."""
    club = await club_contracts(collection.w3, HotWallet(Secret(ANVIL_DEV_KEYS[2])), hot.address)
    art = int.from_bytes(hashlib.sha256(artwork).digest(), "big")
    await mint_editions(club.editions, hot, art, {1: hot.address, 2: hot.address})
    return club, art


async def claimed_by_ada(runtime: Runtime, club: Club, art: int, hot: HotWallet) -> None:
    """Both editions recorded as Ada's claims, held for her; her wallet linked and verified."""
    await edition_drop(
        runtime.sessions,
        platform="test",
        community_id="g",
        editions=club.editions.address,
        token_id=art,
        claims=[("u1", "Ada", hot.address, True), ("u1", "Ada", hot.address, True)],
    )
    await link_verified(runtime)


async def test_several_editions_of_one_artwork_go_together_unless_one_is_named(
    bot_env: dict[str, str], collection: Collection
):
    from bot.config import load_settings
    from tests.support import running

    hot = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    club, art = await two_editions_in_custody(collection, hot, b"dusk")
    async with running(load_settings(bot_env)) as (runtime, _):
        await claimed_by_ada(runtime, club, art, hot)
        with pytest.raises(RequestRejected, match="None of your tokens"):
            await runtime.withdrawals.withdraw("test:chat:x", *USER, f"{short_token_id(art)}#3")
        # The artwork's ID alone: the member's whole balance of it, one transfer per edition.
        both = await runtime.withdrawals.withdraw("test:chat:y", *USER, short_token_id(art))
        assert sorted(v.edition or 0 for v in both) == [1, 2]
        done = await runtime.withdrawals.wait("test:chat:y", timeout=30)
        assert {v.status for v in done} == {WithdrawalStatus.CONFIRMED}, done
    assert await club.editions.balance_of(COLLECTOR.address, art) == 2
    assert await club.editions.balance_of(hot.address, art) == 0


async def test_a_transfer_mined_unseen_is_delivered_not_failed(
    bot_env: dict[str, str], proxy: RpcProxy
) -> None:
    """A node that shows no receipt for a mined transfer makes its nonce look taken by another:
    the transfer is signed again, and that repeat reverts (the token moved). The chain's owner
    of the token decides: delivered, not failed."""
    async with running(load_settings({**bot_env, "RPC_URL": proxy.url})) as (runtime, inbox):
        (token,) = await mint_to_custody(runtime, inbox, "481")
        await link_verified(runtime)
        proxy.mode = "hide_receipts"
        await runtime.withdrawals.withdraw("test:chat:w9", *USER, short_token_id(token))

        async def dropped() -> bool:
            async with runtime.sessions() as session:
                statuses = await session.scalars(
                    select(ChainTx.status).where(ChainTx.kind == "withdraw")
                )
                return TxStatus.DROPPED in set(statuses)

        async with asyncio.timeout(30):
            while not await dropped():
                await asyncio.sleep(0.05)
        proxy.mode = "pass"
        done = await runtime.withdrawals.wait("test:chat:w9", timeout=30)
        owner = await runtime.withdrawals.chain.erc721(None).owner_of(token)
    assert owner == COLLECTOR.address
    assert [v.status for v in done] == [WithdrawalStatus.CONFIRMED]


async def test_an_edition_whose_receipt_comes_late_moves_once(
    bot_env: dict[str, str], collection: Collection, proxy: RpcProxy
) -> None:
    """The node shows the transfer's block (the custody's nonce used) before its receipt. An
    edition's repeat would not revert (the custody holds another), so the engine waits for the
    receipt instead of signing the transfer again: one edition moves, once."""
    hot = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    club, art = await two_editions_in_custody(collection, hot, b"late receipt")
    async with running(load_settings({**bot_env, "RPC_URL": proxy.url})) as (runtime, _):
        engine = runtime.withdrawals.txs
        engine.used_nonces.settle_s = 600.0  # the receipt shows well within this
        await claimed_by_ada(runtime, club, art, hot)
        proxy.mode = "hide_receipts"
        await runtime.withdrawals.withdraw("test:chat:late", *USER, f"{short_token_id(art)}#2")
        await poll_until(lambda: engine.used_nonces.waiting > 0, 30, lambda: "no nonce looked used")
        proxy.mode = "pass"
        done = await runtime.withdrawals.wait("test:chat:late", timeout=30)
        assert [v.status for v in done] == [WithdrawalStatus.CONFIRMED], done
        async with runtime.sessions() as session:
            statuses = list(await session.scalars(select(ChainTx.status)))
        assert TxStatus.DROPPED not in statuses
    assert await club.editions.balance_of(COLLECTOR.address, art) == 1
    assert await club.editions.balance_of(hot.address, art) == 1
