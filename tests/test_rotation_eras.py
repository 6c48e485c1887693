"""Key rotations over several eras (bot/rotation.py, bot/custody.py): a running bot stops
signing while a rotation holds its key and never signs with a rotated-out key; custodial tokens
of every era stay withdrawable after A -> B -> C; `--sweep` moves every custodial token to the
new address and withdrawals still work."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from bot.app import open_runtime
from bot.chain.contract import Collection
from bot.chain.wallet import HotWallet
from bot.config import Settings, load_settings
from bot.env_values import Secret
from bot.errors import ChainError
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.minting.types import short_token_id
from bot.rotation import KeyRotation
from bot.runtime import Runtime
from db.models import ChainTx, MintRequest, SigningAudit, Standard, WithdrawalStatus
from tests.support import (
    COLLECTOR,
    DEV_MINTER,
    answered,
    balance,
    poll_until,
    rpc,
    run_cli,
    running,
    submission,
)
from tests.test_withdrawals import USER, link_verified, mint_to_custody
from tests.token_kinds import club_contracts, edition_drop, live_collection, mint_editions

pytestmark = pytest.mark.db

ADMIN = HotWallet(Secret(ANVIL_DEV_KEYS[1]))


async def funded_key(collection: Collection) -> tuple[str, str]:
    """A new hot wallet's key and address, with gas money."""
    account = Account.create()
    await rpc(collection.w3, "anvil_setBalance", account.address, hex(10**20))
    return account.key.hex(), account.address


def era(bot_env: dict[str, str], key: str) -> Settings:
    return load_settings({**bot_env, "HOT_WALLET_PRIVATE_KEY": key})


async def rotate(settings: Settings, to: str, *, sweep: bool = False) -> list[str]:
    said: list[str] = []
    async with open_runtime(settings, start=False) as runtime:
        await KeyRotation(runtime, ADMIN, to, said.append, sweep=sweep).run()
    return said


async def signed_by(runtime: Runtime, key: str) -> list[str]:
    """The wallets that signed for a request (its mint), per the signing audit."""
    async with runtime.sessions() as session:
        audits = await session.scalars(
            select(SigningAudit.wallet).where(SigningAudit.request_keys.contains(key))
        )
        return list(audits)


async def withdraw_each(runtime: Runtime, tokens: list[int]) -> None:
    for n, token in enumerate(tokens):
        asked = f"test:chat:w{n}"
        await runtime.withdrawals.withdraw(asked, *USER, short_token_id(token))
        done = await runtime.withdrawals.wait(asked, timeout=30)
        assert [v.status for v in done] == [WithdrawalStatus.CONFIRMED], done


async def test_tokens_of_three_eras_are_withdrawn_after_two_rotations(
    bot_env: dict[str, str], collection: Collection, caplog: pytest.LogCaptureFixture
):
    key_b, b = await funded_key(collection)
    key_c, c = await funded_key(collection)
    a = DEV_MINTER.address
    settings_a, settings_b, settings_c = (
        era(bot_env, ANVIL_DEV_KEYS[0]),
        era(bot_env, key_b),
        era(bot_env, key_c),
    )
    caplog.set_level(logging.WARNING)

    async with running(settings_a) as (bot_a, inbox):
        era_a = await mint_to_custody(bot_a, inbox, "601", "602")
        # The rotation runs beside the bot (another process would do the same: the stop is
        # in the database). Once it has begun, the running bot signs nothing.
        async with open_runtime(settings_a, start=False) as beside:
            said: list[str] = []
            rotation = KeyRotation(beside, ADMIN, b, said.append)
            await rotation.begin()
            await bot_a.service.submit(submission("603"))
            await poll_until(
                lambda: "a key rotation from" in caplog.text, 30, lambda: caplog.text[-2000:]
            )
            assert f"signing with {a} is stopped" in caplog.text
            await rotation.run()
        # It waited unsigned with A's custody as recipient; it goes to B's custody instead.
        assert f"custody: 1 custodial request(s) not yet minted go to {b}" in said, said
        await poll_until(
            lambda: "it was rotated out" in caplog.text, 30, lambda: caplog.text[-2000:]
        )
        assert await signed_by(bot_a, "test:chat:603") == []  # waiting, unsigned
    assert await balance(collection, a) == 2

    async with running(settings_b) as (bot_b, inbox):
        # The request that waited through the rotation is minted with the new key.
        [a3] = await mint_to_custody(bot_b, inbox, "603")
        assert await signed_by(bot_b, "test:chat:603") == [b]
        era_b = await mint_to_custody(bot_b, inbox, "611", "612")
        said = await rotate(settings_b, c)
        # A's tokens (A approved B, but nothing can make A approve C) moved to C; B's stay
        # at B, which approves C.
        assert "custody: 2 token(s) now held by " + c in said, said
        assert any(s.startswith("custody: 3 token(s) in the old custody; the new") for s in said)

    async with running(settings_c) as (bot_c, inbox):
        era_c = await mint_to_custody(bot_c, inbox, "621")
        assert await balance(collection, c) == 3  # 601, 602 and 621
        assert await balance(collection, b) == 3  # 603, 611 and 612
        await link_verified(bot_c)
        await withdraw_each(bot_c, [era_a[0], era_b[0], era_c[0]])
        for token in (era_a[0], era_b[0], era_c[0]):
            assert await collection.owner_of(token) == COLLECTOR.address
        # And withdrawing the rest takes all of them, from both holders.
        await bot_c.withdrawals.withdraw("test:chat:all", *USER)
        done = await bot_c.withdrawals.wait("test:chat:all", timeout=30)
        assert {v.token_id for v in done} == {era_a[1], a3, era_b[1]}
        assert {v.status for v in done} == {WithdrawalStatus.CONFIRMED}
    assert await balance(collection, COLLECTOR.address) == 6

    # A rotation that a later one superseded cannot be run again.
    with pytest.raises(ChainError, match="rotated out to"):
        await rotate(settings_a, b)


async def test_a_sweep_moves_every_custodial_token_and_withdrawals_still_work(
    bot_env: dict[str, str], collection: Collection
):
    key_b, b = await funded_key(collection)
    a = DEV_MINTER.address
    async with running(era(bot_env, ANVIL_DEV_KEYS[0])) as (bot_a, inbox):
        tokens = await mint_to_custody(bot_a, inbox, "631", "632", "633")

    said = await rotate(era(bot_env, ANVIL_DEV_KEYS[0]), b, sweep=True)
    assert "custody: 3 token(s) now held by " + b in said, said
    assert await balance(collection, a) == 0  # the compromised key holds nothing
    assert await balance(collection, b) == 3
    assert not await collection.may_transfer_for(a, b)  # nothing was approved: nothing to
    # Run again: nothing moves twice.
    again = await rotate(era(bot_env, ANVIL_DEV_KEYS[0]), b, sweep=True)
    assert "custody: 0 token(s) to move to " + b + "; 0 transfer(s) signed" in again, again

    async with running(era(bot_env, key_b)) as (bot_b, inbox):
        async with bot_b.sessions() as session:
            holders = set(
                await session.scalars(
                    select(MintRequest.recipient).where(MintRequest.custodial.is_(True))
                )
            )
        assert holders == {b}
        await link_verified(bot_b)
        await withdraw_each(bot_b, tokens[:1])
        assert await collection.owner_of(tokens[0]) == COLLECTOR.address


async def test_a_sweep_cut_short_by_a_crash_finishes_when_run_again(
    bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    _, b = await funded_key(collection)
    async with running(era(bot_env, ANVIL_DEV_KEYS[0])) as (bot_a, inbox):
        tokens = await mint_to_custody(bot_a, inbox, "641", "642", "643")
    admin_key = tmp_path / "admin.key"
    admin_key.write_text(ANVIL_DEV_KEYS[1])
    rotate = ("wallet", "rotate", "--to", b, "--sweep", "--admin-key-file", str(admin_key))

    # Killed right after the first move went out: signed, committed and sent, not recorded.
    crashed = await asyncio.to_thread(
        run_cli, *rotate, env={**bot_env, "MINTBOT_CRASH_AT": "after_send"}
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.output
    assert "custody: 3 token(s) to move" not in crashed.stdout

    finished = await asyncio.to_thread(run_cli, *rotate, env=bot_env)
    assert finished.returncode == 0, finished.output
    assert "drain: 1 transaction(s) of the old key in flight" in finished.stdout
    assert f"custody: 2 token(s) to move to {b}; 2 transfer(s) signed" in finished.stdout
    for token in tokens:
        assert await collection.owner_of(token) == b
    async with bot_a.sessions() as session:
        moves = list(await session.scalars(select(ChainTx).where(ChainTx.kind == "custody")))
    assert len(moves) == 3  # one transaction per token: none moved twice


@pytest.mark.parametrize("sweep", [False, True], ids=["approve", "sweep"])
async def test_tokens_in_a_community_s_contracts_stay_withdrawable_after_a_rotation(
    sweep: bool, bot_env: dict[str, str], collection: Collection
):
    key_b, b = await funded_key(collection)
    a = DEV_MINTER.address
    settings_a, settings_b = era(bot_env, ANVIL_DEV_KEYS[0]), era(bot_env, key_b)
    hot = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    club = await club_contracts(collection.w3, HotWallet(Secret(ANVIL_DEV_KEYS[2])), a)
    art = int.from_bytes(hashlib.sha256(b"rotation").digest(), "big")
    await mint_editions(club.editions, hot, art, {1: a})

    async with running(settings_a) as (bot_a, inbox):
        async with bot_a.sessions.begin() as session:
            session.add(live_collection("test", "g", Standard.ERC721, club.collection.address))
        await bot_a.service.submit(submission("631", community_id="g"))
        minted = await answered(bot_a, inbox, "test:chat:631")
        assert minted.custodial and minted.contract == club.collection.address
        mine = minted.token_id
        assert mine is not None
        await edition_drop(
            bot_a.sessions,
            platform="test",
            community_id="g",
            editions=club.editions.address,
            token_id=art,
            claims=[("u1", "Ada", a, True)],
        )
    assert await club.collection.owner_of(mine) == a
    said = await rotate(settings_a, b, sweep=sweep)
    # They stay at A, which approves B on each community contract.
    for contract in (club.collection.address, club.editions.address):
        assert any(
            s.startswith(f"custody: 1 token(s) of {contract} in the old custody; the new")
            for s in said
        ), said

    async with running(settings_b) as (bot_b, _):
        await link_verified(bot_b)
        await bot_b.withdrawals.withdraw("test:chat:all", *USER)
        done = await bot_b.withdrawals.wait("test:chat:all", timeout=30)
        assert sorted((v.token_id, v.edition) for v in done) == sorted([(mine, None), (art, 1)])
        assert {v.status for v in done} == {WithdrawalStatus.CONFIRMED}, done
    assert await club.collection.owner_of(mine) == COLLECTOR.address
    assert await club.editions.balance_of(COLLECTOR.address, art) == 1
