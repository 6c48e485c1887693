"""The dashboard's sign-in links from chat, through the real discord.py and python-telegram-bot
stacks and their emulators: `/admin dashboard` answers an admin alone (ephemeral), Telegram
`/dashboard` answers in the admin's private chat even when asked in the group, members are
refused, and the link given signs its admin in to their own community's dashboard, once."""

from __future__ import annotations

import re

import aiohttp
import pytest

from bot.chain.devchain import free_port
from bot.dashboard.pages import COOKIE
from tests.emulators.discord import EPHEMERAL, DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.support import serving

pytestmark = pytest.mark.db

LINK = re.compile(r"http://127\.0\.0\.1:\d+/dashboard/(\w+)/(-?\d+)/signin\?token=[\w.%-]+")


async def signs_in(link: str, community_path: str) -> None:
    """The link opens a session on the community's pages, and only its first use does."""
    # unsafe: the jar keeps cookies of an IP address (the loopback one here).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(link) as answer:
            assert answer.status == 200, await answer.text()
            cookie = answer.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
            assert cookie["path"] == community_path
        async with http.get(link.split("/signin")[0]) as page:
            assert page.status == 200 and "Overview" in await page.text()
        async with http.get(link) as again:
            assert again.status == 403 and "used already" in await again.text()


async def test_admins_get_a_link_in_private_that_signs_them_in_once(
    discord: DiscordServer, telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**bot_env, **discord.env(), **telegram.env(), "HTTP_PORT": str(port)}
    env["PUBLIC_BASE_URL"] = base
    admin, member = discord.add_member("Ana", admin=True), discord.add_member("Max")
    ana, max_ = telegram.user("Ana"), telegram.user("Max")
    group = telegram.group("Art club", admins=[ana])

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))

        # Discord: members are refused; an admin alone sees the link.
        dashboard = [{"name": "dashboard", "type": 1, "options": []}]
        refused = await discord.slash(member, "admin", dashboard)
        await discord.wait_for(lambda: refused.callbacks)
        assert "Manage Server" in refused.callbacks[0]["data"]["content"]
        asked = await discord.slash(admin, "admin", dashboard)
        await discord.wait_for(lambda: asked.callbacks)
        (callback,) = asked.callbacks
        assert callback["data"]["flags"] & EPHEMERAL
        found = LINK.search(callback["data"]["content"])
        assert found is not None and found.groups() == ("discord", discord.guild_id)
        await signs_in(found[0], f"/dashboard/discord/{discord.guild_id}")

        # Telegram: a member is refused. Asked in the group before the admin opened a private
        # chat with the bot: no link, there or anywhere.
        assert "administrators" in await telegram.told(group, max_, "/dashboard")
        before_start = await telegram.told(group, ana, "/dashboard@mintbot_test_bot")
        assert "in private" in before_start and not LINK.search(before_start)
        # In private there is no group to sign in to.
        assert "work in groups" in await telegram.told(telegram.private(ana), ana, "/dashboard")
        private_before = len(telegram.in_chat(telegram.private(ana)))
        assert "private chat" in await telegram.told(group, ana, "/dashboard")
        private = telegram.in_chat(telegram.private(ana))[private_before:]
        # Sent as HTML: the link is the href of "open it".
        links = [m for message in private for m in LINK.finditer(message.get("text", ""))]
        assert links, private
        assert links[0].groups() == ("telegram", str(group["id"]))
        await signs_in(links[0][0], f"/dashboard/telegram/{group['id']}")
        assert not any(LINK.search(text) for text in telegram.said(group))
