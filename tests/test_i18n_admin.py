"""Admins and holders in their own language, end to end: `python -m bot run`, unmodified,
against the Telegram and Discord emulators. Admin commands, their refusals (a webhook to a
private address, a holder gate that is not one), a holders-only chat's word to a member it
declines, Discord's option names and descriptions, and Telegram's command menu per language;
English where the language is not shipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.errors import RequestRejected
from bot.i18n import speaking
from bot.webhooks.targets import check_host
from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.emulators.telegram.protocol import TOKEN
from tests.test_discord import discord_bot, ephemeral_texts
from tests.test_telegram import polling_bot

PRIVATE_HOOK = "http://192.168.1.9/in"


async def test_telegram_admin_commands_menus_and_holder_refusals_in_the_askers_language(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    eva, jonas, chloe = (
        telegram.user("Eva", "es"),
        telegram.user("Jonas", "de"),
        telegram.user("Chloé", "fr"),  # not shipped: English
    )
    pablo = telegram.user("Pablo", "es-419")  # asks to join; holds nothing
    group = telegram.group("Salón", admins=[eva, jonas, chloe])

    async with polling_bot(telegram, bot_env, tmp_path / "bot.log"):
        # One menu per shipped language, the English one the default; the names the same.
        default, spanish, german = (telegram.command_menu(c) for c in ("", "es", "de"))
        assert default["mint"] == "Mint an image: caption or reply /mint Name | description"
        assert spanish["help"] == "Cómo acuñar" and german["help"] == "So prägst du"
        assert spanish["withdraw"] == (
            "Mueve los NFT que el bot guarda para ti a tu monedero vinculado"
        )
        assert list(default) == list(spanish) == list(german)
        assert telegram.sent("setMyCommands")[0].params.get("language_code") is None

        assert await telegram.told(group, eva, "/pause") == (
            "La acuñación está en pausa aquí. Las solicitudes ya hechas siguen adelante."
        )
        assert await telegram.told(group, jonas, "/stats") == "Noch keine Anfragen."
        assert await telegram.told(group, jonas, "/config") == (
            "Prägen: pausiert\nWer prägen darf: alle Mitglieder\n"
            "Wer Bilder anderer prägen darf: Chat-Administratoren\n"
            "Ankündigung jeder Prägung: aus\n"
            "Sprache öffentlicher Beiträge: Englisch (keine gewählt)"
        )
        await telegram.told(telegram.private(jonas), jonas, "/start")
        assert await telegram.told(group, jonas, f"/webhook add {PRIVATE_HOOK}") == (
            "Webhooks dürfen nicht an eine private Adresse gehen."
        )
        refused = await telegram.told(group, eva, "/holders_only 1 0x12")
        assert refused.startswith(
            "Solo poseedores: '0x12' no es la dirección de un contrato (0x y 40 dígitos "
            "hexadecimales).\nUso: /holders_only [min] [ours|CONTRACT] [TOKEN_ID]: solo pueden"
        )
        made = await telegram.told(group, eva, "/holders_only")
        assert made.startswith("Este chat es ahora para quienes tengan un token de 0x")

        telegram.join_requests.request_to_join(group, pablo)
        await telegram.wait_for(lambda: telegram.said(telegram.private(pablo)))
        (declined,) = telegram.said(telegram.private(pablo))
        assert declined.startswith("Salón es para quienes tengan un token de 0x")
        assert declined.endswith(
            "Tienes 0 en la custodia del bot y ningún monedero verificado: vincula el tuyo con "
            "/wallet aquí y vuelve a pedir unirte."
        )
        assert await telegram.told(group, chloe, "/resume") == "Minting is on again."


async def test_discord_admin_commands_and_refusals_in_the_interactions_locale(
    discord: DiscordServer, bot_env: dict[str, str], tmp_path: Path
):
    ana, max_ = discord.add_member("Ana", admin=True), discord.add_member("Max")
    holders = discord.add_role("Holders")

    async def admin(member: str, locale: str, *path: str, **options: Any) -> str:
        """`member` runs /admin PATH… with `options` in `locale`; what they read."""
        types = {str: 3, int: 4}
        values = [{"name": k, "type": types[type(v)], "value": v} for k, v in options.items()]
        values = [{**v, "type": 8} if v["name"] == "role" else v for v in values]
        command: list[dict[str, Any]] = [{"name": path[-1], "type": 1, "options": values}]
        if len(path) == 2:
            command = [{"name": path[0], "type": 2, "options": command}]
        resolved = {"roles": {holders: discord.roles[holders]}} if "role" in options else {}
        asked = await discord.slash(member, "admin", command, locale=locale, **resolved)
        await discord.wait_for(lambda: ephemeral_texts(asked))
        return "\n".join(ephemeral_texts(asked))

    async with discord_bot(discord, bot_env, tmp_path / "bot.log"):
        synced = discord.commands["admin"]
        assert synced["description_localizations"]["de"] == "Verwalte das Prägen hier"
        config = next(c for c in synced["options"] if c["name"] == "config")
        minter = next(o for o in config["options"] if o["name"] == "minter_role")
        assert minter["name_localizations"]["es-ES"] == "rol_acuñador"
        assert minter["description_localizations"]["de"] == (
            "Nur diese Rolle darf prägen (@everyone: alle)"
        )
        assert "holder-role" in {c["name"] for c in synced["options"]}

        assert await admin(max_, "es-ES", "pause") == (
            "Solo los miembros con el permiso Gestionar servidor pueden usar los comandos de "
            "administración."
        )
        assert await admin(ana, "es-419", "pause") == (
            "La acuñación está en pausa aquí. Las solicitudes ya hechas siguen adelante."
        )
        assert await admin(ana, "de", "stats") == "Noch keine Anfragen."
        assert await admin(ana, "de", "config") == (
            "Prägen: **pausiert**\nKanäle: alle Kanäle\nWer prägen darf: alle\n"
            "Wer Nachrichten anderer prägen darf: niemand (nur die Autoren)\n"
            "Ankündigung jeder Prägung: aus\n"
            "Sprache öffentlicher Beiträge: Englisch (keine gewählt)"
        )
        assert await admin(ana, "de", "webhook", "add", url="http://10.0.0.7/in") == (
            "Webhooks dürfen nicht an eine private Adresse gehen."
        )
        assert await admin(ana, "es-ES", "holder-role", role=holders, collection="0x12") == (
            "Solo poseedores: '0x12' no es la dirección de un contrato (0x y 40 dígitos "
            "hexadecimales)."
        )
        assert await admin(ana, "pt-BR", "resume") == "Minting is on again."


def test_a_refusal_is_kept_in_english_and_shown_in_each_language():
    """A webhook refusal decided once reads in whoever's language shows it; logs and delivery
    records keep its English."""
    with pytest.raises(RequestRejected) as refused:
        check_host("::ffff:10.1.2.3", allow_loopback=False)  # an IPv4 one inside an IPv6 one
    assert str(refused.value) == "Webhooks may not go to a private address."
    with speaking("de-AT"):
        assert refused.value.text() == "Webhooks dürfen nicht an eine private Adresse gehen."
    with speaking("es"):
        assert refused.value.text() == "Los webhooks no pueden ir a una dirección privada."


@pytest.mark.parametrize(
    ("language_code", "status"), [("es", 200), ("", 200), ("es-ES", 400), ("ES", 400), ("e", 400)]
)
async def test_the_telegram_emulator_takes_a_menu_per_two_letter_language(
    telegram: TelegramServer, language_code: str, status: int
):
    """As the Bot API: `language_code` is empty or a two-letter ISO 639-1 code."""
    url = telegram.env()["TELEGRAM_API_BASE_URL"] + f"{TOKEN}/setMyCommands"
    menu = {"commands": [{"command": "help", "description": "Ayuda"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={**menu, "language_code": language_code}) as answer,
    ):
        assert answer.status == status, await answer.text()
        if status == 400:
            assert (await answer.json())["description"] == (
                "Bad Request: invalid language code specified"
            )
    assert telegram.command_menu(language_code) == ({"help": "Ayuda"} if status == 200 else {})
