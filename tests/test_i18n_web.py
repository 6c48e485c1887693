"""The web pages in the reader's language, through the bot's real web server: the dashboard in
the language of the admin who asked for the link (its refusals too), the gallery in the
language the browser's Accept-Language ranks first among those shipped (English otherwise),
and the page cache never giving a page in one language to a reader of another."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import aiohttp
import pytest
from markupsafe import escape

from bot.app import open_runtime
from bot.config import load_settings
from bot.dashboard.links import DashboardKey, token_locale
from bot.dashboard.wiring import sign_in_link
from bot.i18n import speaking
from bot.i18n.said import Said
from bot.runtime import Runtime
from bot.web.languages import negotiated, ranked_tags
from bot.web_wiring import web_server
from db.models import MintRequest, utcnow
from tests.support import submission

GROUP = "-100555"
GERMAN_BROWSER = "de-DE,de;q=0.9,en;q=0.8"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (GERMAN_BROWSER, "de"),
        ("fr", "en"),
        ("fr-CH, fr;q=0.9, es;q=0.8, *;q=0.5", "es"),
        ("en;q=0.2, de;q=0.7", "de"),  # by weight, not by order
        ("es;q=0, de;q=0.1", "de"),  # q=0: not wanted at all
        ("pt-BR, *;q=0.1, es;q=0.05", "en"),  # anything (English) before Spanish
        ("de;q=abc, es", "es"),
        ("", "en"),
        (None, "en"),
        (";;,,=,q=1", "en"),
        ("x" * 5000 + ",de", "en"),  # past the bound: never read
    ],
)
def test_accept_language_is_ranked_by_weight(header: str | None, locale: str) -> None:
    assert negotiated(header) == locale


def test_ties_keep_the_headers_order() -> None:
    assert ranked_tags("de;q=0.5, es, en;q=0.5, fr") == ["es", "fr", "de", "en"]


def test_a_link_carries_the_askers_locale_and_an_older_link_reads_as_english() -> None:
    key = DashboardKey(b"k" * 32)
    with speaking("es-419"):
        url = key.link_url("http://127.0.0.1", "telegram", GROUP, "7", utcnow())
    token = url.split("token=")[1]
    assert key.check(token, utcnow()).locale == "es" == token_locale(token)
    # A link made before links named a locale: six fields, signed alike.
    old = json.dumps([1, "telegram", GROUP, "7", int(utcnow().timestamp()) + 60, "n"]).encode()
    encoded = base64.urlsafe_b64encode(old).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(key.mac("link", old)).rstrip(b"=").decode()
    assert key.check(f"{encoded}.{signature}", utcnow()).locale == "en"
    assert token_locale("not a token") is None


@dataclass
class Site:
    runtime: Runtime
    base: str

    def link(self, locale: str) -> str:
        settings = replace(self.runtime.settings, public_base_url=self.base)
        return sign_in_link(settings, "telegram", GROUP, "42", locale=locale)

    @property
    def home(self) -> str:
        return f"{self.base}/dashboard/telegram/{GROUP}"


@pytest.fixture
async def site(bot_env: dict[str, str]) -> AsyncIterator[Site]:
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        server = web_server(runtime, host="127.0.0.1", port=0)
        base = await server.start()
        try:
            yield Site(runtime, base)
        finally:
            await server.stop()


async def refused_in(site: Site, message_id: str) -> Said:
    """A request of the group refused as it is recorded (no name), and why, as stored."""
    where = {"platform": "telegram", "chat_id": GROUP, "community_id": GROUP}
    handle = await site.runtime.service.submit(submission(message_id, name="", **where))
    async with site.runtime.sessions() as session:
        request = await session.get(MintRequest, handle.request_id)
    assert request is not None
    said = Said.from_json(request.failure_said)
    assert said is not None
    return said


def browser() -> aiohttp.ClientSession:
    # unsafe: the jar keeps cookies of an IP address (the loopback one here).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def fetched(
    http: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, str, str | None]:
    async with http.get(url, headers=headers) as answer:
        return answer.status, await answer.text(), answer.headers.get("Content-Language")


@pytest.mark.db
@pytest.mark.parametrize(
    ("locale", "words", "used"),
    [
        ("es", ["Resumen", "Fallos y respuestas", "Pausar la acuñación", "Solicitudes por fase"],
         "Este enlace de acceso ya se usó"),
        ("de", ["Übersicht", "Fehler und Antworten", "Prägen pausieren", "Anfragen nach Schritt"],
         "Dieser Anmeldelink wurde schon benutzt"),
    ],
)  # fmt: skip
async def test_the_dashboard_speaks_the_language_of_the_admin_who_asked(
    site: Site, locale: str, words: list[str], used: str
) -> None:
    link = site.link(locale)
    async with browser() as http:
        # The browser asks for English: the link's language wins.
        status, signed_in, language = await fetched(http, link, **{"Accept-Language": "en"})
        assert (status, language) == (200, locale) and f'<html lang="{locale}">' in signed_in
        status, overview, language = await fetched(http, site.home)
        assert (status, language) == (200, locale)
        assert all(word in overview for word in words), overview
        assert "Pause minting" not in overview and "Mints per day" not in overview
        for page, heading in (("/problems", "<h1>"), ("/drops", "<h1>"), ("/wallets", "<h1>")):
            status, html, language = await fetched(http, site.home + page)
            assert (status, language) == (200, locale) and heading in html
        # A request refused for its name: its stored reason is read in the admin's language.
        reason = await refused_in(site, {"es": "901", "de": "902"}[locale])
        assert reason.in_locale(locale) != str(reason)
        _, problems, _ = await fetched(http, site.home + "/problems")
        assert str(escape(reason.in_locale(locale))) in problems, problems
        # Refusals in the admin's language: a form without its CSRF token, a used link.
        async with http.post(f"{site.home}/minting", data={"action": "pause"}) as forged:
            refusal = await forged.text()
        assert forged.status == 403 and forged.headers["Content-Language"] == locale
        assert "This form is stale" not in refusal
    async with browser() as stranger:
        status, refusal, language = await fetched(stranger, link)
        assert (status, language) == (403, locale) and used in refusal
        # No session and no link: the browser's language decides.
        status, refusal, language = await fetched(
            stranger, site.home, **{"Accept-Language": GERMAN_BROWSER}
        )
        assert (status, language) == (403, "de") and "Du bist nicht im Dashboard" in refusal


@pytest.mark.db
async def test_the_gallery_follows_accept_language_and_the_cache_keeps_languages_apart(
    site: Site,
) -> None:
    gallery = f"{site.base}/c/telegram/{GROUP}"
    expected = {
        GERMAN_BROWSER: ("de", "Hier geprägte NFTs (Telegram-Gruppe)"),
        "fr": ("en", "NFTs minted in this Telegram group"),
        "es-MX,es;q=0.9": ("es", "NFT acuñados en este grupo de Telegram"),
    }
    async with aiohttp.ClientSession() as http:
        # Twice round, within the cache's two seconds: each language is kept apart.
        for header in [*expected, *expected]:
            locale, heading = expected[header]
            async with http.get(gallery, headers={"Accept-Language": header}) as answer:
                html = await answer.text()
                assert answer.status == 200
                assert answer.headers["Content-Language"] == locale
                assert answer.headers["Vary"] == "Accept-Language"
            assert f"<html lang={locale}>" in html and f"<h1>{heading}</h1>" in html
            assert html.count(heading) == 4  # the title, the heading, og:title, twitter:title
        async with http.get(
            f"{site.base}/token/12345", headers={"Accept-Language": GERMAN_BROWSER}
        ) as missing:
            assert missing.status == 404 and missing.headers["Content-Language"] == "de"
            assert await missing.text() == "diesen Token gibt es hier nicht"
