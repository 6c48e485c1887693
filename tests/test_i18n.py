"""The catalogues (bot/i18n/): every shipped language is complete, keeps each message's
placeholders, tags and commands, compiles, and is up to date with the code; the locale a tag
maps to; Discord's localized command names stay valid."""

from __future__ import annotations

import asyncio
import gettext
import importlib
import io
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import discord
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from discord import app_commands
from discord.ext import commands
from hypothesis import given
from hypothesis import strategies as st

from bot.discord.client import COGS
from bot.discord.translator import CatalogueTranslator, valid_name
from bot.i18n import ENGLISH, LOCALES, _, catalogues, current, locale_of, speaking, translate
from bot.i18n.catalogues import DOMAIN, LOCALE_DIR, catalogue_paths, compile_po, translations
from cogs.admin import Admin
from cogs.allowlists import allowlist_command
from cogs.codewords import Codewords
from cogs.drops import Drops
from cogs.engagement import Showcase
from cogs.help import Help
from cogs.holders import HolderRoleCommands
from cogs.mint import Mint
from cogs.raffles import Entering, Raffles
from cogs.wallet import Custody, Wallet
from tests.emulators.discord.commands import refusals, slash_name

ROOT = Path(__file__).resolve().parents[1]
TRANSLATED = [locale for locale in LOCALES if locale != ENGLISH]

PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_]+\)[sd]|%[sd]")
TAG = re.compile(r"</?[a-z]+[^>]*>")
COMMAND = re.compile(r"(?<![\w/.])/[a-z_]+")
MARKDOWN = re.compile(r"\*\*|`")  # Discord's bold and code spans


def catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale, domain=DOMAIN)


def messages(found: Catalog) -> list[Message]:
    return [m for m in found if m.id]


def texts(message: Message) -> tuple[str, str]:
    """(msgid, msgstr); plural entries joined, each form held to the same rule."""
    if isinstance(message.id, tuple):
        return "\n".join(message.id), "\n".join(message.string)
    return message.id, message.string


TEMPLATE = catalogue(LOCALE_DIR / f"{DOMAIN}.pot")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_message_of_the_template_is_translated(locale: str):
    po, _mo = catalogue_paths(locale)
    shipped = catalogue(po, locale)
    missing = [m.id for m in messages(TEMPLATE) if not (m.id in shipped and shipped[m.id].string)]
    fuzzy = [m.id for m in messages(shipped) if m.fuzzy]
    stale = [m.id for m in messages(shipped) if m.id not in TEMPLATE]
    assert (missing, fuzzy, stale) == ([], [], [])


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_placeholders_tags_markdown_and_commands(locale: str):
    shipped = catalogue(catalogue_paths(locale)[0], locale)
    for message in messages(shipped):
        original, translated = texts(message)
        for pattern in (PLACEHOLDER, TAG, COMMAND, MARKDOWN):
            assert Counter(pattern.findall(translated)) == Counter(pattern.findall(original)), (
                locale,
                original,
                translated,
            )


def test_the_template_is_up_to_date_with_the_code(tmp_path: Path):
    """The same extraction as `make messages`: a string marked in the code without an entry in
    the template (or an entry no code uses) fails here."""
    fresh = tmp_path / "fresh.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "locale_str",
            "--no-location",
            "-o",
            str(fresh),
            str(ROOT),
        ]
    )
    assert {m.id for m in messages(catalogue(fresh))} == {m.id for m in messages(TEMPLATE)}


@pytest.mark.parametrize("locale", TRANSLATED)
def test_catalogues_compile_and_translate_every_message(locale: str):
    po = catalogue_paths(locale)[0]
    shipped = catalogue(po, locale)
    compiled = gettext.GNUTranslations(io.BytesIO(compile_po(po)))
    # Each message reads as its translation, which may equal the English ("Status" in German).
    for message in messages(TEMPLATE):
        if isinstance(message.id, str):
            assert compiled.gettext(message.id) == shipped[message.id].string
    assert translations(locale).gettext("Your payout wallet") == compiled.gettext(
        "Your payout wallet"
    )


def test_a_missing_or_stale_mo_is_compiled_from_its_po(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A checkout where `make setup` did not run (or not since the .po changed) still speaks."""
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    po.write_bytes(catalogue_paths("es")[0].read_bytes())
    monkeypatch.setattr(catalogues, "LOCALE_DIR", tmp_path)
    load = catalogues.translations.__wrapped__  # uncached
    assert load("es").gettext("Where your NFTs go") == "Adónde van tus NFT"  # no .mo at all
    older = Catalog(locale="es", domain=DOMAIN)
    older.add("Where your NFTs go", "Dónde van tus NFT (antiguo)")
    with mo.open("wb") as out:
        write_mo(out, older)
    written = po.stat().st_mtime
    os.utime(mo, (written - 60, written - 60))
    assert load("es").gettext("Where your NFTs go") == "Adónde van tus NFT"  # stale: the .po
    os.utime(mo, (written + 60, written + 60))
    assert load("es").gettext("Where your NFTs go") == "Dónde van tus NFT (antiguo)"


def test_english_needs_no_catalogue_and_is_the_fallback():
    assert not catalogue_paths(ENGLISH)[0].exists()
    with speaking("fr-FR"):
        assert current() == ENGLISH
        assert _("Where your NFTs go") == "Where your NFTs go"
    assert translate("Where your NFTs go", "de") == "Wohin deine NFTs gehen"


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("es-ES", "es"),
        ("es-419", "es"),
        ("es", "es"),
        ("de", "de"),
        ("de-AT", "de"),
        ("DE_ch", "de"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("pt-BR", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_locale_of_maps_discord_and_telegram_tags(tag: str | None, locale: str):
    assert locale_of(tag) == locale


@given(st.one_of(st.none(), st.text(max_size=40), st.integers(), st.lists(st.text())))
def test_any_tag_maps_to_a_shipped_locale(tag: object):
    # A stored request's "locale" is read back from JSON: whatever it holds, it maps.
    assert locale_of(tag) in LOCALES


@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=5))
def test_speaking_blocks_nest_and_restore(tags: list[str | None]):
    outer = current()
    for tag in tags:
        with speaking(tag) as locale:
            assert current() == locale == locale_of(tag)
        assert current() == outer


async def test_each_task_keeps_its_own_locale():
    """Requests handled at once each speak their member's language (a ContextVar per task)."""

    async def answer(tag: str) -> str:
        with speaking(tag):
            await asyncio.sleep(0)
            return _("Where your NFTs go")

    said = await asyncio.gather(answer("es"), answer("de"), answer("en"))
    assert said == ["Adónde van tus NFT", "Wohin deine NFTs gehen", "Where your NFTs go"]


async def test_discord_names_and_descriptions_are_localized_and_valid():
    """Every name and description of /wallet, /help, /drop and the members' commands (/mint,
    /status, /withdraw, /mynfts, /leaderboard, /gallery), through the translator, in every
    locale Discord has (`discord.Locale`): names Discord accepts, descriptions within its 100
    characters, and Spanish and German where shipped."""
    translator = CatalogueTranslator()
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    # The cog's commands as discord.py builds them (in `__new__`); no runtime is needed for
    # their names and descriptions.
    group = Wallet.__new__(Wallet).__cog_app_commands_group__
    assert group is not None
    # One payload holds every locale's names and descriptions, as synced to Discord.
    wallet = await group.get_translated_payload(tree, translator)
    help_command = await Help.help.get_translated_payload(tree, translator)
    drops_group = Drops.__new__(Drops).__cog_app_commands_group__
    assert drops_group is not None
    drop = await drops_group.get_translated_payload(tree, translator)
    # /drop allowlist joins the /drop group when its cog loads: checked on its own.
    allowlist = await allowlist_command.get_translated_payload(tree, translator)
    groups = [wallet, drop, allowlist]
    entries = [help_command, *groups, *(c for g in groups for c in g.get("options", []))]
    entries += [o for g in groups for c in g.get("options", []) for o in c.get("options", [])]
    # The members' commands other than /wallet (cogs.mint's /mynfts, cogs.engagement).
    for command in (
        Custody.withdraw, Mint.mint, Mint.status, Mint.mynfts, Showcase.leaderboard,
        Showcase.gallery,
    ):  # fmt: skip
        payload = await command.get_translated_payload(tree, translator)
        assert payload["description_localizations"]["de"], command.name
        entries += [payload, *payload.get("options", [])]
    names = [n for entry in entries for n in (entry.get("name_localizations") or {}).values()]
    descriptions = [
        d for entry in entries for d in (entry.get("description_localizations") or {}).values()
    ]
    assert descriptions and all(1 <= len(d) <= 100 for d in descriptions)
    assert help_command["description_localizations"]["de"] == (
        "Wie du prägst und was jeder Befehl tut"
    )
    assert names  # some names are translated
    for name in names:
        assert slash_name(name) and valid_name(name), name
    assert wallet["description_localizations"]["de"] == "Deine Auszahlungs-Wallet"
    assert drop["description_localizations"]["es-ES"] == "Drops de la comunidad"
    create = next(c for c in drop["options"] if c["name"] == "create")
    assert len([o for o in create["options"] if o.get("description_localizations")]) == 13
    assert wallet["description_localizations"]["es-ES"] == "Tu monedero de cobro"
    assert wallet["description_localizations"]["es-419"] == "Tu monedero de cobro"
    assert "pt-BR" not in wallet["description_localizations"]
    link = next(c for c in wallet["options"] if c["name"] == "link")
    assert link["options"][0]["name_localizations"] == {
        "de": "adresse",
        "es-ES": "dirección",
        "es-419": "dirección",
    }


def assert_localized(entries: list[dict[str, Any]]) -> None:
    """Each synced command, group and option described in Spanish and German within Discord's
    100 characters, and every translated name one Discord accepts."""
    for entry in entries:
        described = entry.get("description_localizations") or {}
        assert {"de", "es-ES", "es-419"} <= set(described), entry["name"]
        assert all(1 <= len(d) <= 100 for d in described.values()), entry["name"]
        for name in (entry.get("name_localizations") or {}).values():
            assert slash_name(name) and valid_name(name), name


def payload_entries(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A command's synced payload and every option in it, however deep (groups, subcommands)."""
    return [payload] + [e for option in payload.get("options", []) for e in payload_entries(option)]


async def test_raffle_and_codeword_commands_are_localized_and_valid():
    """/raffle, /enter, /claim and /codes as synced: every description, option description
    and option name in Spanish and German, names Discord accepts, descriptions within 100
    characters."""
    translator = CatalogueTranslator()
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    raffle = Raffles.__new__(Raffles).__cog_app_commands_group__
    assert raffle is not None
    commands = [raffle, *Entering.__cog_app_commands__, *Codewords.__cog_app_commands__]
    payloads = [await command.get_translated_payload(tree, translator) for command in commands]
    entries = [entry for payload in payloads for entry in payload_entries(payload)]
    assert_localized(entries)
    create = next(c for c in payloads[0]["options"] if c["name"] == "create")
    winners = next(o for o in create["options"] if o["name"] == "winners")
    assert winners["name_localizations"]["de"] == "gewinner"
    assert winners["description_localizations"]["es-419"] == (
        "Cuántos ganadores (cada uno recibe una edición)"
    )


async def test_admin_and_holder_role_commands_are_localized_and_valid():
    """/admin as synced (its commands, groups and options, and the holder-role commands that
    join it): every description in Spanish and German, within 100 characters; names Discord
    accepts."""
    translator = CatalogueTranslator()
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    admin = Admin.__new__(Admin).__cog_app_commands_group__
    assert admin is not None
    holders = HolderRoleCommands.__new__(HolderRoleCommands).get_app_commands()
    payloads = [await c.get_translated_payload(tree, translator) for c in [admin, *holders]]
    entries = [entry for payload in payloads for entry in payload_entries(payload)]
    assert len(entries) > 30
    assert_localized(entries)
    config = next(c for c in payloads[0]["options"] if c["name"] == "config")
    minter = next(o for o in config["options"] if o["name"] == "minter_role")
    assert minter["name_localizations"] == {
        "de": "präger_rolle",
        "es-ES": "rol_acuñador",
        "es-419": "rol_acuñador",
    }


@pytest.mark.parametrize("name", ["Adresse", "two words", "x" * 33, "", "a/b"])
def test_names_discord_refuses_are_not_valid(name: str):
    assert not valid_name(name)


def every_app_command() -> list[Any]:
    """Every slash command, group and context menu the bot's cogs (`bot.discord.client.COGS`)
    define: the cogs' own, a group cog's group, and those a module adds to another's group."""
    found: list[Any] = []
    for name in COGS:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, commands.Cog):
                cog = value.__new__(value)
                group = getattr(cog, "__cog_app_commands_group__", None)
                found += [group] if group is not None else list(value.__cog_app_commands__)
            elif isinstance(value, app_commands.Command | app_commands.ContextMenu):
                found.append(value)
    return list({id(command): command for command in found}.values())


async def test_every_command_of_every_cog_is_described_in_every_shipped_language():
    """Whatever cog a command lives in, Discord's menus show its description, and each of its
    options' and subcommands', in Spanish and German: no command is left English."""
    translator = CatalogueTranslator()
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    found = every_app_command()
    assert {c.name for c in found} >= {"mint", "wallet", "admin", "drop", "raffle", "help"}
    for command in found:
        assert_localized(payload_entries(await command.get_translated_payload(tree, translator)))


def test_the_discord_emulator_refuses_a_sync_discord_would():
    """The emulator's command sync holds translations to Discord's rules, so a test fails on
    a menu Discord would refuse; "Mint as NFT" in German is a valid context menu name."""
    menu = {"type": 3, "name": "Mint as NFT", "name_localizations": {"de": "Als NFT prägen"}}
    good = {"name": "mint", "description": "Mint", "description_localizations": {"de": "Prägen"}}
    assert refusals([menu, good]) == []
    bad = [
        {**good, "name_localizations": {"de": "Prägen Sie"}},  # a space, a capital
        {**good, "description_localizations": {"es-ES": "x" * 101}},
        {**good, "name_localizations": {"es": "acuñar"}},  # Discord has es-ES and es-419
        {**menu, "description": "shown nowhere"},
    ]
    assert len(refusals(bad)) == 4
