"""Discord shards (DISCORD_SHARDS): the setting checked, then `python -m bot run` running some
shards against the emulator, which routes each guild's traffic to the connection of its shard
as Discord does. One process of two shards (SQLite): every /mint answered once. Two processes
of two shards each on one PostgreSQL database: every /mint acknowledged once, by the process
whose shard the guild is on, never seen by the other, minted once and answered (once only when
delivery is shared between processes, which it is not yet)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.chain.contract import Collection
from bot.config import load_settings
from bot.discord.shards import ShardPlan, parse_shards, shard_of
from bot.errors import ConfigError
from bot.inbox import DurableInbox
from db.engine import create_db_engine, session_factory
from db.models import InboxUpdate
from tests.emulators.discord import TOKEN, DiscordServer, Interaction
from tests.support import DEV_MINTER, balance, bot_process, png
from tests.test_discord_crash import answers_to

ON_POSTGRES = bool(os.environ.get("MINTBOT_TEST_POSTGRES_URL"))
SECOND_HOST = "127.0.0.2"  # the second process reaches the emulator here, the first at .1
_WEEK = timedelta(days=7)


# ----- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ids", "count"),
    [
        ("0-3/8", (0, 1, 2, 3), 8),
        ("2/4", (2,), 4),
        (" 0, 2-3 /4", (0, 2, 3), 4),
        ("0/1", (0,), 1),
        ("AUTO", None, None),
    ],
)
def test_a_shard_plan_is_read(raw: str, ids: tuple[int, ...] | None, count: int | None) -> None:
    assert parse_shards("DISCORD_SHARDS", raw) == ShardPlan(ids, count)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("4/4", "shard 4 does not exist: shards of 4 are 0 to 3"),
        ("0-8/8", "shard 8 does not exist"),
        ("0/0", "the shard count must be between 1 and"),
        ("3-1/4", "the range 3-1 runs backwards"),
        ("0-1,1/4", "names a shard twice"),
        ("2", "say which shards of how many"),
        ("0-1/", "say which shards of how many"),
        ("0-1/-4", "say which shards of how many"),
        ("a-b/4", "not a shard ID or range"),
        ("/4", "not a shard ID or range"),
    ],
)
def test_a_nonsense_shard_plan_is_refused_with_a_reason(raw: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"DISCORD_SHARDS": raw}, env_file=Path("/nonexistent/.env"))
    assert "DISCORD_SHARDS" in str(refused.value)
    assert says in str(refused.value)


def test_unset_runs_one_connection_and_a_plan_owns_its_guilds() -> None:
    assert load_settings({}, env_file=Path("/nonexistent/.env")).discord_shards is None
    plan = parse_shards("DISCORD_SHARDS", "1-2/4")
    assert plan is not None
    # Discord's rule: shard = (guild_id >> 22) % count; a guild created at ms 5 of the epoch.
    assert shard_of(5 << 22 | 1234, 4) == 1 and plan.owns_guild(str(5 << 22 | 1234))
    assert not plan.owns_guild(4 << 22)  # shard 0
    assert not plan.owns_interaction({"id": "1", "user": {"id": "2"}})  # a DM: shard 0
    assert plan.owns_interaction({"guild_id": str(6 << 22)})  # shard 2
    assert not plan.owns_interaction({"guild_id": str(7 << 22)})  # shard 3


# ----- the emulator refuses what Discord would ------------------------------------------------


async def identify(url: str, shard: list[int]) -> aiohttp.ClientWebSocketResponse:
    session = aiohttp.ClientSession()
    socket = await session.ws_connect(url)
    socket._mintbot_session = session  # type: ignore[attr-defined]
    await socket.receive()  # HELLO
    payload = {"token": TOKEN, "intents": 1, "properties": {}, "shard": shard}
    await socket.send_str(json.dumps({"op": 2, "d": payload}))
    return socket


async def closed_with(socket: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the emulator closes the socket (its code) or sends READY (None)."""
    try:
        while True:
            message = await asyncio.wait_for(socket.receive(), 10)
            if (
                message.type == aiohttp.WSMsgType.BINARY
                and json.loads(message.data)["t"] == "READY"
            ):
                return None
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return socket.close_code
    finally:
        await socket._mintbot_session.close()  # type: ignore[attr-defined]


async def test_the_emulator_refuses_a_shard_out_of_range_or_taken(discord: DiscordServer):
    assert await closed_with(await identify(discord.gateway_url, [4, 4])) == 4010
    first = await identify(discord.gateway_url, [1, 4])
    message = json.loads((await asyncio.wait_for(first.receive(), 10)).data)
    assert message["t"] == "READY" and message["d"]["shard"] == [1, 4]
    assert await closed_with(await identify(discord.gateway_url, [1, 4])) == 4010  # taken
    assert await closed_with(await identify(discord.gateway_url, [0, 8])) == 4010  # overlaps
    assert await closed_with(await identify(discord.gateway_url, [2, 4])) is None
    await first.close()
    await first._mintbot_session.close()  # type: ignore[attr-defined]
    assert discord.refused_identifies == [
        "shard 4 of 4 does not exist",
        "shard 1 is already connected",
        "shard count 8 differs from 4",
    ]


# ----- bots running shards ----------------------------------------------------------------------


def guild_with_member(discord: DiscordServer, shard: int, count: int) -> str:
    """A member of a new guild on `shard` of `count`."""
    guild = discord.add_guild(f"Shard {shard} club", shard=(shard, count))
    assert shard_of(guild, count) == shard
    return discord.add_member(f"Member {shard}", guild_id=guild)


@contextlib.asynccontextmanager
async def bots(
    discord: DiscordServer,
    env: dict[str, str],
    plans: dict[str, str],
    log: Path,
    *,
    dies: bool = False,
) -> AsyncIterator[None]:
    """One bot process per address in `plans` (its DISCORD_SHARDS), all running, each with
    every shard of its plan identified and the commands synced. `dies`: each is to kill
    itself (MINTBOT_CRASH_AT) before the block ends, and is waited for."""
    discord.identifies.clear()  # those of earlier processes
    async with contextlib.AsyncExitStack() as stack:
        procs = [
            await stack.enter_async_context(
                bot_process({**env, **discord.env(host), "DISCORD_SHARDS": plan}, log)
            )
            for host, plan in plans.items()
        ]
        every = set(range(discord.recommended_shards))  # what `auto` runs
        wanted = {host: parse_shards("", plan) for host, plan in plans.items()}

        def connected() -> bool:
            return discord.synced.is_set() and all(
                plan is not None and discord.shards_at(host) >= set(plan.ids or every)
                for host, plan in wanted.items()
            )

        try:
            await discord.wait_for(connected, timeout=90)
        except AssertionError:
            raise AssertionError(await asyncio.to_thread(log.read_text)) from None
        yield
        for proc in procs:
            if dies:
                await asyncio.wait_for(proc.wait(), 60)
            killed = proc.returncode == -signal.SIGKILL
            if not (killed if dies else proc.returncode is None):
                raise AssertionError(await asyncio.to_thread(log.read_text))


def callbacks_from(discord: DiscordServer, interaction: Interaction) -> list[str]:
    """The addresses the interaction's acknowledgements came to (one per bot process)."""
    return [c.host for c in discord.calls if c.path.startswith(f"/interactions/{interaction.id}/")]


async def mint_in_each(
    discord: DiscordServer, members: dict[int, str], collection: Collection
) -> dict[int, Interaction]:
    """A /mint by each member; waits until each has its final answer and its token."""
    mints = {
        shard: await discord.mint(member, png(40 + shard), f"Shard {shard}")
        for shard, member in members.items()
    }
    await discord.wait_for(
        lambda: all(answers_to(discord, m, members[s]) for s, m in mints.items()), timeout=60
    )
    await asyncio.sleep(2)  # time for a duplicate to show, if there were one
    assert await balance(collection, DEV_MINTER.address) == len(members)
    return mints


@pytest.mark.db
@pytest.mark.parametrize("plan", ["0-1/2", "auto"])
async def test_one_process_runs_two_shards_and_answers_in_each(
    discord: DiscordServer,
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
    plan: str,
):
    """Both shards of two in one process, named or as many as Discord recommends (auto)."""
    discord.recommended_shards = 2
    members = {shard: guild_with_member(discord, shard, 2) for shard in (0, 1)}
    async with bots(discord, bot_env, {"127.0.0.1": plan}, tmp_path / "bot.log"):
        assert sorted(s for s, count, _ in discord.identifies if count == 2) == [0, 1]
        mints = await mint_in_each(discord, members, collection)
    for shard, mint in mints.items():
        assert mint.deliveries == [(shard, "127.0.0.1")]
        assert len(answers_to(discord, mint, members[shard])) == 1
        assert mint.original is not None
        assert mint.original["embeds"][0]["title"] == f"Shard {shard}"
    assert not discord.refused_identifies and not discord.undelivered


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.skipif(not ON_POSTGRES, reason="several processes share only PostgreSQL")
async def test_two_processes_each_answer_only_their_own_shards(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    """Shards 0-1 of 4 in one process, 2-3 in another, on one database: a guild's /mint
    reaches only the process of its shard, which acknowledges it once; each is minted once
    and answered."""
    await discord.listen_also(SECOND_HOST)
    owner = {0: "127.0.0.1", 1: "127.0.0.1", 2: SECOND_HOST, 3: SECOND_HOST}
    members = {shard: guild_with_member(discord, shard, 4) for shard in owner}
    plans = {"127.0.0.1": "0-1/4", SECOND_HOST: "2-3/4"}
    async with bots(discord, bot_env, plans, tmp_path / "bot.log"):
        assert discord.shards_at("127.0.0.1") == {0, 1}
        assert discord.shards_at(SECOND_HOST) == {2, 3}
        mints = await mint_in_each(discord, members, collection)
    for shard, mint in mints.items():
        assert mint.deliveries == [(shard, owner[shard])]  # never to the other process
        assert callbacks_from(discord, mint) == [owner[shard]]  # deferred once, by its owner
        assert [c["type"] for c in mint.callbacks] == [5]
        # Answered once: the process that claims the request answers it (answer claims).
        assert len(answers_to(discord, mint, members[shard])) == 1
        assert mint.original is not None
        assert mint.original["embeds"][0]["title"] == f"Shard {shard}"
    assert not discord.refused_identifies and not discord.undelivered


# ----- the inbox dispatches again only its own shards' interactions -----------------------------


async def inbox_attempts(url: str, interaction_id: str) -> tuple[int, str | None]:
    """How often dispatching an interaction again failed, and the last error."""
    engine = create_db_engine(url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(InboxUpdate.attempts, InboxUpdate.last_error).where(
                        InboxUpdate.update_id == interaction_id
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return int(row.attempts), row.last_error


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.skipif(not ON_POSTGRES, reason="several processes share only PostgreSQL")
async def test_an_interaction_a_process_left_waits_for_the_process_of_its_shard(
    discord: DiscordServer, bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    """The process of shards 0-1 dies right after recording a /mint of a guild on shard 0.
    The process of shards 2-3, started after, leaves it alone (to it, the row looks left by a
    dead process); the first, back, handles it: one answer, in the channel (Discord's 3 s to
    acknowledge passed meanwhile)."""
    await discord.listen_also(SECOND_HOST)
    member = guild_with_member(discord, 0, 4)
    log = tmp_path / "bot.log"
    first = {**bot_env, "MINTBOT_CRASH_AT": "after_inbox_commit"}
    async with bots(discord, first, {"127.0.0.1": "0-1/4"}, log, dies=True):
        mint = await discord.mint(member, png(60), "Left behind")
    assert not mint.callbacks
    discord.time_out(mint)
    async with bots(discord, bot_env, {SECOND_HOST: "2-3/4"}, log):
        await asyncio.sleep(8)  # its inbox looks for rows to dispatch again once ready
        assert not [c for c in discord.calls if c.host == SECOND_HOST and c.method == "POST"]
    assert await inbox_attempts(bot_env["DATABASE_URL"], mint.id) == (0, None)  # untouched
    async with bots(discord, bot_env, {"127.0.0.1": "0-1/4"}, log):
        await discord.wait_for(lambda: answers_to(discord, mint, member), timeout=60)
        await asyncio.sleep(2)  # time for a duplicate to show, if there were one
        answers = answers_to(discord, mint, member)
    assert answers == [f"channel: <@{member}> Minted!"]
    (posted,) = [c for c in discord.calls if c.method == "POST" and "/messages" in c.path]
    assert posted.host == "127.0.0.1"
    assert await balance(collection, DEV_MINTER.address) == 1


@pytest.mark.db
async def test_a_sharded_inbox_leaves_other_shards_rows_to_their_process(database_url: str):
    engine = create_db_engine(database_url)
    try:
        # A process that dies: its leases run out (at once: they are zero long).
        inbox = DurableInbox(
            session_factory(engine), max_attempts=3, retention=_WEEK, lease=timedelta(0)
        )
        for n, guild in enumerate((4 << 22, 1 << 22, 2 << 22, None)):
            payload: dict[str, Any] = {"id": str(n)} | ({"guild_id": str(guild)} if guild else {})
            await inbox.record("discord", str(n), payload)
        restarted = DurableInbox(session_factory(engine), max_attempts=3, retention=_WEEK)
        plan = parse_shards("", "1-2/4")
        assert plan is not None
        mine = await restarted.unprocessed("discord", owns=plan.owns_interaction)
        assert sorted(e.update_id for e in mine) == ["1", "2"]
        other = DurableInbox(session_factory(engine), max_attempts=3, retention=_WEEK)
        theirs = await other.unprocessed("discord", owns=ShardPlan((0,), 4).owns_interaction)
        assert sorted(e.update_id for e in theirs) == ["0", "3"]  # a DM is shard 0's
    finally:
        await engine.dispose()
