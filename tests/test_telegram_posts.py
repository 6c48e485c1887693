"""Whose answer a message reads as: a reply reads as the answer to the message it replies to, so
a line left alone in a message that replies to another member names its member instead (seen
in the chaos test: a status message rebuilt after a kill read as one member's answer, under
another member's message)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot.minting.types import MintResult, Phase
from bot.telegram.limits import MessageLimits
from bot.telegram.posts import AnswerLine, Posts
from tests.emulators.telegram import TOKEN, TelegramServer
from tests.test_telegram import BOARD, readable

ASKER, JOINER = 1, 2  # the message that started the status message, and one that joined


@pytest.fixture
async def bot(telegram: TelegramServer) -> AsyncIterator[ExtBot[None]]:
    limits = MessageLimits(overall_per_s=30, group_per_minute=20, private_per_s=1, max_retries=3)
    api = f"http://127.0.0.1:{telegram.port}/bot"
    async with ExtBot(TOKEN, base_url=api, rate_limiter=limits) as bot:
        yield bot


def minted(chat_id: int, asked: int, message_id: int, replies_to: int | None) -> MintResult:
    """The request asked by message `asked`, minted and recorded as answered in `message_id`."""
    reply_to: dict[str, Any] = {
        "chat_id": chat_id,
        "message_id": message_id,
        "asked_by": str(asked),
        "asked_by_name": f"Member {asked}",
        "request_message_id": asked,
    }
    if replies_to is not None:  # rows recorded before the reply target was
        reply_to["post_replies_to"] = replies_to
    return MintResult(
        request_id=asked,
        key=f"telegram:{chat_id}:{asked}",
        platform="telegram",
        chat_id=str(chat_id),
        message_id=str(asked),
        requester_id=str(asked),
        requester_name=f"Member {asked}",
        community_id=str(chat_id),
        reply_to=reply_to,
        name=f"Art {asked}",
        phase=Phase.CONFIRMED,
        status_text="Minted",
        recipient=None,
        custodial=True,
        token_id=asked,
        image_cid=None,
        metadata_cid=None,
        tx_hash=None,
        tx_url=None,
        contract="0x" + "11" * 20,
        edition=None,
        token_url=None,
        marketplace_url=None,
        failure_reason=None,
    )


async def nothing_recorded(chat: str, message: str) -> list[MintResult]:
    return []


async def shared_message(posts: Posts, chat_id: int) -> list[AnswerLine]:
    """Two requests shown in one status message, a reply to the first: their lines."""
    lines = [posts.open(chat_id, n, f"Member {n}", f"Art {n}") for n in (ASKER, JOINER)]
    async with asyncio.timeout(10):
        await asyncio.gather(*(line.shown() for line in lines))
    assert lines[0].message_id == lines[1].message_id
    assert lines[1].replies_to == ASKER
    return lines


def club(telegram: TelegramServer) -> dict[str, Any]:
    """A group where two members have asked, in messages ASKER and JOINER."""
    group = telegram.group("Club")
    for n in (ASKER, JOINER):
        member = telegram.user(f"Member {n}")
        asked = telegram.new_message(group, member, text=f"/mint Art {n}")
        assert asked["message_id"] == n
    return group


def assert_names_the_joiner(telegram: TelegramServer, group: dict[str, Any]) -> None:
    """The status message, under the asker's message, shows the joiner's line by name."""
    (post,) = telegram.in_chat(group)
    assert post["reply_to_message"]["message_id"] == ASKER
    text = readable(post)
    assert text.startswith(BOARD) and f"Member {JOINER} · Art {JOINER}: ✅ Minted" in text, text


async def test_a_line_left_alone_under_another_members_message_names_its_member(
    telegram: TelegramServer, bot: ExtBot[None]
):
    assert isinstance(bot.rate_limiter, MessageLimits)
    group = club(telegram)
    posts = Posts(bot, bot.rate_limiter, nothing_recorded)
    asker, joiner = await shared_message(posts, group["id"])
    async with asyncio.timeout(10):
        await asker.withdraw()  # the asker's answer is shown elsewhere
        await posts.deliver(minted(group["id"], JOINER, joiner.message_id, ASKER))
    assert_names_the_joiner(telegram, group)


@pytest.mark.parametrize("recorded_target", [ASKER, None], ids=["recorded", "unrecorded"])
async def test_a_message_rebuilt_with_one_line_names_its_member_unless_it_replies_to_it(
    telegram: TelegramServer, bot: ExtBot[None], recorded_target: int | None
):
    """After a restart only the joiner is recorded as answered in the message (the asker's
    process was killed before recording it): it is rebuilt with one line, under the asker's
    message. Rows from before the reply target was recorded do not know it: named too."""
    assert isinstance(bot.rate_limiter, MessageLimits)
    group = club(telegram)
    before = Posts(bot, bot.rate_limiter, nothing_recorded)
    message_id = (await shared_message(before, group["id"]))[0].message_id
    result = minted(group["id"], JOINER, message_id, recorded_target)

    async def recorded(chat: str, message: str) -> list[MintResult]:
        assert (chat, message) == (str(group["id"]), str(message_id))
        return [result]

    after = Posts(bot, bot.rate_limiter, recorded)
    async with asyncio.timeout(10):
        await after.deliver(result)
    assert_names_the_joiner(telegram, group)


async def test_a_rebuilt_message_that_replies_to_its_one_line_keeps_the_short_form(
    telegram: TelegramServer, bot: ExtBot[None]
):
    assert isinstance(bot.rate_limiter, MessageLimits)
    group = club(telegram)
    before = Posts(bot, bot.rate_limiter, nothing_recorded)
    line = before.open(group["id"], ASKER, f"Member {ASKER}", f"Art {ASKER}")
    async with asyncio.timeout(10):
        await line.shown()
    result = minted(group["id"], ASKER, line.message_id, ASKER)

    async def recorded(chat: str, message: str) -> list[MintResult]:
        return [result]

    after = Posts(bot, bot.rate_limiter, recorded)
    async with asyncio.timeout(10):
        await after.deliver(result)
    (post,) = telegram.in_chat(group)
    assert post["reply_to_message"]["message_id"] == ASKER
    assert readable(post).split("\n")[0] == f"✅ Minted Art {ASKER}", readable(post)
