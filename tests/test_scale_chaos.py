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


async def send_all(cluster: Cluster) -> None:
    """The members' messages, spread evenly over the chat processes and over SENDING_S."""
    for n in range(MESSAGES):
        mint = cluster.send_mint(n, chat_process=n % 2)
        if n % TWICE_EVERY == 3:  # a little later, to the other one: both may take it
            cluster.deliver_again(mint, chat_process=(n + 1) % 2, delay=0.5)
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
    async with postgres_cluster(tmp_path, block_time=1.0) as cluster:
        for i in range(2):
            cluster.add(f"chat{i}", "chat")
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
        await cluster.settled(SETTLE_S)
        tokens = await cluster.tokens()
        requests = await cluster.requests()
        answers = cluster.answers()
        lanes = await cluster.lanes()
        report = await cluster.report()
        chat_kills = sum(p.kills for p in cluster.chat_processes)
        mints = cluster.mints

    # Exactly one token per message, each once.
    assert len(tokens) == MESSAGES, report
    assert len(set(tokens)) == MESSAGES, report
    # One request per message, however often it was delivered; each minted and answered.
    assert sorted(requests) == sorted(m.key for m in mints), report
    assert Counter(phase for phase, _ in requests.values()) == {Phase.REPLIED: MESSAGES}, report
    assert all(answered for _, answered in requests.values()), report
    # Every member reads their answer; again only where a chat process died meanwhile.
    minted = {key: [a for a in found if "Minted" in a] for key, found in answers.items()}
    assert all(minted.values()), [k for k, found in minted.items() if not found][:10]
    too_many = {k: found for k, found in minted.items() if len(found) > 1 + chat_kills}
    assert not too_many, list(too_many.items())[:5]
    # Both lanes used, every nonce of each mined once and nothing waiting behind a gap.
    for lane in lanes:
        assert lane.chain_nonce > 0, report
        assert not lane.gaps, (lane.wallet, lane.gaps)
