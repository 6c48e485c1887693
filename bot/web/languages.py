"""The language a public page is written in: the reader's, as their browser's Accept-Language
header ranks languages (RFC 9110, section 12.5.4: tags weighted by q-values), among the shipped
locales; English where the reader accepts none of them.

A page is written under `speaking(locale)`, so `_()` in the code that builds it translates; its
answer says which language it is in (Content-Language) and that the language follows the
header (Vary: Accept-Language), so no cache, ours or one on the way, gives one reader's page to
a reader of another language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.i18n import ENGLISH, LOCALES, speaking

Handler = Callable[[web.Request], Awaitable[web.Response]]

# A header past these is a client's mistake or an attack: its first ranges decide.
_MOST_CHARS = 1000
_MOST_RANGES = 32
_REQUEST_KEY = web.RequestKey("mintbot_reader_locale", str)


def ranked_tags(header: str) -> list[str]:
    """The header's language ranges, most wanted first (ties in the header's order), without
    those the reader refuses (q=0) or whose weight is unreadable."""
    weighted: list[tuple[float, int, str]] = []
    for n, item in enumerate(header[:_MOST_CHARS].split(",")[:_MOST_RANGES]):
        tag, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = -1.0
        if tag and 0 < weight <= 1:
            weighted.append((-weight, n, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiated(header: str | None) -> str:
    """The shipped locale the reader wants most, by each range's primary subtag ("de-DE" and
    "de" are German; "*" accepts English); English when none is shipped."""
    for tag in ranked_tags(header or ""):
        primary = tag.split("-", 1)[0].lower()
        if primary in LOCALES:
            return primary
        if primary == "*":
            return ENGLISH
    return ENGLISH


def reader_locale(request: web.Request) -> str:
    """The locale this request's pages are written in (worked out once per request)."""
    locale = request.get(_REQUEST_KEY)
    if locale is None:
        locale = negotiated(request.headers.get("Accept-Language"))
        request[_REQUEST_KEY] = locale
    return locale


def language_headers(locale: str) -> dict[str, str]:
    return {"Content-Language": locale, "Vary": "Accept-Language"}


def in_reader_language(handler: Handler) -> Handler:
    """`handler` writing its page (or its refusal) in the reader's language."""

    async def localized(request: web.Request) -> web.Response:
        locale = reader_locale(request)
        try:
            with speaking(locale):
                response = await handler(request)
        except web.HTTPException as refusal:
            refusal.headers.update(language_headers(locale))
            raise
        response.headers.update(language_headers(locale))
        return response

    return localized
