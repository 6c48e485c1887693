"""Leaderboards and galleries, from tokens really minted on anvil through the running bot."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account

from bot.leaderboard_gallery import Ranked, community_path, token_path
from bot.minting.types import MintResult, MintSubmission
from bot.runtime import Runtime
from db.models import Phase
from tests.support import COLLECTOR, Inbox, answered, sign_message, submission

pytestmark = pytest.mark.db

ELSEWHERE = Account.create().address  # an address nobody here linked


async def mint_all(
    runtime: Runtime, inbox: Inbox, subs: list[MintSubmission]
) -> dict[str, MintResult]:
    for sub in subs:  # one after another, so request IDs follow this order
        await runtime.service.submit(sub)
    results = await asyncio.gather(*(answered(runtime, inbox, s.key, 60) for s in subs))
    return {s.message_id: r for s, r in zip(subs, results, strict=True)}


def in_guild(message_id: str, member: str, member_name: str, **changes: str) -> MintSubmission:
    fields = {"community_id": "guild-1", "requester_id": member, "requester_name": member_name}
    fields.update(changes)
    return submission(message_id, **fields)


@pytest.fixture
async def minted(bot: tuple[Runtime, Inbox]) -> tuple[Runtime, dict[str, MintResult]]:
    """guild-1: Ada made 3 (two kept in custody, one sent to an unlinked address), Bob made 2
    (to the wallet he linked), Cy made 1 for Bob's wallet and had 1 refused; Cy made 1 more in
    guild-2."""
    runtime, inbox = bot
    challenge = await runtime.wallets.challenge("test", "bob", COLLECTOR.address)
    await runtime.wallets.verify("test", "bob", "Bob", sign_message(challenge.message))
    subs = [
        in_guild("1", "ada", "Ada"),
        in_guild("2", "bob", "Bob"),
        in_guild("3", "ada", "Ada", recipient=ELSEWHERE),
        in_guild("4", "cy", "Cy", recipient=COLLECTOR.address),
        in_guild("5", "bob", "Bob"),
        in_guild("6", "ada", "Ada Lovelace"),  # she renamed herself since
        in_guild("7", "cy", "Cy", name=""),  # refused: no name
        in_guild("8", "cy", "Cy", community_id="guild-2"),
    ]
    results = await mint_all(runtime, inbox, subs)
    assert results["7"].phase == Phase.REJECTED
    assert all(r.phase == Phase.CONFIRMED for k, r in results.items() if k != "7")
    return runtime, results


async def test_the_leaderboard_counts_minted_tokens_by_creator_and_by_holder(
    minted: tuple[Runtime, dict[str, MintResult]],
):
    runtime, _ = minted
    board = await runtime.engagement.leaderboard("test", "guild-1", limit=10)
    assert board.creators == [
        Ranked("Ada Lovelace", 3, member_id="ada"),
        Ranked("Bob", 2, member_id="bob"),
        Ranked("Cy", 1, member_id="cy"),
    ]
    # Bob holds his own two and Cy's gift at his linked wallet; Ada's custody holds two.
    assert board.collectors == [
        Ranked("Bob", 3, member_id="bob"),
        Ranked("Ada Lovelace", 2, member_id="ada"),
        Ranked(ELSEWHERE.lower(), 1, address=ELSEWHERE.lower()),
    ]
    top = await runtime.engagement.leaderboard("test", "guild-1", limit=1)
    assert [r.member_id for r in top.creators + top.collectors] == ["ada", "bob"]
    other = await runtime.engagement.leaderboard("test", "guild-2")
    assert other.creators == [Ranked("Cy", 1, member_id="cy")]
    assert other.collectors == [Ranked("Cy", 1, member_id="cy")]
    empty = await runtime.engagement.leaderboard("test", "no-such-guild")
    assert empty.creators == [] and empty.collectors == []


async def test_the_gallery_pages_minted_tokens_newest_first(
    minted: tuple[Runtime, dict[str, MintResult]],
):
    runtime, results = minted
    first = await runtime.engagement.gallery("test", "guild-1", offset=0, limit=4)
    assert first.total == 6 and first.has_more
    assert [i.name for i in first.items] == ["Art 6", "Art 5", "Art 4", "Art 3"]
    rest = await runtime.engagement.gallery("test", "guild-1", offset=4, limit=4)
    assert [i.name for i in rest.items] == ["Art 2", "Art 1"] and not rest.has_more

    newest = first.items[0]
    result = results["6"]
    assert newest.token_id == result.token_id
    assert newest.image_cid == result.image_cid and newest.image_cid
    assert newest.tx_hash == result.tx_hash and newest.tx_hash
    assert newest.tx_url == result.tx_url
    assert newest.custodial and newest.creator_name == "Ada Lovelace"
    assert newest.owner == runtime.chain.wallet.address  # the bot's custody
    assert newest.description == "made for the test"
    gift = first.items[2]
    assert gift.owner == COLLECTOR.address and not gift.custodial and gift.creator_id == "cy"

    adas = await runtime.engagement.gallery("test", "guild-1", member_id="ada")
    assert adas.total == 3 and [i.name for i in adas.items] == ["Art 6", "Art 3", "Art 1"]
    assert (await runtime.engagement.gallery("test", "guild-1", member_id="nobody")).total == 0

    assert await runtime.engagement.token(result.token_id or 0) == newest
    assert await runtime.engagement.token(12345) is None


def test_gallery_addresses_cannot_be_mistaken_across_platforms():
    assert community_path("discord", "1234") == "/c/discord/1234"
    assert community_path("telegram", "-100123") == "/c/telegram/-100123"
    assert community_path("test", "a/b c") == "/c/test/a%2Fb%20c"
    assert token_path(42) == "/token/42"


async def test_gallery_urls_start_at_the_public_base_url(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    base = runtime.settings.public_base_url.rstrip("/")
    assert runtime.engagement.gallery_url("telegram", "-100123") == f"{base}/c/telegram/-100123"
    assert runtime.engagement.token_url(7) == f"{base}/token/7"
