"""What Discord accepts in a bulk overwrite of application commands (PUT .../commands), as its
API documents it: the emulator refuses the whole sync with 400 (code 50035, "Invalid Form
Body") where the real API would, so a translation Discord would refuse fails a test.

- Names of slash commands, groups, subcommands and options: 1 to 32 characters, letters
  (lowercase where the letter has cases), digits, `-` and `_`. A context menu's name (user or
  message command) may be any 1 to 32 characters, spaces and capitals included.
- Descriptions: 1 to 100 characters for slash commands and options; empty for context menus.
- Choices: a name of 1 to 100 characters.
- Localizations: keyed by a locale Discord has, each value under the same rule as the default.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# Discord's locales (its "Locales" reference table).
LOCALES = frozenset(
    [
        "id",
        "da",
        "de",
        "en-GB",
        "en-US",
        "es-ES",
        "es-419",
        "fr",
        "hr",
        "it",
        "lt",
        "hu",
        "nl",
        "no",
        "pl",
        "pt-BR",
        "ro",
        "fi",
        "sv-SE",
        "vi",
        "tr",
        "cs",
        "el",
        "bg",
        "ru",
        "uk",
        "hi",
        "th",
        "zh-CN",
        "ja",
        "zh-TW",
        "ko",
    ]
)
SLASH = 1
SUBCOMMAND, GROUP = 1, 2


def slash_name(name: str) -> bool:
    allowed = all(c in "-_" or unicodedata.category(c)[0] in "LN" for c in name)
    return allowed and 1 <= len(name) <= 32 and name == name.lower()


def menu_name(name: str) -> bool:
    return 1 <= len(name) <= 32 and name == name.strip()


def refusals(commands: list[dict[str, Any]]) -> list[str]:
    """Why Discord would refuse this sync: one line per fault ([] to accept it)."""
    faults: list[str] = []
    for index, command in enumerate(commands):
        kind = command.get("type", SLASH)
        _named(faults, f"{index}", command, slash_name if kind == SLASH else menu_name)
        if kind == SLASH:
            _described(faults, f"{index}", command)
            _options(faults, f"{index}", command.get("options") or [])
        elif command.get("description"):
            faults.append(f"{index}.description: a context menu has none")
    return faults


def _options(faults: list[str], at: str, options: list[dict[str, Any]]) -> None:
    for index, option in enumerate(options):
        where = f"{at}.options.{index}"
        _named(faults, where, option, slash_name)
        _described(faults, where, option)
        for number, choice in enumerate(option.get("choices") or []):
            _named(faults, f"{where}.choices.{number}", choice, lambda n: 1 <= len(n) <= 100)
        if option.get("type") in (SUBCOMMAND, GROUP):
            _options(faults, where, option.get("options") or [])


def _named(faults: list[str], at: str, entry: dict[str, Any], valid: Any) -> None:
    names = {"": entry.get("name", ""), **(entry.get("name_localizations") or {})}
    for locale, name in names.items():
        if locale and locale not in LOCALES:
            faults.append(f"{at}.name_localizations: {locale!r} is no Discord locale")
        elif not valid(str(name)):
            faults.append(f"{at}.name{'.' + locale if locale else ''}: {name!r} is invalid")


def _described(faults: list[str], at: str, entry: dict[str, Any]) -> None:
    texts = {"": entry.get("description", ""), **(entry.get("description_localizations") or {})}
    for locale, text in texts.items():
        if locale and locale not in LOCALES:
            faults.append(f"{at}.description_localizations: {locale!r} is no Discord locale")
        elif not 1 <= len(str(text)) <= 100:
            faults.append(f"{at}.description{'.' + locale if locale else ''}: 1 to 100 chars")
