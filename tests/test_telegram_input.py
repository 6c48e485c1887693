"""Telegram input a member controls, end to end (`python -m bot run` against the emulator and
anvil): what a file is decided by its bytes, downloads capped whatever size Telegram reports,
admins only of their own chats, membership as Telegram says it, wallets kept out of groups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chain.contract import Collection
from bot.content.images import NOT_AN_IMAGE
from tests.emulators.telegram import TOKEN, TelegramServer, plain_text
from tests.support import DEV_MINTER, balance, png
from tests.test_telegram import HOLDER, final_reply, link_wallet, minted, polling_bot, readable

pytestmark = pytest.mark.db


@contextlib.asynccontextmanager
async def bot(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path, **settings: str
) -> AsyncIterator[None]:
    log = tmp_path / "bot.log"
    async with polling_bot(telegram, {**bot_env, **settings}, log) as proc:
        yield
        assert proc.returncode is None, log.read_text()  # whatever it was sent, it runs on
    assert TOKEN.split(":")[1] not in log.read_text()  # file URLs carry the token: never logged


async def answer(telegram: TelegramServer, message: dict[str, Any]) -> str:
    """The bot's first reply to `message`, as it reads now."""
    await telegram.wait_for(lambda: telegram.replies_to(message))
    return readable(telegram.replies_to(message)[0])


async def test_the_bytes_decide_what_a_file_is_and_every_mint_is_answered(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    group, ada, ana = world["group"], world["Ada"], world["Ana"]
    async with bot(telegram, bot_env, tmp_path):
        disguised = telegram.send_document(
            group, ada, png(200), "text/plain", "/mint Disguised", file_name="x.txt"
        )
        assert minted(await final_reply(telegram, disguised), "Disguised")
        notes = telegram.send_document(
            group, ada, b"shopping list: eggs\n", "image/png", "/mint Notes", file_name="a.png"
        )
        assert NOT_AN_IMAGE in await final_reply(telegram, notes)
        clip = telegram.send_video(
            group, ada, b"\x00\x00\x00\x18ftypmp42" + bytes(64), "/mint Clip"
        )
        assert NOT_AN_IMAGE in await final_reply(telegram, clip)
        text_file = telegram.send_document(group, ada, b"plain words", "text/plain")
        asked = telegram.send_text(group, ada, "/mint Words", reply_to=text_file)
        assert NOT_AN_IMAGE in await final_reply(telegram, asked)
        said = telegram.send_text(group, ada, "just chatting")
        for text, reply_to in (("/mint", None), ("/mint Chat", said)):
            bare = telegram.send_text(group, ada, text, reply_to=reply_to)
            assert "send an image with the caption /mint Name" in await answer(telegram, bare)
        # A drop's artwork is decided the same way; as a file, it goes up again as a photo.
        telegram.send_document(
            group, ana, png(201), "application/octet-stream", "/drop_create Art | 2", file_name="y"
        )
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(group)))
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_download_stops_at_the_cap_whatever_size_telegram_reports(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    group, ada, cap = world["group"], world["Ada"], 1_000_000
    huge = png(210) + bytes(12 * cap)  # a valid PNG, then a tail no one should read
    async with bot(telegram, bot_env, tmp_path, MAX_IMAGE_MB="1"):
        unsized = telegram.send_document(
            group, ada, huge, "image/png", "/mint Unsized", declared=False
        )
        assert "over the limit of 1 MB" in await final_reply(telegram, unsized)
        (path,) = [telegram.files[unsized["document"]["file_id"]][0]]
        assert telegram.downloads == [path]  # it was streamed ...
        assert telegram.served[path] < 3 * cap  # ... and left off near the cap (socket buffers)
        understated = telegram.send_document(
            group, ada, huge, "image/png", "/mint Understated", size=1000
        )
        assert "12.0 MB; the limit is 1 MB" in await final_reply(telegram, understated)
        assert telegram.served[telegram.files[understated["document"]["file_id"]][0]] < 3 * cap
        fine = telegram.send_document(
            group, ada, png(211), "image/png", "/mint Fine", declared=False
        )
        assert minted(await final_reply(telegram, fine), "Fine")
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_admins_act_only_on_chats_telegram_says_they_administer(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    group, ana, max_ = world["group"], world["Ana"], world["Max"]
    foreign = telegram.group("Someone else's", admins=[max_])
    unreachable = telegram.group("Ana's, without the bot", admins=[ana], with_bot=False)
    own = telegram.group("Ana's news", admins=[ana])
    async with bot(telegram, bot_env, tmp_path):
        refused = telegram.send_text(group, ana, f"/config announce {foreign['id']}")
        assert "you are not an administrator of that one" in await answer(telegram, refused)
        no_bot = telegram.send_text(group, ana, f"/config announce {unreachable['id']}")
        assert "I cannot post in that chat" in await answer(telegram, no_bot)
        accepted = telegram.send_text(group, ana, f"/config announce {own['id']}")
        assert f"Announcing every mint: chat {own['id']}" in await answer(telegram, accepted)

        paused = telegram.send_as_chat(group, "/pause")  # an anonymous administrator
        assert "Minting is paused here" in await answer(telegram, paused)
        photo = telegram.send_photo(group, world["Ada"], [png(220)], "/mint While paused")
        assert "paused" in await final_reply(telegram, photo)
        resumed = telegram.send_as_chat(group, "/resume")
        assert "Minting is on again" in await answer(telegram, resumed)
        photo = telegram.send_photo(group, world["Ada"], [png(221)], "/mint Announced")
        assert minted(await final_reply(telegram, photo), "Announced")
        await telegram.wait_for(lambda: telegram.in_chat(own))
    assert not telegram.in_chat(foreign)
    (announcement,) = telegram.in_chat(own)
    assert readable(announcement).startswith("🎨 New NFT: Announced by Ada")
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_restricted_user_who_left_cannot_claim_a_drop(
    telegram: TelegramServer, world: dict[str, Any], bot_env: dict[str, str], tmp_path: Path
):
    group, ana = world["group"], world["Ana"]
    telegram.restrict(group, world["Zoe"], is_member=False)  # restricted, then left
    telegram.restrict(group, world["Max"], is_member=True)  # restricted, still here

    async def press(user: dict[str, Any], announcement: dict[str, Any]) -> str:
        data = announcement["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query = telegram.press(user, announcement, data)
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return str(telegram.callback_answers[query["id"]]["text"])

    async with bot(telegram, bot_env, tmp_path):
        telegram.send_photo(group, ana, [png(230)], "/drop_create Pier | 5")
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(group)))
        drop = next(m for m in telegram.in_chat(group) if m.get("photo"))
        assert "is for members of the chat" in await press(world["Zoe"], drop)
        assert "You claimed Pier #1 of 5" in await press(world["Max"], drop)


async def test_wallet_answers_asked_in_a_group_stay_private(
    telegram: TelegramServer, world: dict[str, Any], bot_env: dict[str, str], tmp_path: Path
):
    group, ada, max_ = world["group"], world["Ada"], world["Max"]
    private = telegram.private(max_)
    async with bot(telegram, bot_env, tmp_path):
        stranger = telegram.send_text(group, ada, "/wallet")  # Ada never started the bot
        hint = await answer(telegram, stranger)
        assert "I answer /wallet in private" in hint and "Open a chat with me" in hint
        link = telegram.replies_to(stranger)[0]["text"]
        assert 'href="https://t.me/mintbot_test_bot?start=wallet"' in link
        assert not telegram.in_chat(telegram.private(ada))

        await link_wallet(telegram, private, max_)  # Max has: the answer goes there
        shown = telegram.send_text(group, max_, "/wallet")
        assert "I answered you in our private chat" in await answer(telegram, shown)
        await telegram.wait_for(
            lambda: "Your NFTs go to" in readable(telegram.in_chat(private)[-1])
        )
        assert f"Your NFTs go to {HOLDER}" in readable(telegram.in_chat(private)[-1])
        withdraw = telegram.send_text(group, max_, "/withdraw")
        assert "I answered you in our private chat" in await answer(telegram, withdraw)
        await telegram.wait_for(lambda: "no tokens" in readable(telegram.in_chat(private)[-1]))
    said_in_group = [plain_text(m["text"], m.get("parse_mode")) for m in telegram.in_chat(group)]
    assert len(said_in_group) == 3
    assert not [text for text in said_in_group if HOLDER.lower() in text.lower()]
