"""How the dashboard's pages are written: Jinja2 templates (autoescaped) in the admin's language.

The admin's locale is the one their sign-in link carries (the locale of the chat command that
made it, `bot.dashboard.links`); signing in keeps it in the session cookie, after the session's
token (`token.locale`: a token has no dot), so every page of the session speaks it. It is not
signed: a language grants nothing, and an admin who changes it only reads another language. A
page without one (no session, a stranger) follows the browser's Accept-Language.

The templates translate through `bot.i18n` (its `_` and `ngettext` read the current locale, set
around each request), installed as Jinja2's newstyle gettext: placeholders are named
(`%(name)s`), their values autoescaped, and `%` in a message is written `%%`.
"""

from __future__ import annotations

from datetime import date

import jinja2
from aiohttp import web
from babel.dates import format_date
from babel.numbers import format_decimal

from bot.i18n import LOCALES, N_, _, current, ngettext
from bot.web.languages import reader_locale

# The database's English words for a request's phase (`db.models.Phase`) and a drop's status
# (`DropInfo.status`), which the pages show translated; the database keeps them in English.
_WORDS = frozenset(
    (
        *(N_("received"), N_("stored"), N_("queued"), N_("signed"), N_("sent")),
        *(N_("confirmed"), N_("replied"), N_("rejected"), N_("failed")),
        *(N_("open"), N_("not open yet"), N_("sold out"), N_("ended"), N_("closed")),
    )
)


def templates() -> jinja2.Environment:
    """The dashboard's templates, translating into the current locale."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bot.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    # The same as babel.cfg's `trimmed` for the templates: the msgids extracted and looked up
    # must be alike, whitespace and all.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["word"] = word
    env.filters["eth"] = eth
    return env


def word(text: str) -> str:
    """A phase or status word of the database, in the current locale (others as they are)."""
    return _(text) if text in _WORDS else text


def eth(wei: int) -> str:
    """An amount in wei as ether, six decimals, written as the current locale writes numbers."""
    return format_decimal(wei / 10**18, "#,##0.000000", locale=current())


def day_label(day: date) -> str:
    """A chart's day: its weekday, short, and its day of the month ("Mo. 30", "lun 30")."""
    return format_date(day, "EEE d", locale=current())


def session_cookie(token: str, locale: str) -> str:
    """The session cookie's value: the session's token and the admin's locale."""
    return f"{token}.{locale}"


def session_token(cookie: str | None) -> str | None:
    """The session's token in a session cookie (None without a cookie)."""
    return None if cookie is None else cookie.partition(".")[0]


def dashboard_locale(request: web.Request, cookie_name: str) -> str:
    """The language of a dashboard page: the admin's, kept in the session cookie at sign-in,
    else the browser's."""
    kept = (request.cookies.get(cookie_name) or "").partition(".")[2]
    return kept if kept in LOCALES else reader_locale(request)
