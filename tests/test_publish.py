"""Published before minted, on anvil with the whole pipeline: a request is minted only once
its image and metadata are pinned and read back; a pinning service that is down makes requests
wait with the reason and never fails them; content refused outright fails only its request."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import load_settings
from bot.minting.publish import car_of, read_back
from bot.minting.types import MintSubmission
from bot.ports import PINNERS, PinningKind
from bot.runtime import Runtime
from db.models import PIN_PINNED, PIN_REFUSED, Phase, Pin, aware_utc, utcnow
from tests.pinning_service import PinningService, read_car
from tests.support import answered, running, submission
from tests.test_raffles import enter_all, make, speaking


@pytest.fixture
def service() -> Iterator[PinningService]:
    """A scripted pinning service registered as PINNING=scripted for this test."""
    service = PinningService()
    PINNERS.register("scripted", PinningKind("scripted", lambda _settings: service))
    try:
        yield service
    finally:
        PINNERS.unregister("scripted")


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def settings_for(bot_env: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_settings(bot_env | {"PINNING": "scripted"}, env_file=Path("/nonexistent"))


async def pins(runtime) -> dict[str, tuple[str, int, str | None]]:  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session:
        rows = await session.execute(select(Pin.cid, Pin.state, Pin.attempts, Pin.last_error))
        return {r.cid: (r.state, r.attempts, r.last_error) for r in rows}


async def queued_together(
    runtime: Runtime, service: PinningService, subs: list[MintSubmission]
) -> str:
    """Submit `subs` while the service is down, so that they are queued and then published
    together; the image CID of the second, once all are queued."""
    service.down = True
    handles = [await runtime.service.submit(sub) for sub in subs]

    async def queued() -> bool:
        results = [await runtime.service.result(h.request_id) for h in handles]
        return all(r.image_cid and r.phase == Phase.QUEUED for r in results)

    await until(queued, 30, "all to be queued")
    second = (await runtime.service.result(handles[1].request_id)).image_cid
    assert second is not None
    return second


@pytest.mark.db  # the pins' lease and the batcher's gate are SQL that PostgreSQL runs too
async def test_requests_wait_for_a_service_that_is_down_then_mint_pinned(
    bot_env: dict[str, str], service: PinningService
):
    service.down = True
    async with running(settings_for(bot_env)) as (runtime, inbox):
        subs = [submission(str(n)) for n in range(3)]
        handles = [await runtime.service.submit(sub) for sub in subs]

        async def all_tried() -> bool:
            found = await pins(runtime)
            return len(found) == 6 and all(attempts >= 1 for _, attempts, _ in found.values())

        await until(all_tried, 30, "every pin to be tried")
        for handle in handles:
            result = await runtime.service.result(handle.request_id)
            assert result.phase == Phase.QUEUED and result.tx_hash is None
            assert result.waiting_reason is not None
            assert "published on IPFS" in result.waiting_reason
            assert "down" in result.waiting_reason
        assert not inbox.answers  # waiting, not failed

        service.down = False
        results = [await answered(runtime, inbox, sub.key, timeout=60) for sub in subs]
        assert all(r.phase == Phase.REPLIED or r.tx_hash for r in results)
        for result in results:
            assert {result.image_cid, result.metadata_cid} <= service.pins
        found = await pins(runtime)
        assert {state for state, _, _ in found.values()} == {PIN_PINNED}
        # Each CID went out once, with its request's other one in the same CAR.
        published = [cid for roots in service.cars for cid in roots]
        assert sorted(published) == sorted(found)
        for result in results:
            assert any({result.image_cid, result.metadata_cid} <= set(r) for r in service.cars)


async def test_content_refused_outright_fails_only_its_own_request(
    bot_env: dict[str, str], service: PinningService
):
    async with running(settings_for(bot_env)) as (runtime, inbox):
        subs = [submission(str(n)) for n in range(10, 13)]
        poisoned = await queued_together(runtime, service, subs)
        service.refuse = {poisoned}
        service.down = False
        results = [await answered(runtime, inbox, sub.key, timeout=60) for sub in subs]
        assert results[1].phase == Phase.FAILED
        assert "could not be published on IPFS" in (results[1].failure_reason or "")
        assert "content policy" in (results[1].failure_reason or "")
        assert results[0].tx_hash and results[2].tx_hash
        assert (await pins(runtime))[poisoned][0] == PIN_REFUSED


async def test_bytes_read_back_wrong_are_published_again(
    bot_env: dict[str, str], service: PinningService
):
    service.wrong_bytes = 1
    async with running(settings_for(bot_env)) as (runtime, inbox):
        sub = submission("20")
        await runtime.service.submit(sub)
        result = await answered(runtime, inbox, sub.key, timeout=60)
        assert result.tx_hash
        found = await pins(runtime)
        assert {state for state, _, _ in found.values()} == {PIN_PINNED}
        assert all(attempts == 1 for _, attempts, _ in found.values())  # the bad read-back
        assert len(service.cars) == 2  # published again after it


async def test_the_car_holds_every_block_and_reads_back_whole(bot_env: dict[str, str]):
    """A multi-block image: the CAR the publisher writes holds each block once, each matching
    its CID by an independent hash, and reading back walks the whole tree."""
    async with running(load_settings(bot_env, env_file=Path("/nonexistent"))) as (runtime, _):
        # 2 MB: a dag-pb root over 256 KiB leaves, two of them equal (stored and read once).
        chunk = 256 * 1024
        big = random.Random(7).randbytes(6 * chunk) + bytes(2 * chunk)
        image_cid = (await asyncio.to_thread(runtime.content.put_files, [big]))[0]
        car = car_of(runtime.content, [image_cid])
        roots, blocks = read_car(car)
        assert roots == [image_cid] and len(blocks) == 1 + 6 + 1
        assert await read_back(image_cid, lambda cid: asyncio.sleep(0, blocks[cid])) == len(blocks)


async def test_a_service_that_says_when_to_come_back_is_not_asked_sooner(
    bot_env: dict[str, str], service: PinningService
):
    service.down, service.retry_after = True, 60
    async with running(settings_for(bot_env)) as (runtime, _):
        await runtime.service.submit(submission("60"))

        async def tried() -> bool:
            return any(attempts for _, attempts, _ in (await pins(runtime)).values())

        await until(tried, 30, "a try")
        async with runtime.sessions() as session:
            due = list(await session.scalars(select(Pin.due_at)))
        soonest = min(aware_utc(d) for d in due) - utcnow()
        assert soonest > timedelta(seconds=50)  # its 60 s, not the first back-off's 2 s


async def test_content_damaged_in_the_store_fails_only_its_own_request(
    bot_env: dict[str, str], service: PinningService
):
    async with running(settings_for(bot_env)) as (runtime, inbox):
        subs = [submission(str(n)) for n in range(70, 73)]
        damaged = await queued_together(runtime, service, subs)
        block = next(p for p in runtime.content.directory.rglob(damaged) if "blocks" in p.parts)
        with block.open("r+b") as file:  # a disk error flips its first bytes
            file.write(b"\x00\x00\x00\x00")
        service.down = False
        results = [await answered(runtime, inbox, sub.key, timeout=60) for sub in subs]
        assert results[1].phase == Phase.FAILED
        assert "stored content cannot be read" in (results[1].failure_reason or "")
        assert results[0].tx_hash and results[2].tx_hash
        assert damaged not in service.pins


async def test_a_credential_in_a_services_error_is_never_stored_nor_shown(
    bot_env: dict[str, str], service: PinningService
):
    canary = "Zq9xCanaryKey7Lw3Rt5"
    service.down = True
    service.down_message = f"cannot reach https://ops:{canary}@pin.example/api?token={canary}"
    async with running(settings_for(bot_env)) as (runtime, _):
        handle = await runtime.service.submit(submission("80"))

        async def tried() -> bool:
            return any(attempts for _, attempts, _ in (await pins(runtime)).values())

        await until(tried, 30, "a try")
        errors = [error or "" for _, _, error in (await pins(runtime)).values()]
        reason = (await runtime.service.result(handle.request_id)).waiting_reason or ""
        assert "pin.example" in reason and all("pin.example" in e for e in errors)
        assert canary not in reason and not any(canary in e for e in errors)


async def test_pins_left_taken_by_a_process_that_died_are_published_at_the_next_start(
    bot_env: dict[str, str], service: PinningService
):
    """A bot died while a group's CAR was with the service: its lease on the pins must not
    hold the requests back for the lease's ten minutes once the bot starts again."""
    service.hold = asyncio.Event()  # the upload never ends: the process "dies" mid-publish
    settings = settings_for(bot_env)
    async with running(settings) as (runtime, _):
        sub = submission("90")
        await runtime.service.submit(sub)

        async def leased() -> bool:  # held under the lease, for minutes
            async with runtime.sessions() as session:
                due = list(await session.scalars(select(Pin.due_at)))
            return bool(due) and all(aware_utc(d) - utcnow() > timedelta(minutes=5) for d in due)

        await until(leased, 30, "the pins to be taken under a lease")
    service.hold = None
    async with running(settings) as (runtime, inbox):
        result = await answered(runtime, inbox, sub.key, timeout=60)
        assert result.tx_hash
        assert {result.image_cid, result.metadata_cid} <= service.pins


async def test_a_raffles_entrant_list_is_pinned_like_a_tokens_content(
    bot_env: dict[str, str], service: PinningService
):
    """The list a raffle's draw is verified from must outlive the bot: it is pinned on every
    backend PINNING names, as token content is."""
    async with running(settings_for(bot_env)) as (runtime, inbox):
        speaking(runtime, inbox)
        raffle = await make(runtime.raffles, winners=1)
        await enter_all(runtime.raffles, raffle.drop.id, 2)
        await runtime.raffles.close_entries(raffle.drop.id)

        async def drawn_and_pinned() -> bool:
            cid = (await runtime.raffles.info(raffle.drop.id)).entrants_cid
            return cid is not None and cid in service.pins

        await until(drawn_and_pinned, 60, "the entrant list to be pinned")
        cid = str((await runtime.raffles.info(raffle.drop.id)).entrants_cid)
        assert (await pins(runtime))[cid][0] == PIN_PINNED
