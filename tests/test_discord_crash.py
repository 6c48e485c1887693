"""Discord across a crash: `python -m bot run` killed with SIGKILL at each step of an
interaction's way in (recorded in the inbox, acknowledged, its request submitted), then started
again. Every interaction it acted on gets exactly one mint and one answer: within the token's
15 minutes by editing the original response, past them (or never acknowledged) in the
channel."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from bot.chain.contract import Collection
from tests.emulators.discord import EPHEMERAL, DiscordServer, Interaction
from tests.support import DEV_MINTER, balance, bot_process, png

pytestmark = [pytest.mark.db, pytest.mark.slow]


async def killed_at(
    discord: DiscordServer, env: dict[str, str], point: str, log: Path, act: Any
) -> Interaction:
    """Run the bot with MINTBOT_CRASH_AT=`point`, do `act()`, and wait for the bot to die."""
    discord.synced.clear()
    discord.identified.clear()
    async with bot_process({**env, "MINTBOT_CRASH_AT": point}, log) as proc:
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        interaction: Interaction = await act()
        await asyncio.wait_for(proc.wait(), 60)
    if proc.returncode != -signal.SIGKILL:
        raise AssertionError(await asyncio.to_thread(log.read_text))
    discord.synced.clear()  # until the next bot connects
    discord.identified.clear()
    return interaction


def answers_to(discord: DiscordServer, interaction: Interaction, user_id: str) -> list[str]:
    """Every final answer the member got for `interaction`: the original response edited with
    the token, a follow-up, or a message in the channel mentioning them."""
    edits = [e for e in interaction.original_edits if e.get("embeds")]
    followups = [m for m in interaction.followups if m.get("embeds") or m["flags"] & EPHEMERAL]
    in_channel = [m for m in discord.posted() if m["content"].startswith(f"<@{user_id}>")]
    return [
        *(f"edit: {e.get('content')}" for e in edits),
        *(f"follow-up: {m['content']}" for m in followups),
        *(f"channel: {m['content']}" for m in in_channel),
    ]


@pytest.mark.parametrize(
    ("point", "late"),
    [
        ("after_inbox_commit", False),  # recorded, never acknowledged: past Discord's 3 s
        ("after_ack", False),  # deferred, nothing submitted: the placeholder is edited
        ("after_ack", True),  # ... but back only after the token's 15 minutes
        ("after_submit", False),  # the request is recorded: the pipeline answers
    ],
)
async def test_a_mint_killed_on_its_way_in_is_minted_and_answered_once(
    discord: DiscordServer,
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
    point: str,
    late: bool,
):
    author = discord.add_member("Ada")
    env = {**bot_env, **discord.env()}
    log = tmp_path / "bot.log"

    async def ask() -> Interaction:
        return await discord.mint(author, png(7), "Through a crash")

    mint = await killed_at(discord, env, point, log, ask)
    if point == "after_inbox_commit":
        assert not mint.callbacks  # the bot died before it acknowledged anything
        discord.time_out(mint)  # and Discord stops waiting for it while the bot is down
    else:
        assert [c["type"] for c in mint.callbacks] == [5]  # deferred, then killed
    if late:
        discord.expire(mint)
    assert not answers_to(discord, mint, author)

    async with bot_process(env, log):
        await discord.wait_for(lambda: answers_to(discord, mint, author), timeout=60)
        await asyncio.sleep(2)  # time for a duplicate to show, if there were one
        answers = answers_to(discord, mint, author)
    assert len(answers) == 1, answers
    if point == "after_inbox_commit" or late:
        (posted,) = discord.posted()
        assert posted["content"] == f"<@{author}> Minted!"
        assert posted["embeds"][0]["title"] == "Through a crash"
    else:
        assert mint.original is not None
        assert mint.original["embeds"][0]["title"] == "Through a crash"
        assert not discord.posted()
    assert len(mint.callbacks) == (0 if point == "after_inbox_commit" else 1)  # never twice
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_a_claim_killed_after_its_acknowledgement_gets_its_one_edition(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    """The Claim button: deferred (privately), then the bot dies before the claim is made."""
    from tests.test_discord import claim, create_drop, discord_bot

    admin = discord.add_member("Ana", admin=True)
    ada = discord.add_member("Ada")
    env = {**bot_env, **discord.env()}
    log = tmp_path / "bot.log"
    async with discord_bot(discord, bot_env, log):
        drop = await create_drop(discord, admin, "Survivor", supply=3)
    custom_id = drop["components"][0]["components"][0]["custom_id"]

    async def press() -> Interaction:
        return await discord.click(ada, drop, custom_id)

    pressed = await killed_at(discord, env, "after_ack", log, press)
    assert [c["type"] for c in pressed.callbacks] == [5]
    async with discord_bot(discord, bot_env, log):
        await discord.wait_for(lambda: pressed.original and pressed.original.get("content"))
        assert pressed.original is not None
        assert "You claimed **Survivor** #1 of 3" in pressed.original["content"]
        await discord.wait_for(
            lambda: any(
                f["content"].startswith("Your edition is minted") for f in pressed.followups
            )
        )
        # Another member's claim after the restart gets the next edition: #1 was taken once.
        assert "#2 of 3" in await claim(discord, discord.add_member("Max"), drop)
        await discord.wait_for(
            lambda: (
                sum(
                    f["content"].startswith("Your edition is minted")
                    for i in discord.interactions.values()
                    for f in i.followups
                )
                == 2
            )
        )
    assert await balance(collection, DEV_MINTER.address) == 2


async def test_an_interaction_that_keeps_failing_is_given_up_and_the_member_told(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    """Discord refuses the acknowledgement (403) every time: after INBOX_MAX_ATTEMPTS failed
    attempts the interaction is given up, the member hears so in the channel, and the admins
    see it in /admin stats."""
    from tests.test_discord import discord_bot

    author, admin = discord.add_member("Ada"), discord.add_member("Ana", admin=True)
    env = {**bot_env, "INBOX_MAX_ATTEMPTS": "2"}
    async with discord_bot(discord, env, tmp_path / "bot.log"):
        discord.refusing_callbacks = True
        mint = await discord.mint(author, png(9), "Never acknowledged")
        await discord.wait_for(lambda: discord.posted(), timeout=60)  # tried again after 5 s
        discord.refusing_callbacks = False
        (told,) = discord.posted()
        assert told["content"].startswith(f"<@{author}> Sorry, I could not handle that request")
        assert told["allowed_mentions"] == {"parse": [], "users": [int(author)]}
        stats = await discord.slash(admin, "admin", [{"name": "stats", "type": 1}])
        await discord.wait_for(lambda: stats.callbacks)
        text = stats.callbacks[0]["data"]["content"]
        assert "Interactions given up after failing repeatedly: 1" in text
    assert not mint.callbacks
    assert await balance(collection, DEV_MINTER.address) == 0
