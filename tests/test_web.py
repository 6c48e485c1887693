"""The web server as visitors see it (bot/web/): content served by its CID with the CID as
ETag and cached for good, large files streamed whole, owners from the database with the chain
asked at most once a minute per token, and listings a page at a time."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import pytest
from eth_account import Account
from multidict import CIMultiDict
from sqlalchemy import select, update

from bot.chain.contract import Collection
from bot.chain.reads import CollectionOwners, connect_json_rpc
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.content.images import MIME_TYPES, check_image
from bot.env_values import Secret
from bot.runtime import Runtime
from bot.web import WebServer
from bot.web.explorer import LIST_PAGE_SIZE
from bot.web_wiring import web_server
from db.models import TokenOwner, utcnow
from tests.hostile import STORED_FORMATS, picture
from tests.rpc_proxy import RpcProxy
from tests.support import (
    COLLECTOR,
    FEES,
    Inbox,
    answered,
    png,
    rpc,
    running,
    sign_message,
    submission,
)

pytestmark = pytest.mark.db

IMMUTABLE = "public, max-age=31536000, immutable"
OWNER_OF = "0x6352211e"  # the selector of ownerOf(uint256)


@dataclass
class Site:
    runtime: Runtime
    inbox: Inbox
    web: WebServer
    base: str
    http: aiohttp.ClientSession

    async def get(self, path: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
        async with self.http.get(self.base + path, headers=headers) as response:
            return response.status, await response.read(), CIMultiDict(response.headers)

    async def text(self, path: str) -> str:
        status, body, _ = await self.get(path)
        assert status == 200, (path, status, body[:200])
        return body.decode()


@contextlib.asynccontextmanager
async def site(env: dict[str, str], *, web_role_reads: bool = False) -> AsyncIterator[Site]:
    """The bot's web server, asking the chain through the bot's web3 collection or, with
    `web_role_reads`, as the web role does (bot/chain/reads.py)."""
    async with running(load_settings(env)) as (runtime, inbox):
        web = web_server(runtime, host="127.0.0.1", port=0)
        rpc = None
        if web_role_reads:
            settings = runtime.settings
            rpc = await connect_json_rpc(settings.effective_rpc_url, 31337, settings.rpc_timeout)
            web.owners.collection = CollectionOwners(rpc, runtime.collection.address)
        base = await web.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Site(runtime, inbox, web, base, http)
        finally:
            await web.stop()
            if rpc is not None:
                await rpc.close()


@pytest.fixture
async def served(bot_env: dict[str, str]) -> AsyncIterator[Site]:
    async with site(bot_env) as served:
        yield served


# ----- /ipfs/<cid> ---------------------------------------------------------------------------


async def test_content_is_served_under_its_cid_as_etag_and_kept_for_good(served: Site):
    image = png(1, size=(32, 32))
    cid = served.runtime.content.put_file(image)

    status, body, headers = await served.get(f"/ipfs/{cid}")
    assert status == 200 and body == image
    assert headers["Content-Type"] == "image/png"
    assert headers["ETag"] == f'"{cid}"'
    assert headers["Cache-Control"] == IMMUTABLE
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Length"] == str(len(image))

    async with served.http.head(f"{served.base}/ipfs/{cid}") as response:
        assert response.status == 200 and await response.read() == b""
        assert response.headers["Content-Length"] == str(len(image))

    for asked in (f'"{cid}"', f'W/"{cid}"', f'"bafkreisomethingelse", "{cid}"'):
        status, body, headers = await served.get(f"/ipfs/{cid}", **{"If-None-Match": asked})
        assert (status, body) == (304, b""), asked
        assert headers["ETag"] == f'"{cid}"' and headers["Cache-Control"] == IMMUTABLE
    other = served.runtime.content.put_file(png(2))
    status, body, _ = await served.get(f"/ipfs/{cid}", **{"If-None-Match": f'"{other}"'})
    assert (status, body) == (200, image)


async def test_every_image_the_bot_stores_is_served_as_its_media_type(served: Site):
    """A browser or a link preview's crawler takes an image by its Content-Type (nosniff)."""
    for fmt in STORED_FORMATS:
        checked = check_image(picture(fmt, 7), max_bytes=10**7, max_pixels=10**6)
        cid = served.runtime.content.put_file(checked.data)
        status, body, headers = await served.get(f"/ipfs/{cid}")
        assert (status, body) == (200, checked.data), fmt
        assert headers["Content-Type"] == checked.mime == MIME_TYPES[checked.format], fmt


async def test_a_revalidation_is_answered_without_touching_the_store(served: Site):
    cid = served.runtime.content.put_file(png(3))
    block = served.runtime.content.directory / "blocks" / cid[-3:-1] / cid
    block.unlink()  # gone from the disk: only a request that reads it can notice
    status, _, headers = await served.get(f"/ipfs/{cid}", **{"If-None-Match": f'"{cid}"'})
    assert status == 304 and headers["ETag"] == f'"{cid}"'
    status, _, _ = await served.get(f"/ipfs/{cid}")
    assert status == 404


async def test_a_file_of_many_blocks_is_streamed_whole(served: Site):
    data = os.urandom(3_000_000)  # twelve 256 KiB leaves under one tree node
    cid = served.runtime.content.put_file(data)
    assert cid.startswith("bafybei")  # a dag-pb root, not one raw block

    for _ in range(2):  # the second time from the remembered layout
        async with served.http.get(f"{served.base}/ipfs/{cid}") as response:
            assert response.status == 200
            assert response.headers["Content-Length"] == str(len(data))
            assert response.headers["Content-Type"] == "application/octet-stream"
            digest = hashlib.sha256()
            async for chunk in response.content.iter_chunked(65_536):
                digest.update(chunk)
        assert digest.digest() == hashlib.sha256(data).digest()


# ----- owners ----------------------------------------------------------------------------------


def owner_of_calls(proxy: RpcProxy) -> int:
    """How often the chain was asked who holds a token."""
    calls = [r for r in proxy.requests if r.get("method") == "eth_call"]
    return sum(
        1
        for call in calls
        if str(call["params"][0].get("data") or call["params"][0].get("input") or "").startswith(
            OWNER_OF
        )
    )


async def owner_shown(served: Site, token_id: int, view: int) -> str:
    """The owner the token page shows; `view` makes each a fresh rendering (pages are kept
    for a moment by path and query)."""
    page = await served.text(f"/token/{token_id}?view={view}")
    found = re.search(r"<span class=owner>(.*?)</span>", page)
    assert found is not None, page
    return re.sub(r"<[^>]+>", "", found.group(1))


def collection_link(runtime: Runtime, address: str) -> str:
    explorer = runtime.chain.explorer
    assert explorer is not None
    return explorer.address_url(address)


async def a_minute_passes(runtime: Runtime, token_id: int) -> None:
    """As if the chain was last asked about the token over a minute ago."""
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(TokenOwner)
            .where(TokenOwner.token_id == f"0x{token_id:064x}")
            .values(checked_at=utcnow() - timedelta(seconds=61))
        )


async def asked_chain(runtime: Runtime, token_id: int) -> str | None:
    async with runtime.sessions() as session:
        row = await session.scalar(
            select(TokenOwner).where(TokenOwner.token_id == f"0x{token_id:064x}")
        )
    return None if row is None else row.owner


@pytest.mark.parametrize("web_role_reads", [False, True], ids=["web3", "json-rpc"])
async def test_owners_come_from_the_database_and_the_chain_is_asked_once_a_minute(
    web_role_reads: bool,
    bot_env: dict[str, str],
    proxy: RpcProxy,
    collection: Collection,
    caplog: pytest.LogCaptureFixture,
):
    env = {**bot_env, "RPC_URL": proxy.url}
    async with site(env, web_role_reads=web_role_reads) as served:
        runtime = served.runtime
        await runtime.service.submit(submission("1", community_id="g"))
        minted = await answered(runtime, served.inbox, "test:chat:1")
        token = minted.token_id
        assert token is not None and minted.custodial
        custody = runtime.chain.wallet.address

        assert await owner_shown(served, token, 0) == f"{custody} (held by the bot for Ada)"
        await _until(lambda: asked_chain(runtime, token), custody)

        # A withdrawal the bot confirmed: the database's word, at once, without the chain.
        challenge = await runtime.wallets.challenge("test", "u1", COLLECTOR.address)
        await runtime.wallets.verify("test", "u1", "Ada", sign_message(challenge.message))
        await runtime.withdrawals.withdraw("test:chat:w", "test", "u1")
        await runtime.withdrawals.wait("test:chat:w", timeout=30)
        for view in range(1, 21):
            assert await owner_shown(served, token, view) == COLLECTOR.address
        card = await served.text("/c/test/g")
        assert f"owner <a href='{collection_link(runtime, COLLECTOR.address)}'>" in card
        assert "held by the bot" not in card
        assert owner_of_calls(proxy) == 1

        # A transfer the bot did not make shows once the chain is asked again, a minute on.
        other = Account.create().address
        await rpc(collection.w3, "anvil_setBalance", COLLECTOR.address, hex(10**18))
        holder = HotWallet(Secret("0x" + bytes(COLLECTOR.key).hex()))
        await collection.transact(
            holder, "transferFrom", COLLECTOR.address, other, token, fees=FEES
        )
        assert await owner_shown(served, token, 21) == COLLECTOR.address  # not a minute yet
        assert owner_of_calls(proxy) == 1
        await a_minute_passes(runtime, token)
        await owner_shown(served, token, 22)  # asks the chain, in the background
        await _until(lambda: asked_chain(runtime, token), other)
        assert await owner_shown(served, token, 23) == other
        assert owner_of_calls(proxy) == 2

        # The chain does not answer: pages show the last known owner.
        proxy.mode = "down"
        await a_minute_passes(runtime, token)
        assert await owner_shown(served, token, 24) == other
        await _until_true(lambda: "could not learn who holds token" in caplog.text)
        assert await owner_shown(served, token, 25) == other
        proxy.mode = "pass"


async def _until(
    read: Callable[[], Awaitable[object]], expected: object, timeout: float = 30
) -> None:
    async with asyncio.timeout(timeout):
        while await read() != expected:
            await asyncio.sleep(0.05)


async def _until_true(check: Callable[[], object], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


# ----- listings a page at a time ---------------------------------------------------------


async def test_an_address_page_lists_its_tokens_a_page_at_a_time(bot_env: dict[str, str]):
    env = {**bot_env, "USER_MINTS_PER_MINUTE": "0", "COMMUNITY_MINTS_PER_MINUTE": "0"}
    count = LIST_PAGE_SIZE + 3
    async with site(env) as served:
        runtime = served.runtime
        subs = [submission(str(n), recipient=COLLECTOR.address) for n in range(100, 100 + count)]
        for sub in subs:
            await runtime.service.submit(sub)
        results = [await answered(runtime, served.inbox, s.key, 120) for s in subs]
        assert all(r.minted for r in results)

        names = re.compile(r"<li><a href='/explorer/nft/[^']+'>(Art \d+)</a></li>")
        path = f"/explorer/address/{COLLECTOR.address}"
        first = await served.text(path)
        assert names.findall(first) == [f"Art {n}" for n in range(100, 100 + LIST_PAGE_SIZE)]
        assert f"<a rel=next href='{path}?page=2'>" in first and "rel=prev" not in first
        second = await served.text(f"/explorer/address/{COLLECTOR.address.lower()}?page=2")
        assert names.findall(second) == [
            f"Art {n}" for n in range(100 + LIST_PAGE_SIZE, 100 + count)
        ]
        assert "rel=prev" in second and "rel=next" not in second
        for wrong, status in (
            (f"{path}?page=3", 404),
            (f"{path}?page=0", 400),
            (f"{path}?page=two", 400),
            ("/explorer/address/not-an-address", 404),
        ):
            assert (await served.get(wrong))[0] == status, wrong

        # A batch's transaction page lists its tokens a page at a time too.
        tx_url = results[0].tx_url or ""
        tx_path = tx_url[tx_url.index("/explorer/tx/") :]
        in_batch = sum(1 for r in results if r.tx_url == tx_url)
        listed, page = 0, 1
        while True:
            text = await served.text(f"{tx_path}?page={page}")
            listed += len(re.findall(r"<li><a href='/explorer/nft/", text))
            if "rel=next" not in text:
                break
            page += 1
        assert listed == in_batch
