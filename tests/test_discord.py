"""Discord end to end: `python -m bot run`, unmodified, against the local Discord emulator and
anvil. Each test acts as members would and checks what they would see, and the chain."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chain.contract import Collection
from tests.emulators.discord import EPHEMERAL, DiscordServer, Interaction
from tests.support import COLLECTOR, DEV_MINTER, balance, bot_process, png, signed_siwe

pytestmark = pytest.mark.db
HOLDER = COLLECTOR.address  # the author's own wallet


@pytest.fixture
async def world(discord: DiscordServer) -> dict[str, str]:
    curator_role = discord.add_role("Curator")
    other_server = discord.add_guild("Another server")
    return {
        "curator_role": curator_role,
        "author": discord.add_member("Ada"),
        "curator": discord.add_member("Cleo", roles=[curator_role]),
        "member": discord.add_member("Max"),
        "admin": discord.add_member("Ana", admin=True),
        "hall": discord.add_channel("hall"),
        "other_server": other_server,
        "other_channel": discord.guilds[other_server]["channels"][0]["id"],
    }


@pytest.fixture
async def running_bot(
    discord: DiscordServer, world: dict[str, str], bot_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[DiscordServer]:
    env = {**bot_env, **discord.env(), "USER_MINTS_PER_MINUTE": "3"}
    async with bot_process(env, tmp_path / "bot.log") as proc:
        try:
            await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        except TimeoutError:
            raise AssertionError((tmp_path / "bot.log").read_text()) from None
        yield discord
        assert proc.returncode is None, (tmp_path / "bot.log").read_text()
    # Shown only when the test failed (pytest prints a failing test's captured output): what
    # the bot logged, since its chain and database are gone by the time anyone reads it.
    print((tmp_path / "bot.log").read_text(errors="replace")[-20_000:])


def final_embed(interaction: Interaction) -> dict[str, Any]:
    assert interaction.original is not None
    return interaction.original["embeds"][0]  # type: ignore[no-any-return]


def ephemeral_texts(interaction: Interaction) -> list[str]:
    """What only the user saw: an ephemeral reply or follow-up."""
    texts = [
        c["data"]["content"]
        for c in interaction.callbacks
        if c["type"] == 4 and c["data"].get("flags", 0) & EPHEMERAL
    ]
    return texts + [m["content"] for m in interaction.followups if m["flags"] & EPHEMERAL]


async def answered(discord: DiscordServer, interaction: Interaction) -> None:
    await discord.wait_for(
        lambda: (
            ephemeral_texts(interaction)
            or (interaction.original and interaction.original.get("embeds"))
        )
    )


async def link_wallet(
    discord: DiscordServer, member: str, account: Any = COLLECTOR, address: str | None = None
) -> str:
    """`member` links `account`'s address (HOLDER by default), or the smart wallet at
    `address` that `account` owns, as a member would: /wallet link, sign in the wallet,
    /wallet verify. Returns what the bot answered the verification."""
    address = address or account.address
    link = await discord.slash(
        member,
        "wallet",
        [
            {
                "name": "link",
                "type": 1,
                "options": [{"name": "address", "type": 3, "value": address}],
            }
        ],
    )
    await discord.wait_for(lambda: link.callbacks)
    signature = signed_siwe(link.callbacks[0]["data"]["content"], account)
    verify = await discord.slash(
        member,
        "wallet",
        [
            {
                "name": "verify",
                "type": 1,
                "options": [{"name": "signature", "type": 3, "value": signature}],
            }
        ],
    )
    await discord.wait_for(lambda: verify.callbacks)
    verified: str = verify.callbacks[0]["data"]["content"]
    assert f"Verified: your NFTs will go to `{address}`" in verified
    return verified


async def test_slash_mint_defers_then_edits_with_the_links(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    mint = await discord.mint(world["author"], png(1), "Harbour *at* dawn", description="pier")
    await answered(discord, mint)
    assert mint.callbacks[0]["type"] == 5  # deferred first ...
    assert mint.callback_at is not None and mint.callback_at - mint.dispatched_at < 3
    embed = final_embed(mint)  # ... then the original response edited
    assert embed["title"] == "Harbour \\*at\\* dawn"  # escaped markdown
    links = next(f["value"] for f in embed["fields"] if f["name"] == "Links")
    assert "[Transaction](http://127.0.0.1:8080/explorer/tx/0x" in links
    # The title and the Token link lead to the token's page, a link that unfurls.
    token_id = int(next(f["value"] for f in embed["fields"] if f["name"] == "Token ID")[1:-1], 16)
    assert embed["url"] == f"http://127.0.0.1:8080/token/{token_id}"
    assert f"[Token]({embed['url']})" in links
    assert "/ipfs/" in embed["image"]["url"] and "/attachments/" not in embed["image"]["url"]
    assert mint.original_edits[-1]["allowed_mentions"]["parse"] == []
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_replayed_interaction_mints_and_answers_once(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    mint = await discord.mint(world["author"], png(2), "Twice")
    await discord.replay(mint)  # a gateway replay of the same event
    await answered(discord, mint)
    await discord.replay(mint)  # and again after the answer
    await asyncio.sleep(1.5)
    assert len(mint.callbacks) == 1
    assert len([e for e in mint.original_edits if e.get("embeds")]) == 1
    assert not mint.followups
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_mint_as_nft_by_author_and_curator_at_once_mints_once_for_the_author(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    config = await discord.slash(
        world["admin"],
        "admin",
        [
            {
                "name": "config",
                "type": 1,
                "options": [{"name": "curator_role", "type": 8, "value": world["curator_role"]}],
            }
        ],
        roles={world["curator_role"]: discord.roles[world["curator_role"]]},
    )
    await answered(discord, config)
    assert f"<@&{world['curator_role']}>" in ephemeral_texts(config)[0]
    await link_wallet(discord, world["author"])
    message = discord.add_message(
        world["author"], "Sunset over the **bay** @everyone", [discord.add_attachment(png(3))]
    )
    by_author, by_curator = await asyncio.gather(
        discord.message_command(world["author"], "Mint as NFT", message),
        discord.message_command(world["curator"], "Mint as NFT", message),
    )
    await discord.wait_for(
        lambda: any(i.original and i.original.get("embeds") for i in (by_author, by_curator))
    )
    await asyncio.sleep(1)
    minted = [i for i in (by_author, by_curator) if i.original and i.original.get("embeds")]
    assert len(minted) == 1
    assert final_embed(minted[0])["title"] == "Sunset over the bay everyone"
    other = by_curator if minted[0] is by_author else by_author
    assert any("already being minted" in t for t in ephemeral_texts(other))
    assert await balance(collection, HOLDER) == 1


def refused_privately(interaction: Interaction) -> str:
    """The one thing the member saw: an ephemeral reply, with no public "thinking"
    placeholder before it, no follow-up and no edit. Returns its text."""
    (callback,) = interaction.callbacks
    assert callback["type"] == 4 and callback["data"]["flags"] & EPHEMERAL, callback
    assert not interaction.followups and not interaction.original_edits
    return str(callback["data"]["content"])


async def test_a_member_cannot_mint_someone_elses_message_and_nobody_else_sees_it(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    message = discord.add_message(world["author"], "mine", [discord.add_attachment(png(4))])
    attempt = await discord.message_command(world["member"], "Mint as NFT", message)
    await answered(discord, attempt)
    assert "author or a curator" in refused_privately(attempt)
    await asyncio.sleep(1)  # and nothing later either
    assert len(attempt.callbacks) == 1 and not attempt.followups
    assert not discord.posted()
    assert await balance(collection, DEV_MINTER.address) == 0


async def test_refusals_that_need_no_database_are_private_and_immediate(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    not_a_picture = discord.add_attachment(b"a poem", "poem.txt", content_type="text/plain")
    no_image = discord.add_message(world["author"], "words only", [not_a_picture])
    menu = await discord.message_command(world["author"], "Mint as NFT", no_image)
    await answered(discord, menu)
    assert "no image to mint" in refused_privately(menu)

    text_file = discord.add_attachment(b"a poem", "poem.txt", content_type="text/plain")
    typed = await discord.slash(
        world["author"],
        "mint",
        [
            {"name": "image", "type": 11, "value": text_file["id"]},
            {"name": "name", "type": 3, "value": "Poem"},
        ],
        attachments={text_file["id"]: text_file},
    )
    await answered(discord, typed)
    assert "not a picture" in refused_privately(typed)

    huge = discord.add_attachment(png(5))
    huge["size"] = 11_000_000  # over the default 10 MB
    too_big = await discord.slash(
        world["author"],
        "mint",
        [
            {"name": "image", "type": 11, "value": huge["id"]},
            {"name": "name", "type": 3, "value": "Huge"},
        ],
        attachments={huge["id"]: huge},
    )
    await answered(discord, too_big)
    assert "the limit is 10 MB" in refused_privately(too_big)

    bad_address = await discord.mint(world["author"], png(6), "Sent away", to="0x1234")
    await answered(discord, bad_address)
    assert "not a valid Ethereum address" in refused_privately(bad_address)
    assert not discord.posted()
    assert await balance(collection, DEV_MINTER.address) == 0


async def test_a_bad_image_gets_an_ephemeral_error(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    mint = await discord.mint(world["author"], b"this is not a picture", "Broken")
    await answered(discord, mint)
    # The public "thinking" message is then removed (just after the private answer).
    await discord.wait_for(lambda: mint.original_deleted)
    assert any("image" in t.lower() for t in ephemeral_texts(mint))
    assert await balance(collection, DEV_MINTER.address) == 0


async def test_the_rate_limit_says_when_to_try_again(
    running_bot: DiscordServer, world: dict[str, str]
):
    discord = running_bot  # USER_MINTS_PER_MINUTE=3
    for seed in range(3):
        await answered(discord, await discord.mint(world["author"], png(10 + seed), f"Q{seed}"))
    fourth = await discord.mint(world["author"], png(20), "One too many")
    await answered(discord, fourth)
    (text,) = ephemeral_texts(fourth)
    assert "try again in" in text and text.endswith(" s.")
    await discord.wait_for(lambda: fourth.original_deleted)  # the public placeholder goes too


async def test_admin_commands_are_refused_for_members_and_work_for_admins(
    running_bot: DiscordServer, world: dict[str, str]
):
    discord = running_bot
    pause = [{"name": "pause", "type": 1, "options": []}]
    refused = await discord.slash(world["member"], "admin", pause)
    await answered(discord, refused)
    assert any("Manage Server" in t for t in ephemeral_texts(refused))
    paused = await discord.slash(world["admin"], "admin", pause)
    await answered(discord, paused)
    assert any("paused" in t for t in ephemeral_texts(paused))
    mint = await discord.mint(world["author"], png(30), "While paused")
    await answered(discord, mint)
    assert any("paused" in t for t in ephemeral_texts(mint))
    command = discord.commands["admin"]
    assert int(command["default_member_permissions"]) == 1 << 5  # hidden from members


async def test_an_expired_interaction_token_falls_back_to_a_channel_message(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    mint = await discord.mint(world["author"], png(40), "Late answer")
    await discord.wait_for(lambda: mint.callbacks)
    discord.expire(mint)
    await discord.wait_for(lambda: discord.posted())
    (posted,) = discord.posted()
    assert posted["content"].startswith(f"<@{world['author']}>")
    assert posted["allowed_mentions"] == {"parse": [], "users": [int(world["author"])]}
    assert posted["embeds"][0]["title"] == "Late answer"
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_an_event_sent_during_a_reconnect_arrives_on_resume_and_mints_once(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    await discord.force_resume()
    mint = await discord.mint(world["author"], png(50), "Across a reconnect")
    await answered(discord, mint)
    assert 6 in discord.gateway_ops  # discord.py resumed the session rather than identifying
    await discord.replay(mint)
    await asyncio.sleep(1)
    assert len([e for e in mint.original_edits if e.get("embeds")]) == 1
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_restart_in_the_middle_of_a_mint_still_answers(
    discord: DiscordServer,
    world: dict[str, str],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    env = {**bot_env, **discord.env()}
    log = tmp_path / "bot.log"
    async with bot_process({**env, "MINTBOT_CRASH_AT": "after_sign"}, log) as first:
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        mint = await discord.mint(world["author"], png(60), "Survives a crash")
        await asyncio.wait_for(first.wait(), 60)
    assert first.returncode == -signal.SIGKILL, log.read_text()
    assert not mint.original_edits  # killed after signing, before anything was answered
    async with bot_process(env, log):
        await answered(discord, mint)
    assert final_embed(mint)["title"] == "Survives a crash"
    assert len([e for e in mint.original_edits if e.get("embeds")]) == 1
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_the_same_image_again_within_a_day_asks_before_minting(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord = running_bot
    first = await discord.mint(world["author"], png(70), "Original")
    await answered(discord, first)
    again = await discord.mint(world["author"], png(70), "Copy")
    await discord.wait_for(lambda: again.original and again.original.get("components"))
    assert again.original is not None and "Mint it again?" in again.original["content"]
    assert await balance(collection, DEV_MINTER.address) == 1  # nothing minted silently
    buttons = again.original["components"][0]["components"]
    confirm = next(b["custom_id"] for b in buttons if b["label"] == "Mint again")
    click = await discord.click(world["author"], again.original, confirm)
    await discord.wait_for(lambda: click.callbacks)
    assert click.callbacks[0]["type"] == 7  # the prompt is updated in place
    await discord.wait_for(lambda: again.original and again.original.get("embeds"))
    assert final_embed(again)["title"] == "Copy"
    assert await balance(collection, DEV_MINTER.address) == 2


async def test_status_gallery_wallet_and_admin_views(
    running_bot: DiscordServer, world: dict[str, str]
):
    discord = running_bot
    for seed, name in ((80, "First"), (81, "Second")):
        mint = await discord.mint(world["author"], png(seed), name)
        await answered(discord, mint)

    status = await discord.slash(world["author"], "status", [])
    await answered(discord, status)
    (text,) = ephemeral_texts(status)
    assert "**Second**: minted" in text and "**First**: minted" in text

    gallery = await discord.slash(world["author"], "mynfts", [])
    await discord.wait_for(lambda: gallery.callbacks)
    page = gallery.callbacks[0]["data"]
    assert page["flags"] & EPHEMERAL
    assert page["embeds"][0]["title"] == "Second"  # newest first
    assert page["embeds"][0]["footer"]["text"] == "1 of 2"
    assert gallery.original is not None
    next_page = next(
        b["custom_id"] for b in page["components"][0]["components"] if b["label"] == "▶"
    )
    turn = await discord.click(world["author"], gallery.original, next_page)
    await discord.wait_for(lambda: turn.callbacks)
    assert turn.callbacks[0]["data"]["embeds"][0]["title"] == "First"

    show = await discord.slash(world["member"], "wallet", [{"name": "show", "type": 1}])
    await answered(discord, show)
    assert "the bot holds your NFTs" in ephemeral_texts(show)[0]

    stats = await discord.slash(world["admin"], "admin", [{"name": "stats", "type": 1}])
    await answered(discord, stats)
    assert "Creators: 1" in ephemeral_texts(stats)[0]
    assert "replied: 2" in ephemeral_texts(stats)[0]
    wallet = await discord.slash(world["admin"], "admin", [{"name": "balance", "type": 1}])
    await answered(discord, wallet)
    assert DEV_MINTER.address in ephemeral_texts(wallet)[0]


async def test_a_low_balance_alert_reaches_the_admin_channel(
    discord: DiscordServer, world: dict[str, str], bot_env: dict[str, str], tmp_path: Path
):
    admin_channel = "223344556677889900"
    env = {
        **bot_env,
        **discord.env(),
        "LOW_BALANCE_ETH": "1000000000000",  # more than anvil's test ether: low at once
        "BALANCE_CHECK_S": "0.5",
        "ALERT_DISCORD_CHANNEL_ID": admin_channel,
    }
    async with bot_process(env, tmp_path / "bot.log"):
        await discord.wait_for(lambda: discord.channel_messages)
        await asyncio.sleep(1.5)  # several checks later, still one alert
    (alert,) = discord.channel_messages
    assert alert["channel_id"] == admin_channel
    assert f"Send funds to {DEV_MINTER.address}" in alert["content"]


async def test_withdraw_sends_custodial_nfts_to_the_verified_wallet_once(
    running_bot: DiscordServer, world: dict[str, str], collection: Collection
):
    discord, author = running_bot, world["author"]
    for seed, name in ((90, "Kept"), (91, "Also kept")):
        mint = await discord.mint(author, png(seed), name)
        await answered(discord, mint)
    owner = next(f["value"] for f in final_embed(mint)["fields"] if f["name"] == "Owner")
    short_id = re.search(r"`/withdraw ([0-9a-f]{8})`", owner)
    assert short_id is not None, owner

    async def withdraw(*options: dict[str, Any]) -> Interaction:
        interaction = await discord.slash(author, "withdraw", list(options))
        await discord.wait_for(lambda: interaction.original and interaction.original["content"])
        return interaction

    refused = await withdraw()
    assert "only to an address you proved is yours" in refused.original["content"]  # type: ignore[index]

    await link_wallet(discord, author)
    one = await withdraw({"name": "nft", "type": 3, "value": short_id[1]})
    await discord.wait_for(lambda: "delivered" in one.original["content"])  # type: ignore[index]
    text = one.original["content"]  # type: ignore[index]
    assert f"Withdrawing to `{HOLDER}`:" in text and f"**Also kept** (`{short_id[1]}`)" in text
    assert "[transaction](<http://127.0.0.1:8080/explorer/tx/0x" in text
    assert await balance(collection, HOLDER) == 1

    rest = await withdraw()  # all that is left: the other one
    await discord.wait_for(lambda: "delivered" in rest.original["content"])  # type: ignore[index]
    assert "**Kept**" in rest.original["content"]  # type: ignore[index]
    assert "Also kept" not in rest.original["content"]  # type: ignore[index]
    nothing = await withdraw()
    assert "no tokens in custody" in nothing.original["content"]  # type: ignore[index]
    assert await balance(collection, HOLDER) == 2
    assert await balance(collection, DEV_MINTER.address) == 0


async def test_every_mint_is_announced_in_the_channel_the_admins_chose(
    running_bot: DiscordServer, world: dict[str, str]
):
    discord = running_bot
    hall = world["hall"]

    async def announce_in(channel: str) -> str:
        config = await discord.slash(
            world["admin"],
            "admin",
            [
                {
                    "name": "config",
                    "type": 1,
                    "options": [{"name": "announce", "type": 3, "value": f"<#{channel}>"}],
                }
            ],
        )
        await answered(discord, config)
        return ephemeral_texts(config)[0]

    assert f"Announcing every mint: <#{hall}>" in await announce_in(hall)
    # Another server's channel (the bot is in both), and a channel the bot knows nothing of:
    # refused, and the hall stays the announcement channel.
    assert "only here or in a chat you administer" in await announce_in(world["other_channel"])
    assert "I cannot post in that chat" in await announce_in("424242424242424242")
    mint = await discord.mint(world["author"], png(95), "Loud *and* proud")
    await answered(discord, mint)
    await discord.wait_for(lambda: discord.posted())
    await asyncio.sleep(1)  # and only once
    (announced,) = discord.posted()
    assert announced["channel_id"] == hall
    assert announced["content"] == "🎨 New NFT by **Ada**"
    assert announced["allowed_mentions"]["parse"] == []
    assert announced["embeds"][0]["title"] == final_embed(mint)["title"]


async def test_leaderboard_and_gallery_show_who_made_and_holds_what(
    running_bot: DiscordServer, world: dict[str, str]
):
    discord = running_bot
    for member, seed, name in (
        (world["author"], 110, "Dawn"),
        (world["author"], 111, "Dusk"),
        (world["member"], 112, "Noon *bright*"),
    ):
        mint = await discord.mint(member, png(seed), name)
        await answered(discord, mint)

    board = await discord.slash(world["member"], "leaderboard", [])
    await discord.wait_for(lambda: board.callbacks)
    embed = board.callbacks[0]["data"]["embeds"][0]
    creators = next(f["value"] for f in embed["fields"] if f["name"].startswith("Top creators"))
    assert creators == "1. Ada: 2\n2. Max: 1"
    assert embed["url"] == f"http://127.0.0.1:8080/c/discord/{discord.guild_id}"

    everything = await discord.slash(world["member"], "gallery", [])
    await discord.wait_for(lambda: everything.callbacks)
    shown = everything.callbacks[0]["data"]["embeds"][0]
    assert shown["title"] == "🖼️ This server's NFTs (3)"
    assert shown["description"].startswith("[Noon \\*bright\\*](<http://127.0.0.1:8080/token/")
    theirs = await discord.slash(
        world["member"],
        "gallery",
        [{"name": "member", "type": 6, "value": world["author"]}],
        members={world["author"]: discord.member_object(discord.members[world["author"]])},
        users={world["author"]: discord.member_object(discord.members[world["author"]])["user"]},
    )
    await discord.wait_for(lambda: theirs.callbacks)
    mine = theirs.callbacks[0]["data"]["embeds"][0]
    assert mine["title"] == "🖼️ Ada's NFTs (2)" and "Noon" not in mine["description"]
    assert mine["url"].endswith(f"?member={world['author']}")


@contextlib.asynccontextmanager
async def discord_bot(
    discord: DiscordServer, env: dict[str, str], log: Path
) -> AsyncIterator[None]:
    discord.synced.clear()
    discord.identified.clear()
    async with bot_process({**env, **discord.env()}, log) as proc:
        try:
            await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        except AssertionError:
            raise AssertionError(await asyncio.to_thread(log.read_text)) from None
        yield
        assert proc.returncode is None, await asyncio.to_thread(log.read_text)


async def create_drop(
    discord: DiscordServer, admin: str, name: str, **options: Any
) -> dict[str, Any]:
    """The admin runs /drop create, fills in the modal; returns the announcement."""
    attachment = discord.add_attachment(png(500 + len(discord.channel_messages)))
    values = [{"name": "image", "type": 11, "value": attachment["id"]}]
    types = {"supply": 4, "per_member": 4, "opens_in_minutes": 4, "hours": 10, "role": 8, "kind": 3}
    values += [{"name": k, "type": types.get(k, 5), "value": v} for k, v in options.items()]
    command = await discord.slash(
        admin,
        "drop",
        [{"name": "create", "type": 1, "options": values}],
        attachments={attachment["id"]: attachment},
        **(
            {"roles": {options["role"]: discord.roles[options["role"]]}}
            if "role" in options
            else {}
        ),
    )
    await discord.wait_for(lambda: command.callbacks)
    (modal,) = command.callbacks
    assert modal["type"] == 9, modal  # a modal for the text
    before = len(discord.channel_messages)
    await discord.submit_modal(
        admin, modal["data"]["custom_id"], {"name": name, "description": "for the club"}
    )
    await discord.wait_for(lambda: len(discord.channel_messages) > before)
    return discord.channel_messages[-1]


async def claim(discord: DiscordServer, member: str, announcement: dict[str, Any]) -> str:
    """`member` presses Claim; returns what they were told first."""
    custom_id = announcement["components"][0]["components"][0]["custom_id"]
    pressed = await discord.click(member, announcement, custom_id)
    await discord.wait_for(lambda: pressed.original and pressed.original.get("content"))
    assert pressed.original is not None
    return str(pressed.original["content"])


def counter(announcement: dict[str, Any]) -> str:
    return next(f["value"] for f in announcement["embeds"][0]["fields"] if f["name"] == "Claimed")


async def test_create_claim_sell_out_limit_and_gate(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    vip = discord.add_role("VIP")
    admin = discord.add_member("Ana", admin=True)
    ada, max_, zoe = (discord.add_member(n) for n in ("Ada", "Max", "Zoe"))
    cleo = discord.add_member("Cleo", roles=[vip])
    async with discord_bot(discord, bot_env, tmp_path / "bot.log"):
        drop = await create_drop(discord, admin, "Harbour *lights*", supply=2, per_member=1)
        assert drop["embeds"][0]["title"] == "Harbour \\*lights\\*"
        assert counter(drop) == "0 / 2"
        assert "You claimed **Harbour \\*lights\\*** #1 of 2" in await claim(discord, ada, drop)
        assert "You have claimed 1 of Harbour *lights*" in await claim(discord, ada, drop)
        assert "#2 of 2" in await claim(discord, max_, drop)
        assert "sold out" in (await claim(discord, zoe, drop)).lower()
        await discord.wait_for(lambda: counter(drop) == "2 / 2")
        assert drop["components"][0]["components"][0].get("disabled") is True
        edits = len(drop.get("edits", []))
        assert 1 <= edits <= 3  # debounced: not one edit per claim

        gated = await create_drop(discord, admin, "Backstage", supply=10, role=vip)
        assert "for members with a role" in await claim(discord, zoe, gated)
        assert "#1 of 10" in await claim(discord, cleo, gated)

        later = await create_drop(discord, admin, "Tomorrow", opens_in_minutes=60)
        assert "Tomorrow opens at " in await claim(discord, zoe, later)

        await discord.wait_for(
            lambda: (
                sum(
                    1
                    for i in discord.interactions.values()
                    for f in i.followups
                    if f["flags"] & EPHEMERAL and f["content"].startswith("Your edition is minted")
                )
                == 3
            )
        )
    assert await balance(collection, DEV_MINTER.address) == 3  # all in custody


async def test_a_restart_keeps_the_button_and_the_counter_and_admins_export(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    admin = discord.add_member("Ana", admin=True)
    ada, max_ = discord.add_member("Ada"), discord.add_member("Max")
    log = tmp_path / "bot.log"
    async with discord_bot(discord, bot_env, log):
        drop = await create_drop(discord, admin, "Survivor", supply=3)
        assert "#1 of 3" in await claim(discord, ada, drop)
        await discord.wait_for(lambda: counter(drop) == "1 / 3")
    async with discord_bot(discord, bot_env, log):
        assert "#2 of 3" in await claim(discord, max_, drop)  # the old button still works
        await discord.wait_for(lambda: counter(drop) == "2 / 3")
        match = re.search(r"Drop #(\d+)", drop["embeds"][0]["footer"]["text"])
        assert match is not None
        refused = await discord.slash(
            ada,
            "drop",
            [
                {
                    "name": "export",
                    "type": 1,
                    "options": [{"name": "drop", "type": 4, "value": int(match[1])}],
                }
            ],
        )
        await discord.wait_for(lambda: refused.callbacks)
        assert "Manage Server" in refused.callbacks[0]["data"]["content"]
        export = await discord.slash(
            admin,
            "drop",
            [
                {
                    "name": "export",
                    "type": 1,
                    "options": [{"name": "drop", "type": 4, "value": int(match[1])}],
                }
            ],
        )
        await discord.wait_for(lambda: export.callbacks)
        uploads = export.callbacks[0]["data"]["uploads"]
        rows = list(csv.DictReader(io.StringIO(next(iter(uploads.values())).decode())))
        assert [r["edition"] for r in rows] == ["1", "2"]
        assert [r["claimer_name"] for r in rows] == ["Ada", "Max"]
    assert await balance(collection, DEV_MINTER.address) == 2


async def test_members_only_drops_and_role_gates_follow_what_discord_says(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    admin = discord.add_member("Ana", admin=True)
    ada = discord.add_member("Ada")
    newcomer = discord.add_member("Neo")
    discord.members[newcomer].pending = True  # has not passed the membership screening yet
    stranger = discord.add_member("Stray", guild_id=discord.add_guild("Another server"))
    async with discord_bot(discord, bot_env, tmp_path / "bot.log"):
        drop = await create_drop(discord, admin, "Club only", supply=5, members_only=True)
        for outsider in (stranger, newcomer):
            assert "is for members of the chat" in await claim(discord, outsider, drop)
        assert "#1 of 5" in await claim(discord, ada, drop)
        await discord.wait_for(lambda: counter(drop) == "1 / 5")
        await discord.wait_for(
            lambda: any(
                f["content"].startswith("Your edition is minted")
                for i in discord.interactions.values()
                for f in i.followups
            )
        )
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_download_larger_than_announced_is_cut_off_at_the_limit(
    discord: DiscordServer,
    world: dict[str, str],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    total = 64 * 1024 * 1024
    async with discord_bot(discord, {**bot_env, "MAX_IMAGE_MB": "0.5"}, tmp_path / "bot.log"):
        # Announced with a small PNG's size; the download goes on for 64 MB.
        liar = discord.add_attachment(png(7), streamed=total)
        mint = await discord.slash(
            world["author"],
            "mint",
            [
                {"name": "image", "type": 11, "value": liar["id"]},
                {"name": "name", "type": 3, "value": "Endless"},
            ],
            attachments={liar["id"]: liar},
        )
        await answered(discord, mint)
        (text,) = ephemeral_texts(mint)
        assert "That file is over the limit of 0.5 MB." in text
        await discord.wait_for(lambda: liar["id"] in discord.sent_whole)
    assert not discord.sent_whole[liar["id"]]  # the bot hung up ...
    assert discord.bytes_sent[liar["id"]] < total // 4  # ... long before the end
    assert await balance(collection, DEV_MINTER.address) == 0
