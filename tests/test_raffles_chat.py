"""Raffles through the real discord.py and python-telegram-bot stacks and their emulators:
the Enter button and /enter on each platform, a double click that is one entry, a gate at
entry, the draw posted under the announcement, and every entrant told privately (a Discord
DM; a Telegram private message, or, for a member who never started the bot, the answer to
/enter after the draw)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.support import png, serving

pytestmark = pytest.mark.db


async def test_raffles_entered_drawn_and_told_on_discord_and_telegram(
    discord: DiscordServer, telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    admin = discord.add_member("Ana", admin=True)
    role = discord.add_role("Fans")
    ada_d, bob_d = discord.add_member("Ada", roles=[role]), discord.add_member("Bob", roles=[role])
    outsider = discord.add_member("Max")
    ana, ada, max_ = telegram.user("Ana"), telegram.user("Ada"), telegram.user("Max")
    group = telegram.group("Art club", admins=[ana])
    telegram.chats[ada["id"]] = telegram.private(ada)  # Ada started the bot; Max never did
    env = {**bot_env, **discord.env(), **telegram.env(), "WEB_SERVER": "inline"}

    async def answer(pressed: Any) -> str:
        await discord.wait_for(lambda: pressed.original and pressed.original.get("content"))
        return str(pressed.original["content"])

    def posts() -> list[dict[str, Any]]:
        return [m for m in telegram.in_chat(group) if m.get("photo")]

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        # The admins make them: a minute's window (the dev chain mines the blocks after it).
        attachment = discord.add_attachment(png(21))
        options = [
            {"name": "image", "type": 11, "value": attachment["id"]},
            {"name": "name", "type": 3, "value": "Lucky discord"},
            {"name": "winners", "type": 4, "value": 1},
            {"name": "hours", "type": 10, "value": 0.02},
            {"name": "role", "type": 8, "value": role},
        ]
        made = await discord.slash(
            admin,
            "raffle",
            [{"name": "create", "type": 1, "options": options}],
            attachments={attachment["id"]: attachment},
            roles={role: discord.roles[role]},
        )
        await discord.wait_for(
            lambda: any("Lucky discord" in m["content"] for m in discord.posted())
        )
        announcement = next(m for m in discord.posted() if "Lucky discord" in m["content"])
        assert announcement["content"].startswith("Raffle #")
        assert "1 winner, 0 entered, entries open" in announcement["content"]
        assert "The draw's seed is the hash of block" in announcement["content"]
        on_discord = int(announcement["content"].split()[1].lstrip("#"))
        custom_id = announcement["components"][0]["components"][0]["custom_id"]
        assert custom_id == f"raffle:enter:{on_discord}"
        assert (await answer(made)).startswith(f"Raffle #{on_discord} is up")
        telegram.send_photo(group, ana, [png(22)], "/raffle_create Lucky telegram | 1 | 0.02")
        await telegram.wait_for(posts)
        (post,) = posts()
        assert str(post["caption"]).startswith("🎟 Raffle #")
        on_telegram = int(str(post["caption"]).split()[2].lstrip("#"))

        async def press(user: dict[str, Any]) -> str:
            query = telegram.press(user, post, f"raffle:enter:{on_telegram}")
            await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
            return str(telegram.callback_answers[query["id"]]["text"])

        assert "enter" in discord.commands and "raffle" in discord.commands
        first, double = await asyncio.gather(
            discord.click(ada_d, announcement, custom_id),
            discord.click(ada_d, announcement, custom_id),
        )
        said = sorted([await answer(first), await answer(double)])
        assert said[0].startswith("You are already entered in Lucky discord")
        assert said[1].startswith("You entered Lucky discord. Your ticket:")
        slash = await discord.slash(
            bob_d, "enter", [{"name": "drop", "type": 4, "value": on_discord}]
        )
        assert (await answer(slash)).startswith("You entered Lucky discord")
        refused = await discord.click(outsider, announcement, custom_id)
        assert "role" in (await answer(refused)).lower()

        assert (await press(ada)).startswith("You entered Lucky telegram")
        assert (await press(ada)).startswith("You are already entered")
        telegram.send_text(group, max_, f"/enter {on_telegram}")
        await telegram.wait_for(
            lambda: any("You entered" in str(m.get("text")) for m in telegram.in_chat(group))
        )

        closing = await discord.slash(
            admin, "raffle", [{"name": "close", "type": 1, "options": [
                {"name": "drop", "type": 4, "value": on_discord}]}],
        )  # fmt: skip
        assert "are closed at 2; the draw waits for block" in await answer(closing)
        telegram.send_text(group, ana, f"/raffle_close {on_telegram}")

        # Discord: the draw under the announcement; each entrant told in a DM, once.
        await discord.wait_for(
            lambda: discord.direct.told(ada_d) and discord.direct.told(bob_d), timeout=60
        )
        told = discord.direct.told(ada_d) + discord.direct.told(bob_d)
        assert len(told) == 2
        assert sum(t.startswith("You won Lucky discord!") for t in told) == 1
        assert sum("not drawn this time" in t for t in told) == 1
        assert not discord.direct.told(outsider)
        await discord.wait_for(
            lambda: any("is drawn: 1 winner among 2" in m["content"] for m in discord.posted())
        )
        drawn = next(m for m in discord.posted() if "is drawn" in m["content"])
        assert f"raffle verify {on_discord} --cid" in drawn["content"]
        await discord.wait_for(lambda: announcement["components"][0]["components"][0]["disabled"])

        # Telegram: Ada hears in private; Max, whom the bot cannot write to, asks again.
        await telegram.wait_for(
            lambda: any(
                "Lucky telegram" in str(m.get("text"))
                for m in telegram.in_chat(telegram.private(ada))
            ),
            timeout=60,
        )
        await telegram.wait_for(
            lambda: any("is drawn" in str(m.get("text")) for m in telegram.in_chat(group))
        )
        await telegram.wait_for(lambda: "is drawn" in str(post.get("caption")))
        assert "reply_markup" not in post  # no Enter button once drawn
        ada_won = any(
            "You won" in str(m.get("text")) for m in telegram.in_chat(telegram.private(ada))
        )
        count = len(telegram.in_chat(group))
        telegram.send_text(group, max_, f"/enter {on_telegram}")
        await telegram.wait_for(lambda: len(telegram.in_chat(group)) > count)
        late_answer = str(telegram.in_chat(group)[-1].get("text"))
        if ada_won:
            assert "not drawn this time" in late_answer
        else:
            assert late_answer.startswith("You won Lucky telegram!")
        # A winner's edition mints and is answered like any claim (here through the
        # winner's own /enter or Enter interaction, whose token is still good).
        await discord.wait_for(
            lambda: any(
                "minted" in str(f).lower()
                for i in discord.interactions.values()
                for f in i.followups
            ),
            timeout=60,
        )
