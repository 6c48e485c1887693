"""Discord in the member's language: the command tree that sets each interaction's locale, and
the translator that names and describes the commands in every shipped language.

Both read the catalogues of `bot.i18n`. Command and parameter names stay valid for Discord
(lowercase letters, digits, `-` and `_`, 1 to 32 characters: `VALID_NAME`; a context menu's
name, which Discord shows as written, any 1 to 32 characters); a translation that is not is
left out, and Discord shows the English name.
"""

from __future__ import annotations

import re

import discord
from discord import app_commands
from discord.app_commands import (
    TranslationContextLocation,
    TranslationContextTypes,
    locale_str,
)

from bot.i18n import ENGLISH, locale_of, speak, translate

# Discord's rule for command, option and choice names, as its API documents it; the \p{…}
# classes it uses are approximated by Python's Unicode-aware \w without "_" or uppercase.
VALID_NAME = re.compile(r"^[-_\w]{1,32}$")
NAMES = (
    TranslationContextLocation.command_name,
    TranslationContextLocation.group_name,
    TranslationContextLocation.parameter_name,
)


def valid_name(name: str, named: object = None) -> bool:
    """Whether Discord accepts `name` as the name of `named`: a command, group or parameter
    (the default), or a context menu (the menu entry's label, spaces and capitals allowed)."""
    if isinstance(named, app_commands.ContextMenu):
        return 1 <= len(name.strip()) <= 32 and name == name.strip()
    return bool(VALID_NAME.match(name)) and name == name.lower()


class CatalogueTranslator(app_commands.Translator):
    """Names and descriptions from the gettext catalogues, for every Discord locale whose
    language is shipped (Spanish for "es-ES" and "es-419", German for "de")."""

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: TranslationContextTypes
    ) -> str | None:
        shipped = locale_of(locale.value)
        if shipped == ENGLISH:
            return None
        translated = translate(string.message, shipped)
        if translated == string.message:
            return None  # Discord shows the default
        if context.location in NAMES and not valid_name(translated, context.data):
            return None
        return translated


class LocalizedTree(app_commands.CommandTree[discord.Client]):
    """discord.py's command tree, speaking the language of the member who asked."""

    async def interaction_check(self, interaction: discord.Interaction[discord.Client], /) -> bool:
        # The tree runs each interaction's command (checks, callback, error handler) in a task
        # of its own, created for it and calling this first; so the locale set here holds for
        # that interaction alone, and every `_()` of its handling speaks the member's language.
        speak(interaction.locale.value)
        return True
