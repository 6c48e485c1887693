"""A community's webhooks from chat, through the real discord.py and python-telegram-bot stacks
and the emulators: admins add an endpoint and alone see its secret (ephemeral on Discord, in
private on Telegram), send it a test event the receiver verifies with that secret, list and
remove it; members who are not admins and URLs inside the network are refused."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.emulators.discord import DiscordServer, Interaction
from tests.emulators.telegram import TelegramServer
from tests.support import serving
from tests.test_discord import ephemeral_texts
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.db
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")
LOOPBACK_OK = {"WEBHOOK_ALLOW_LOOPBACK": "1", "WEBHOOK_POLL_S": "0.05"}


def webhook(action: str, **options: Any) -> list[dict[str, Any]]:
    kinds = {str: 3, int: 4}
    given = [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()]
    return [
        {"name": "webhook", "type": 2, "options": [{"name": action, "type": 1, "options": given}]}
    ]


async def told(discord: DiscordServer, asked: Interaction) -> str:
    await discord.wait_for(lambda: ephemeral_texts(asked))
    return "\n".join(ephemeral_texts(asked))


async def test_discord_admins_add_test_list_and_remove_a_webhook(
    discord: DiscordServer, bot_env: dict[str, str]
) -> None:
    ana, ada = discord.add_member("Ana", admin=True), discord.add_member("Ada")
    async with receiving("whsec_" + "A" * 44) as receiver:
        env = {**bot_env, **discord.env(), **LOOPBACK_OK}
        async with serving(env):
            await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
            refused = await discord.slash(ada, "admin", webhook("add", url=receiver.url))
            await discord.wait_for(lambda: refused.callbacks)
            assert "Manage Server" in refused.callbacks[0]["data"]["content"]

            inside = await discord.slash(ana, "admin", webhook("add", url="http://10.0.0.7/in"))
            assert await told(discord, inside) == "Webhooks may not go to a private address."

            added = await discord.slash(ana, "admin", webhook("add", url=receiver.url))
            text = await told(discord, added)
            assert text.startswith("Webhook #1 added:") and "shown only this once" in text
            secret = SECRET.search(text)
            assert secret is not None
            receiver.secret = secret[0]  # what the admin copies into their receiver

            again = await discord.slash(ana, "admin", webhook("add", url=receiver.url))
            assert "added already" in await told(discord, again)

            tested = await discord.slash(ana, "admin", webhook("test"))
            assert (
                await told(discord, tested) == "A webhook.test event is on its way to 1 webhook(s)."
            )
            await receiver.wait_for(lambda: receiver.accepted)
            (body,) = receiver.bodies.values()
            assert body["type"] == "webhook.test"
            assert body["data"] == {
                "platform": "discord",
                "community_id": discord.guild_id,
                "asked_by": ana,
            }

            listed = await discord.slash(ana, "admin", webhook("list"))
            # Markdown escaped: a line starting with # would be a heading.
            assert await told(discord, listed) == f"\\#1 {receiver.url}: enabled"
            removed = await discord.slash(ana, "admin", webhook("remove", number=1))
            assert "Webhook #1 removed" in await told(discord, removed)
            empty = await discord.slash(ana, "admin", webhook("test"))
            assert "no webhook" in await told(discord, empty)
    assert receiver.refused == 0


async def test_telegram_admins_get_the_secret_in_private_and_test_their_webhook(
    telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    ana, ada = telegram.user("Ana"), telegram.user("Ada")
    group = telegram.group("Art club", admins=[ana])
    env = {**bot_env, **telegram.env(), **LOOPBACK_OK}

    async with receiving("whsec_" + "A" * 44) as receiver, serving(env):
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        add = f"/webhook add {receiver.url}"
        assert "administrators" in await telegram.told(group, ada, add)
        assert "start a chat with @" in await telegram.told(group, ana, add)
        assert not SECRET.search("\n".join(telegram.said(group)))
        await telegram.told(telegram.private(ana), ana, "/start")
        assert await telegram.told(group, ana, "/webhook add http://192.168.1.9/in") == (
            "Webhooks may not go to a private address."
        )
        assert await telegram.told(group, ana, f"/webhook add {receiver.url}") == (
            "Webhook #1 added; I sent you its secret in private."
        )
        private = "\n".join(telegram.said(telegram.private(ana)))
        secret = SECRET.search(private)
        assert secret is not None and "shown only this once" in private
        assert not SECRET.search("\n".join(telegram.said(group)))  # the group never sees it
        receiver.secret = secret[0]

        assert await telegram.told(group, ana, "/webhook test") == (
            "A webhook.test event is on its way to 1 webhook(s)."
        )
        await receiver.wait_for(lambda: receiver.accepted)
        (body,) = receiver.bodies.values()
        assert body["type"] == "webhook.test" and body["data"]["platform"] == "telegram"
        assert body["data"]["community_id"] == str(group["id"])
        assert await telegram.told(group, ana, "/webhook") == f"#1 {receiver.url}: enabled"
        assert await telegram.told(group, ana, "/webhook remove 1") == (
            f"Webhook #1 removed: {receiver.url} receives no more events."
        )
        assert (await telegram.told(group, ana, "/webhook frobnicate")).startswith("Usage:")
    assert receiver.refused == 0
