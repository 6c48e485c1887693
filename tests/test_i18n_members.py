"""Members' commands in the member's language, end to end: `python -m bot run`, unmodified,
on Telegram and Discord at once against their emulators and anvil. /mynfts, /withdraw,
/leaderboard and /gallery answer in Spanish and German (Telegram's `language_code`, Discord's
interaction `locale`), English for a language not shipped; a new NFT's announcement is in the
community's language: English in a Telegram group, the server's primary one on Discord."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import speaking
from bot.leaderboard_gallery import GalleryItem, GalleryPage
from bot.telegram.render import gallery_html
from bot.withdrawals import REFUSED, WithdrawalView
from db.models import WithdrawalStatus
from tests.emulators.discord import DiscordServer
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
        assert failed.status_text.startswith("Der Sammlungsvertrag hat")
    with speaking("es-MX"):
        assert view.status_text == "en camino"
    assert failed.status_text == REFUSED  # English: as the column keeps it


def test_an_edition_drops_artwork_counts_its_editions_in_the_members_language():
    artwork = GalleryItem(
        token_id=7,
        name="Sol",
        description="",
        image_cid=None,
        metadata_cid=None,
        creator_id="1",
        creator_name="Ana",
        owner=None,
        custodial=False,
        tx_hash=None,
        tx_url=None,
        community_id="-100",
        platform="telegram",
        minted_at=datetime(2026, 12, 2, tzinfo=UTC),
        editions=3,
    )
    page = GalleryPage([artwork, replace(artwork, editions=1)], 2, 0, 10)
    with speaking("de"):
        lines = gallery_html(page, "https://x/c", lambda token: f"https://x/t/{token}", None)
    assert lines.splitlines()[1:3] == [
        '<a href="https://x/t/7">Sol</a> von Ana · 3 Editionen',
        '<a href="https://x/t/7">Sol</a> von Ana · 1 Edition',
    ]


async def ask(
    telegram: TelegramServer, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None
) -> str:
    """`user` says `text` (in their private chat by default); the bot's first reply."""
    message = telegram.send_text(chat or telegram.private(user), user, text)
    await telegram.wait_for(lambda: telegram.replies_to(message))
    return readable(telegram.replies_to(message)[0])


def announced(telegram: TelegramServer, name: str) -> list[str]:
    sent = telegram.sent("sendMessage")
    texts = [plain_text(c.params["text"], c.params.get("parse_mode")) for c in sent]
    return [t for t in texts if t.startswith("🎨") and name in t]


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
    hall = discord.add_channel("hall")
    admin, ada, max_ = (
        discord.add_member("Ana", admin=True),
        discord.add_member("Ada"),
        discord.add_member("Max"),
    )
    env = {**bot_env, **discord.env(), **telegram.env()}

    async def spanish_withdrawal() -> None:
        listing = await ask(telegram, eva, "/mynfts")
        assert listing.startswith("Tus NFT (1), página 1 de 1:\nAmanecer · token · en custodia: ")
        short_id = re.search(r"/withdraw ([0-9a-f]{8})", listing)
        assert short_id is not None, listing
        assert await ask(telegram, eva, f"/withdraw {short_id[1]}") == (
            "Los retiros solo van a una dirección que hayas demostrado que es tuya: vincula una "
            "con /wallet link, firma el mensaje y luego usa /wallet verify."
        )
        challenge = await ask(telegram, eva, f"/wallet link {HOLDER}")
        await ask(telegram, eva, f"/wallet verify {signed_siwe(challenge)}")
        assert await ask(telegram, eva, "/withdraw zz") == (
            "Ninguno de tus tokens en custodia tiene el ID 'zz'; /mynfts los muestra."
        )
        withdraw = telegram.send_text(telegram.private(eva), eva, f"/withdraw {short_id[1]}")
        await telegram.wait_for(
            lambda: "entregado" in "".join(map(readable, telegram.replies_to(withdraw))), 60
        )
        (answer,) = telegram.replies_to(withdraw)  # edited in place once delivered
        assert readable(answer) == (
            f"Retirando a {HOLDER}:\nAmanecer ({short_id[1]}): entregado · transacción"
        )
        assert await ask(telegram, eva, "/withdraw") == "No tienes tokens en custodia que retirar."

    async def german_group() -> None:
        assert await ask(telegram, eva, "/leaderboard") == (
            "Las clasificaciones son de cada grupo: pídela en uno."
        )
        assert (await ask(telegram, jonas, "/withdraw")).startswith(
            "Auszahlungen gehen nur an eine Adresse, die nachweislich dir gehört"
        )
        board = (await ask(telegram, jonas, "/leaderboard", group)).split("\n\n")
        creators = board[0].splitlines()
        assert creators[0] == "🏆 Top-Ersteller (geprägte Tokens)"
        assert sorted(line[3:] for line in creators[1:]) == ["Eva: 1", "Jonas: 1"]  # a tie
        assert board[1].startswith("Top-Sammler (Tokens im Besitz)\n")
        assert board[2] == "Alle NFTs dieser Gruppe"
        gallery = (await ask(telegram, jonas, "/gallery", group)).splitlines()
        assert gallery[0] == "🖼️ Die NFTs dieser Gruppe (2)" and gallery[-1] == "Alle ansehen"
        assert sorted(gallery[1:-1]) == ["Abend von Jonas", "Amanecer von Eva"]
        theirs = telegram.send_text(group, jonas, "/gallery", reply_to=photo)
        await telegram.wait_for(lambda: telegram.replies_to(theirs))
        assert readable(telegram.replies_to(theirs)[0]).startswith("🖼️ NFTs von Eva (1)")
        english = await ask(telegram, chloe, "/leaderboard", group)
        assert english.startswith("🏆 Top creators (tokens")
        assert await ask(telegram, chloe, "/mynfts") == "Nothing minted yet. /help"

    async def discord_views() -> None:
        synced = discord.commands
        assert synced["withdraw"]["description_localizations"]["es-ES"] == (
            "Envía los NFT que el bot guarda para ti a tu monedero verificado"
        )
        assert synced["gallery"]["options"][0]["name_localizations"]["de"] == "mitglied"
        assert synced["leaderboard"]["description_localizations"]["de"] == (
            "Top-Ersteller und -Sammler hier"
        )

        async def slash(member: str, name: str, locale: str) -> dict[str, Any]:
            asked = await discord.slash(member, name, [], locale=locale)
            await discord.wait_for(lambda: asked.callbacks)
            return asked.callbacks[0]["data"]  # type: ignore[no-any-return]

        nothing = await slash(max_, "mynfts", "de")
        assert nothing["content"] == "Noch nichts geprägt. Probier `/mint`."
        mine = await discord.slash(ada, "mynfts", [], locale="es-ES")
        await discord.wait_for(lambda: mine.callbacks and mine.original)
        page = mine.callbacks[0]["data"]
        assert page["embeds"][0]["footer"]["text"] == "1 de 2"
        # A page turn is no command: it speaks the clicker's language all the same.
        assert mine.original is not None
        buttons = page["components"][0]["components"]
        ahead = next(b["custom_id"] for b in buttons if b["label"] == "▶")
        turned = await discord.click(ada, mine.original, ahead, locale="de")
        await discord.wait_for(lambda: turned.callbacks)
        assert turned.callbacks[0]["data"]["embeds"][0]["footer"]["text"] == "2 von 2"

        board = (await slash(max_, "leaderboard", "de"))["embeds"][0]
        assert board["title"] == "🏆 Bestenliste"
        assert board["fields"][0] == {
            "name": "Top-Ersteller (geprägte Tokens)",
            "value": "1. Ada: 2",
            "inline": True,
        }
        shown = (await slash(max_, "gallery", "es-419"))["embeds"][0]
        assert shown["title"] == "🖼️ Los NFT de este servidor (2)"
        assert shown["description"].endswith("), de Ada")

        async def withdraw(locale: str) -> str:
            asked = await discord.slash(ada, "withdraw", [], locale=locale)
            await discord.wait_for(lambda: asked.original and asked.original["content"])
            assert asked.original is not None
            return str(asked.original["content"])

        assert (await withdraw("de")).startswith("Auszahlungen gehen nur an eine Adresse")
        assert (await withdraw("pt-BR")).startswith("Withdrawals go only to an address")

    async with bot_process(env, tmp_path / "bot.log"):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"), 90)
        # Announcements wanted on both platforms, then every mint at once.
        assert "Announcing every mint" in await ask(telegram, ana, "/config announce here", group)
        # The server chose German for its public posts; its members' clients say otherwise.
        announce = [
            {"name": "announce", "type": 3, "value": f"<#{hall}>"},
            {"name": "language", "type": 3, "value": "de"},
        ]
        told = await discord.slash(
            admin, "admin", [{"name": "config", "type": 1, "options": announce}]
        )
        await discord.wait_for(lambda: ephemeral_texts(told))
        photo = telegram.send_photo(group, eva, [png(150)], "/mint Amanecer")
        telegram.send_photo(group, jonas, [png(151)], "/mint Abend")
        for seed, name in ((152, "Morgen"), (153, "Nacht")):
            await discord.mint(ada, png(seed), name)
        await telegram.wait_for(
            lambda: announced(telegram, "Amanecer") and announced(telegram, "Abend"), 60
        )
        await discord.wait_for(lambda: len(discord.posted()) == 2, 60)
        # Each community's announcement in its language, not the minter's nor any asker's:
        # English in the Telegram group, which chose none (though a Spanish speaker minted),
        # the server's chosen German.
        assert announced(telegram, "Amanecer")[0].startswith("🎨 New NFT: Amanecer by Eva\n")
        assert [(p["channel_id"], p["content"]) for p in discord.posted()] == [
            (hall, "🎨 Neues NFT von **Ada**")
        ] * 2
        # Members asking at the same time, each answered in their own language.
        await asyncio.gather(spanish_withdrawal(), german_group(), discord_views())
