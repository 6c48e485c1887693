"""The dashboard's parts below the browser: sign-in tokens against any input and any change,
the generated key, single use under concurrent sign-ins (two processes' worth of sessions on
one database, PostgreSQL too), sessions ending, actions kept inside their community, and the
dashboard served through the web server's own process (WEB_SERVER=process forwards it), and the
overview's counts by phase, shared and kept for a moment."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update

from bot.app import open_runtime
from bot.config import load_settings, load_web_settings
from bot.dashboard.links import KEY_FILE, DashboardKey, LinkRefused, dashboard_key
from bot.dashboard.pages import COOKIE
from bot.dashboard.queries import DashboardQueries
from bot.dashboard.recent import RecentCounts
from bot.dashboard.sessions import SESSION_LIFETIME, DashboardSessions
from bot.dashboard.wiring import dashboard_pages, sign_in_link
from bot.env_values import Secret
from bot.runtime import Runtime
from bot.web.role import forwarding
from bot.web.server import OwnRoutes, WebServer
from bot.web_wiring import own_routes
from db.models import MintRequest, utcnow
from tests.support import submission

KEY = DashboardKey(b"k" * 32)
NOW = utcnow()
TOKEN_OF = re.compile(r"token=([\w.-]+)")


def fresh_token(community: str = "-100", user: str = "7") -> str:
    url = KEY.link_url("http://127.0.0.1", "telegram", community, user, NOW)
    found = TOKEN_OF.search(url)
    assert found is not None
    return found[1]


@given(st.text(max_size=2000))
def test_any_text_as_a_token_is_refused_in_words(text: str) -> None:
    with pytest.raises(LinkRefused):
        KEY.check(text, NOW)


@given(st.data())
def test_any_change_to_a_real_token_is_refused(data: st.DataObject) -> None:
    token = fresh_token()
    at = data.draw(st.integers(0, len(token) - 1))
    new = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0-_."))
    changed = token[:at] + new + token[at + 1 :]
    if changed != token:
        with pytest.raises(LinkRefused):
            KEY.check(changed, NOW)


def test_a_token_says_who_until_when_and_expires() -> None:
    link = KEY.check(fresh_token("-42", "99"), NOW)
    assert (link.platform, link.community_id, link.user_id) == ("telegram", "-42", "99")
    assert timedelta(minutes=29) < link.expires_at - NOW <= timedelta(minutes=30)
    with pytest.raises(LinkRefused, match="expired"):
        KEY.check(fresh_token(), NOW + timedelta(minutes=31))
    with pytest.raises(LinkRefused, match="not one the bot made"):
        DashboardKey(b"another key").check(fresh_token(), NOW)


def test_the_key_is_made_once_kept_private_and_never_shown(tmp_path: Path) -> None:
    first = dashboard_key(None, tmp_path)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    token = first.token(KEY.check(fresh_token(), NOW))
    assert dashboard_key(None, tmp_path).check(token, NOW)  # the same key, read back
    secret = Secret("s" * 40)
    assert "s" * 40 not in repr(dashboard_key(secret, tmp_path))
    with pytest.raises(LinkRefused):
        dashboard_key(secret, tmp_path).check(token, NOW)  # DASHBOARD_SECRET wins
    settings = load_settings({"DASHBOARD_SECRET": "t" * 40, "ENV_FILE": os.devnull})
    assert "t" * 40 not in repr(settings)
    assert any(s.reveal() == "t" * 40 for s in settings.secrets())  # redacted from logs


@pytest.fixture
async def runtime(bot_env: dict[str, str]) -> AsyncIterator[Runtime]:
    async with open_runtime(load_settings(bot_env), start=False) as opened:
        yield opened


@pytest.mark.db
async def test_a_link_signs_in_once_however_many_use_it_at_once(runtime: Runtime) -> None:
    key = dashboard_key(None, runtime.settings.data_dir)
    link = key.check(TOKEN_OF.findall(sign_in_link(runtime.settings, "discord", "1", "2"))[0], NOW)
    # Two processes' worth: separate session stores on the one database.
    stores = [DashboardSessions(runtime.sessions, key) for _ in range(2)]
    outcomes = await asyncio.gather(
        *(store.sign_in(link, NOW) for store in stores * 3), return_exceptions=True
    )
    tokens = [o for o in outcomes if isinstance(o, str)]
    assert len(tokens) == 1, outcomes
    assert all(isinstance(o, LinkRefused) for o in outcomes if o not in tokens)
    admin = await stores[1].admin(tokens[0], NOW)
    assert admin is not None and (admin.platform, admin.community_id, admin.user_id) == (
        "discord",
        "1",
        "2",
    )
    assert admin.csrf == key.csrf(tokens[0]) != key.csrf(tokens[0] + "x")
    assert await stores[0].admin(tokens[0], NOW + SESSION_LIFETIME) is None  # it ended
    assert await stores[0].admin("x" * 43, NOW) is None
    assert await stores[0].admin(None, NOW) is None


@pytest.mark.db
async def test_retrying_an_answer_stays_inside_the_community(runtime: Runtime) -> None:
    sub = submission("1", platform="telegram", chat_id="-100", community_id="-100")
    outcome = await runtime.service.submit(sub)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(MintRequest).values(undeliverable_at=utcnow(), answer_error="Forbidden")
        )
    queries = DashboardQueries(runtime.sessions)
    request_id = outcome.request_id
    assert not await queries.retry_answer("telegram", "-200", request_id)  # another group's
    assert not await queries.retry_answer("discord", "-100", request_id)
    (listed,) = await queries.undeliverable("telegram", "-100")
    assert (listed.request_id, listed.reason) == (request_id, "Forbidden")
    assert await queries.retry_answer("telegram", "-100", request_id)
    assert not await queries.retry_answer("telegram", "-100", request_id)  # once
    assert await queries.undeliverable("telegram", "-100") == []


@pytest.mark.db
@pytest.mark.parametrize("split", [False, True], ids=["web-process", "split-roles"])
async def test_the_dashboard_is_served_through_the_web_servers_own_process(
    runtime: Runtime, bot_env: dict[str, str], split: bool
) -> None:
    """As WEB_SERVER=process serves it (the bot's routes on loopback, the public server
    passing requests on), and as split roles do (the chat process's own routes, the web role
    passing the dashboard's pages on to DASHBOARD_URL). A redirect goes back to the browser,
    not followed on its way."""
    if split:
        own = own_routes(replace(runtime.settings, http_port=0), runtime, "chat")
    else:
        own = OwnRoutes(host="127.0.0.1", port=0)
        own.app.add_routes(dashboard_pages(runtime).routes())
    bot_url = await own.start()
    if split:
        alone = replace(load_web_settings(bot_env), dashboard_url=bot_url)
        passed_on = forwarding(alone, None, ())
    else:
        resources = own.app.router.resources()
        passed_on = {"bot_url": bot_url, "forwarded": [r.canonical for r in resources]}
    public = WebServer(
        sessions=runtime.sessions,
        content=runtime.content,
        engagement=runtime.engagement,
        collection=runtime.collection,
        explorer=None,
        site_name="test",
        host="127.0.0.1",
        port=0,
        **passed_on,
    )
    base = await public.start()
    settings = replace(runtime.settings, public_base_url=base)
    try:
        jar = aiohttp.CookieJar(unsafe=True)  # it keeps cookies of an IP address
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            link = sign_in_link(settings, "telegram", "-100", "7")
            async with http.get(link) as signed:
                assert signed.status == 200 and COOKIE in signed.cookies
            home = f"{base}/dashboard/telegram/-100"
            async with http.get(home) as page:
                html = await page.text()
            csrf = re.search(r'name="csrf" value="([^"]+)"', html)
            assert csrf is not None
            form = {"csrf": csrf[1], "action": "pause"}
            async with http.post(f"{home}/minting", data=form, allow_redirects=False) as done:
                assert done.status == 303 and done.headers["Location"].endswith("/-100")
            assert (await runtime.service.communities.config("telegram", "-100")).paused
            async with http.post(f"{home}/minting", data={"action": "resume"}) as forged:
                assert forged.status == 403
    finally:
        await public.stop()
        await own.stop()


async def test_counts_by_phase_are_shared_kept_briefly_and_never_kept_failed() -> None:
    reads: list[tuple[str, str]] = []
    failing = True

    async def read(platform: str, community: str) -> dict[str, int]:
        reads.append((platform, community))
        await asyncio.sleep(0.01)
        if failing:
            raise ConnectionError("the database went away")
        return {"replied": len(reads)}

    now = [0.0]
    counts = RecentCounts(read, ttl=5, clock=lambda: now[0])
    outcomes = await asyncio.gather(
        *(counts.get("discord", "1") for _ in range(3)), return_exceptions=True
    )
    assert len(reads) == 1 and all(isinstance(o, ConnectionError) for o in outcomes)
    failing = False
    first = await asyncio.gather(*(counts.get("discord", "1") for _ in range(3)))
    assert first == [{"replied": 2}] * 3 and len(reads) == 2  # asked at once: counted once
    assert await counts.get("discord", "1") == {"replied": 2}  # kept
    assert await counts.get("telegram", "1") == {"replied": 3}  # each community its own
    now[0] = 5.0
    assert await counts.get("discord", "1") == {"replied": 4}  # counted again once stale
