"""Chaos on a cluster: two chat processes (Telegram webhook workers behind one URL) and two
pipeline processes sharing two hot wallets, on one PostgreSQL database and anvil with 1 s
blocks. A thousand members' `/mint` photos arrive through the Telegram emulator, one in ten
delivered a second time to the other chat process, while every few seconds a random process is
killed with SIGKILL and started again. In the end the chain holds exactly one token per
message, every request is decided and answered (a request answered again at most once per
crash of a chat process), and neither wallet's nonce lane has a gap or a transaction left
waiting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from db.models import Phase
from tests.scale_cluster import BotProcess, Cluster, postgres_cluster

ON_POSTGRES = bool(os.environ.get("MINTBOT_TEST_POSTGRES_URL"))

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(not ON_POSTGRES, reason="several processes share only PostgreSQL"),
    pytest.mark.timeout(600),
]

MESSAGES = 1000
SENDING_S = 60.0  # the messages arrive evenly over this long
TWICE_EVERY = 10  # every tenth message is delivered again, to the other chat process
KILL_EVERY_S = (2.0, 5.0)  # a random process is killed after a pause in this range
MIN_KILLS = 8
SETTLE_S = 240.0
# Telegram counts a bot's messages however many processes send them: each chat process keeps
# to its share of each limit, as the README tells operators to.
CHAT_PROCESSES = 2
TELEGRAM_SHARE = {
    "TELEGRAM_MESSAGES_PER_S": str(30 / CHAT_PROCESSES),
    "TELEGRAM_GROUP_MESSAGES_PER_MINUTE": str(20 / CHAT_PROCESSES),
}


async def send_all(cluster: Cluster) -> None:
    """The members' messages, spread evenly over the chat processes and over SENDING_S."""
    for n in range(MESSAGES):
        mint = cluster.send_mint(n, chat_process=n % CHAT_PROCESSES)
        if n % TWICE_EVERY == 3:  # a little later, to the other one: both may take it
            cluster.deliver_again(mint, chat_process=(n + 1) % CHAT_PROCESSES, delay=0.5)
        await asyncio.sleep(SENDING_S / MESSAGES)


async def kill_while(cluster: Cluster, sending: asyncio.Task[None], chance: random.Random) -> None:
    """Kill a random process every few seconds, one that took work since it last started,
    and start it again; until the messages are all sent and MIN_KILLS processes died."""
    ready: dict[BotProcess, asyncio.Task[None]] = {}
    while not sending.done() or cluster.kills < MIN_KILLS:
        await asyncio.wait([sending], timeout=chance.uniform(*KILL_EVERY_S))
        if sending.done() and sending.exception() is not None:
            return  # the error is raised where the sending is awaited
        working = [p for p in cluster.processes if p not in ready or ready[p].done()]
        for task in ready.values():
            if task.done():
                task.result()  # a process that could not start again fails the test here
        if not working:
            continue
        victim = chance.choice(working)
        await cluster.restart(victim)
        ready[victim] = asyncio.create_task(victim.ready())
    await asyncio.gather(*ready.values())


async def test_a_thousand_mints_through_kills_each_minted_once_and_answered(tmp_path: Path):
    # Four processes, each with a small pool: the test server's connections are shared with
    # the test workers. An update a killed chat process held is taken over within 5 s.
    settings = {"DATABASE_POOL_SIZE": "4", "INBOX_LEASE_S": "5"}
    async with postgres_cluster(tmp_path, block_time=1.0, env=settings) as cluster:
        for i in range(CHAT_PROCESSES):
            cluster.add(f"chat{i}", "chat", TELEGRAM_SHARE)
        for i in range(2):
            cluster.add(f"pipeline{i}", "pipeline")
        await cluster.start()
        sending = asyncio.create_task(send_all(cluster))
        try:
            await kill_while(cluster, sending, random.Random(9))
            await sending
        finally:
            sending.cancel()
        await cluster.deliveries_done()
        with contextlib.suppress(AssertionError):  # what is missing is listed below
            await cluster.settled(SETTLE_S)
        problems = await problems_left(cluster)
        report = await cluster.report()
    assert not problems, "\n".join([*problems, report])


async def problems_left(cluster: Cluster) -> list[str]:
    """Every promise the run broke, in words."""
    problems = [f"{p.name} ended by itself: {p.deaths}" for p in cluster.processes if p.deaths]
    tokens = await cluster.tokens()
    if len(tokens) != MESSAGES or len(set(tokens)) != len(tokens):
        problems.append(
            f"{len(tokens)} tokens minted ({len(set(tokens))} distinct), not {MESSAGES}"
        )
    requests = await cluster.requests()  # one per message, however often it was delivered
    if sorted(requests) != sorted(m.key for m in cluster.mints):
        problems.append(f"{len(requests)} requests for {len(cluster.mints)} messages")
    phases = Counter(phase for phase, _ in requests.values())
    if phases != {Phase.REPLIED: MESSAGES}:
        problems.append(f"requests not minted and answered: {dict(phases)}")
    # Every member reads "Minted" on their message (or their line); more than once only where
    # a chat process died meanwhile, and at most once more per such crash.
    chat_kills = sum(p.kills for p in cluster.chat_processes)
    seen = cluster.seen()
    silent = [key for key, s in seen.items() if not s.minted]
    if silent:
        problems.append(f"{len(silent)} members read no answer: {silent[:10]}")
    too_many = [key for key, s in seen.items() if len(s.minted) > 1 + chat_kills]
    if too_many:
        problems.append(f"answered more than 1 + {chat_kills} times: {too_many[:10]}")
    for lane in await cluster.lanes():  # both used, each without a gap or a waiting nonce
        if lane.chain_nonce == 0 or lane.gaps:
            problems.append(f"lane {lane.wallet}: nonce {lane.chain_nonce}, {lane.gaps}")
    # Telegram counts a bot's messages per bot, however many processes send them.
    if cluster.telegram.limit_violations:
        refused = cluster.telegram.limit_report().splitlines()
        problems.append(f"{len(refused)} calls over Telegram's flood limits: {refused[:3]}")
    return problems
