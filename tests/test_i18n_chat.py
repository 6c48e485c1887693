"""Replies in the member's language, end to end: `python -m bot run`, unmodified, against the
Telegram and Discord emulators. Telegram's `language_code` and Discord's interaction `locale`
choose the language; English where neither names a shipped one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.support import COLLECTOR, signed_siwe
from tests.test_discord import discord_bot
from tests.test_telegram import polling_bot, readable

HOLDER = COLLECTOR.address


async def test_telegram_answers_help_and_wallet_in_the_members_language(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    eva, jonas, chloe = (
        telegram.user("Eva", "es"),
        telegram.user("Jonas", "de"),
        telegram.user("Chloé", "fr"),  # a language not shipped: English
    )

    async def ask(user: dict[str, Any], text: str) -> str:
        message = telegram.send_text(telegram.private(user), user, text)
        await telegram.wait_for(lambda: telegram.replies_to(message))
        return readable(telegram.replies_to(message)[0])

    async with polling_bot(telegram, bot_env, tmp_path / "bot.log"):
        spanish = await ask(eva, "/help")
        assert spanish.startswith("Convierte tu arte en un NFT\n")
        assert "/mint Name | optional description" in spanish  # commands stay as they are
        assert "conservar toda su calidad" in await ask(eva, "/start")
        assert await ask(eva, "/wallet") == (
            "No hay ningún monedero vinculado: el bot guarda tus NFT por ti. Vincula uno con "
            "/wallet link 0x…."
        )
        # Refusals the core raises are in the asker's language too.
        assert await ask(eva, "/wallet link 0x123") == (
            "'0x123' no es una dirección de Ethereum válida (0x y 40 dígitos hexadecimales)."
        )
        challenge = await ask(eva, f"/wallet link {HOLDER}")
        assert "Firma este mensaje en tu monedero" in challenge
        assert "Link this address to my Telegram account" in challenge  # what is signed: as is
        assert await ask(eva, f"/wallet verify {signed_siwe(challenge)}") == (
            f"Verificado: tus NFT irán a {HOLDER} (verificada: una firma de la clave del monedero)."
        )

        assert (await ask(jonas, "/help")).startswith("Präge deine Kunst als NFT\n")
        assert await ask(jonas, "/wallet verify 0x" + "11" * 65) == (
            "Diese Signatur gehört zu keiner Nachricht, die ich dir gegeben habe (oder sie wurde "
            "schon verwendet). Fordere mit /wallet link eine neue an und signiere sie genau so, "
            "wie sie ist."
        )

        english = await ask(chloe, "/help")
        assert english.startswith("Mint your art as an NFT\n")
        assert await ask(chloe, "/wallet") == (
            "No wallet linked: the bot holds your NFTs for you. Link one with /wallet link 0x…."
        )


async def test_discord_answers_in_the_interactions_locale_and_localizes_commands(
    discord: DiscordServer, bot_env: dict[str, str], tmp_path: Path
):
    member = discord.add_member("Eva")

    async def wallet(locale: str, command: str, **options: str) -> str:
        values = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
        asked = await discord.slash(
            member, "wallet", [{"name": command, "type": 1, "options": values}], locale=locale
        )
        await discord.wait_for(lambda: asked.callbacks)
        return str(asked.callbacks[0]["data"]["content"])

    async with discord_bot(discord, bot_env, tmp_path / "bot.log"):
        synced = discord.commands["wallet"]
        assert synced["description_localizations"]["de"] == "Deine Auszahlungs-Wallet"
        assert synced["description_localizations"]["es-419"] == "Tu monedero de cobro"
        link = next(c for c in synced["options"] if c["name"] == "link")
        assert link["options"][0]["name_localizations"]["de"] == "adresse"

        assert await wallet("de", "show") == (
            "Keine Wallet verknüpft: Der Bot verwahrt deine NFTs für dich. Verknüpfe eine mit "
            "/wallet link."
        )
        assert await wallet("de", "link", address="0x0") == (
            "'0x0' ist keine gültige Ethereum-Adresse (0x und 40 Hexadezimalziffern)."
        )
        challenge = await wallet("es-ES", "link", address=HOLDER)
        assert "Firma este mensaje en tu monedero" in challenge
        assert await wallet("es-419", "verify", signature=signed_siwe(challenge)) == (
            f"Verificado: tus NFT irán a `{HOLDER}` (verificada: una firma de la clave del "
            "monedero)."
        )
        help_de = await discord.slash(member, "help", [], locale="de")
        help_en = await discord.slash(member, "help", [], locale="en-GB")
        await discord.wait_for(lambda: help_de.callbacks and help_en.callbacks)
        assert help_de.callbacks[0]["data"]["content"].startswith("**Präge deine Kunst als NFT**")
        assert help_en.callbacks[0]["data"]["content"].startswith("**Mint your art as an NFT**")
        assert discord.commands["help"]["description_localizations"]["es-ES"] == (
            "Cómo acuñar y qué hace cada comando"
        )
        assert await wallet("pt-BR", "show") == (
            f"Your NFTs go to `{HOLDER}` (verified by your signature)."
        )
