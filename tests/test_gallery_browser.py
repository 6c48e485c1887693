"""The web gallery as a member sees it: the bot's real web server, tokens really minted on
anvil through the running bot, and pages loaded and read in headless Chromium. Each test saves
a screenshot (listed under "screenshots" at the end of the run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from bot.app import open_runtime
from bot.chain.devchain import free_port
from bot.config import load_settings
from bot.minting.types import MintResult, MintSubmission
from bot.runtime import Runtime
from bot.web_wiring import web_server
from db.models import Phase
from tests.browser import Browser, chromium
from tests.support import COLLECTOR, Inbox, answered, submission

GROUP = "-100123"  # a Telegram supergroup's ID
# What a member may really send: the name's checks refuse tags, markup and mentions, the
# description's refuse mentions, and a display name is whatever the platform has.
HOSTILE_NAME = "Fish & \"Chips\" <3 'n' <b"
HOSTILE_DESCRIPTION = (
    "<img src=x onerror=alert(1)><script>window.pwned = 1; alert(2)</script>\n"
    "**bold** _it_ [a link](https://example.invalid) <a href='javascript:alert(3)'>x</a>"
)
HOSTILE_MEMBER = "@everyone <img src=x onerror=alert(4)> *Eve*"


@dataclass
class Gallery:
    runtime: Runtime
    base: str
    results: list[MintResult]  # oldest first; the last is the hostile one

    @property
    def path(self) -> str:
        return f"/c/telegram/{GROUP}"


def group_mint(number: int, **changes: str) -> MintSubmission:
    fields = {
        "platform": "telegram",
        "chat_id": GROUP,
        "community_id": GROUP,
        "requester_id": f"member-{number % 3}",
        "requester_name": ("Ada", "Bob", "Cy")[number % 3],
    }
    fields.update(changes)
    return submission(str(number), **fields)


@pytest.fixture
async def gallery(bot_env: dict[str, str]) -> AsyncIterator[Gallery]:
    """14 tokens minted in one Telegram group (one sent to a member's own wallet, the newest
    made by a member with a hostile display name and description), served on a port of its
    own that PUBLIC_BASE_URL names, as in production."""
    port = free_port()
    env = {**bot_env, "HTTP_PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    async with open_runtime(load_settings(env)) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("telegram", inbox)
        web = web_server(runtime, host="127.0.0.1", port=port)
        base = await web.start()
        try:
            subs = [group_mint(n) for n in range(1, 13)]
            subs.append(group_mint(13, recipient=COLLECTOR.address))
            subs.append(
                group_mint(
                    14,
                    name=HOSTILE_NAME,
                    description=HOSTILE_DESCRIPTION,
                    requester_id="eve",
                    requester_name=HOSTILE_MEMBER,
                )
            )
            for sub in subs:
                await runtime.service.submit(sub)
            results = await asyncio.gather(*(answered(runtime, inbox, s.key, 60) for s in subs))
            assert [r.phase for r in results] == [Phase.CONFIRMED] * len(subs), results
            yield Gallery(runtime, base, list(results))
        finally:
            await web.stop()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with chromium(tmp_path / "chromium") as window:
        yield window


async def images_loaded(browser: Browser, css: str) -> list[bool]:
    """For each image matching `css`: did it load and decode (a broken one has no width)?"""
    return list(
        await browser.js(
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(i => i.complete && i.naturalWidth > 0);",
            css,
        )
    )


async def screenshot(
    browser: Browser, tmp_path: Path, name: str, saved: Callable[[Path], None]
) -> None:
    path = await browser.screenshot(tmp_path / name)
    saved(path)
    print(f"screenshot: {path}")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 0 and image.height > 0


async def test_the_community_gallery_shows_every_token_a_page_at_a_time(
    gallery: Gallery,
    browser: Browser,
    tmp_path: Path,
    screenshot_saved: Callable[[Path], None],
):
    await browser.open(gallery.base + gallery.path)
    assert (await browser.texts("h1")) == ["NFTs minted in this Telegram group"]
    assert "14 tokens · page 1 of 2" in (await browser.texts(".summary"))[0]
    names = await browser.texts(".card .name")
    assert names == [HOSTILE_NAME, *(f"Art {n}" for n in range(13, 2, -1))]  # newest first
    assert await images_loaded(browser, ".card img") == [True] * 12
    await screenshot(browser, tmp_path, "gallery.png", screenshot_saved)

    newest_first = list(reversed(gallery.results))
    token_links = await browser.attributes(".card .name a", "href")
    assert token_links == [f"{gallery.base}/token/{r.token_id}" for r in newest_first[:12]]
    tx_links = await browser.attributes(".card a.tx", "href")
    assert tx_links == [r.tx_url for r in newest_first[:12]]
    assert all(url.startswith(f"{gallery.base}/explorer/tx/0x") for url in tx_links)
    owners = await browser.texts(".card .owner")
    assert owners[1] == f"owner {COLLECTOR.address[:6]}…{COLLECTOR.address[-4:]}"
    assert owners[2].endswith("(held by the bot for Ada)")  # "Art 12"
    assert (await browser.texts(".card .creator"))[2] == "by Ada"

    await browser.click("a[rel=next]")
    assert browser.url == f"{gallery.base}{gallery.path}?page=2"
    assert await browser.texts(".card .name") == ["Art 2", "Art 1"]
    assert await images_loaded(browser, ".card img") == [True, True]

    await browser.open(f"{gallery.base}{gallery.path}?member=member-1")
    assert (await browser.texts("h1")) == ["NFTs by Bob in this Telegram group"]
    assert await browser.texts(".card .name") == ["Art 13", "Art 10", "Art 7", "Art 4", "Art 1"]


async def test_the_token_page_shows_image_name_description_owner_and_transaction(
    gallery: Gallery,
    browser: Browser,
    tmp_path: Path,
    screenshot_saved: Callable[[Path], None],
):
    gift = gallery.results[12]  # "Art 13", minted to the member's own wallet
    await browser.open(gallery.runtime.engagement.token_url(gift.token_id or 0))
    assert await browser.texts("h1") == ["Art 13"]
    assert await browser.texts(".description") == ["made for the test"]
    assert await images_loaded(browser, ".token img") == [True]
    assert await browser.attributes(".token img", "src") == [
        f"{gallery.base}/ipfs/{gift.image_cid}"
    ]
    assert await browser.texts(".owner") == [COLLECTOR.address]  # as the chain says
    assert await browser.texts(".creator") == ["Bob"]
    assert await browser.attributes("a.tx", "href") == [gift.tx_url]
    await screenshot(browser, tmp_path, "token.png", screenshot_saved)

    await browser.click("a.tx")  # on the local chain, the bot's own explorer page
    assert browser.url == gift.tx_url
    assert f"Art 13 to {COLLECTOR.address}" in await browser.texts("li")

    await browser.open(gallery.runtime.engagement.token_url(gallery.results[0].token_id or 0))
    owner = (await browser.texts(".owner"))[0]
    assert owner == f"{gallery.runtime.chain.wallet.address} (held by the bot for Bob)"
    await browser.click("nav a")
    assert browser.url == gallery.base + gallery.path


async def test_names_descriptions_and_member_names_render_as_inert_text(
    gallery: Gallery,
    browser: Browser,
    tmp_path: Path,
    screenshot_saved: Callable[[Path], None],
):
    hostile = gallery.results[-1]
    inert = (
        "return {scripts: document.scripts.length,"
        " handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,"
        " bold: document.querySelectorAll('b, strong, em, i').length,"
        " images: [...document.images].map(i => i.getAttribute('src')),"
        " scriptLinks: [...document.links].filter(a => a.protocol === 'javascript:').length,"
        " pwned: window.pwned === undefined ? null : window.pwned};"
    )
    for url, images in (
        (gallery.base + gallery.path, 12),
        (gallery.runtime.engagement.token_url(hostile.token_id or 0), 1),
    ):
        await browser.open(url)
        found = await browser.js(inert)
        assert found["scripts"] == 0 and found["handlers"] == 0 and found["bold"] == 0
        assert found["scriptLinks"] == 0 and found["pwned"] is None
        assert len(found["images"]) == images
        assert all(src.startswith("/ipfs/") for src in found["images"])
        assert not await browser.alert_open()
    # Shown literally, character for character.
    assert await browser.texts("h1") == [HOSTILE_NAME]
    assert await browser.texts(".description") == [HOSTILE_DESCRIPTION]
    assert await browser.texts(".creator") == [HOSTILE_MEMBER]
    assert (await browser.js("return document.title;")) == HOSTILE_NAME
    await screenshot(browser, tmp_path, "hostile-token.png", screenshot_saved)

    await browser.open(gallery.base + gallery.path)
    assert (await browser.texts(".card .creator"))[0] == f"by {HOSTILE_MEMBER}"
    assert (await browser.texts(".card .owner"))[0].endswith(
        f"(held by the bot for {HOSTILE_MEMBER})"
    )


async def test_gallery_addresses_answer_plainly_when_wrong(gallery: Gallery):
    token = gallery.results[0].token_id or 0
    async with aiohttp.ClientSession() as http:
        for path, status in (
            (f"{gallery.path}?page=2", 200),
            (f"{gallery.path}?page=3", 404),
            (f"{gallery.path}?page=abc", 400),
            (f"{gallery.path}?page=0", 400),
            ("/c/discord/1234", 200),  # nothing minted there yet
            (f"/token/{token}", 200),
            (f"/token/0x{token:064x}", 200),
            ("/token/12345", 404),
            ("/token/not-a-number", 404),
            (f"/token/{2**256}", 404),
        ):
            async with http.get(gallery.base + path) as response:
                assert response.status == status, path
                if status == 200:
                    assert "script-src" not in response.headers["Content-Security-Policy"]
                    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        async with http.get(gallery.base + "/c/discord/1234") as response:
            assert "Nothing minted here yet." in await response.text()


_PREVIEW_TAGS = (
    "return Object.fromEntries([...document.head.querySelectorAll("
    "'meta[property], meta[name]')].map(m => [m.getAttribute('property') || m.name, m.content]));"
)


async def test_token_and_gallery_links_unfurl_into_a_card_with_the_picture(
    gallery: Gallery, browser: Browser
):
    hostile = gallery.results[-1]
    # A mint's answer links the token's page, the page whose tags are read here.
    assert hostile.token_url == f"{gallery.base}/token/{hostile.token_id}"
    await browser.open(f"{gallery.base}/token/0x{hostile.token_id or 0:064x}")
    tags = await browser.js(_PREVIEW_TAGS)
    assert tags["og:type"] == "article"
    assert tags["og:title"] == tags["twitter:title"] == HOSTILE_NAME
    # One line on the card: the description's line break becomes a space.
    one_line = HOSTILE_DESCRIPTION.replace("\n", " ")
    assert tags["og:description"] == tags["twitter:description"] == one_line
    assert tags["og:url"] == hostile.token_url  # canonical, however the page was asked for
    assert tags["og:site_name"] == gallery.runtime.settings.collection_name
    assert tags["og:image:alt"] == HOSTILE_NAME
    assert tags["twitter:card"] == "summary_large_image"
    assert tags["og:image"] == tags["twitter:image"] == f"{gallery.base}/ipfs/{hostile.image_cid}"
    assert (await browser.js("return document.scripts.length;")) == 0
    await image_served(gallery, browser, tags["og:image"], hostile.image_cid or "")

    await browser.open(f"{gallery.base}{gallery.path}?page=2")
    tags = await browser.js(_PREVIEW_TAGS)
    assert tags["og:type"] == "website"
    assert tags["og:title"] == "NFTs minted in this Telegram group"
    assert tags["og:description"] == "14 tokens, newest first: Art 2, Art 1"
    assert tags["og:url"] == f"{gallery.base}{gallery.path}?page=2"
    newest = gallery.results[1]  # "Art 2", the newest on this page
    assert tags["og:image"] == f"{gallery.base}/ipfs/{newest.image_cid}"
    assert tags["og:image:alt"] == "Art 2, by Cy"
    await image_served(gallery, browser, tags["og:image"], newest.image_cid or "")


async def image_served(gallery: Gallery, browser: Browser, url: str, cid: str) -> None:
    """`url` answers with the stored image's bytes, as an image, and a browser shows it."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        assert await response.read() == gallery.runtime.content.read_file(cid)
    await browser.open(url)
    assert await browser.js("return document.contentType;") == "image/png"
    assert await images_loaded(browser, "img") == [True]
