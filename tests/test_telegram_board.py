"""Telegram's busy chats: several requests in flight share one status message, edited as each
is decided, within Telegram's limits (the emulator refuses any message over them); every
line reaches its final state, with the member's token, across a 429 and across a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.chain.contract import Collection
from bot.telegram.render import PENDING_LINE
from tests.emulators.telegram import TelegramServer
from tests.support import DEV_MINTER, balance, png
from tests.test_telegram import BOARD, answer_of, final_reply, polling_bot, readable


def members(telegram: TelegramServer, n: int) -> list[dict[str, Any]]:
    return [telegram.user(f"Member {i}") for i in range(n)]


def status_messages(telegram: TelegramServer, chat: dict[str, Any]) -> list[str]:
    return [readable(m) for m in telegram.in_chat(chat) if readable(m).startswith(BOARD)]


def sent_in(telegram: TelegramServer, chat: dict[str, Any], method: str) -> int:
    return sum(1 for c in telegram.sent(method) if str(c.params.get("chat_id")) == str(chat["id"]))


async def test_a_burst_in_one_chat_is_answered_in_one_status_message(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path, collection: Collection
):
    group = telegram.group("Busy club")
    people = members(telegram, 6)
    env = {**bot_env, "USER_MINTS_PER_MINUTE": "0", "COMMUNITY_MINTS_PER_MINUTE": "0"}
    async with polling_bot(telegram, env, tmp_path / "bot.log"):
        photos = [
            telegram.send_photo(group, member, [png(500 + i)], f"/mint Wave {i}")
            for i, member in enumerate(people)
        ]
        answers = [await final_reply(telegram, photo) for photo in photos]
    (board,) = status_messages(telegram, group)
    lines = board.split("\n")[1:]
    # One line each, in the order asked, naming who asked, ending with their token.
    assert [line.split(" · ")[0] for line in lines] == [f"{n}. Member {n - 1}" for n in range(1, 7)]
    assert all("✅ Minted · token · transaction" in answer for answer in answers)
    assert board.startswith(f"{BOARD} 6 of 6 done")
    posted = telegram.in_chat(group)
    assert 'href="http://127.0.0.1:8080/token/' in posted[-1]["text"]
    # Fewer messages than a reply and an edit for each.
    assert sent_in(telegram, group, "sendMessage") == 1
    assert sent_in(telegram, group, "editMessageText") < len(photos)
    assert await balance(collection, DEV_MINTER.address) == len(photos)  # held for them


async def test_a_quiet_chat_still_gets_a_reply_of_its_own(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    group = telegram.group("Quiet club")
    first, second = members(telegram, 2)
    async with polling_bot(telegram, bot_env, tmp_path / "bot.log"):
        one = telegram.send_photo(group, first, [png(600)], "/mint Calm")
        assert (await final_reply(telegram, one)).startswith("✅ Minted Calm")
        two = telegram.send_photo(group, second, [png(601)], "/mint Still")
        assert (await final_reply(telegram, two)).startswith("✅ Minted Still")
    assert not status_messages(telegram, group)
    assert [len(telegram.replies_to(p)) for p in (one, two)] == [1, 1]


async def test_a_status_message_refused_with_429_still_ends_with_every_line(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    group = telegram.group("Throttled club")
    people = members(telegram, 4)
    env = {**bot_env, "USER_MINTS_PER_MINUTE": "0", "COMMUNITY_MINTS_PER_MINUTE": "0"}
    async with polling_bot(telegram, env, tmp_path / "bot.log"):
        telegram.throttle("editMessageText", retry_after=1, times=3)
        photos = [
            telegram.send_photo(group, member, [png(700 + i)], f"/mint Gust {i}")
            for i, member in enumerate(people)
        ]
        for photo in photos:
            assert "✅ Minted" in await final_reply(telegram, photo)
    # The three refused edits are on record, and after them the edits that finished the lines.
    assert sent_in(telegram, group, "editMessageText") >= 3 + 1


async def test_after_a_restart_the_same_status_message_is_finished(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    """Killed as the first answers were due: the restarted bot edits the message it sent,
    with every line, instead of answering anew."""
    group = telegram.group("Restarted club")
    people = members(telegram, 3)
    env = {**bot_env, "USER_MINTS_PER_MINUTE": "0", "COMMUNITY_MINTS_PER_MINUTE": "0"}
    async with polling_bot(
        telegram, {**env, "MINTBOT_CRASH_AT": "after_confirm"}, tmp_path / "a.log"
    ) as proc:
        photos = [
            telegram.send_photo(group, member, [png(800 + i)], f"/mint Phoenix {i}")
            for i, member in enumerate(people)
        ]
        await telegram.wait_for(lambda: proc.returncode is not None, 90)
    shown = status_messages(telegram, group)
    assert len(shown) == 1 and shown[0].count(PENDING_LINE) >= 1
    async with polling_bot(telegram, env, tmp_path / "b.log"):
        answers = [await final_reply(telegram, photo) for photo in photos]
    assert all("✅ Minted" in a for a in answers)
    assert len(status_messages(telegram, group)) == 1
    assert sent_in(telegram, group, "sendMessage") == 1
    assert all(answer_of(telegram, p) for p in photos)
