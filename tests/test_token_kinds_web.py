"""Tokens in a community's own collection and ERC-1155 editions as members and visitors see
them: token pages, owners, the gallery, explorer pages, link previews, the leaderboard and
/mynfts (bot/web/, bot/owners.py, bot/leaderboard_gallery.py, bot/minting/queries.py)."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import Awaitable, Callable

import pytest
from eth_account import Account

from bot.chain.reads import CollectionOwners
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.console.render import gallery_text
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.records import recorded_links
from db.models import Standard
from tests.support import COLLECTOR, FEES, answered, rpc, sign_message, submission
from tests.test_web import a_minute_passes, asked_chain, owner_shown, site
from tests.token_kinds import ART_CID, club_contracts, edition_drop, live_collection

pytestmark = pytest.mark.db

ART = int.from_bytes(hashlib.sha256(b"sunrise").digest(), "big")


def tag(page: str, key: str) -> str:
    """A link preview tag's value as a crawler reads it."""
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', page)
    assert found is not None, key
    return html.unescape(found.group(1))


async def until(read: Callable[[], Awaitable[object]], expected: object) -> None:
    async with asyncio.timeout(30):
        while await read() != expected:
            await asyncio.sleep(0.05)


def text_of(fragment: str) -> str:
    return re.sub(r"<[^>]+>", "", fragment)


@pytest.mark.parametrize("web_role_reads", [False, True], ids=["web3", "json-rpc"])
async def test_a_token_in_a_community_collection_is_owned_as_that_collection_says(
    web_role_reads: bool, bot_env: dict[str, str]
):
    hot = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    async with site(bot_env, web_role_reads=web_role_reads) as served:
        runtime = served.runtime
        w3 = runtime.collection.w3
        club = await club_contracts(w3, HotWallet(Secret(ANVIL_DEV_KEYS[2])), hot.address)
        owners = served.web.owners
        if web_role_reads:  # as bot/web/role.py binds a community's collection
            reads = owners.collection
            assert isinstance(reads, CollectionOwners)
            owners.at = lambda address: CollectionOwners(reads.rpc, address)
        await runtime.service.submit(submission("0", community_id="h"))
        shared = await answered(runtime, served.inbox, "test:chat:0")
        assert shared.contract == runtime.collection.address
        async with runtime.sessions.begin() as session:
            session.add(live_collection("test", "g", Standard.ERC721, club.collection.address))
        await runtime.service.submit(submission("1", community_id="g", recipient=COLLECTOR.address))
        minted = await answered(runtime, served.inbox, "test:chat:1")
        token = minted.token_id
        assert token is not None and minted.contract == club.collection.address
        assert minted.token_url == f"{runtime.settings.public_base_url}/token/{token}"
        # Reading commands without CONTRACT_ADDRESS learn the shared collection from the
        # newest transaction to it, not from the newer one to the community's collection.
        unset = load_settings({k: v for k, v in bot_env.items() if k != "CONTRACT_ADDRESS"})
        links = await recorded_links(unset, runtime.sessions)
        assert links.contract == runtime.collection.address

        # The clone is asked who holds its token (the shared collection has no such token).
        assert await owner_shown(served, token, 0) == COLLECTOR.address
        await until(lambda: asked_chain(runtime, token), COLLECTOR.address)
        other = Account.create().address
        await rpc(w3, "anvil_setBalance", COLLECTOR.address, hex(10**18))
        holder = HotWallet(Secret("0x" + bytes(COLLECTOR.key).hex()))
        await club.collection.transact(
            holder, "transferFrom", COLLECTOR.address, other, token, fees=FEES
        )
        await a_minute_passes(runtime, token)
        await owner_shown(served, token, 1)  # asks the chain, in the background
        await until(lambda: asked_chain(runtime, token), other)
        assert await owner_shown(served, token, 2) == other

        page = await served.text(f"/token/{token}")
        assert f"<code class=contract>{club.collection.address}</code>" in page
        # Explorer pages name the token by its own contract.
        explorer = f"/explorer/nft/{club.collection.address}/{token}"
        assert (await served.get(explorer))[0] == 200
        assert (await served.get(f"/explorer/nft/{runtime.collection.address}/{token}"))[0] == 404
        tx_url = minted.tx_url or ""
        listing = await served.text(tx_url[tx_url.index("/explorer/tx/") :])
        assert f"<a href='{explorer}'>Art 1</a>" in listing


async def test_an_edition_drop_is_one_artwork_with_its_editions_and_holders(
    bot_env: dict[str, str],
):
    editions = Account.create().address  # holders are shown as recorded: no chain call
    async with site(bot_env) as served:
        runtime = served.runtime
        challenge = await runtime.wallets.challenge("test", "bob", COLLECTOR.address)
        await runtime.wallets.verify("test", "bob", "Bob", sign_message(challenge.message))
        custody = runtime.chain.wallet.address
        # Ada claimed twice (held by the bot), Bob once (to his wallet); then Cy minted.
        await edition_drop(
            runtime.sessions,
            platform="test",
            community_id="g",
            editions=editions,
            token_id=ART,
            claims=[("ada", "Ada", custody, True)] * 2 + [("bob", "Bob", COLLECTOR.address, False)],
        )
        await runtime.service.submit(
            submission("1", community_id="g", requester_id="cy", requester_name="Cy")
        )
        cy = await answered(runtime, served.inbox, "test:chat:1")
        assert cy.minted and cy.token_id is not None

        page = await served.text(f"/token/{ART}")
        assert "<h1 class=name>Sunrise</h1>" in page
        assert "<span class=editions>3 editions minted</span>" in page
        assert [text_of(h) for h in re.findall(r"<li class=holder>(.*?)</li>", page)] == [
            "held by the bot for Ada: 2 editions",
            f"{COLLECTOR.address}: 1 edition",
        ]
        assert f"<code class=contract>{editions}</code>" in page and "ERC-1155" in page
        assert "<span class=owner>" not in page  # an artwork has holders, not an owner
        assert tag(page, "og:title") == "Sunrise"
        assert tag(page, "og:url") == runtime.engagement.token_url(ART)
        assert tag(page, "og:image") == runtime.engagement.content_url(ART_CID)
        assert tag(page, "og:description") == "The first light over the club's harbour."

        # The gallery: the artwork once, beside Cy's token; newest first.
        gallery = await served.text("/c/test/g")
        assert re.findall(r"data-token-id='(\d+)'", gallery) == [str(cy.token_id), str(ART)]
        assert "2 tokens" in gallery and "<p class=editions>3 editions minted</p>" in gallery
        engagement = runtime.engagement
        shown = gallery_text(await engagement.gallery("test", "g"), "", engagement.token_url)
        assert f"'Sunrise' by curator · 3 editions · {engagement.token_url(ART)}" in shown

        # Explorer pages: the editions contract names it, no other; the address lists it.
        assert (await served.get(f"/explorer/nft/{editions}/{ART}"))[0] == 200
        assert (await served.get(f"/explorer/nft/{runtime.collection.address}/{ART}"))[0] == 404
        mine = await served.text(f"/explorer/address/{COLLECTOR.address}")
        assert f"<a href='/explorer/nft/{editions}/{ART}'>Sunrise #3 of 5</a>" in mine

        # The leaderboard: a claim is one token collected by its holder, made by nobody.
        board = await runtime.engagement.leaderboard("test", "g")
        assert [(r.name, r.count) for r in board.creators] == [("Cy", 1)]
        assert [(r.name, r.count) for r in board.collectors] == [
            ("Ada", 2),
            ("Bob", 1),
            ("Cy", 1),
        ]

        # /mynfts: each edition apart, linked to the artwork's page.
        listed, total = await runtime.service.requests_of("test", "ada", minted_only=True)
        assert total == 2
        assert sorted((r.edition, r.token_label) for r in listed) == [
            (1, f"{ART:064x}"[:8] + " edition #1"),
            (2, f"{ART:064x}"[:8] + " edition #2"),
        ]
        assert {r.contract for r in listed} == {editions}
        assert {r.token_url for r in listed} == {runtime.engagement.token_url(ART)}
