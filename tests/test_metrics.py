"""`/health` and `/metrics` as an operator's monitoring reads them, after real mints on anvil:
the process's role, the lanes it signs with and the queues in `/health`; requests by phase,
batch sizes, confirmations, lane state and answer failures in the Prometheus text format,
parsed as Prometheus parses it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.chain.devchain import free_port
from bot.chain.signing_stop import stop_signing
from bot.chain.tx_engine import OPEN_STATUSES
from bot.config import load_settings
from bot.minting.types import MintResult
from bot.queue_depths import OPEN_TX_STATUSES
from bot.runtime import Runtime
from bot.web_wiring import web_server
from db.models import InboxUpdate, Pin, utcnow
from tests.support import (
    ANVIL_DEV_KEYS,
    PROJECT_ROOT,
    Inbox,
    answered,
    running,
    submission,
)

pytestmark = pytest.mark.db

MINTS = 3


@contextlib.asynccontextmanager
async def served(env: dict[str, str]) -> AsyncIterator[tuple[Runtime, Inbox, str]]:
    """A started bot and its web server (inline), with its base URL."""
    async with running(load_settings(env)) as (runtime, inbox):
        web = web_server(runtime, host="127.0.0.1", port=0)
        base = await web.start()
        try:
            yield runtime, inbox, base
        finally:
            await web.stop()


async def scrape(base: str) -> dict[str, list[Sample]]:
    """/metrics, parsed: the samples of each family, by family name."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


async def health(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/health") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The one sample called `name` with exactly these labels."""
    (found,) = [s.value for s in samples if s.name == name and s.labels == labels]
    return found


async def until_value(base: str, family: str, sample: str, expected: float, **labels: str) -> None:
    """Scrape until a sample reads `expected` (what the pipeline records lands a moment after
    the answer it records)."""
    async with asyncio.timeout(30):
        while value((await scrape(base))[family], sample, **labels) != expected:
            await asyncio.sleep(0.05)


async def test_metrics_count_the_mints_made(bot_env: dict[str, str]):
    async with served(bot_env) as (runtime, inbox, base):
        wallet = runtime.chain.wallet.address
        for n in range(MINTS):
            await runtime.service.submit(submission(str(n + 1)))
        for n in range(MINTS):
            assert (await answered(runtime, inbox, f"test:chat:{n + 1}")).minted
        await until_value(base, "mintbot_requests", "mintbot_requests", MINTS, phase="replied")
        metrics = await scrape(base)
        status = await health(base)

    requests = metrics["mintbot_requests"]
    assert {s.labels["phase"] for s in requests} >= {"received", "queued", "replied", "failed"}
    assert sum(s.value for s in requests) == MINTS  # every other phase reads zero
    sizes = metrics["mintbot_batch_size"]
    batches = value(sizes, "mintbot_batch_size_count")
    assert 1 <= batches <= MINTS
    assert value(sizes, "mintbot_batch_size_sum") == MINTS
    assert value(sizes, "mintbot_batch_size_bucket", le="+Inf") == batches
    confirmed = metrics["mintbot_confirmed_mint_transactions"]
    assert value(confirmed, "mintbot_confirmed_mint_transactions_total") == batches
    assert value(metrics["mintbot_confirmed_mints"], "mintbot_confirmed_mints_total") == MINTS
    failures = metrics["mintbot_answer_failures"]
    assert value(failures, "mintbot_answer_failures_total") == 0
    assert value(metrics["mintbot_answers_given_up"], "mintbot_answers_given_up") == 0
    # The hot wallet's lane: owned by this process, nothing left in flight, signing.
    assert value(metrics["mintbot_process"], "mintbot_process", role="all") == 1
    assert value(metrics["mintbot_lane_owned"], "mintbot_lane_owned", wallet=wallet) == 1
    lane_txs = metrics["mintbot_lane_in_flight_transactions"]
    assert value(lane_txs, "mintbot_lane_in_flight_transactions", wallet=wallet) == 0
    stopped = metrics["mintbot_lane_signing_stopped"]
    assert value(stopped, "mintbot_lane_signing_stopped", wallet=wallet) == 0
    # No label carries a URL or a secret.
    labels = [v for samples in metrics.values() for s in samples for v in s.labels.values()]
    assert not [v for v in labels if "://" in v or ANVIL_DEV_KEYS[0][2:].lower() in v.lower()]

    assert status["ok"] is True and status["chain_id"] == 31337  # as before
    assert status["in_flight"] == 0
    assert status["role"] == "all"
    assert status["lanes"] == [
        {
            "wallet": wallet,
            "signs": True,
            "owned": True,
            "stuck": None,
            "signing_stopped": None,
            "in_flight_txs": 0,
        }
    ]
    queues = status["queues"]
    assert queues["requests_in_flight"] == {
        "received": 0,
        "stored": 0,
        "queued": 0,
        "signed": 0,
        "sent": 0,
    }
    assert (queues["pins_pending"], queues["withdrawals_queued"]) == (0, 0)
    assert (queues["inbox_waiting"], queues["answers_given_up"]) == (0, 0)


async def test_health_and_metrics_show_what_waits(bot_env: dict[str, str]):
    """Minting paused with requests queued, a lane stopped by a key rotation, a pin and a chat
    update waiting: each shows in both, as the database holds it."""
    async with served(bot_env) as (runtime, _inbox, base):
        wallet = runtime.chain.wallet.address
        runtime.service.paused_by_admin = True
        for n in range(2):
            await runtime.service.submit(submission(str(n + 1)))
        async with asyncio.timeout(30):
            while (await health(base))["queues"]["requests_in_flight"]["queued"] != 2:
                await asyncio.sleep(0.05)
        async with runtime.sessions.begin() as session:
            await stop_signing(
                session,
                chain_id=31337,
                wallet=wallet,
                chain_nonce=0,
                reason="a key rotation runs",
                holder="rotation",
            )
            session.add(Pin(cid="bafkreiexample", backend="kubo"))
            session.add(
                InboxUpdate(platform="telegram", update_id="7", payload="{}", due_at=utcnow())
            )
        status = await health(base)
        metrics = await scrape(base)

    assert status["in_flight"] == 2
    assert status["queues"]["requests_in_flight"]["queued"] == 2
    assert (status["queues"]["pins_pending"], status["queues"]["inbox_waiting"]) == (1, 1)
    (lane,) = status["lanes"]
    assert lane["signing_stopped"] == "a key rotation runs"
    assert value(metrics["mintbot_requests"], "mintbot_requests", phase="queued") == 2
    assert value(metrics["mintbot_pins_pending"], "mintbot_pins_pending") == 1
    assert value(metrics["mintbot_inbox_waiting"], "mintbot_inbox_waiting") == 1
    stopped = metrics["mintbot_lane_signing_stopped"]
    assert value(stopped, "mintbot_lane_signing_stopped", wallet=wallet) == 1
    assert value(metrics["mintbot_batch_size"], "mintbot_batch_size_count") == 0


class Unreachable:
    """An answerer whose every answer fails, as a platform that went away would."""

    def __init__(self) -> None:
        self.tries = 0

    async def deliver(self, result: MintResult) -> None:
        self.tries += 1
        raise ConnectionError("the platform did not answer")


async def test_failed_answers_are_counted_and_given_up(bot_env: dict[str, str]):
    env = {**bot_env, "ANSWER_MAX_ATTEMPTS": "1"}
    async with served(env) as (runtime, _inbox, base):
        unreachable = Unreachable()
        runtime.service.answer_through("test", unreachable)
        await runtime.service.submit(submission("1"))
        await until_value(base, "mintbot_answers_given_up", "mintbot_answers_given_up", 1)
        metrics = await scrape(base)
        status = await health(base)

    failures = metrics["mintbot_answer_failures"]
    assert value(failures, "mintbot_answer_failures_total") == unreachable.tries == 1
    assert value(metrics["mintbot_requests"], "mintbot_requests", phase="confirmed") == 1
    assert status["queues"]["answers_given_up"] == 1


async def test_a_web_process_alone_reports_the_shared_queues(bot_env: dict[str, str]):
    """`python -m bot web` on its own serves `/health` and `/metrics` of its own: role `web`,
    no lane, and the requests the bot made, read from the database they share."""
    async with served(bot_env) as (runtime, inbox, _base):
        await runtime.service.submit(submission("1"))
        await answered(runtime, inbox, "test:chat:1")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = ("HOT_WALLET_PRIVATE_KEY",)
    env = {key: v for key, v in bot_env.items() if key not in secret} | {"HTTP_PORT": str(port)}
    web = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "web",
        env={"PATH": os.environ["PATH"], **env},
        cwd=PROJECT_ROOT,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    status = await health(base)
                    break
                await asyncio.sleep(0.1)
        metrics = await scrape(base)
    finally:
        web.send_signal(signal.SIGTERM)
        await web.wait()

    assert status["role"] == "web" and status["lanes"] == []
    assert status["queues"]["requests_in_flight"]["queued"] == 0
    assert value(metrics["mintbot_process"], "mintbot_process", role="web") == 1
    assert value(metrics["mintbot_requests"], "mintbot_requests", phase="replied") == 1
    assert metrics["mintbot_lane_owned"] == []


def test_lanes_count_what_the_engine_keeps_open():
    assert set(OPEN_TX_STATUSES) == set(OPEN_STATUSES)
