"""The Telegram emulator's flood limits, driven directly over HTTP: 30 message calls a second
overall, 20 a minute in a group, one a second in a private chat, each a sliding window. The
call over a limit is refused unperformed with Telegram's 429 and the `retry_after` that frees
its window, written down as a violation, and counts into no window. Most tests run on a clock
of their own (`Clock`), so a window's edge is exact; they build their own emulator, which the
teardown check of the `telegram` fixture does not watch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import Bot
from telegram.error import RetryAfter

from tests.emulators.telegram import BOT_ID, TOKEN, TelegramLimits, TelegramServer


class Clock:
    """The emulator's time, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    """The bot's side of the emulator: its method calls, as raw HTTP."""

    server: TelegramServer
    session: aiohttp.ClientSession
    clock: Clock

    async def call(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        url = f"http://127.0.0.1:{self.server.port}/bot{TOKEN}/{method}"
        async with self.session.post(url, json=params) as response:
            return response.status, await response.json()

    async def say(self, chat: dict[str, Any], text: str = "hi") -> tuple[int, dict[str, Any]]:
        return await self.call("sendMessage", chat_id=chat["id"], text=text)

    def bot_messages(self) -> int:
        return sum(
            1 for m in self.server.messages.values() if m.get("from", {}).get("id") == BOT_ID
        )


async def open_api(limits: TelegramLimits | None = None) -> AsyncIterator[Api]:
    clock = Clock()
    server = TelegramServer(limits, clock=clock)
    await server.start()
    async with aiohttp.ClientSession() as session:
        yield Api(server, session, clock)
    await server.stop()


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    async for opened in open_api():
        yield opened


def started_private_chat(server: TelegramServer) -> dict[str, Any]:
    """A user's private chat with the bot, which they started (the bot may write there)."""
    user = server.user("Ada")
    chat = server.private(user)
    server.send_text(chat, user, "/start")
    return chat


def too_many(retry_after: int) -> dict[str, Any]:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


# (limit, its calls a window, the window in seconds, the chats one burst writes to)
LIMITS: list[tuple[str, int, float, Callable[[TelegramServer], list[dict[str, Any]]]]] = [
    ("overall", 30, 1.0, lambda server: [server.group(f"g{i}") for i in range(31)]),
    ("group", 20, 60.0, lambda server: [server.group("Art club")] * 21),
    ("private", 1, 1.0, lambda server: [started_private_chat(server)] * 2),
]


@pytest.mark.parametrize(
    ("limit", "capacity", "window", "chats_of"), LIMITS, ids=[x[0] for x in LIMITS]
)
async def test_each_limit_refuses_the_call_over_it_and_refused_calls_do_not_count(
    api: Api,
    limit: str,
    capacity: int,
    window: float,
    chats_of: Callable[[TelegramServer], list[dict[str, Any]]],
) -> None:
    chats = chats_of(api.server)
    over = chats[capacity]
    for chat in chats[:capacity]:
        assert (await api.say(chat))[0] == 200
    assert await api.say(over) == (429, too_many(int(window)))
    # Half a window on, still refused, with the wait left until the first calls leave.
    api.clock.now += window / 2
    assert await api.say(over) == (429, too_many(max(1, int(window / 2))))
    assert api.bot_messages() == capacity  # the refused calls were not performed
    # A window after the first calls, the window holds only refused calls: it is empty.
    api.clock.now += window / 2
    for chat in chats[:capacity]:
        assert (await api.say(chat))[0] == 200
    assert (await api.say(over))[0] == 429
    violations = api.server.limit_violations
    assert [(v.method, v.chat_id, v.limit) for v in violations] == [
        ("sendMessage", over["id"], limit)
    ] * 3
    assert [v.at for v in violations] == [1000.0, 1000.0 + window / 2, 1000.0 + window]


async def test_every_message_method_counts_and_other_methods_do_not(api: Api) -> None:
    chat = started_private_chat(api.server)
    for _ in range(5):
        assert (await api.call("sendChatAction", chat_id=chat["id"], action="typing"))[0] == 200
        assert (await api.call("getMe"))[0] == 200
    status, sent = await api.say(chat)
    assert status == 200
    message_id = sent["result"]["message_id"]
    # An edit is a message call: in the same second, over the private chat's limit.
    edit = {"chat_id": chat["id"], "message_id": message_id, "text": "edited"}
    assert (await api.call("editMessageText", **edit))[0] == 429
    # A method the emulator does not implement still counts (and is refused unperformed).
    assert (await api.call("sendDocument", chat_id=chat["id"], document="x"))[0] == 429
    assert [v.method for v in api.server.limit_violations] == ["editMessageText", "sendDocument"]


async def test_the_limits_are_set_at_construction() -> None:
    limits = TelegramLimits(overall_per_s=1000, group_per_minute=1000, private_per_s=3)
    async for api in open_api(limits):
        chat = started_private_chat(api.server)
        assert [(await api.say(chat))[0] for _ in range(4)] == [200, 200, 200, 429]
        assert api.server.limits == limits


async def test_a_429_a_test_injects_is_no_violation_and_counts_nothing(api: Api) -> None:
    chat = started_private_chat(api.server)
    api.server.throttle("sendMessage", 7)
    assert await api.say(chat) == (429, too_many(7))
    api.clock.now += 7
    assert (await api.say(chat))[0] == 200
    assert api.server.limit_violations == []


async def test_a_chat_told_to_wait_that_does_not_is_a_violation(api: Api) -> None:
    chat = started_private_chat(api.server)
    api.server.throttle("sendMessage", 7)
    assert await api.say(chat) == (429, too_many(7))
    api.clock.now += 6.5
    assert await api.say(chat) == (429, too_many(1))
    assert [(v.chat_id, v.limit) for v in api.server.limit_violations] == [
        (chat["id"], "retry_after")
    ]


async def test_the_report_lists_each_refused_call_with_its_time_into_the_test(api: Api) -> None:
    group = api.server.group("Art club")
    for _ in range(20):
        await api.say(group)
    api.clock.now += 2.5
    await api.call("editMessageText", chat_id=group["id"], message_id=1, text="x")
    assert api.server.limit_report() == (
        f"     2.500 s  editMessageText in chat {group['id']}: over the group limit"
        " (retry after 58 s)"
    )


@pytest.mark.telegram_over_limits
async def test_a_real_client_reads_the_refusal_as_retry_after(
    telegram: TelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-telegram-bot raises RetryAfter with the emulator's wait; this test goes over the
    group limit on purpose, so it is marked to keep the fixture's teardown check quiet."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    group = telegram.group("Art club")
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{telegram.port}/bot")
    async with bot:
        for i in range(20):
            await bot.send_message(group["id"], f"line {i}")
        with pytest.raises(RetryAfter) as refused:
            await bot.send_message(group["id"], "one too many")
    [violation] = telegram.limit_violations
    assert refused.value.retry_after == timedelta(seconds=violation.retry_after)
    assert 1 <= violation.retry_after <= 60
    assert len(telegram.in_chat(group)) == 20
