"""A community's language for its public posts (`/config language`, `/admin config language`):
the announcements, buttons and draws the whole chat reads speak it, whoever's request posts or
updates them, while each member is still answered in their own language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.drops.raffle_types import RaffleInfo
from bot.drops.types import DropInfo
from bot.i18n import speaking
from bot.runtime import Runtime
from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer, plain_text
from tests.support import Inbox, png, serving

pytestmark = pytest.mark.db


async def test_a_stored_language_is_a_shipped_locale_and_can_be_cleared(
    bot: tuple[Runtime, Inbox],
):
    communities = bot[0].service.communities
    set_ = await communities.configure("telegram", "-1", locale="es-MX")
    assert set_.locale == "es"
    assert (await communities.configure("telegram", "-1", paused=True)).locale == "es"  # kept
    assert (await communities.configure("telegram", "-1", locale="pt-BR")).locale == "en"
    assert (await communities.configure("telegram", "-1", locale=None)).locale is None


def test_a_raffles_public_texts_follow_the_community_not_the_reader():
    now = datetime(2026, 12, 2, tzinfo=UTC)
    drop = DropInfo(
        id=4, platform="telegram", community_id="-1", name="Luna", description="",
        image_cid="x", supply=2, claimed=0, per_user_limit=1, starts_at=now,
        ends_at=None, gates=(), closed_at=None, public_locale="de",
    )  # fmt: skip
    raffle = RaffleInfo(
        drop=drop, closes_at=now + timedelta(hours=1), block=9, chain_id=31337, entrants=3,
        drawn=False, seed=None, entrants_cid=None, winners=0, cancelled=False, gateway="g",
    )  # fmt: skip
    with speaking("es"):  # the admin who posts it speaks Spanish
        opened = raffle.open_text(now)
    assert opened.startswith("Verlosung #4 Luna") and "offen" in opened.lower(), opened


async def test_a_telegram_group_chooses_the_language_of_its_drops(
    telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    ana, eva, jonas = (
        telegram.user("Ana", "de"),
        telegram.user("Eva", "es"),
        telegram.user("Jonas", "de"),
    )
    group = telegram.group("Kunstclub", admins=[ana])

    async def said(user: dict[str, Any], text: str) -> str:
        message = telegram.send_text(group, user, text)
        await telegram.wait_for(lambda: telegram.replies_to(message))
        reply = telegram.replies_to(message)[0]
        return plain_text(reply["text"], reply.get("parse_mode"))

    async def press(user: dict[str, Any], post: dict[str, Any]) -> str:
        data = post["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query = telegram.press(user, post, data)
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return str(telegram.callback_answers[query["id"]]["text"])

    def caption(post: dict[str, Any]) -> str:
        return plain_text(post["caption"], "HTML")

    async with serving({**bot_env, **telegram.env()}):
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        # The German admin is answered in German; the group's posts will be Spanish.
        assert "Sprache öffentlicher Beiträge: Español" in await said(ana, "/config language es")
        assert "/config language en|es|de|default" in await said(ana, "/config language xx")
        photo = [{**telegram.add_file(png(801)), "width": 90, "height": 90}]
        telegram.send(group, ana, photo=photo, **telegram.caption("/drop_create Muelle | 2"))
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(group)))
        post = next(m for m in telegram.in_chat(group) if m.get("photo"))
        assert "Reclamadas: 0 / 2" in caption(post)
        assert post["reply_markup"]["inline_keyboard"][0][0]["text"] == "🎁 Reclamar"
        # A German member's claim is answered in German; the count it updates stays Spanish.
        assert (await press(jonas, post)).startswith("Du hast Muelle #1 von 2 beansprucht")
        await telegram.wait_for(lambda: "Reclamadas: 1 / 2" in caption(post), 30)
        assert post["reply_markup"]["inline_keyboard"][0][0]["text"] == "🎁 Reclamar"
        assert (await press(eva, post)).startswith("¡Has reclamado Muelle #2 de 2!")
        # Cleared: English again, said in the asker's German.
        assert "Sprache öffentlicher Beiträge: Englisch (keine gewählt)" in await said(
            ana, "/config language default"
        )


async def test_a_discord_server_chooses_its_language_from_a_menu(
    discord: DiscordServer, bot_env: dict[str, str]
) -> None:
    admin = discord.add_member("Ana", admin=True)
    async with serving({**bot_env, **discord.env()}):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        config = next(o for o in discord.commands["admin"]["options"] if o["name"] == "config")
        language = next(o for o in config["options"] if o["name"] == "language")
        assert [c["value"] for c in language["choices"]] == ["en", "es", "de", "default"]
        assert language["choices"][1]["name"] == "Español"  # each language by its own name
        assert language["choices"][3]["name_localizations"]["de"] == "keine (Englisch)"
        options = [{"name": "config", "type": 1, "options": [
            {"name": "language", "type": 3, "value": "de"}
        ]}]  # fmt: skip
        told = await discord.slash(admin, "admin", options, locale="es-ES")
        await discord.wait_for(lambda: told.callbacks)
        text = told.callbacks[0]["data"]["content"]
        assert "Idioma de las publicaciones públicas: Deutsch" in text
