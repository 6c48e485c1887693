"""What the bot says, in the member's language: gettext catalogues chosen per request.

The msgids are the English texts, so English needs no catalogue and is the fallback for any
language not shipped. A platform sets the locale of each request it handles (`speaking`, from
Discord's `interaction.locale` or Telegram's `language_code`); `_()` then translates into it.
Because the locale is a `ContextVar`, it holds for the task handling the request and for the
core code that task awaits, and for tasks that task starts (asyncio copies the context when
it creates one); other requests' tasks keep their own.

Strings are marked for extraction (`pybabel extract`, see babel.cfg) by `_()`, `N_()`,
`ngettext()` and discord.py's `locale_str()`; a constant marked with `N_()` is translated
where it is used, with `_()`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from bot.i18n.catalogues import translations

ENGLISH = "en"
# English first: the fallback. Each other locale has bot/i18n/locales/<locale>/LC_MESSAGES/.
LOCALES = (ENGLISH, "es", "de")

# Each shipped language by its own name, as a menu of languages shows it to a reader who may
# not read the current one.
NATIVE_NAMES = {ENGLISH: "English", "es": "Español", "de": "Deutsch"}

_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("mintbot_locale", default=ENGLISH)


def locale_of(tag: object) -> str:
    """The shipped locale for a language tag, by its primary subtag: Discord's "es-ES",
    "es-419", "de", "en-US", Telegram's "de-AT" or "es"; English for anything else (None,
    "pt-BR", "", garbage, a stored value that is no text)."""
    if not isinstance(tag, str) or not tag:
        return ENGLISH
    primary = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in LOCALES else ENGLISH


def current() -> str:
    """The locale of the request being handled (English outside any)."""
    return _CURRENT.get()


@contextlib.contextmanager
def speaking(tag: object) -> Iterator[str]:
    """Translate into `tag`'s shipped locale (see `locale_of`) inside the block."""
    locale = locale_of(tag)
    token = _CURRENT.set(locale)
    try:
        yield locale
    finally:
        _CURRENT.reset(token)


def speak(tag: object) -> str:
    """Translate into `tag`'s locale for the rest of the current task: for a hook that runs
    first in a task of its own per request (discord.py's tree invokes each interaction in a new
    task), where no block surrounds the handling."""
    locale = locale_of(tag)
    _CURRENT.set(locale)
    return locale


def public_language(locale: str | None) -> str:
    """How a community's language for public posts reads in its settings: the language's own
    name, or that none is chosen (English)."""
    return NATIVE_NAMES[locale] if locale in NATIVE_NAMES else _("English (none chosen)")


def detached() -> contextvars.Context:
    """A copy of the current context speaking English: for a task that serves everybody (a
    delivery loop, a shared status message, a live counter) when a member's request happens to
    start it. asyncio would otherwise copy that member's locale into the task for its whole
    life: `loop.create_task(coro, context=detached())`."""
    context = contextvars.copy_context()
    context.run(_CURRENT.set, ENGLISH)
    return context


def _(message: str) -> str:
    """`message` in the current locale (itself where no translation exists)."""
    return translations(_CURRENT.get()).gettext(message)


def N_(message: str) -> str:
    """Mark `message` for extraction only; translate it where it is used, with `_()`."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for `n`, as the current locale counts."""
    return translations(_CURRENT.get()).ngettext(singular, plural, n)


def translate(message: str, locale: str) -> str:
    """`message` in `locale` (a shipped one), whatever the current locale is."""
    return translations(locale).gettext(message)
