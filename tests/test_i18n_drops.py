"""Drops, claims and allowlists in the member's language (Spanish, German; English for a
language not shipped), end to end through the Discord and Telegram emulators; and claims
settled together in one group commit, each refusal or edition told in its own claimer's
language whichever task ran the commit. The announcement and its buttons stay English: the
whole chat reads them."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from bot.errors import RequestRejected
from bot.i18n import speaking
from bot.ports import Claimant
from bot.runtime import Runtime
from tests.emulators.discord import DiscordServer, Interaction
from tests.emulators.telegram import TelegramServer, plain_text
from tests.support import Inbox, png, serving
from tests.test_allowlists_chat import answer, drop_command
from tests.test_drops import create

pytestmark = pytest.mark.db
# Line 3 names a member by name, line 5 gives an allowance that is no number.
BAD_LIST = b"member,allowance\ndiscord:1\ndiscord:ada\n\ndiscord:2,many\n"


async def test_claims_settled_in_one_group_commit_each_speak_their_claimers_language(
    bot: tuple[Runtime, Inbox],
):
    runtime, _ = bot
    drop = await create(runtime, name="Hafen", supply=3)

    async def claim(user: str, tag: str) -> str:
        with speaking(tag):
            try:
                result = await runtime.drops.claim(drop.id, Claimant("test", user), user)
            except RequestRejected as err:
                return err.text()
            return result.edition_text

    # Submitted together, so one transaction decides them all, run in the first claimer's
    # task (Spanish): each answer must still be in its own claimer's language.
    told = await asyncio.gather(
        claim("eva", "es"),
        claim("jonas", "de-AT"),
        claim("eva", "es-419"),
        claim("chloe", "fr"),
        claim("lukas", "de"),
        claim("zoe", "pt-BR"),
    )
    assert told == [
        "#1 de 3",
        "#2 von 3",
        "Has reclamado 1 de Hafen; el límite es 1 por miembro.",
        "#3 of 3",
        "Ausverkauft: Alle 3 Editionen von Hafen sind beansprucht.",
        "Sold out: all 3 editions of Hafen are claimed.",
    ]


async def test_drops_claims_and_allowlists_answer_in_the_members_language(
    discord: DiscordServer, telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    admin = discord.add_member("Ana", admin=True)
    eva, jonas, chloe = (discord.add_member(n) for n in ("Eva", "Jonas", "Chloé"))
    ana_t, eva_t = telegram.user("Ana", "de"), telegram.user("Eva", "es")
    jonas_t, max_t = telegram.user("Jonas", "de-CH"), telegram.user("Max")
    group = telegram.group("Kunstclub", admins=[ana_t])
    env = {**bot_env, **discord.env(), **telegram.env()}

    async def click(member: str, announcement: dict[str, Any], locale: str) -> Interaction:
        custom_id = announcement["components"][0]["components"][0]["custom_id"]
        pressed = await discord.click(member, announcement, custom_id, locale=locale)
        await discord.wait_for(lambda: pressed.original and pressed.original.get("content"))
        return pressed

    def said(interaction: Interaction) -> str:
        assert interaction.original is not None
        return str(interaction.original["content"])

    async def create_on_discord(name: str, locale: str, **options: Any) -> tuple[str, dict]:
        files = {"image": png(700 + len(discord.channel_messages))}
        create = await drop_command(discord, admin, "create", files, locale=locale, **options)
        await discord.wait_for(lambda: create.callbacks)
        (modal,) = create.callbacks
        assert modal["data"]["title"] == "Neuer Drop"  # the tree set the admin's language
        before = len(discord.channel_messages)
        made = await discord.submit_modal(
            admin, modal["data"]["custom_id"], {"name": name, "description": ""}, locale=locale
        )
        await discord.wait_for(lambda: len(discord.channel_messages) > before)
        return await answer(discord, made), discord.channel_messages[-1]

    async def press(user: dict[str, Any], announcement: dict[str, Any]) -> str:
        data = announcement["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query = telegram.press(user, announcement, data)
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return str(telegram.callback_answers[query["id"]]["text"])

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        synced = discord.commands["drop"]
        assert synced["description_localizations"]["de"] == "Community-Drops"
        assert synced["description_localizations"]["es-ES"] == "Drops de la comunidad"

        # Discord: the admin speaks German; the announcement is everybody's, in English.
        told, hafen = await create_on_discord("Hafen", "de", supply=2)
        drop_id = int(re.findall(r"Drop #(\d+)", told)[0])
        assert told.startswith(f"Drop #{drop_id} ist online: ")
        assert [f["name"] for f in hafen["embeds"][0]["fields"]][:2] == [
            "Claimed",
            "Each may claim",
        ]
        assert hafen["components"][0]["components"][0]["label"] == "Claim"
        first = await click(eva, hafen, "es-ES")
        assert said(first) == (
            "Has reclamado **Hafen** #1 de 2. Lo estoy acuñando para el bot, que lo guarda por "
            "ti (`/withdraw`)…"
        )
        assert said(await click(eva, hafen, "es-419")) == (
            "Has reclamado 1 de Hafen; el límite es 1 por miembro."
        )
        second = await click(jonas, hafen, "de")
        assert "Du hast **Hafen** #2 von 2 beansprucht." in said(second)
        assert said(await click(chloe, hafen, "fr")) == (
            "Sold out: all 2 editions of Hafen are claimed."
        )
        # Told after minting, from the pipeline: in each claimer's own language.
        for pressed, minted in ((first, "Tu edición está acuñada: "), (second, "Deine Edition")):
            await discord.wait_for(
                lambda p=pressed, m=minted: any(f["content"].startswith(m) for f in p.followups)
            )
        _, later = await create_on_discord("Mañana", "de", opens_in_minutes=60)
        assert said(await click(eva, later, "es-ES")).startswith("Mañana abre el ")

        # An allowlist refused with its bad lines by number, in the admin's German.
        files = {"file": BAD_LIST}
        refused = await drop_command(discord, admin, "allowlist", files, locale="de", drop=drop_id)
        assert (await answer(discord, refused)).splitlines() == [
            "Die Allowlist wurde abgelehnt (2 fehlerhafte Zeilen); nichts wurde geändert. "
            "Korrigiere die Datei und lade sie komplett neu hoch.",
            "Zeile 3: 'discord:ada': Ein discord-Mitglied wird mit seiner numerischen "
            "Benutzer-ID angegeben",
            "Zeile 5: das Kontingent 'many' ist keine ganze Zahl von 1 bis 1000",
        ]

        # Telegram: each member's language_code.
        photo = [{**telegram.add_file(png(701)), "width": 90, "height": 90}]
        telegram.send(group, ana_t, photo=photo, **telegram.caption("/drop_create Pier | 2"))
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(group)))
        post = next(m for m in telegram.in_chat(group) if m.get("photo"))
        assert "Claimed: 0 / 2" in plain_text(post["caption"], "HTML")  # the chat's: English
        assert post["reply_markup"]["inline_keyboard"][0][0]["text"] == "🎁 Claim"
        assert await press(eva_t, post) == "¡Has reclamado Pier #1 de 2! Lo estoy acuñando ahora."
        assert await press(eva_t, post) == "Has reclamado 1 de Pier; el límite es 1 por miembro."
        assert await press(max_t, post) == "You claimed Pier #2 of 2! Minting it now."
        assert await press(jonas_t, post) == (
            "Ausverkauft: Alle 2 Editionen von Pier sind beansprucht."
        )
        pier = int(re.findall(r"Drop #(\d+)", plain_text(post["caption"], "HTML"))[0])
        sent = telegram.send_document(
            group, ana_t, b"telegram:1\ntelegram:x\n", "text/csv", f"/drop_allowlist {pier}",
            file_name="l.csv",
        )  # fmt: skip
        await telegram.wait_for(lambda: telegram.replies_to(sent))
        reply = telegram.replies_to(sent)[0]
        assert plain_text(reply["text"], reply.get("parse_mode")) == (
            "Die Allowlist wurde abgelehnt (1 fehlerhafte Zeile); nichts wurde geändert. "
            "Korrigiere die Datei und lade sie komplett neu hoch.\n"
            "Zeile 2: 'telegram:x': Ein telegram-Mitglied wird mit seiner numerischen "
            "Benutzer-ID angegeben"
        )
