"""The mint pipeline in-process against a real anvil: exactly once, bad input, recipients."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.chain.contract import Collection
from bot.config import load_settings
from bot.errors import RequestConflict
from bot.minting.content_workers import ContentJob, ContentWorkers, Prepared
from bot.minting.types import MintHandle, MintResult
from bot.runtime import Runtime
from db.models import ChainTx, MintRequest, MintUpload, Phase, PlatformUser, SigningAudit
from tests.support import (
    DEV_MINTER,
    Answering,
    Inbox,
    answered,
    balance,
    png,
    replied,
    running,
    submission,
)

pytestmark = pytest.mark.db
HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


async def count(runtime: Runtime, model: type, *where: object) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_a_mint_goes_all_the_way_and_is_answered_once(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    handle = await runtime.service.submit(submission("1"))
    assert not handle.duplicate and handle.phase == Phase.RECEIVED
    result = await answered(runtime, inbox, handle.key)

    assert result.minted and result.token_id is not None
    assert result.custodial and result.recipient == DEV_MINTER.address
    assert await collection.owner_of(result.token_id) == DEV_MINTER.address
    assert await collection.token_uri(result.token_id) == f"ipfs://{result.metadata_cid}"
    metadata = json.loads(runtime.content.read_file(result.metadata_cid or ""))
    assert metadata["name"] == "Art 1"
    assert metadata["image"] == f"ipfs://{result.image_cid}"
    assert result.tx_url and result.tx_url.startswith("http://127.0.0.1:8080/explorer/tx/0x")
    assert result.token_url and str(result.token_id) in result.token_url

    # The answer is recorded after it was given: wait for that, not for a fixed time.
    await replied(runtime, handle.request_id)
    await asyncio.sleep(0.5)  # a second answer would have arrived by now
    assert len(inbox.for_key(handle.key)) == 1
    assert await count(runtime, SigningAudit) == 1


async def test_a_chain_that_mines_at_once_confirms_without_waiting_a_poll(
    bot_env: dict[str, str], collection: Collection
):
    """The watcher looks as soon as a batch is sent, not only a poll interval after its last
    look: on a node that mines at once (anvil here) the answer needs no poll at all."""
    settings = load_settings({**bot_env, "POLL_INTERVAL_S": "300"})
    async with running(settings) as (runtime, inbox):
        handle = await runtime.service.submit(submission("600"))
        result = await answered(runtime, inbox, handle.key, timeout=60)
    assert result.minted
    assert result.token_id is not None and await collection.exists(result.token_id)


@pytest.mark.parametrize("collection", ["direct", "clone"], indirect=True)
async def test_the_same_key_twenty_times_at_once_mints_once(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    same = submission("2")
    handles = await asyncio.gather(*(runtime.service.submit(same) for _ in range(20)))
    assert len({h.request_id for h in handles}) == 1
    assert sum(not h.duplicate for h in handles) == 1
    result = await answered(runtime, inbox, same.key)
    await asyncio.sleep(0.5)
    assert len(inbox.for_key(same.key)) == 1
    assert await collection.contract.functions.balanceOf(DEV_MINTER.address).call() == 1
    assert await count(runtime, MintRequest) == 1
    assert result.minted


async def test_the_same_key_with_another_image_is_refused(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    original = submission("3")
    await runtime.service.submit(original)
    with pytest.raises(RequestConflict, match="changed after it was sent"):
        await runtime.service.submit(submission("3", image=png(999)))
    with pytest.raises(RequestConflict):
        await runtime.service.submit(submission("3", name="Another name"))
    await answered(runtime, inbox, original.key)
    assert await collection.contract.functions.balanceOf(DEV_MINTER.address).call() == 1


async def test_recipients_explicit_then_linked_then_custody(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    async with runtime.sessions.begin() as session:
        session.add(PlatformUser(platform="test", user_id="linked", address=HOLDER))
    explicit = submission("4", recipient="0x15d34aaf54267db7d7c367839aaf71a00a2c6a65")
    linked = submission("5", requester_id="linked")
    for sub in (explicit, linked):
        await runtime.service.submit(sub)
    first = await answered(runtime, inbox, explicit.key)
    second = await answered(runtime, inbox, linked.key)
    assert first.recipient == "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
    assert not first.custodial
    assert await collection.owner_of(first.token_id or 0) == first.recipient
    assert second.recipient == HOLDER and not second.custodial
    assert await collection.owner_of(second.token_id or 0) == HOLDER


def bomb_png() -> bytes:
    """A 20,000 x 20,000 PNG that compresses to a few kilobytes."""
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def bad_input() -> list[tuple[str, dict[str, Any], str]]:
    """Each kind of bad input: its label, what it changes in a submission, and a word of the
    refusal. Built when the test runs, not at import: every test process imports this module,
    and the bomb alone takes a second to encode."""
    return [
        ("not an image", {"image": b"hello, this is text"}, "image"),
        ("truncated", {"image": png(7, (64, 64))[:60]}, ""),
        ("11 MB", {"image": b"\x89PNG" + b"\0" * 11_000_000}, "limit is 10 MB"),
        ("bomb", {"image": bomb_png()}, "pixels"),
        ("empty name", {"name": "   "}, "name"),
        ("10 KB name", {"name": "n" * 10_000}, ""),
        ("mass mention", {"name": "hi @everyone"}, "everyone"),
        ("markdown", {"name": "**bold** [x](http://a.example)"}, ""),
        ("bad address", {"recipient": "0x1234"}, "not a valid Ethereum address"),
    ]


async def test_bad_input_is_refused_with_a_reason_and_others_still_mint(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = bot
    good = submission("100")
    cases = bad_input()
    subs = [submission(str(200 + i), **changes) for i, (_, changes, _) in enumerate(cases)]
    for sub in [*subs, good]:
        await runtime.service.submit(sub)
    for sub, (label, _, words) in zip(subs, cases, strict=True):
        result = await answered(runtime, inbox, sub.key)
        assert result.phase == Phase.REJECTED, label
        assert result.failure_reason, label
        assert words.lower() in result.failure_reason.lower(), (label, result.failure_reason)
    minted = await answered(runtime, inbox, good.key)
    assert minted.minted
    assert await collection.contract.functions.balanceOf(DEV_MINTER.address).call() == 1
    async with runtime.sessions() as session:
        txs = list(await session.scalars(select(ChainTx)))
    assert len(txs) == 1
    assert await count(runtime, MintRequest, MintRequest.tx_id.is_not(None)) == 1


async def test_a_rejected_duplicate_gets_the_same_answer(bot: tuple[Runtime, Inbox]):
    runtime, inbox = bot
    bad = submission("300", image=b"not an image")
    first = await runtime.service.submit(bad)
    await answered(runtime, inbox, bad.key)
    again = await runtime.service.submit(bad)
    assert again.duplicate and again.request_id == first.request_id
    assert again.phase == Phase.REJECTED


async def test_an_edit_arriving_with_the_original_is_refused(
    bot: tuple[Runtime, Inbox], collection: Collection
):
    """Both land in one group commit: the first holds the key, the edit is refused."""
    runtime, inbox = bot
    original, edited = submission("6"), submission("6", name="Edited")
    first, second = await asyncio.gather(
        runtime.service.submit(original), runtime.service.submit(edited), return_exceptions=True
    )
    assert isinstance(first, MintHandle) and not first.duplicate
    assert isinstance(second, RequestConflict)
    result = await answered(runtime, inbox, original.key)
    assert result.name == "Art 6"
    assert await balance(collection, DEV_MINTER.address) == 1


async def test_uploads_are_kept_only_until_the_request_leaves_preparation(
    bot: tuple[Runtime, Inbox],
):
    runtime, inbox = bot
    good, bad = submission("7"), submission("8", image=b"not an image")
    for sub in (good, bad):
        await runtime.service.submit(sub)
    for sub in (good, bad):
        await answered(runtime, inbox, sub.key)
    assert await count(runtime, MintUpload) == 0


async def test_a_request_whose_upload_is_lost_fails_with_a_reason(bot: tuple[Runtime, Inbox]):
    """For example a request received before an upgrade that moved uploads into the database."""
    runtime, inbox = bot
    async with runtime.sessions.begin() as session:
        session.add(
            MintRequest(
                platform="test",
                chat_id="chat",
                message_id="9",
                fingerprint="0" * 64,
                requester_id="u1",
                name="Lost",
                upload_digest="0" * 64,
            )
        )
    result = await answered(runtime, inbox, "test:chat:9")
    assert result.phase == Phase.FAILED
    assert result.failure_reason and "send it again" in result.failure_reason


async def test_groups_prepared_at_once_never_share_a_request(
    bot: tuple[Runtime, Inbox], monkeypatch: pytest.MonkeyPatch
):
    """Two groups are on their way at once (one in the workers while the next is read): no
    request is handed to the workers twice, and every one is minted and answered once."""
    runtime, inbox = bot
    monkeypatch.setattr("bot.minting.prepare.PREPARE_GROUP", 10)
    handed: list[int] = []
    prepare = ContentWorkers.prepare

    async def recorded(self: ContentWorkers, jobs: list[ContentJob]) -> dict[int, Prepared | str]:
        handed.extend(job.request_id for job in jobs)
        return await prepare(self, jobs)

    monkeypatch.setattr(ContentWorkers, "prepare", recorded)
    burst = [submission(str(500 + i)) for i in range(45)]
    await asyncio.gather(*(runtime.service.submit(s) for s in burst))
    results = [await answered(runtime, inbox, s.key, timeout=120) for s in burst]

    assert all(r.minted for r in results)
    assert sorted(handed) == sorted(r.request_id for r in results)
    await asyncio.sleep(0.5)  # a second answer would have arrived by now
    assert all(len(inbox.for_key(s.key)) == 1 for s in burst)


async def test_an_answer_that_keeps_failing_holds_up_no_other(
    bot: tuple[Runtime, Inbox], monkeypatch: pytest.MonkeyPatch
):
    """A chat that refuses every answer (say, a deleted channel) is retried with growing
    pauses and never blocks the queue, even when it is at the head of every group."""
    runtime, inbox = bot
    monkeypatch.setattr("bot.minting.delivery.DELIVERY_GROUP", 1)
    attempts: list[float] = []

    async def unreachable(result: MintResult) -> None:
        attempts.append(asyncio.get_running_loop().time())
        raise ConnectionError("the chat is gone")

    runtime.service.answer_through("gone", Answering(unreachable))
    await runtime.service.submit(submission("400", platform="gone"))
    await asyncio.sleep(0.5)
    good = submission("401")
    await runtime.service.submit(good)
    assert (await answered(runtime, inbox, good.key)).minted
    assert 1 <= len(attempts) <= 3  # 1 s, then 2 s, ... apart, not once per pass
