"""The mint pipeline in the member's language, end to end: `python -m bot run`, unmodified,
against the Telegram and Discord emulators and anvil. The locale is recorded with each request,
so the answer the pipeline gives later (a worker decided it) is in the language asked in, and a
stored failure is said in it too; English for a language not shipped and for older rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.content.images import NOT_AN_IMAGE
from bot.i18n import speaking
from bot.i18n.said import Said
from bot.minting.types import MintResult
from bot.telegram.post import Line, Post, rendering
from bot.telegram.render import result_html
from db.models import Phase
from tests.emulators.discord import EPHEMERAL, DiscordServer, Interaction
from tests.emulators.telegram import TelegramServer
from tests.support import png
from tests.test_discord import discord_bot, final_embed
from tests.test_telegram import polling_bot, readable

pytestmark = pytest.mark.db


async def test_telegram_mints_and_refuses_in_the_members_language(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    eva, jonas, chloe = (
        telegram.user("Eva", "es"),
        telegram.user("Jonas", "de-AT"),
        telegram.user("Chloé", "fr"),  # not shipped: English
    )
    chats = {
        who["first_name"]: telegram.group(f"Club of {who['first_name']}") for who in (eva, jonas)
    }

    async def status(user: dict[str, Any]) -> str:
        asked = telegram.send_text(telegram.private(user), user, "/status")
        await telegram.wait_for(lambda: telegram.replies_to(asked))
        return readable(telegram.replies_to(asked)[0])

    async def final_reply(message: dict[str, Any]) -> str:
        """The reply to `message` once it is no longer "minting…" (in any language)."""

        def decided() -> bool:
            replies = telegram.replies_to(message)
            return bool(replies) and not readable(replies[-1]).startswith("⏳")

        await telegram.wait_for(decided)
        return readable(telegram.replies_to(message)[-1])

    async with polling_bot(telegram, bot_env, tmp_path / "bot.log"):
        rock = telegram.send_photo(chats["Eva"], eva, [png(1, (16, 16))], "/mint Roca | muelle")
        # Not a picture: the content workers refuse it, and the stored reason is what the
        # member reads once the pipeline decides, in their language.
        broken = telegram.send_document(
            chats["Jonas"], jonas, b"no picture at all", "image/png", "/mint Kaputt"
        )
        usage = telegram.send_text(telegram.private(chloe), chloe, "/mint")

        spanish = await final_reply(rock)
        assert spanish.startswith("✅ Acuñado Roca\nID del token: 0x")
        assert "Ver token" in spanish and "Propietario: el bot lo guarda para ti;" in spanish
        assert "/withdraw" in spanish  # commands stay as they are
        first_said = {m.params["text"] for m in telegram.sent("sendMessage")}
        assert {"⏳ Acuñando…", "⏳ Wird geprägt…"} <= first_said  # the "minting…" replies

        german = await final_reply(broken)
        assert german == "❌ Nicht geprägt: " + (
            "Diese Datei ist kein Bild, das ich prägen kann. Sende ein PNG-, JPEG-, GIF-, WebP- "
            "oder AVIF-Bild."
        )
        await telegram.wait_for(lambda: telegram.replies_to(usage))
        assert readable(telegram.replies_to(usage)[0]).startswith("Give it a name:")

        assert (await status(eva)).startswith("Roca: acuñado · transacción")
        assert await status(jonas) == "Kaputt: abgelehnt"


def localized_mint(
    discord: DiscordServer, user_id: str, image: bytes, name: str, locale: str
) -> Any:
    attachment = discord.add_attachment(image)
    options = [
        {"name": "image", "type": 11, "value": attachment["id"]},
        {"name": "name", "type": 3, "value": name},
    ]
    return discord.slash(
        user_id, "mint", options, locale=locale, attachments={attachment["id"]: attachment}
    )


def private_texts(interaction: Interaction) -> list[str]:
    return [m["content"] for m in interaction.followups if m["flags"] & EPHEMERAL]


async def test_discord_mints_and_refuses_in_the_interactions_locale(
    discord: DiscordServer, bot_env: dict[str, str], tmp_path: Path
):
    jonas, eva = discord.add_member("Jonas"), discord.add_member("Eva")
    async with discord_bot(discord, bot_env, tmp_path / "bot.log"):
        assert discord.commands["mint"]["description_localizations"]["de"] == (
            "Präge ein Bild als NFT"
        )
        assert discord.commands["status"]["description_localizations"]["es-ES"] == (
            "Tus últimas solicitudes de acuñación"
        )
        # A message command's name is its menu entry's label: translated, spaces and all.
        assert discord.commands["Mint as NFT"]["name_localizations"] == {
            "de": "Als NFT prägen", "es-ES": "Acuñar como NFT", "es-419": "Acuñar como NFT"
        }  # fmt: skip
        harbour = await localized_mint(discord, jonas, png(2), "Hafen", "de")
        broken = await localized_mint(discord, eva, b"not a picture", "Roto", "es-419")
        await discord.wait_for(lambda: harbour.original and harbour.original.get("embeds"))
        assert harbour.original is not None and harbour.original["content"] == "Geprägt!"
        fields = {f["name"]: f["value"] for f in final_embed(harbour)["fields"]}
        assert set(fields) == {"Token-ID", "Links", "Eigentümer"}
        assert "[Transaktion](" in fields["Links"] and "`/withdraw " in fields["Eigentümer"]

        await discord.wait_for(lambda: private_texts(broken))
        assert private_texts(broken) == [
            "No pude acuñar eso: Ese archivo no es una imagen que pueda acuñar. Envía una "
            "imagen PNG, JPEG, GIF, WebP o AVIF."
        ]
        status = await discord.slash(jonas, "status", [], locale="de")
        await discord.wait_for(lambda: status.callbacks)
        assert status.callbacks[0]["data"]["content"].startswith(
            "**Hafen**: geprägt · [Transaktion]("
        )


def result(**changes: Any) -> MintResult:
    fields: dict[str, Any] = dict(
        request_id=1,
        key="telegram:1:2",
        platform="telegram",
        chat_id="1",
        message_id="2",
        requester_id="3",
        requester_name="Eva",
        community_id="1",
        reply_to={"locale": "es"},
        name="Roca",
        phase=Phase.REJECTED,
        status_text="refused",
        recipient=None,
        custodial=False,
        token_id=None,
        image_cid=None,
        metadata_cid=None,
        tx_hash=None,
        tx_url=None,
        contract="0x" + "00" * 20,
        edition=None,
        token_url=None,
        marketplace_url=None,
        failure_reason=None,
    )
    return MintResult(**(fields | changes))


def test_an_older_row_without_its_said_still_renders():
    """Rows stored before `failure_said`: the English reason through the catalogue, or as it
    is; no reason at all: the phase."""
    known = result(failure_reason=NOT_AN_IMAGE)
    unknown = result(failure_reason="The RPC said no (code -32000).")
    bare = result(failure_reason=None)
    with speaking(known.locale):
        assert result_html(known) == (
            "❌ No acuñado: Ese archivo no es una imagen que pueda acuñar. Envía una imagen "
            "PNG, JPEG, GIF, WebP o AVIF."
        )
        assert result_html(unknown) == "❌ No acuñado: The RPC said no (code -32000)."
        assert result_html(bare) == "❌ No acuñado: rechazado"
    assert result_html(known) == f"❌ Not minted: {NOT_AN_IMAGE}"


def test_a_status_message_speaks_its_openers_language_and_a_lone_line_its_members():
    """The chat's status message replies to Jonas: all of it in German, Eva's line included;
    a reply to Eva's own message, holding only her line, in Spanish."""
    board = Post(chat_id=1, reply_to=10, locale="de")
    board.add(Line("10", "Jonas", "Hafen", "de"))
    board.add(Line("11", "Eva", "Roca", "es"))
    board.lines[1].settle(rendering(Said(NOT_AN_IMAGE)))
    with speaking("es"):  # whichever task renders it, in whatever locale
        assert board.html().splitlines() == [
            "Präge-Anfragen hier: 1 von 2 erledigt",
            "1. Jonas · <b>Hafen</b>: ⏳ wird geprägt…",
            "2. Eva · <b>Roca</b>: Diese Datei ist kein Bild, das ich prägen kann. Sende ein "
            "PNG-, JPEG-, GIF-, WebP- oder AVIF-Bild.",
        ]
    alone = Post(chat_id=1, reply_to=11, locale="de")
    alone.add(Line("11", "Eva", "Roca", "es"))
    assert alone.html() == "⏳ Acuñando…"
