"""Raffle drops in the core (bot/drops/raffles.py and raffle_rounds.py) against a real anvil:
fifty entrants and ten winners drawn from the announced block and re-verified from the chain
and the published list alone; entries once per member; losers told; a restart (or a second
process) during the draw draws once; and the draw algorithm itself."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select, update
from web3 import AsyncWeb3

from bot.app import open_runtime
from bot.chain.devchain import Anvil
from bot.config import load_settings
from bot.content.cid import cid_of_bytes
from bot.drops.raffle_chain import (
    FASTEST_BLOCK_S,
    MARGIN_BLOCKS,
    SLOWEST_BLOCK_S,
    ChainBlocks,
)
from bot.drops.raffle_draw import EntrantList, draw, ticket
from bot.drops.raffle_types import RaffleInfo
from bot.drops.raffles import Raffles
from bot.errors import DropClosed, NotAllowed
from bot.ports import Claimant
from bot.runtime import Runtime
from db.models import Drop, DropClaim, Raffle, utcnow
from tests.platform_stub import RecordingPlatform
from tests.support import Inbox, png, poll_until, run_cli


class Voice:
    """The "test" platform's raffle voice: what it was asked to say, by whom."""

    def __init__(self) -> None:
        self.told: dict[str, list[str]] = {}
        self.announced: list[str] = []

    async def announce_draw(
        self, drop_id: int, chat_id: str, message_id: str, text: str, locale: str | None
    ) -> None:
        self.announced.append(text)

    async def tell_entrant(self, user_id: str, reply_to: dict[str, object], text: str) -> None:
        self.told.setdefault(user_id, []).append(text)


def speaking(runtime: Runtime, inbox: Inbox) -> Voice:
    runtime.platforms.add(RecordingPlatform("test", inbox))
    voice = Voice()
    runtime.raffles.speak_through("test", voice)
    return voice


async def make(raffles: Raffles, winners: int) -> RaffleInfo:
    return await raffles.create(
        platform="test",
        community_id="guild",
        created_by="admin",
        name="Lucky",
        image=png(7),
        winners=winners,
        ends_at=utcnow() + timedelta(seconds=30),  # ample: the tests close it early
    )


async def enter_all(raffles: Raffles, drop_id: int, count: int) -> list[str]:
    entries = await asyncio.gather(
        *(
            raffles.enter(drop_id, Claimant("test", f"u{i}"), f"Member {i}", reply_to={})
            for i in range(count)
        )
    )
    return [e.ticket for e in entries]


@pytest.mark.db
async def test_fifty_entrants_ten_winners_drawn_from_the_announced_block_and_reverified(
    bot: tuple[Runtime, Inbox], anvil: Anvil, tmp_path: Path
) -> None:
    runtime, inbox = bot
    voice = speaking(runtime, inbox)
    raffles = runtime.raffles
    raffle = await make(raffles, winners=10)
    assert raffle.block > await raffles.blocks.head()  # named when it opens, after the close
    tickets = await enter_all(raffles, raffle.drop.id, 50)
    assert len(set(tickets)) == 50
    again = await raffles.enter(raffle.drop.id, Claimant("test", "u0"), "Member 0", reply_to={})
    assert again.duplicate and again.ticket == tickets[0]
    assert "already entered" in again.text()
    with pytest.raises(NotAllowed, match="is a raffle"):
        await runtime.drops.claim(raffle.drop.id, Claimant("test", "u1"), "Member 1")

    await raffles.close_entries(raffle.drop.id)
    with pytest.raises(DropClosed):
        await raffles.enter(raffle.drop.id, Claimant("test", "late"), "Late", reply_to={})
    await poll_until(lambda: len(voice.told) == 50, 60, lambda: f"told {sorted(voice.told)}")
    await poll_until(lambda: len(inbox.answers) == 10, 60, lambda: f"{inbox.answers}")

    info = await raffles.info(raffle.drop.id)
    assert (info.entrants, info.winners) == (50, 10)
    block = await raffles.blocks.block(info.block)
    assert block is not None and info.seed == block.hash
    won = {user for user, said in voice.told.items() if said[0].startswith("You won Lucky!")}
    lost = {user for user, said in voice.told.items() if "not drawn this time" in said[0]}
    assert (len(won), len(lost)) == (10, 40)
    assert all(len(said) == 1 for said in voice.told.values())
    assert info.verify_command is not None and info.verify_command in voice.told[lost.pop()][0]

    published = EntrantList.decode(runtime.content.read_file(str(info.entrants_cid)))
    assert list(published.tickets) == sorted(tickets)
    by_ticket = dict(zip(tickets, (f"u{i}" for i in range(50)), strict=True))
    assert {by_ticket[t] for t in published.winners} == won
    assert published.winners == tuple(draw(bytes.fromhex(block.hash[2:]), tickets, 10))
    assert {a.requester_id for a in inbox.answers} == won  # each winner's edition minted
    assert (await runtime.drops.info(raffle.drop.id)).claimed == 10

    # Anyone re-runs it from the chain and the list alone: no settings, no database.
    listed = tmp_path / "entrants.json"
    listed.write_bytes(runtime.content.read_file(str(info.entrants_cid)))
    checked = run_cli(
        "raffle", "verify", str(raffle.drop.id), "--entrants", str(listed), "--rpc", anvil.url,
        env={"DATA_DIR": str(tmp_path / "nothing")},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "OK: the draw is reproduced" in checked.stdout
    assert all(w in checked.stdout for w in published.winners)
    assert not (tmp_path / "nothing").exists()


@pytest.mark.db
async def test_a_restart_or_a_second_process_during_the_draw_draws_once(
    bot_env: dict[str, str],
) -> None:
    settings = load_settings(bot_env)
    async with open_runtime(settings, start=False) as first:
        raffle = await make(first.raffles, winners=3)
        tickets = await enter_all(first.raffles, raffle.drop.id, 12)
        await first.raffles.close_entries(raffle.drop.id)
        async with open_runtime(settings, start=False) as second:
            # Two processes draw at once: one draw is recorded, and both see it.
            drawn = await asyncio.gather(
                first.raffles.rounds.draw(raffle.drop.id),
                second.raffles.rounds.draw(raffle.drop.id),
            )
        assert drawn == [True, True]
        info = await first.raffles.info(raffle.drop.id)
        published = EntrantList.decode(first.content.read_file(str(info.entrants_cid)))
        winner = f"u{tickets.index(published.winners[0])}"
        # The process dies having claimed one winner's edition, before recording the claims.
        await first.drops.grant(
            raffle.drop.id, Claimant("test", winner), winner, source=f"raffle:{winner}",
            reply_to={},
        )  # fmt: skip
        async with first.sessions() as session:
            drawn_at = await session.scalar(
                select(Raffle.drawn_at).where(Raffle.drop_id == raffle.drop.id)
            )

    inbox = Inbox()
    async with open_runtime(settings) as restarted:
        voice = speaking(restarted, inbox)
        await poll_until(lambda: len(voice.told) == 12, 60, lambda: f"told {sorted(voice.told)}")
        await poll_until(lambda: len(inbox.answers) == 3, 60, lambda: f"{inbox.answers}")
        async with restarted.sessions() as session:
            claims = await session.scalar(
                select(func.count()).where(DropClaim.drop_id == raffle.drop.id)
            )
            assert (
                await session.scalar(
                    select(Raffle.drawn_at).where(Raffle.drop_id == raffle.drop.id)
                )
                == drawn_at
            )
        assert claims == 3
        assert sum(said[0].startswith("You won") for said in voice.told.values()) == 3
        assert (await restarted.raffles.info(raffle.drop.id)).seed == info.seed


@pytest.mark.db
async def test_closing_a_raffles_drop_before_the_draw_cancels_it(
    bot: tuple[Runtime, Inbox],
) -> None:
    runtime, inbox = bot
    voice = speaking(runtime, inbox)
    raffle = await make(runtime.raffles, winners=1)
    await enter_all(runtime.raffles, raffle.drop.id, 3)
    await runtime.drops.close(raffle.drop.id)
    await poll_until(lambda: len(voice.told) == 3, 30, lambda: f"told {voice.told}")
    assert all("was cancelled" in said[0] for said in voice.told.values())
    info = await runtime.raffles.info(raffle.drop.id)
    assert info.cancelled and info.winners == 0 and info.seed is None
    assert (await runtime.drops.info(raffle.drop.id)).claimed == 0


@pytest.mark.db
async def test_a_raffle_that_keeps_failing_backs_off_and_the_others_go_on(
    bot_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A raffle whose row an operator broke (no number of winners) fails its round; the next
    rounds pass it over until its back-off is over, while another raffle is drawn. Mended, it
    is drawn by the next process that looks."""
    settings = load_settings(bot_env)
    async with open_runtime(settings, start=False) as runtime:
        rounds = runtime.raffles.rounds
        rounds.poll_interval = 60.0  # first back-off 120 s: no test round comes after it
        broken, healthy = [await make(runtime.raffles, winners=1) for _ in range(2)]
        for raffle in (broken, healthy):
            await enter_all(runtime.raffles, raffle.drop.id, 2)
            await runtime.raffles.close_entries(raffle.drop.id)
        await set_supply(runtime, broken.drop.id, None)
        assert await rounds.advance_all()
        assert (await runtime.raffles.info(healthy.drop.id)).drawn
        assert rounds.failures(broken.drop.id) == 1
        assert "round failed (1 in a row); trying again in 120 s" in caplog.text
        caplog.clear()
        assert await rounds.advance_all()  # still due, but waiting out its back-off
        assert rounds.failures(broken.drop.id) == 1 and "round failed" not in caplog.text
        await set_supply(runtime, broken.drop.id, 1)
    async with open_runtime(settings, start=False) as restarted:
        await restarted.raffles.rounds.advance_all()
        assert (await restarted.raffles.info(broken.drop.id)).drawn


async def set_supply(runtime: Runtime, drop_id: int, supply: int | None) -> None:
    async with runtime.sessions.begin() as session:
        await session.execute(update(Drop).where(Drop.id == drop_id).values(supply=supply))


def test_the_draw_is_the_documented_one_and_unbiased_by_the_list_order() -> None:
    seed = hashlib.sha256(b"block").digest()
    tickets = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(20)]
    winners = draw(seed, tickets, 5)
    assert winners == draw(seed, list(reversed(tickets)), 5)  # sorted first
    assert len(set(winners)) == 5 and set(winners) <= set(tickets)
    # The docstring's loop, written out: sha256(seed || counter), rejection, pop.
    pool, expected, counter = sorted(tickets), [], 0
    while len(expected) < 5:
        x = int.from_bytes(hashlib.sha256(seed + counter.to_bytes(8, "big")).digest(), "big")
        counter += 1
        if x < 2**256 - 2**256 % len(pool):
            expected.append(pool.pop(x % len(pool)))
    assert winners == expected
    assert draw(seed, tickets, 50) != tickets  # everyone wins, in the order drawn
    assert sorted(draw(seed, tickets, 50)) == sorted(tickets)
    assert ticket("00" * 32, "test", "1") != ticket("01" + "00" * 31, "test", "1")


async def test_verify_refuses_a_list_whose_winners_are_not_the_draws(
    anvil: Anvil, tmp_path: Path
) -> None:
    """No database anywhere: the chain's latest block and a list written here."""
    async with asyncio.timeout(30):
        answer = await _latest(anvil.url)
    tickets = sorted(hashlib.sha256(str(i).encode()).hexdigest() for i in range(8))
    honest = EntrantList(
        raffle=4, name="Honest", chain_id=31337, block=int(answer["number"], 16),
        seed=answer["hash"], winners_wanted=2, tickets=tuple(tickets),
        winners=tuple(draw(bytes.fromhex(answer["hash"][2:]), tickets, 2)),
    )  # fmt: skip
    listed = tmp_path / "list.json"
    listed.write_bytes(honest.encode())
    ok = run_cli("raffle", "verify", "4", "--entrants", str(listed), "--rpc", anvil.url, env={})
    assert ok.returncode == 0 and "OK" in ok.stdout, ok.stderr
    # By CID, through a gateway (here one of the test's own), checked against the CID.
    cid = cid_of_bytes(honest.encode())
    served = {f"/ipfs/{cid}": honest.encode(), f"/ipfs/{cid_of_bytes(b'x')}": b"y"}
    async with gateway(served) as url:
        by_cid = await asyncio.to_thread(
            run_cli, "raffle", "verify", "4", "--cid", cid, "--gateway", url, "--rpc", anvil.url,
            env={},
        )  # fmt: skip
        forged = await asyncio.to_thread(
            run_cli, "raffle", "verify", "4", "--cid", cid_of_bytes(b"x"), "--gateway", url,
            "--rpc", anvil.url, env={},
        )  # fmt: skip
    assert by_cid.returncode == 0 and "OK" in by_cid.stdout, by_cid.stderr
    assert forged.returncode != 0 and "are not" in forged.stderr
    others = [t for t in tickets if t not in honest.winners][:2]
    listed.write_bytes(EntrantList(**{**honest.__dict__, "winners": tuple(others)}).encode())
    bad = run_cli("raffle", "verify", "4", "--entrants", str(listed), "--rpc", anvil.url, env={})
    assert bad.returncode == 1 and "MISMATCH: the list records other winners" in bad.stdout
    wrong = run_cli("raffle", "verify", "5", "--entrants", str(listed), "--rpc", anvil.url, env={})
    assert wrong.returncode != 0 and "raffle #4's, not #5's" in wrong.stderr


@contextlib.asynccontextmanager
async def gateway(files: dict[str, bytes]) -> AsyncIterator[str]:
    """An HTTP server on loopback serving `files` by path."""

    async def serve(request: web.Request) -> web.Response:
        if request.path not in files:
            return web.Response(status=404)
        return web.Response(body=files[request.path])

    app = web.Application()
    app.router.add_get("/{path:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def _latest(url: str) -> dict[str, Any]:
    import aiohttp

    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_getBlockByNumber",
        "params": ["latest", False],
    }
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        block: dict[str, Any] = (await response.json())["result"]
    return block


async def test_the_seed_block_is_named_at_the_chains_own_pace_after_the_close(
    w3: AsyncWeb3,
) -> None:
    """A chain other than the dev one: its pace is measured, and nothing is mined for it."""
    blocks = ChainBlocks(w3, 1, dev_chain=False)
    head = await blocks.head()
    pace = await blocks.seconds_per_block(head)
    assert FASTEST_BLOCK_S <= pace <= SLOWEST_BLOCK_S
    target = await blocks.seed_block_for(600)
    assert target >= head + math.ceil(600 / pace) + MARGIN_BLOCKS
    await blocks.mine_to(target)
    assert await blocks.head() == head
    dev = ChainBlocks(w3, 31337, dev_chain=True)
    assert await dev.seed_block_for(30) == head + 30 + MARGIN_BLOCKS
