"""Raffles and codeword drops in the member's language, end to end: the whole bot against the
Discord and Telegram emulators and anvil, in one run. Each entrant is told the draw's result
long after entering, in the language they entered in (Spanish, German, English for a tag not
shipped); a wrong code is refused in the member's language; admins are answered in theirs;
the announcement and the draw, which the whole chat reads, stay English."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.drops import gates_for
from bot.drops.raffle_types import RaffleInfo, locale_in, outcome_text
from bot.drops.types import DropInfo
from bot.errors import DropClosed
from bot.i18n import N_, speaking
from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.support import png, serving
from tests.test_codewords_chat import new_drop

# What each language says to a winner and to an entrant not drawn (the start of it).
WON = {"es": "¡Ganaste {name}!", "de": "Du hast {name} gewonnen!", "en": "You won {name}!"}
LOST = {
    "es": "El sorteo de {name} ya se hizo: esta vez no saliste",
    "de": "Die Ziehung von {name} ist erfolgt: Diesmal wurdest du nicht gezogen",
    "en": "The draw of {name} is done: you were not drawn this time",
}


def drawn(told: list[str]) -> list[str]:
    """What an entrant was told of the draw: a winner's edition is minted and answered too
    ("✅ …" or "❌ …"), in any order with the outcome."""
    return [s for s in told if not s.startswith(("✅", "❌"))]


def outcomes(told: dict[str, list[str]], languages: dict[str, str], name: str) -> list[str]:
    """Each entrant's one message, checked to be a win or a loss in their language; the
    languages of the winners."""
    winners = []
    for entrant, language in languages.items():
        (said,) = drawn(told[entrant])
        won = said.startswith(WON[language].format(name=name))
        assert won or said.startswith(LOST[language].format(name=name)), (entrant, said)
        winners += [entrant] if won else []
    return winners


@pytest.mark.db
async def test_raffle_results_and_code_refusals_in_each_members_language(
    discord: DiscordServer, telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    admin = discord.add_member("Ana", admin=True)
    eva_d, jonas_d, chloe_d = (discord.add_member(n) for n in ("Eva", "Jonas", "Chloé"))
    ana, eva, jonas, chloe = (
        telegram.user("Ana", "de"),
        telegram.user("Eva", "es"),
        telegram.user("Jonas", "de-AT"),
        telegram.user("Chloé", "fr"),  # not shipped: English
    )
    group = telegram.group("Kunstclub", admins=[ana])
    for user in (ana, eva, jonas, chloe):
        telegram.chats[user["id"]] = telegram.private(user)  # each started the bot
    env = {**bot_env, **discord.env(), **telegram.env(), "WEB_SERVER": "inline"}
    harbour = await new_drop(env, "telegram", str(group["id"]), gates=gates_for(chat_member=True))

    async def answer(interaction: Any) -> str:
        await discord.wait_for(lambda: interaction.original and interaction.original.get("content"))
        return str(interaction.original["content"])

    async def raffle(command: str, locale: str, **options: Any) -> str:
        values = [{"name": k, "type": 4, "value": v} for k, v in options.items()]
        sub = [{"name": command, "type": 1, "options": values}]
        return await answer(await discord.slash(admin, "raffle", sub, locale=locale))

    def private(user: dict[str, Any]) -> list[str]:
        return telegram.said(telegram.private(user))

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))

        # Codeword drops: the admin in German; wrong codes refused in each member's language.
        assert await telegram.told(telegram.private(ana), ana, f"/drop_word {harbour} Lantern") == (
            f"Drop #{harbour} wird jetzt mit seinem geheimen Wort beansprucht."
        )
        refusals = {
            language: await telegram.told(telegram.private(user), user, f"/claim {harbour} Nope1")
            for language, user in (("es", eva), ("de", jonas), ("en", chloe))
        }
        assert refusals["es"].startswith("Ese no es un código de Harbour.")
        assert refusals["de"].startswith("Das ist kein Code von Harbour.")
        assert refusals["en"].startswith("That is not a code of Harbour.")

        # A Discord raffle: made by an admin who reads German, announced in English.
        attachment = discord.add_attachment(png(41))
        created = await discord.slash(
            admin,
            "raffle",
            [{"name": "create", "type": 1, "options": [
                {"name": "image", "type": 11, "value": attachment["id"]},
                {"name": "name", "type": 3, "value": "Lucky"},
                {"name": "winners", "type": 4, "value": 1},
                {"name": "hours", "type": 10, "value": 0.02},
            ]}],
            attachments={attachment["id"]: attachment},
            locale="de",
        )  # fmt: skip
        assert (await answer(created)).startswith("Verlosung #")
        (announcement,) = [m for m in discord.posted() if "Lucky" in m["content"]]
        assert announcement["content"].startswith("Raffle #")
        assert "1 winner, 0 entered, entries open" in announcement["content"]
        lucky = int(announcement["content"].split()[1].lstrip("#"))

        on_discord = {eva_d: "es-ES", jonas_d: "de", chloe_d: "pt-BR"}
        entered = []
        for member, locale in on_discord.items():
            enter = [{"name": "drop", "type": 4, "value": lucky}]
            entered.append(await answer(await discord.slash(member, "enter", enter, locale=locale)))
        assert entered[0].startswith("Te inscribiste en Lucky. Tu boleto:")
        assert entered[1].startswith("Du nimmst an Lucky teil. Dein Los:")
        assert entered[2].startswith("You entered Lucky. Your ticket:")
        code = [{"name": "code", "type": 3, "value": "x1"}, {"name": "drop", "type": 4}]
        code[1]["value"] = lucky
        claimed = await discord.slash(jonas_d, "claim", code, locale="de")
        assert await answer(claimed) == (
            "Lucky wird nicht mit einem Code beansprucht: Nutze seinen Button Claim."
        )

        # A Telegram raffle, entered by button (Spanish) and by /enter (German).
        telegram.send_photo(group, ana, [png(42)], "/raffle_create Glück | 1 | 0.02")
        await telegram.wait_for(lambda: [m for m in telegram.in_chat(group) if m.get("photo")])
        (post,) = [m for m in telegram.in_chat(group) if m.get("photo")]
        assert str(post["caption"]).startswith("🎟 Raffle #")
        glueck = int(str(post["caption"]).split()[2].lstrip("#"))
        query = telegram.press(eva, post, f"raffle:enter:{glueck}")
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        assert telegram.callback_answers[query["id"]]["text"].startswith("Te inscribiste en Glück.")
        assert (await telegram.told(group, jonas, f"/enter {glueck}")).startswith(
            "Du nimmst an Glück teil."
        )

        # The admins close both, each answered in German; the draws follow.
        assert (await raffle("close", "de", drop=lucky)).startswith(
            f"Die Teilnahme an Verlosung #{lucky} ist bei 3 geschlossen"
        )
        assert (await telegram.told(group, ana, f"/raffle_close {glueck}")).startswith(
            f"Die Teilnahme an Verlosung #{glueck} ist bei 2 geschlossen"
        )

        # Each entrant is told, privately and in their own language.
        await discord.wait_for(
            lambda: all(drawn(discord.direct.told(m)) for m in on_discord), timeout=60
        )
        told = {m: discord.direct.told(m) for m in on_discord}
        languages = {eva_d: "es", jonas_d: "de", chloe_d: "en"}
        assert len(outcomes(told, languages, "Lucky")) == 1
        await telegram.wait_for(
            lambda: all(any("Glück" in s for s in drawn(private(u))) for u in (eva, jonas)),
            timeout=60,
        )
        told = {u["first_name"]: [s for s in private(u) if "Glück" in s] for u in (eva, jonas)}
        assert len(outcomes(told, {"Eva": "es", "Jonas": "de"}, "Glück")) == 1

        # What the whole chat reads stays English.
        await discord.wait_for(
            lambda: any("is drawn: 1 winner among 3" in m["content"] for m in discord.posted())
        )
        await telegram.wait_for(
            lambda: any("is drawn: 1 winner among 2" in s for s in telegram.said(group))
        )


def drawn_raffle(name: str) -> RaffleInfo:
    moment = datetime(2026, 12, 2, tzinfo=UTC)
    drop = DropInfo(
        id=7, platform="discord", community_id="1", name=name, description="", image_cid="",
        supply=1, claimed=1, per_user_limit=1, starts_at=moment, ends_at=None, gates=(),
        closed_at=None,
    )  # fmt: skip
    return RaffleInfo(
        drop=drop, closes_at=moment, block=9, chain_id=31337, entrants=2, drawn=True,
        seed="0x" + "00" * 32, entrants_cid="bafy", winners=1, cancelled=False,
        gateway="http://127.0.0.1:8080",
    )  # fmt: skip


def test_a_winner_whose_edition_was_refused_hears_why_in_their_language():
    """The reason is stored untranslated (a Said's JSON) and told in the winner's language;
    a reason stored as plain English before (braces and all) is told as it is."""
    info = drawn_raffle("Lucky")
    stored = DropClosed(N_("Entries to {name} are closed."), name="Lucky").said.to_json()
    with speaking("de"):
        assert outcome_text(info, "won", "ab" * 32, stored, None) == (
            "Du hast Lucky gewonnen, aber deine Edition konnte nicht vergeben werden: "
            "Die Teilnahme an Lucky ist geschlossen."
        )
    with speaking("es-419"):
        assert outcome_text(info, "won", "ab" * 32, "Link a wallet {first}", None) == (
            "Ganaste Lucky, pero no se te pudo dar tu edición: Link a wallet {first}"
        )


@pytest.mark.parametrize(
    ("reply_to", "tag"),
    [({"locale": "de-AT"}, "de-AT"), ({}, None), ({"locale": 5}, None), ({"locale": None}, None)],
)
def test_the_locale_an_entry_recorded(reply_to: dict[str, object], tag: str | None):
    assert locale_in(reply_to) == tag
