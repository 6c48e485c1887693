"""Community collections end to end on Discord: `python -m bot run` against the Discord emulator
and anvil. Admins create their server's collection from chat, members mint into it (each
server into its own, in one batch window), an edition drop is claimed, replayed and withdrawn
from custody, and `collection handover` leaves the community's owner alone in charge."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.contract import Collection
from bot.runtime import Runtime
from db.models import CollectionStatus, Standard
from tests.emulators.discord import DiscordServer, Interaction
from tests.support import (
    DEV_MINTER,
    balance,
    edition_token,
    hand_over_by_cli,
    observed,
    png,
)
from tests.test_discord import (
    answered,
    claim,
    create_drop,
    discord_bot,
    ephemeral_texts,
    final_embed,
    link_wallet,
)

pytestmark = pytest.mark.db
OWNER = Account.create()  # the first server's admin's own wallet
SECOND_OWNER = Account.create()
MEMBERS = [Account.create() for _ in range(5)]


async def admin_says(discord: DiscordServer, admin: str, *subcommand: dict[str, Any]) -> str:
    """`admin` runs /admin collection SUBCOMMAND; what they were told, privately."""
    asked = await discord.slash(
        admin, "admin", [{"name": "collection", "type": 2, "options": list(subcommand)}]
    )

    def said() -> str:
        # A quick answer is an ephemeral reply; a deferred one fills the "thinking" message.
        filled = asked.original.get("content") if asked.original else None
        return "\n".join(ephemeral_texts(asked)) or filled or ""

    await discord.wait_for(said)
    return said()


def create(name: str, symbol: str, royalty_bps: int) -> dict[str, Any]:
    return {
        "name": "create",
        "type": 1,
        "options": [
            {"name": "name", "type": 3, "value": name},
            {"name": "symbol", "type": 3, "value": symbol},
            {"name": "royalty_bps", "type": 4, "value": royalty_bps},
        ],
    }


SHOW = {"name": "show", "type": 1, "options": []}


async def created_live(
    discord: DiscordServer, runtime: Runtime, admin: str, guild: str, name: str, symbol: str
) -> str:
    """`admin` creates the server's collection from chat; its address once it is live."""
    answer = await admin_says(discord, admin, create(name, symbol, 500))
    recorded = await runtime.collections.view("discord", guild)
    assert recorded is not None, answer
    assert f"{name} ({symbol}) at {recorded.address}: being created" in answer
    live = await runtime.collections.wait_live("discord", guild, 60)
    assert live is not None and live.status == CollectionStatus.LIVE, live
    return recorded.address


def token_id_of(mint: Interaction) -> int:
    field = next(f["value"] for f in final_embed(mint)["fields"] if f["name"] == "Token ID")
    return int(field.strip("`"), 16)


async def test_each_server_creates_its_collection_mints_into_it_and_hands_it_over(
    discord: DiscordServer,
    factory_env: dict[str, str],
    collection: Collection,
    w3: AsyncWeb3,
    tmp_path: Path,
):
    ana, ada = discord.add_member("Ana", admin=True), discord.add_member("Ada")
    harbour = discord.add_guild("Harbour")
    bea = discord.add_member("Bea", admin=True, guild_id=harbour)
    max_ = discord.add_member("Max", guild_id=harbour)
    # Long enough that both servers' mints are queued inside one batch window.
    env = {**factory_env, "BATCH_MAX_WAIT_S": "2"}
    async with discord_bot(discord, env, tmp_path / "bot.log"), observed(env) as runtime:
        refused = await admin_says(discord, ana, create("Art club", "ART", 500))
        assert "your own verified address: link one with /wallet link" in refused
        assert "mints into the shared collection" in await admin_says(discord, ana, SHOW)
        assert await runtime.collections.view("discord", discord.guild_id) is None

        await asyncio.gather(
            link_wallet(discord, ana, OWNER), link_wallet(discord, bea, SECOND_OWNER)
        )
        first, second = await asyncio.gather(
            created_live(discord, runtime, ana, discord.guild_id, "Art club", "ART"),
            created_live(discord, runtime, bea, harbour, "Harbour art", "HARB"),
        )
        shown = await admin_says(discord, ana, SHOW)
        assert f"at {first}: live: this community's mints and drops go to it" in shown
        assert f"Owner and royalty receiver: {OWNER.address} (5 % royalties)" in shown

        ours, theirs = await asyncio.gather(
            discord.mint(ada, png(901), "Pier"), discord.mint(max_, png(902), "Lighthouse")
        )
        await asyncio.gather(answered(discord, ours), answered(discord, theirs))
        assert await balance(collection, DEV_MINTER.address) == 0  # not the shared collection
        assert await Collection(w3, first).owner_of(token_id_of(ours)) == DEV_MINTER.address
        assert await Collection(w3, second).owner_of(token_id_of(theirs)) == DEV_MINTER.address

        await hand_over_by_cli(env, "discord", discord.guild_id, w3, OWNER.address, first, second)
        shown = await admin_says(discord, ana, SHOW)
        assert "The operator has handed its admin role over" in shown
        assert "handed" not in await admin_says(discord, bea, SHOW)


async def test_an_edition_drop_of_five_is_claimed_replayed_and_withdrawn_from_custody(
    discord: DiscordServer, factory_env: dict[str, str], tmp_path: Path
):
    ana = discord.add_member("Ana", admin=True)
    linked = [discord.add_member(f"Member {i}") for i in range(4)]
    zed, late = discord.add_member("Zed"), discord.add_member("Late")  # Zed has no wallet yet
    async with (
        discord_bot(discord, factory_env, tmp_path / "bot.log"),
        observed(factory_env) as runtime,
    ):
        await asyncio.gather(
            link_wallet(discord, ana, OWNER),
            *(link_wallet(discord, m, a) for m, a in zip(linked, MEMBERS, strict=False)),
        )
        await created_live(discord, runtime, ana, discord.guild_id, "Art club", "ART")
        # Two each: only the exactly-once handling of a delivery stops a replay claiming again.
        drop = await create_drop(discord, ana, "Harbour", supply=5, per_member=2, kind="edition")
        button = drop["components"][0]["components"][0]["custom_id"]
        first = await discord.click(linked[0], drop, button)
        await discord.replay(first)  # the same click delivered again, at once ...
        await discord.wait_for(lambda: first.original and first.original.get("content"))
        await discord.replay(first)  # ... and after its answer
        said = await asyncio.gather(*(claim(discord, m, drop) for m in [*linked[1:], zed]))
        editions_said = [first.original["content"], *said]  # type: ignore[index]
        assert sorted(re.search(r"#(\d) of 5", s)[1] for s in editions_said) == list("12345")
        assert "the bot, for you (`/withdraw`)" in said[-1]
        assert "sold out" in (await claim(discord, late, drop)).lower()
        await discord.wait_for(lambda: minted_notices(discord) == 5, timeout=60)
        await asyncio.sleep(1)  # an answer to a replay would have come by now
        assert minted_notices(discord) == 5
        assert [f["content"].split(":")[0] for f in first.followups] == ["Your edition is minted"]

        editions = await runtime.collections.view("discord", discord.guild_id, Standard.ERC1155)
        assert editions is not None and editions.live and editions.owner == OWNER.address
        contract = runtime.service.chain.erc1155(editions.address)
        token_id = await edition_token(runtime)
        assert await contract.minted(token_id, [1, 2, 3, 4, 5, 6]) == {1, 2, 3, 4, 5}
        for account in MEMBERS[:4]:
            assert await contract.balance_of(account.address, token_id) == 1
        assert await contract.balance_of(DEV_MINTER.address, token_id) == 1  # Zed's, in custody

        await link_wallet(discord, zed, MEMBERS[4])
        withdraw = await discord.slash(zed, "withdraw", [])
        await discord.wait_for(
            lambda: withdraw.original and "delivered" in withdraw.original["content"]
        )
        assert f"Withdrawing to `{MEMBERS[4].address}`" in withdraw.original["content"]  # type: ignore[index]
        assert await contract.balance_of(MEMBERS[4].address, token_id) == 1
        assert await contract.balance_of(DEV_MINTER.address, token_id) == 0
        assert await contract.minted(token_id, [6]) == set()  # still no sixth


def minted_notices(discord: DiscordServer) -> int:
    return sum(
        1
        for i in discord.interactions.values()
        for f in i.followups
        if f["content"].startswith("Your edition is minted")
    )
