"""The admin dashboard as an admin uses it: the bot's real web server and services, mints
made on anvil through the running bot, and the pages signed in to, read and acted on in
headless Chromium. Refused: a link used twice, an expired link, a link for another community,
forged tokens, another community's pages, and forms posted without their CSRF token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import open_runtime
from bot.chain.devchain import free_port
from bot.config import load_settings
from bot.dashboard.links import DashboardKey
from bot.dashboard.pages import COOKIE
from bot.dashboard.wiring import sign_in_link
from bot.minting.types import MintResult, MintSubmission
from bot.ports import Claimant
from bot.runtime import Runtime
from bot.web.pages import PAGE_HEADERS
from bot.web_wiring import web_server
from db.models import MintRequest, utcnow
from tests.browser import Browser, chromium
from tests.support import poll_until, submission

pytestmark = pytest.mark.db

GROUP = "-100777"  # the admin's Telegram group
OTHER = "-100888"  # another group, whose admin is someone else
ADMIN = "4242"
REFUSED_ANSWER = "Forbidden: bot was blocked by the user"
HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"  # a display name is free text


@dataclass
class Answerer:
    """Telegram at the edge: takes every answer, except that it refuses those in `refuse`."""

    refuse: set[str] = field(default_factory=set)
    answers: list[MintResult] = field(default_factory=list)

    async def deliver(self, result: MintResult) -> None:
        if result.key in self.refuse:
            raise RuntimeError(REFUSED_ANSWER)
        self.answers.append(result)

    def answered(self) -> set[str]:
        return {a.key for a in self.answers}


@dataclass
class Site:
    runtime: Runtime
    base: str
    answerer: Answerer
    refused_key: str  # the request whose answer was given up
    drop_id: int

    def link(self, community: str = GROUP, **changes: Any) -> str:
        return sign_in_link(self.runtime.settings, "telegram", community, ADMIN, **changes)

    @property
    def home(self) -> str:
        return f"{self.base}/dashboard/telegram/{GROUP}"


def group_mint(number: int, community: str = GROUP, **changes: Any) -> MintSubmission:
    where = {"platform": "telegram", "chat_id": community, "community_id": community}
    return submission(str(number), **{**where, "requester_name": "Ada", **changes})


@pytest.fixture
async def site(bot_env: dict[str, str]) -> AsyncIterator[Site]:
    """Three mints in the group (the answer to one refused until given up), one request
    refused for its image, one in the other group, and a drop with a claim."""
    port = free_port()
    env = {
        **bot_env,
        "HTTP_PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "ANSWER_MAX_ATTEMPTS": "1",
    }
    async with open_runtime(load_settings(env)) as runtime:
        answerer = Answerer()
        runtime.service.answer_through("telegram", answerer)
        web = web_server(runtime, host="127.0.0.1", port=port)
        base = await web.start()
        try:
            minted = [group_mint(n) for n in (1, 2, 3)] + [group_mint(4, OTHER)]
            answerer.refuse.add(minted[2].key)
            bad = group_mint(5, image=b"not an image", name="Broken", requester_name=HOSTILE)
            for sub in [*minted, bad]:
                await runtime.service.submit(sub)
            wanted = {s.key for s in minted} - answerer.refuse | {bad.key}
            await poll_until(lambda: wanted <= answerer.answered(), 60, answerer.answers.__repr__)
            await poll_until_given_up(runtime, minted[2].key)
            drop = await runtime.drops.create_drop(
                platform="telegram",
                community_id=GROUP,
                created_by=ADMIN,
                name="Harbour & Night",
                image=submission("31").image,
                supply=10,
            )
            await runtime.drops.claim(drop.id, Claimant("telegram", "ada"), "Ada")
            yield Site(runtime, base, answerer, minted[2].key, drop.id)
        finally:
            await web.stop()


async def poll_until_given_up(runtime: Runtime, key: str) -> None:
    chat, message = key.split(":")[1:]

    async def given_up() -> bool:
        async with runtime.sessions() as session:
            row = await session.scalar(
                select(MintRequest).where(
                    MintRequest.chat_id == chat, MintRequest.message_id == message
                )
            )
        return row is not None and row.undeliverable_at is not None

    async with asyncio.timeout(30):
        while not await given_up():
            await asyncio.sleep(0.05)


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with chromium(tmp_path / "chromium") as window:
        yield window


async def arrived(browser: Browser, url: str) -> None:
    """Wait until the browser shows `url` (asking from a thread: the page it is loading is
    served on this event loop)."""
    async with asyncio.timeout(10):
        while await asyncio.to_thread(lambda: browser.url) != url:
            await asyncio.sleep(0.05)


async def signed_in(browser: Browser, site: Site, link: str) -> None:
    """Follow a sign-in link and wait for the page it moves on to (the overview)."""
    await browser.open(link)
    await arrived(browser, site.home)


async def shows(browser: Browser, css: str, texts: list[str]) -> None:
    """Wait until the elements matching `css` read `texts` (a form's answer may still be on
    its way when the click returns)."""
    async with asyncio.timeout(10):
        while await browser.texts(css) != texts:
            await asyncio.sleep(0.05)


async def heading(browser: Browser) -> str:
    return " ".join(await browser.texts("h1"))


async def refusal(browser: Browser) -> str:
    """Why the page shown refuses (waiting for it, after a click)."""
    async with asyncio.timeout(10):
        while not (reasons := await browser.texts(".reason")):
            await asyncio.sleep(0.05)
    return " ".join(reasons)


async def test_an_admin_signs_in_reads_the_pages_and_acts(site: Site, browser: Browser) -> None:
    await signed_in(browser, site, site.link())
    assert await heading(browser) == "Overview"
    # Three mints today (the one whose answer was given up is minted too), one refused image.
    assert await browser.texts("#mints-today") == ["3"]
    assert await browser.texts("#mints-week") == ["3"]
    phases = dict(row.split("\t") for row in (await browser.texts("#phases tr"))[1:])
    assert phases == {"confirmed": "1", "rejected": "1", "replied": "2"}
    bars = await browser.js(
        "return [...document.querySelectorAll('#mints-chart rect')]"
        ".map(r => r.getAttribute('height'))"
    )
    assert len(bars) == 7 and int(bars[-1]) > 0 and all(int(b) == 0 for b in bars[:-1])
    # The session cookie: HttpOnly (no script sees it), SameSite=Strict, this community's path.
    (cookie,) = await asyncio.to_thread(browser.driver.get_cookies)
    assert cookie["name"] == COOKIE and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == f"/dashboard/telegram/{GROUP}"
    assert await browser.js("return document.cookie") == ""

    # Pause, then resume minting: the community's setting changes each time.
    communities = site.runtime.service.communities
    await browser.click("#pause")
    await arrived(browser, site.home)
    await shows(browser, "#minting", ["paused"])
    assert (await communities.config("telegram", GROUP)).paused
    await browser.click("#resume")
    await shows(browser, "#minting", ["on"])
    assert not (await communities.config("telegram", GROUP)).paused

    # Failures and undeliverable answers, with their reasons; a retry delivers the answer.
    await browser.open(site.home + "/problems")
    (failure,) = (await browser.texts("#failures tr"))[1:]
    assert "Broken" in failure and "rejected" in failure
    assert HOSTILE in failure and not await browser.alert_open()  # shown as text: autoescaped
    (given_up,) = (await browser.texts("#undeliverable tr"))[1:]
    assert REFUSED_ANSWER in given_up
    site.answerer.refuse.clear()
    await browser.click("#undeliverable button.retry")
    await shows(browser, "#undeliverable td", ["None."])
    await poll_until(lambda: site.refused_key in site.answerer.answered(), 30, lambda: "no answer")

    # Drops: the claim is counted, the CSV downloads with the session, closing closes.
    await browser.open(site.home + "/drops")
    row = f"#drop-{site.drop_id}"
    assert (await browser.texts(f"{row} td"))[:4] == [
        str(site.drop_id),
        "Harbour & Night",
        "open",
        "1",
    ]
    (csv_url,) = await browser.attributes(f"{row} a.csv", "href")
    async with aiohttp.ClientSession(cookies={COOKIE: cookie["value"]}) as http:
        async with http.get(csv_url) as answer:
            assert answer.status == 200 and answer.content_type == "text/csv"
            assert "attachment" in answer.headers["Content-Disposition"]
            lines = (await answer.text()).splitlines()
        assert lines[0].startswith("edition,claimer_platform") and len(lines) == 2
        async with http.get(site.home + "/wallets") as answer:
            page = await answer.text()
            assert answer.status == 200 and "Hot wallets" in page
            policy = answer.headers["Content-Security-Policy"]
            assert policy.startswith(PAGE_HEADERS["Content-Security-Policy"].split("form-")[0])
            assert "form-action 'self'" in policy and "script-src" not in policy
    await browser.click(f"{row} button.close")
    await shows(browser, f"{row} td.status", ["closed"])
    assert (await site.runtime.drops.info(site.drop_id)).closed_at is not None
    # Everything in one community: the other group's pages stay shut to this session.
    await browser.open(f"{site.base}/dashboard/telegram/{OTHER}")
    assert "not signed in to this community" in await refusal(browser)


async def test_links_and_forms_that_must_not_work_are_refused(site: Site, browser: Browser) -> None:
    # A link used twice: the second use is refused, whoever has it.
    link = site.link()
    await signed_in(browser, site, link)
    await browser.open(link)
    assert "used already" in await refusal(browser)
    # A form posted without its CSRF token, or with another: refused, nothing changes.
    for forged in ("remove()", "value = 'forged'"):
        await browser.open(site.home)
        await browser.js(f"document.querySelector('input[name=csrf]').{forged}")
        await browser.click("#pause")
        assert "did not come from your dashboard" in await refusal(browser)
        assert not (await site.runtime.service.communities.config("telegram", GROUP)).paused

    # An expired link.
    await browser.open(site.link(now=utcnow() - timedelta(minutes=31)))
    assert "expired" in await refusal(browser)
    # A link for another community, used on this community's page.
    other = site.link(OTHER)
    await browser.open(other.replace(f"/telegram/{OTHER}/", f"/telegram/{GROUP}/"))
    assert "another community" in await refusal(browser)
    # Forged: signed with another key; a payload changed under a real signature; garbage.
    stranger = DashboardKey(b"not the bot's key")
    forged = stranger.link_url(site.base, "telegram", GROUP, ADMIN, utcnow())
    await browser.open(forged)
    assert "not one the bot made" in await refusal(browser)
    payload, signature = link.split("token=")[1].split(".")
    _, other_signature = other.split("token=")[1].split(".")
    await browser.open(link.replace(signature, other_signature))
    assert "not one the bot made" in await refusal(browser)
    await browser.open(f"{site.home}/signin?token=%00%ff..")
    assert "damaged" in await refusal(browser)
    # None of them signed anyone in to the other community.
    await browser.open(f"{site.base}/dashboard/telegram/{OTHER}")
    assert "not signed in" in await refusal(browser)
    assert payload  # the payload itself is whatever the link said: only the signature counts
