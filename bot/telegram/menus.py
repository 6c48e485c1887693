"""Telegram's command menu (the list its app shows after "/"), in every shipped language.

The Bot API keeps one list per language (`setMyCommands` with a two-letter `language_code`)
and a default for every other language (no `language_code`): English is the default, Spanish
and German have their own. Command names are the same in every list (they are what members
type); only the descriptions are translated.
"""

from __future__ import annotations

from telegram import BotCommand

from bot.i18n import ENGLISH, LOCALES, N_, translate

COMMANDS = [
    ("mint", N_("Mint an image: caption or reply /mint Name | description")),
    ("status", N_("Your recent mint requests")),
    ("mynfts", N_("Your NFTs")),
    ("wallet", N_("Where your NFTs go")),
    ("withdraw", N_("Move the NFTs the bot holds for you to your linked wallet")),
    ("leaderboard", N_("Top creators and collectors in this group")),
    ("gallery", N_("This group's NFTs (reply to a member: theirs)")),
    ("drops", N_("This group's drops")),
    ("enter", N_("Enter a drop's raffle: /enter ID")),
    ("claim", N_("Claim a drop with its code: /claim ID CODE, here in private")),
    ("help", N_("How to mint")),
]


def commands_in(locale: str) -> list[BotCommand]:
    """The menu with its descriptions in `locale` (a shipped one)."""
    return [BotCommand(name, translate(description, locale)) for name, description in COMMANDS]


def menus() -> list[tuple[str | None, list[BotCommand]]]:
    """(language_code, commands) for each `setMyCommands` call: the English default (None:
    every language without a list of its own) first, then one per translated locale (each
    shipped locale is a two-letter ISO 639-1 code, as the Bot API wants)."""
    return [(None, commands_in(ENGLISH))] + [
        (locale, commands_in(locale)) for locale in LOCALES if locale != ENGLISH
    ]
