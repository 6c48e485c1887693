"""A burst fetched over several pages of getUpdates: the chats' new status messages wait until
it is in, so that each shows all of its chat's requests at once (an edit for the rest would
cost the same overall limit as another chat's first answer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from telegram import Update
from telegram.ext import ExtBot

from bot.inbox import DurableInbox, InboxEntry
from bot.telegram.backlog import Backlog
from bot.telegram.limits import MessageLimits
from bot.telegram.polling import PAGE, Polling, UpdatesRequest
from bot.telegram.posts import Posts
from db.engine import create_db_engine, session_factory, upgrade
from tests.emulators.telegram import TOKEN, TelegramServer


@pytest.fixture
async def updates() -> UpdatesRequest:
    return UpdatesRequest()


@pytest.fixture
async def bot(telegram: TelegramServer, updates: UpdatesRequest) -> AsyncIterator[ExtBot[None]]:
    """PTB's bot against the emulator, its messages under our limits, as the bot builds it."""
    limits = MessageLimits(overall_per_s=30, group_per_minute=20, private_per_s=1, max_retries=3)
    api = f"http://127.0.0.1:{telegram.port}/bot"
    bot: ExtBot[None] = ExtBot(
        TOKEN, base_url=api, rate_limiter=limits, get_updates_request=updates
    )
    async with bot:
        yield bot


async def no_answers(chat: str, message: str) -> list[Any]:
    return []


def who(i: int) -> str:
    return f"Member {i}"


async def test_new_status_messages_wait_for_the_burst_then_show_all_its_lines(
    telegram: TelegramServer, bot: ExtBot[None]
):
    assert isinstance(bot.rate_limiter, MessageLimits)
    backlog = Backlog()
    posts = Posts(bot, bot.rate_limiter, no_answers, backlog)
    groups = [telegram.group(f"Club {c}") for c in range(3)]
    backlog.page(full=True)  # a full page: more of the burst waits at Telegram
    lines = [posts.open(g["id"], 100 + i, who(i), f"Art {i}") for i, g in enumerate(groups)]
    await asyncio.sleep(0.2)  # the next page's handlers come a moment later
    lines += [
        posts.open(g["id"], 200 + i, who(3 + i), f"Art {3 + i}") for i, g in enumerate(groups)
    ]
    backlog.page(full=False)  # the last page
    async with asyncio.timeout(10):
        await asyncio.gather(*(line.shown() for line in lines))
    assert not telegram.sent("editMessageText")
    for i, group in enumerate(groups):
        (message,) = telegram.in_chat(group)
        assert who(i) in message["text"] and who(3 + i) in message["text"]


def test_with_nothing_waiting_a_new_message_does_not_wait():
    backlog = Backlog()
    for full in (None, False):
        if full is not None:
            backlog.page(full=full)
        waiting = backlog.drained()
        with pytest.raises(StopIteration):  # done on its first step: it never suspends
            waiting.send(None)


async def test_polling_says_a_burst_waits_while_pages_come_full(
    telegram: TelegramServer, bot: ExtBot[None], updates: UpdatesRequest, database_url: str
):
    db = create_db_engine(database_url)
    await upgrade(db)
    inbox = DurableInbox(session_factory(db), max_attempts=3, retention=timedelta(days=1))
    backlog = Backlog()
    group, member = telegram.group("Busy club"), telegram.user("Member")
    for i in range(PAGE + 50):  # queued before the first getUpdates: a full page, then half
        telegram.send_text(group, member, f"hello {i}")
    seen: list[bool] = []

    def take(entry: InboxEntry, update: Update) -> None:
        seen.append(backlog.waiting)

    polling = Polling(bot, updates, inbox, acts_on=lambda _: True, take=take, backlog=backlog)
    running = asyncio.create_task(polling.run())
    try:
        async with asyncio.timeout(20):
            while len(seen) < PAGE + 50 or backlog.waiting:
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await db.dispose()
    # Taken from the first page before anything was known; from the second while the first
    # said more waited; and once the second came short, nothing waits.
    assert seen == [False] * PAGE + [True] * 50
    assert not backlog.waiting
