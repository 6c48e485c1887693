"""Members' commands in the member's language, end to end: `python -m bot run`, unmodified,
on Telegram and Discord at once against their emulators and anvil. /mynfts, /withdraw,
/leaderboard and /gallery answer in Spanish and German (Telegram's `language_code`, Discord's
interaction `locale`), English for a language not shipped; a new NFT's announcement is in the
community's language: English in a Telegram group, the server's primary one on Discord."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import speaking
from bot.withdrawals import REFUSED, WithdrawalView
from db.models import WithdrawalStatus
from tests.emulators.discord import DiscordServer, Interaction
from tests.emulators.telegram import TelegramServer, plain_text
from tests.support import COLLECTOR, bot_process, png, signed_siwe
from tests.test_discord import ephemeral_texts
from tests.test_telegram import readable

pytestmark = pytest.mark.db

HOLDER = COLLECTOR.address


def test_withdrawal_statuses_and_the_stored_refusal_are_shown_translated():
    view = WithdrawalView(1, None, "Dawn", HOLDER, WithdrawalStatus.SIGNED, None, None, None)
    failed = WithdrawalView(1, None, "Dawn", HOLDER, WithdrawalStatus.FAILED, None, None, REFUSED)
    with speaking("de"):
        assert view.status_text == "unterwegs"
        assert failed.status_text.startswith("Der Vertrag der Kollektion hat")
    with speaking("es-MX"):
        assert view.status_text == "en camino"
    assert failed.status_text == REFUSED  # English: as the column keeps it


async def test_members_commands_speak_their_language_on_telegram_and_discord(
    telegram: TelegramServer, discord: DiscordServer, bot_env: dict[str, str], tmp_path: Path
):
    eva, jonas, chloe = (
        telegram.user("Eva", "es"),
        telegram.user("Jonas", "de-AT"),
        telegram.user("Chloé", "fr"),  # not shipped: English
    )
    ana = telegram.user("Ana")
    group = telegram.group("Club", admins=[ana])
    # A server whose primary language is German; its members' clients say otherwise.
    discord.guilds[discord.guild_id]["preferred_locale"] = "de"
    hall = discord.add_channel("hall")
    admin, ada, max_ = (
        discord.add_member("Ana", admin=True),
        discord.add_member("Ada"),
        discord.add_member("Max"),
    )
    env = {**bot_env, **discord.env(), **telegram.env()}

    async def ask(user: dict[str, Any], text: str, chat: dict[str, Any] | None = None) -> str:
        message = telegram.send_text(chat or telegram.private(user), user, text)
        await telegram.wait_for(lambda: telegram.replies_to(message))
        return readable(telegram.replies_to(message)[0])

    def announced(name: str) -> list[str]:
        sent = telegram.sent("sendMessage")
        texts = [plain_text(c.params["text"], c.params.get("parse_mode")) for c in sent]
        return [t for t in texts if t.startswith("🎨") and name in t]

    async with bot_process(env, tmp_path / "bot.log"):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"), 90)

        # ----- Telegram ------------------------------------------------------------------
        assert "Announcing every mint" in await ask(ana, "/config announce here", group)
        photo = telegram.send_photo(group, eva, [png(150)], "/mint Amanecer")
        await telegram.wait_for(lambda: announced("Amanecer"), 60)
        # The group's announcement is in English, though a Spanish speaker minted it.
        assert announced("Amanecer")[0].startswith("🎨 New NFT: Amanecer by Eva\n")
        telegram.send_photo(group, jonas, [png(151)], "/mint Abend")
        await telegram.wait_for(lambda: announced("Abend"), 60)

        listing = await ask(eva, "/mynfts")
        assert listing.startswith("Tus NFT (1), página 1 de 1:\nAmanecer · NFT · en custodia: ")
        short_id = re.search(r"/withdraw ([0-9a-f]{8})", listing)
        assert short_id is not None, listing
        assert await ask(eva, f"/withdraw {short_id[1]}") == (
            "Los retiros solo van a una dirección que hayas demostrado que es tuya: vincula una "
            "con /wallet link, firma el mensaje y luego usa /wallet verify."
        )
        challenge = await ask(eva, f"/wallet link {HOLDER}")
        await ask(eva, f"/wallet verify {signed_siwe(challenge)}")
        assert await ask(eva, "/withdraw zz") == (
            "Ninguno de tus tokens en custodia tiene el ID 'zz'; /mynfts los muestra."
        )
        withdraw = telegram.send_text(telegram.private(eva), eva, f"/withdraw {short_id[1]}")
        await telegram.wait_for(
            lambda: "entregado" in "".join(map(readable, telegram.replies_to(withdraw))), 60
        )
        (answer,) = telegram.replies_to(withdraw)
        assert readable(answer) == (
            f"Retirando a {HOLDER}:\nAmanecer ({short_id[1]}): entregado · transacción"
        )
        assert await ask(eva, "/withdraw") == "No tienes tokens en custodia que retirar."
        assert await ask(eva, "/leaderboard") == (
            "Las clasificaciones son de cada grupo: pídela en uno."
        )

        assert (await ask(jonas, "/withdraw")).startswith(
            "Auszahlungen gehen nur an eine Adresse, die nachweislich dir gehört"
        )
        board = await ask(jonas, "/leaderboard", group)
        assert board.startswith("🏆 Top-Ersteller (geprägte Tokens)\n1. Eva: 1\n2. Jonas: 1\n")
        assert "Top-Sammler (Tokens im Besitz)" in board and board.endswith(
            "Alle NFTs dieser Gruppe"
        )
        gallery = (await ask(jonas, "/gallery", group)).splitlines()
        assert gallery[0] == "🖼️ Die NFTs dieser Gruppe (2)" and gallery[-1] == "Alle ansehen"
        assert sorted(gallery[1:-1]) == ["Abend von Jonas", "Amanecer von Eva"]
        theirs = telegram.send_text(group, jonas, "/gallery", reply_to=photo)
        await telegram.wait_for(lambda: telegram.replies_to(theirs))
        assert readable(telegram.replies_to(theirs)[0]).startswith("🖼️ NFTs von Eva (1)")

        assert (await ask(chloe, "/leaderboard", group)).startswith("🏆 Top creators (tokens")
        assert await ask(chloe, "/mynfts") == "Nothing minted yet. /help"

        # ----- Discord -------------------------------------------------------------------
        synced = discord.commands
        assert synced["withdraw"]["description_localizations"]["es-ES"] == (
            "Envía los NFT que el bot guarda para ti a tu monedero verificado"
        )
        assert synced["gallery"]["options"][0]["name_localizations"]["de"] == "mitglied"
        assert synced["leaderboard"]["description_localizations"]["de"] == (
            "Die besten Ersteller und Sammler hier"
        )

        async def slash(member: str, name: str, locale: str, **options: str) -> Interaction:
            values = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
            asked = await discord.slash(member, name, values, locale=locale)
            await discord.wait_for(lambda: asked.callbacks)
            return asked

        told = await discord.slash(
            admin,
            "admin",
            [
                {
                    "name": "config",
                    "type": 1,
                    "options": [{"name": "announce", "type": 3, "value": f"<#{hall}>"}],
                }
            ],
        )
        await discord.wait_for(lambda: ephemeral_texts(told))
        await discord.mint(ada, png(152), "Morgen")
        await discord.wait_for(lambda: discord.posted())
        (post,) = discord.posted()
        # The server's language, not the minter's (English) nor any asker's.
        assert post["channel_id"] == hall and post["content"] == "🎨 Neues NFT von **Ada**"

        nothing = await slash(max_, "mynfts", "de")
        assert nothing.callbacks[0]["data"]["content"] == "Noch nichts geprägt. Probier `/mint`."
        mine = await slash(ada, "mynfts", "es-ES")
        assert mine.callbacks[0]["data"]["embeds"][0]["footer"]["text"] == "1 de 1"
        board_de = (await slash(max_, "leaderboard", "de")).callbacks[0]["data"]["embeds"][0]
        assert board_de["title"] == "🏆 Bestenliste"
        assert board_de["fields"][0] == {
            "name": "Top-Ersteller (geprägte Tokens)",
            "value": "1. Ada: 1",
            "inline": True,
        }
        shown = (await slash(max_, "gallery", "es-419")).callbacks[0]["data"]["embeds"][0]
        assert shown["title"] == "🖼️ Los NFT de este servidor (1)"
        assert shown["description"].endswith("), de Ada")

        async def withdraw(locale: str) -> str:
            asked = await discord.slash(ada, "withdraw", [], locale=locale)
            await discord.wait_for(lambda: asked.original and asked.original["content"])
            assert asked.original is not None
            return str(asked.original["content"])

        assert (await withdraw("de")).startswith("Auszahlungen gehen nur an eine Adresse")
        assert (await withdraw("pt-BR")).startswith("Withdrawals go only to an address")
