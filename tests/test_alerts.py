"""The low-balance alert (bot/alerts.py): said once while the balance stays low, with the
address to fund, to every platform's admin channel, including one that connects later."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.alerts import BalanceAlerts
from bot.ports import RunningPlatforms
from bot.runtime import Runtime
from tests.support import DEV_MINTER, Inbox

pytestmark = pytest.mark.db


class AdminChannel:
    """A running platform as far as alerts go: where its admins read."""

    def __init__(self, name: str, tell: Callable[[str], Awaitable[None]]) -> None:
        self.name = name
        self.tell_admins = tell


async def test_a_low_balance_is_said_once_with_the_address_to_fund(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    heard: dict[str, list[str]] = {"discord": [], "telegram": []}

    async def to(where: str, text: str) -> None:
        heard[where].append(text)

    platforms = RunningPlatforms()
    alerts = BalanceAlerts(runtime.service, platforms, low_wei=10**30, turns=runtime.turns)
    platforms.add(AdminChannel("discord", lambda text: to("discord", text)))  # type: ignore[arg-type]
    assert await alerts.check()
    assert not await alerts.check()  # once per repeat period, not at every check
    (said,) = heard["discord"]
    assert f"Send funds to {DEV_MINTER.address}" in said and "alert below 1e+12" in said
    # a platform connecting later
    platforms.add(AdminChannel("telegram", lambda text: to("telegram", text)))  # type: ignore[arg-type]
    await asyncio.sleep(0.1)
    assert heard["telegram"] == [said]

    assert not await alerts.check()  # nor to the late one at the next check
    assert heard["telegram"] == [said]

    alerts.low_wei = 1  # funded again: quiet, and the next drop alerts at once
    assert not await alerts.check()
    alerts.low_wei = 10**30
    assert await alerts.check()
    assert len(heard["discord"]) == 2


async def test_processes_running_one_platform_tell_its_admins_once(bot: tuple[Runtime, Inbox]):
    """Two processes (two watchers on one database) that both run Discord: one alert."""
    runtime, _ = bot
    heard: list[str] = []

    async def tell(text: str) -> None:
        heard.append(text)

    watchers = []
    for _ in range(2):
        platforms = RunningPlatforms()
        platforms.add(AdminChannel("discord", tell))  # type: ignore[arg-type]
        watchers.append(BalanceAlerts(runtime.service, platforms, 10**30, turns=runtime.turns))
    told = await asyncio.gather(*(w.check() for w in watchers), *(w.check() for w in watchers))
    assert sum(told) == 1 and len(heard) == 1


async def test_a_failing_platform_does_not_silence_the_others(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    heard: list[str] = []

    async def broken(text: str) -> None:
        raise ConnectionError("channel deleted")

    async def working(text: str) -> None:
        heard.append(text)

    platforms = RunningPlatforms()
    alerts = BalanceAlerts(runtime.service, platforms, low_wei=10**30, turns=runtime.turns)
    platforms.add(AdminChannel("discord", broken))  # type: ignore[arg-type]
    platforms.add(AdminChannel("telegram", working))  # type: ignore[arg-type]
    assert await alerts.check()
    assert len(heard) == 1
