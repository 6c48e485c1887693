"""Key rotation and the canary key, end to end: `python -m bot wallet rotate` moves minting to a
new hot wallet with work in flight, then a fresh random key (the canary) runs mints, a drop
claim and withdrawals through Telegram. The canary never shows up in a log line at any level,
the database file, a reply, or the command line's output."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from bot.chain.contract import Collection
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.telegram.render import MINTING
from tests.emulators.telegram import TelegramServer
from tests.support import (
    CANARY,
    CANARY_KEY,
    DEV_MINTER,
    balance,
    png,
    rpc,
    run_cli,
)
from tests.test_telegram import HOLDER, final_reply, link_wallet, minted, polling_bot, readable


async def test_rotate_with_work_in_flight_then_the_canary_key_mints_and_withdraws(
    telegram: TelegramServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    ada, max_, ana = telegram.user("Ada"), telegram.user("Max"), telegram.user("Ana")
    group, log = telegram.group("Art club", admins=[ana]), tmp_path / "bot.log"
    async with polling_bot(telegram, bot_env, log):
        kept = telegram.send_photo(group, ada, [png(70)], "/mint Kept")
        assert "held for you by the bot" in await final_reply(telegram, kept)
    crashing = {**bot_env, "MINTBOT_CRASH_AT": "after_sign"}
    async with polling_bot(telegram, crashing, log) as crashed:
        in_flight = telegram.send_photo(group, ada, [png(71)], "/mint In flight")
        await asyncio.wait_for(crashed.wait(), 60)
    assert crashed.returncode == -signal.SIGKILL, log.read_text()
    assert await balance(collection, DEV_MINTER.address) == 1  # signed, never sent

    admin_key = tmp_path / "admin.key"
    admin_key.write_text(ANVIL_DEV_KEYS[1])
    rotate = ("wallet", "rotate", "--to", CANARY.address, "--admin-key-file", str(admin_key))
    rotated = await asyncio.to_thread(run_cli, *rotate, env=bot_env)
    assert rotated.returncode == 0, rotated.output
    for step in (
        f"grant: MINTER_ROLE granted on {collection.address} (tx 0x",
        "drain: 1 transaction(s) of the old key in flight",
        "drain: no transaction of the old key is in flight",
        "custody: 2 token(s) in the old custody; the new address may move them (tx 0x",
        f"revoke: MINTER_ROLE revoked from the old key on {collection.address} (tx 0x",
        f"Now set HOT_WALLET_PRIVATE_KEY (or the keystore) to the key of {CANARY.address}",
    ):
        assert step in rotated.stdout, rotated.output
    assert await balance(collection, DEV_MINTER.address) == 2  # the one in flight went through
    assert await collection.is_minter(CANARY.address)
    assert not await collection.is_minter(DEV_MINTER.address)
    again = await asyncio.to_thread(run_cli, *rotate, env=bot_env)
    assert again.returncode == 0, again.output
    assert f"grant: the new address already holds MINTER_ROLE on {collection.address}" in (
        again.stdout
    )
    assert f"revoke: the old key no longer holds MINTER_ROLE on {collection.address}" in (
        again.stdout
    )

    await rpc(collection.w3, "anvil_setBalance", CANARY.address, hex(10**20))
    canary_env = {**bot_env, "HOT_WALLET_PRIVATE_KEY": CANARY_KEY, "LOG_LEVEL": "DEBUG"}
    async with polling_bot(telegram, canary_env, log) as proc:
        # The request that was in flight during the rotation gets its answer now.
        assert minted(await final_reply(telegram, in_flight), "In flight")
        # A drop, claimed into custody, signed with the canary too.
        telegram.send_photo(group, ana, [png(74)], "/drop_create Canary drop | 5")
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(group)))
        drop = next(m for m in telegram.in_chat(group) if m.get("photo"))
        query = telegram.press(
            ada, drop, drop["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        )
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        assert "#1 of 5" in telegram.callback_answers[query["id"]]["text"]
        await telegram.wait_for(
            lambda: any(
                "Minted Canary drop #1 of 5" in readable(m)
                for m in telegram.in_chat(group)
                if "text" in m
            )
        )
        chat = telegram.private(ada)
        await link_wallet(telegram, chat, ada)
        withdraw = telegram.send_text(chat, ada, "/withdraw")
        await telegram.wait_for(
            lambda: (
                bool(telegram.replies_to(withdraw))
                and readable(telegram.replies_to(withdraw)[0]).count("delivered") == 3
            )
        )
        after = telegram.send_photo(group, ada, [png(72)], "/mint After")
        assert f"Owner: {HOLDER}" in await final_reply(telegram, after)
        held = telegram.send_photo(group, max_, [png(73)], "/mint Held")
        assert "held for you by the bot" in await final_reply(telegram, held)
        assert proc.returncode is None
    assert await balance(collection, HOLDER) == 4  # two mints, a drop edition, one direct
    assert await balance(collection, CANARY.address) == 1  # the new custody
    assert await balance(collection, DEV_MINTER.address) == 0

    secret = CANARY_KEY.removeprefix("0x")
    database_file = Path(bot_env["DATABASE_URL"].split("///", 1)[1])
    database = await asyncio.to_thread(database_file.read_bytes)
    replies = json.dumps([c.params for c in telegram.calls], default=str)
    for form in (secret.lower(), secret.upper()):
        assert form not in log.read_text(), "the key is in the log"
        assert form.encode() not in database, "the key is in the database"
        assert form not in replies, "the key is in a message to Telegram"
        assert form not in rotated.output + again.output
    assert "DEBUG" in log.read_text()  # every level was on
    assert all(readable(m) != MINTING for m in telegram.replies_to(in_flight))
