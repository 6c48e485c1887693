"""Telegram end to end: `python -m bot run`, unmodified, against the local Bot API emulator and
anvil. Each test acts as chat members would and checks what they would read, and the chain."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.chain.contract import Collection
from bot.telegram.handlers.mint import parse_mint
from bot.telegram.render import MINTING, PENDING_LINE
from tests.emulators.telegram import TOKEN, TelegramServer, plain_text
from tests.forkserver import ForkedProcess
from tests.support import COLLECTOR, DEV_MINTER, balance, bot_process, png, signed_siwe

HOLDER = COLLECTOR.address  # Ada's own wallet
BOARD = "Mint requests here:"  # how a busy chat's status message starts


def polling(telegram: TelegramServer) -> bool:
    return bool(telegram.sent("getUpdates"))


@contextlib.asynccontextmanager
async def polling_bot(
    telegram: TelegramServer, env: dict[str, str], log: Path
) -> AsyncIterator[ForkedProcess]:
    """`python -m bot run` with `env` against the emulator, once it polls for updates."""
    async with bot_process({**env, **telegram.env()}, log) as proc:
        try:
            await telegram.wait_for(lambda: polling(telegram), 90)  # a start under load
        except AssertionError:
            raise AssertionError(await asyncio.to_thread(log.read_text)) from None
        yield proc


@pytest.fixture
async def running_bot(
    telegram: TelegramServer, world: dict[str, Any], bot_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[TelegramServer]:
    env = {**bot_env, "USER_MINTS_PER_MINUTE": "3"}
    async with polling_bot(telegram, env, tmp_path / "bot.log") as proc:
        yield telegram
        log = (tmp_path / "bot.log").read_text()
        assert proc.returncode is None, log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log  # the token is never logged


async def link_wallet(
    telegram: TelegramServer, chat: dict[str, Any], user: dict[str, Any], account: Any = COLLECTOR
) -> None:
    """`user` links `account`'s address (HOLDER by default) as a member would: /wallet link,
    sign in the wallet, /wallet verify."""
    link = telegram.send_text(chat, user, f"/wallet link {account.address}")
    await telegram.wait_for(lambda: telegram.replies_to(link))
    signature = signed_siwe(readable(telegram.replies_to(link)[0]), account)
    verify = telegram.send_text(chat, user, f"/wallet verify {signature}")
    await telegram.wait_for(lambda: telegram.replies_to(verify))
    verified = readable(telegram.replies_to(verify)[0])
    assert f"Verified: your NFTs will go to {account.address}" in verified


def readable(message: dict[str, Any]) -> str:
    return plain_text(message["text"], message.get("parse_mode"))


def answers_of(
    telegram: TelegramServer,
    message: dict[str, Any],
    posts: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Every answer the bot shows to the mint `message` asked, oldest first: its replies of
    its own (a quiet chat), and its lines of the chat's status messages (a busy one).
    `posts`: the bot's messages in that chat, if the caller has them already."""
    name, _ = parse_mint(message.get("caption") or message.get("text") or "")
    found = []
    for post in telegram.in_chat(message["chat"]) if posts is None else posts:
        text = readable(post) if "text" in post else ""
        if text.startswith(BOARD):
            found += [x for x in text.split("\n") if f" · {name}: " in x]
        elif (post.get("reply_to_message") or {}).get("message_id") == message["message_id"]:
            found.append(text)
    return found


def answer_of(telegram: TelegramServer, message: dict[str, Any]) -> str | None:
    """The latest answer the bot shows to the mint `message` asked."""
    found = answers_of(telegram, message)
    return found[-1] if found else None


def pending(answer: str) -> bool:
    return answer == MINTING or PENDING_LINE in answer


def minted(answer: str, name: str) -> bool:
    """Whether `answer` (a reply of its own, or a status message's line) says `name` is minted."""
    return f"Minted {name}" in answer or (f" · {name}: " in answer and "✅ Minted" in answer)


async def final_reply(telegram: TelegramServer, message: dict[str, Any]) -> str:
    """The answer to `message` once it is no longer "minting…"."""

    def final() -> bool:
        answer = answer_of(telegram, message)
        return answer is not None and not pending(answer)

    await telegram.wait_for(final)
    answer = answer_of(telegram, message)
    assert answer is not None
    return answer


async def test_a_photo_with_a_caption_is_answered_then_edited_with_the_links(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    photo = telegram.send_photo(
        world["group"],
        world["Ada"],
        [png(0, (8, 8)), png(1, (32, 32))],
        "/mint Rock & <Roll | pier",
    )
    text = await final_reply(telegram, photo)
    assert telegram.sent("sendMessage")[0].params["text"] == MINTING  # answered at once ...
    (reply,) = telegram.replies_to(photo)  # ... then that reply edited in place
    assert "Minted Rock & <Roll" in text  # escaped, so it reads as typed
    assert 'href="http://127.0.0.1:8080/explorer/tx/0x' in reply["text"]
    assert re.search(r'<a href="http://127\.0\.0\.1:8080/token/\d+">Token</a>', reply["text"])
    assert len(telegram.sent("sendMessage")) == 1 and telegram.sent("editMessageText")
    assert await balance(collection, DEV_MINTER.address) == 1
    assert telegram.downloads == [telegram.files[photo["photo"][-1]["file_id"]][0]]  # largest


async def test_the_same_update_delivered_twice_mints_and_answers_once(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    update = telegram.push(
        {
            "message": telegram.new_message(
                world["group"],
                world["Ada"],
                photo=[{**telegram.add_file(png(2)), "width": 8, "height": 8}],
                caption="/mint Twice",
                caption_entities=[{"type": "bot_command", "offset": 0, "length": 5}],
            )
        }
    )
    telegram.deliver(update)  # Telegram re-delivers what was not yet acknowledged
    photo = update["message"]
    assert minted(await final_reply(telegram, photo), "Twice")
    telegram.deliver(update)  # and again after the answer
    await telegram.wait_for(lambda: not telegram.unconfirmed())
    assert len(telegram.sent("sendMessage")) == 1  # the inbox knew it: nothing said again
    assert len(telegram.replies_to(photo)) == 1
    assert "Minted Twice" in readable(telegram.replies_to(photo)[0])
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_three_replies_to_one_photo_mint_once_for_its_author(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    group, author = world["group"], world["Ada"]
    await link_wallet(telegram, telegram.private(author), author)
    photo = telegram.send_photo(group, author, [png(3)])
    asks = [
        telegram.send_text(group, who, f"/mint Shared by {who['first_name']}", reply_to=photo)
        for who in (author, world["Ana"], world["Max"])  # the author, an admin, a member
    ]
    answers = [await final_reply(telegram, a) for a in asks]
    assert len([a for a in answers if "Minted" in a]) == 1, answers
    assert len([a for a in answers if "already minted" in a]) >= 1, answers
    other = telegram.send_photo(group, author, [png(30)])  # nothing in hand for this one
    refused = telegram.send_text(group, world["Max"], "/mint Not mine", reply_to=other)
    assert "Only the message's author or a curator" in await final_reply(telegram, refused)
    assert await balance(collection, HOLDER) == 1  # the author's linked address
    assert await balance(collection, DEV_MINTER.address) == 0


async def test_a_refused_ask_does_not_keep_the_authors_own_from_minting(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    group, author = world["group"], world["Ada"]
    photo = telegram.send_photo(group, author, [png(31)])
    refused = telegram.send_text(group, world["Max"], "/mint Not mine", reply_to=photo)
    own = telegram.send_text(group, author, "/mint Mine", reply_to=photo)  # at the same time
    assert "Only the message's author or a curator" in await final_reply(telegram, refused)
    assert minted(await final_reply(telegram, own), "Mine")
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_an_edited_caption_does_not_mint_again(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    photo = telegram.send_photo(world["group"], world["Ada"], [png(4)], "/mint First")
    assert minted(await final_reply(telegram, photo), "First")
    edited = telegram.edit_caption(photo, "/mint Second")
    await telegram.wait_for(lambda: len(telegram.sent("sendMessage")) == 2)
    assert "Edits don't mint" in readable(telegram.replies_to(edited)[-1])
    telegram.edit_caption(photo, "a nice caption")  # an edit without /mint: nothing to say
    await asyncio.sleep(1)
    assert len(telegram.sent("sendMessage")) == 2
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_admin_commands_are_for_chat_administrators(
    running_bot: TelegramServer, world: dict[str, Any]
):
    telegram = running_bot
    group = world["group"]
    refused = telegram.send_text(group, world["Max"], "/pause")
    await telegram.wait_for(lambda: telegram.replies_to(refused))
    assert "Only this chat's administrators" in readable(telegram.replies_to(refused)[0])
    paused = telegram.send_text(group, world["Ana"], "/pause@mintbot_test_bot")
    await telegram.wait_for(lambda: telegram.replies_to(paused))
    assert "paused" in readable(telegram.replies_to(paused)[0])
    photo = telegram.send_photo(group, world["Max"], [png(5)], "/mint While paused")
    assert "paused" in await final_reply(telegram, photo)
    stats = telegram.send_text(group, world["Ana"], "/stats")
    await telegram.wait_for(lambda: telegram.replies_to(stats))
    assert "No requests yet" in readable(telegram.replies_to(stats)[0])
    assert len(telegram.sent("getChatAdministrators")) == 1  # cached


async def test_a_429_is_waited_out_and_the_user_still_answered(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    telegram.throttle("sendMessage", retry_after=1)
    telegram.throttle("editMessageText", retry_after=1, times=2)
    photo = telegram.send_photo(world["group"], world["Ada"], [png(6)], "/mint Patient")
    assert minted(await final_reply(telegram, photo), "Patient")
    assert len(telegram.sent("sendMessage")) == 2 and len(telegram.sent("editMessageText")) == 3
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_an_oversized_file_gets_a_clear_message(
    telegram: TelegramServer, world: dict[str, Any], bot_env: dict[str, str], tmp_path: Path
):
    # The bot would take 50 MB; the public Bot API hands bots at most 20 MB.
    env = {**bot_env, "MAX_IMAGE_MB": "50"}
    async with polling_bot(telegram, env, tmp_path / "bot.log"):
        big = telegram.send_document(
            world["group"], world["Ada"], png(7), "image/png", "/mint Huge", size=25 * 2**20
        )
        assert "over the 20 MB Telegram lets bots download" in await final_reply(telegram, big)
        huger = telegram.send_document(
            world["group"], world["Ada"], png(7), "image/png", "/mint Huger", size=60 * 2**20
        )
        await telegram.wait_for(lambda: telegram.replies_to(huger))
        assert "the limit is 50 MB" in readable(telegram.replies_to(huger)[0])
    assert not telegram.downloads


async def test_stickers_voice_notes_and_channel_posts_are_ignored_politely(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram = running_bot
    group, ada = world["group"], world["Ada"]
    telegram.send(
        group,
        ada,
        sticker={
            **telegram.add_file(b"webp"),
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        },
    )
    telegram.send(group, ada, voice={**telegram.add_file(b"ogg"), "duration": 2})
    channel = {"id": -100999, "type": "channel", "title": "News"}
    telegram.send(
        channel,
        None,
        photo=[{**telegram.add_file(png(8)), "width": 8, "height": 8}],
        caption="/mint From a channel",
    )
    private = telegram.private(ada)
    sticker = telegram.send(
        private,
        ada,
        sticker={
            **telegram.add_file(b"webp"),
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
        },
    )
    await telegram.wait_for(lambda: telegram.replies_to(sticker))
    assert "I mint images" in readable(telegram.replies_to(sticker)[0])
    photo = telegram.send_photo(group, ada, [png(9)], "/mint Still here")
    assert minted(await final_reply(telegram, photo), "Still here")
    assert not telegram.in_chat(group)[:-1]  # nothing said in the group but the mint's answer
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_start_deep_links_status_gallery_and_wallet(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    ada = world["Ada"]
    chat = telegram.private(ada)

    async def ask(text: str) -> str:
        message = telegram.send_text(chat, ada, text)
        await telegram.wait_for(lambda: telegram.replies_to(message))
        return readable(telegram.replies_to(message)[0])

    env = {**bot_env, "USER_MINTS_PER_MINUTE": "0"}
    async with polling_bot(telegram, env, tmp_path / "bot.log"):
        assert "the bot holds your NFTs" in await ask("/start wallet")  # t.me/<bot>?start=wallet
        assert "keep its full quality" in await ask("/start")
        assert "no mint requests yet" in await ask("/status")
        assert "Nothing minted yet" in await ask("/mynfts")
        assert "without a signature is turned off" in await ask(f"/wallet {HOLDER}")
        assert "is not a valid Ethereum address" in await ask("/wallet link 0x123")
        assert "not for a message I gave you" in await ask("/wallet verify 0x" + "11" * 65)
        await link_wallet(telegram, chat, ada)
        assert f"Your NFTs go to {HOLDER} (verified" in await ask("/wallet")
        photos = [
            telegram.send_photo(chat, ada, [png(40 + i)], f"/mint Piece {i}") for i in range(11)
        ]
        for photo in photos:
            assert "Minted" in await final_reply(telegram, photo)
        assert (await ask("/status")).count(": minted · transaction") == 5  # the latest five
        first_page = await ask("/mynfts")
        assert "Your NFTs (11), page 1 of 2" in first_page and "/mynfts 2" in first_page
        second_page = await ask("/mynfts 2")
        assert "page 2 of 2" in second_page and second_page.count("Piece") == 1
    assert await balance(collection, HOLDER) == 11


async def test_a_restart_in_the_middle_of_a_mint_still_answers(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    log = tmp_path / "bot.log"
    async with polling_bot(telegram, {**bot_env, "MINTBOT_CRASH_AT": "after_sign"}, log) as first:
        photo = telegram.send_photo(world["group"], world["Ada"], [png(10)], "/mint Survives")
        await asyncio.wait_for(first.wait(), 60)
    assert first.returncode == -signal.SIGKILL, log.read_text()
    assert readable(telegram.replies_to(photo)[0]) == MINTING
    async with polling_bot(telegram, bot_env, log):
        assert minted(await final_reply(telegram, photo), "Survives")
        await asyncio.sleep(1)  # had the update come again, its extra reply would be gone
    assert len(telegram.replies_to(photo)) == 1
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_webhook_mode_takes_updates_posted_to_the_bots_web_server(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    port = free_port()
    env = {
        **bot_env,
        **telegram.env(),
        "HTTP_PORT": str(port),
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": "a-shared-secret",
    }
    async with bot_process(env, tmp_path / "bot.log"):
        await telegram.wait_for(lambda: telegram.webhook is not None)
        assert telegram.webhook == {
            "url": f"http://127.0.0.1:{port}/telegram/webhook",
            "secret_token": "a-shared-secret",
        }
        photo = telegram.send_photo(world["group"], world["Ada"], [png(11)], "/mint Hooked")
        assert minted(await final_reply(telegram, photo), "Hooked")
        async with aiohttp.ClientSession() as session:  # anyone else is turned away
            forged = {"update_id": 1, "message": photo}
            async with session.post(env["TELEGRAM_WEBHOOK_URL"], json=forged) as response:
                assert response.status == 403
    assert not telegram.sent("getUpdates")
    assert await balance(collection, DEV_MINTER.address) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_low_balance_alert_reaches_the_admin_chat(
    telegram: TelegramServer, world: dict[str, Any], bot_env: dict[str, str], tmp_path: Path
):
    admins = telegram.group("Admins")
    env = {
        **bot_env,
        **telegram.env(),
        "LOW_BALANCE_ETH": "1000000000000",  # more than anvil's test ether: low at once
        "BALANCE_CHECK_S": "0.5",
        "ALERT_TELEGRAM_CHAT_ID": str(admins["id"]),
    }
    async with bot_process(env, tmp_path / "bot.log"):
        await telegram.wait_for(lambda: telegram.in_chat(admins))
        await asyncio.sleep(1.5)  # several checks later, still one alert
    (alert,) = telegram.in_chat(admins)
    assert f"Send funds to {DEV_MINTER.address}" in alert["text"]


async def test_withdraw_sends_a_custodial_nft_to_the_verified_wallet_once(
    running_bot: TelegramServer, world: dict[str, Any], collection: Collection
):
    telegram, ada = running_bot, world["Ada"]
    chat = telegram.private(ada)

    async def ask(text: str) -> dict[str, Any]:
        message = telegram.send_text(chat, ada, text)
        await telegram.wait_for(lambda: telegram.replies_to(message))
        return message

    photo = telegram.send_photo(world["group"], ada, [png(60)], "/mint Kept & safe")
    assert "held for you by the bot" in await final_reply(telegram, photo)
    listing = readable(telegram.replies_to(await ask("/mynfts"))[0])
    short_id = re.search(r"/withdraw ([0-9a-f]{8})", listing)
    assert short_id is not None, listing
    refused = readable(telegram.replies_to(await ask(f"/withdraw {short_id[1]}"))[0])
    assert "only to an address you proved is yours" in refused

    await link_wallet(telegram, chat, ada)
    withdraw = await ask(f"/withdraw {short_id[1]}")
    await telegram.wait_for(lambda: "delivered" in readable(telegram.replies_to(withdraw)[0]))
    (answer,) = telegram.replies_to(withdraw)
    assert f"Withdrawing to {HOLDER}:" in readable(answer)
    assert f"Kept & safe ({short_id[1]}): delivered" in readable(answer)
    assert 'href="http://127.0.0.1:8080/explorer/tx/0x' in answer["text"]
    assert await balance(collection, HOLDER) == 1
    assert await balance(collection, DEV_MINTER.address) == 0
    again = readable(telegram.replies_to(await ask(f"/withdraw {short_id[1]}"))[0])
    assert "no tokens in custody" in again
    assert "in custody" not in readable(telegram.replies_to(await ask("/mynfts"))[0])


async def test_every_mint_is_announced_where_the_admins_asked(
    running_bot: TelegramServer, world: dict[str, Any]
):
    telegram, group = running_bot, world["group"]
    refused = telegram.send_text(group, world["Ana"], "/config announce nowhere")
    await telegram.wait_for(lambda: telegram.replies_to(refused))
    assert "Usage:" in readable(telegram.replies_to(refused)[0])
    config = telegram.send_text(group, world["Ana"], "/config announce here")
    await telegram.wait_for(lambda: telegram.replies_to(config))
    assert f"Announcing every mint: chat {group['id']}" in readable(telegram.replies_to(config)[0])

    photo = telegram.send_photo(group, world["Ada"], [png(62)], "/mint Tom & Jerry")
    assert minted(await final_reply(telegram, photo), "Tom & Jerry")

    def announcements() -> list[Any]:
        return [c for c in telegram.sent("sendMessage") if c.params["text"].startswith("🎨")]

    await telegram.wait_for(announcements)
    await asyncio.sleep(1)  # and only once
    (announced,) = announcements()
    assert int(announced.params["chat_id"]) == group["id"]
    text = plain_text(announced.params["text"], announced.params["parse_mode"])
    assert text.startswith("🎨 New NFT: Tom & Jerry by Ada") and "transaction" in text


async def test_leaderboard_and_gallery_in_a_group(
    running_bot: TelegramServer, world: dict[str, Any]
):
    telegram, group = running_bot, world["group"]
    photos = [
        telegram.send_photo(group, world["Ada"], [png(120)], "/mint Dawn"),
        telegram.send_photo(group, world["Ada"], [png(121)], "/mint Dusk"),
        telegram.send_photo(group, world["Max"], [png(122)], "/mint Tom & Jerry"),
    ]
    for photo in photos:
        assert "Minted" in await final_reply(telegram, photo)

    async def ask(text: str, reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        message = telegram.send_text(group, world["Zoe"], text, reply_to=reply_to)
        await telegram.wait_for(lambda: telegram.replies_to(message))
        return telegram.replies_to(message)[0]

    board = await ask("/leaderboard")
    assert "Top creators (tokens minted)\n1. Ada: 2\n2. Max: 1" in readable(board)
    assert f'href="http://127.0.0.1:8080/c/telegram/{group["id"]}"' in board["text"]
    everything = readable(await ask("/gallery"))
    lines = everything.splitlines()
    assert lines[0] == "🖼️ This group’s NFTs (3)" and lines[-1] == "See them all"
    assert sorted(lines[1:-1]) == ["Dawn by Ada", "Dusk by Ada", "Tom & Jerry by Max"]
    theirs = await ask("/gallery", reply_to=photos[0])
    assert readable(theirs).startswith("🖼️ Ada’s NFTs (2)")
    assert f"?member={world['Ada']['id']}" in theirs["text"]


def caption(message: dict[str, Any]) -> str:
    return plain_text(message["caption"], message.get("parse_mode"))


async def test_drop_create_claim_sell_out_membership_and_restart(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    group, log = world["group"], tmp_path / "bot.log"
    ana, ada, max_, zoe = (world[n] for n in ("Ana", "Ada", "Max", "Zoe"))

    async def press(user: dict[str, Any], announcement: dict[str, Any]) -> str:
        data = announcement["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query = telegram.press(user, announcement, data)
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return str(telegram.callback_answers[query["id"]]["text"])

    def announcements() -> list[dict[str, Any]]:
        return [m for m in telegram.in_chat(group) if m.get("photo")]

    async with polling_bot(telegram, bot_env, log):
        refused = telegram.send_photo(group, max_, [png(600)], "/drop_create Mine | 5")
        await telegram.wait_for(lambda: telegram.replies_to(refused))
        assert "Only this chat's administrators" in readable(telegram.replies_to(refused)[0])
        bad = telegram.send_photo(group, ana, [png(600)], "/drop_create Pier | lots")
        await telegram.wait_for(lambda: telegram.replies_to(bad))
        assert "Supply is a number" in readable(telegram.replies_to(bad)[0])

        telegram.send_photo(group, ana, [png(601)], "/drop_create Pier <3 | 2 | at dusk")
        await telegram.wait_for(announcements)
        (drop,) = announcements()
        assert caption(drop).startswith("🎁 Pier <3\nat dusk\nClaimed: 0 / 2")
        assert "#1 of 2" in await press(ada, drop)
        assert "the limit is 1 per member" in await press(ada, drop)
        telegram.leave(group, zoe)
        assert "is for members of the chat" in await press(zoe, drop)
    async with polling_bot(telegram, bot_env, log):  # a restart: the button still works
        assert "#2 of 2" in await press(max_, drop)
        assert "sold out" in (await press(ana, drop)).lower()
        await telegram.wait_for(lambda: "Claimed: 2 / 2" in caption(drop))
        assert "reply_markup" not in drop  # no button once sold out
        listing = telegram.send_text(group, ada, "/drops")
        await telegram.wait_for(lambda: telegram.replies_to(listing))
        assert re.search(
            r"#\d+ Pier <3: 2 / 2 claimed, sold out", readable(telegram.replies_to(listing)[0])
        )
        await telegram.wait_for(
            lambda: (
                sum(
                    "Minted Pier <3 #" in readable(m)
                    for m in telegram.in_chat(group)
                    if "text" in m
                )
                == 2
            )
        )
    assert await balance(collection, DEV_MINTER.address) == 2
