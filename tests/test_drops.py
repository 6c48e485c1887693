"""Drops in the core (bot/drops/) against a real anvil: create, claim, limits, windows, gates,
closing, CSV export, and supply under a thousand simultaneous claims (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.chain.contract import Collection
from bot.drops import ClaimResult, DropInfo, gates_for
from bot.drops.service import Drops
from bot.errors import (
    DropClosed,
    DropLimitReached,
    DropNeedsWallet,
    DropNotFound,
    DropNotOpen,
    DropSoldOut,
    ImageRejected,
    NotAllowed,
    RequestRejected,
)
from bot.ports import Claimant
from bot.runtime import Runtime
from db.models import MintRequest, Phase, PlatformUser, utcnow
from tests.platform_stub import RecordingPlatform
from tests.support import (
    DEV_MINTER,
    CliResult,
    Inbox,
    answered,
    balance,
    png,
    poll_until,
    run_cli,
)

pytestmark = pytest.mark.db
HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


@pytest.fixture
def drops(bot: tuple[Runtime, Inbox]) -> tuple[Runtime, Inbox]:
    """The bot, with the "test" platform's drop claims answered into its inbox too."""
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("test", inbox))
    return runtime, inbox


def another_process(runtime: Runtime) -> Drops:
    """A second drops service on the same database, as another bot process has."""
    return Drops(
        sessions=runtime.sessions,
        content=runtime.content,
        service=runtime.service,
        platforms=runtime.platforms,
        max_image_bytes=runtime.settings.max_image_bytes,
        max_image_pixels=runtime.settings.max_image_pixels,
        max_image_frames=runtime.settings.max_image_frames,
    )


async def create(runtime: Runtime, **changes: Any) -> DropInfo:
    fields: dict[str, Any] = {
        "platform": "test",
        "community_id": "guild",
        "created_by": "admin",
        "name": "Genesis",
        "description": "The first drop",
        "image": png(42, (32, 32)),
        "supply": 3,
        "per_user_limit": 1,
    }
    fields.update(changes)
    return await runtime.drops.create_drop(**fields)


async def claim(
    runtime: Runtime, drop: DropInfo, user: str, *, roles: Any = (), is_member: bool = False
) -> ClaimResult:
    claimant = Claimant("test", user, frozenset(roles), is_member=is_member)
    return await runtime.drops.claim(drop.id, claimant, f"name of {user}")


async def test_each_claim_is_its_own_edition_and_token_of_one_stored_artwork(
    drops: tuple[Runtime, Inbox], collection: Collection
):
    runtime, inbox = drops
    drop = await create(runtime)
    assert (drop.claimed, drop.supply, drop.status(utcnow())) == (0, 3, "open")
    first = await claim(runtime, drop, "u1")
    second = await claim(runtime, drop, "u2")
    assert (first.edition, first.edition_text, first.n) == (1, "#1 of 3", 1)
    assert (second.edition, second.edition_text) == (2, "#2 of 3")
    assert first.token_id != second.token_id
    assert first.custodial and first.recipient == DEV_MINTER.address

    minted = [await answered(runtime, inbox, c.key) for c in (first, second)]
    assert all(result.minted for result in minted)
    assert minted[0].name == "Genesis #1 of 3"
    for result, claimed in zip(minted, (first, second), strict=True):
        assert result.token_id == claimed.token_id
        assert await collection.owner_of(claimed.token_id) == DEV_MINTER.address
        assert await collection.token_uri(claimed.token_id) == f"ipfs://{result.metadata_cid}"
        assert result.image_cid == drop.image_cid  # the artwork, stored once at creation
    metadata = json.loads(runtime.content.read_file(minted[1].metadata_cid or ""))
    assert metadata["name"] == "Genesis #2 of 3"
    assert metadata["description"] == "The first drop"
    assert metadata["image"] == f"ipfs://{drop.image_cid}"
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    assert traits["Edition"] == 2 and traits["Supply"] == 3
    assert traits["Claimer"] == "name of u2" and traits["Drop"] == "Genesis"
    assert metadata["properties"]["claimer"] == {
        "platform": "test",
        "user_id": "u2",
        "name": "name of u2",
    }
    assert (await runtime.drops.info(drop.id)).claimed == 2
    assert [d.id for d in await runtime.drops.list_drops("test", "guild")] == [drop.id]
    assert await runtime.drops.list_drops("test", "elsewhere") == []


async def test_an_open_edition_has_no_cap(drops: tuple[Runtime, Inbox]):
    runtime, _ = drops
    drop = await create(runtime, supply=None)
    results = [await claim(runtime, drop, f"u{i}") for i in range(5)]
    assert [r.edition_text for r in results] == ["#1", "#2", "#3", "#4", "#5"]
    assert (await runtime.drops.info(drop.id)).status(utcnow()) == "open"


async def test_sold_out_and_per_member_limit(drops: tuple[Runtime, Inbox]):
    runtime, _ = drops
    drop = await create(runtime, supply=3, per_user_limit=2)
    assert (await claim(runtime, drop, "u1")).n == 1
    assert (await claim(runtime, drop, "u1")).n == 2
    with pytest.raises(DropLimitReached, match="limit is 2 per member"):
        await claim(runtime, drop, "u1")
    assert (await claim(runtime, drop, "u2")).edition == 3
    with pytest.raises(DropSoldOut, match="all 3 editions of Genesis are claimed"):
        await claim(runtime, drop, "u3")
    info = await runtime.drops.info(drop.id)
    assert info.claimed == 3 and info.status(utcnow()) == "sold out"


async def test_before_the_start_after_the_end_and_closed_early(drops: tuple[Runtime, Inbox]):
    runtime, _ = drops
    now = utcnow()
    later = await create(runtime, starts_at=now + timedelta(hours=1))
    with pytest.raises(DropNotOpen, match="opens at"):
        await claim(runtime, later, "u1")
    over = await create(
        runtime, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    with pytest.raises(DropClosed, match="ended at"):
        await claim(runtime, over, "u1")
    assert (await runtime.drops.info(over.id)).status(utcnow()) == "ended"

    drop = await create(runtime, supply=10)
    await claim(runtime, drop, "u1")
    closed = await runtime.drops.close(drop.id)
    assert closed.closed_at is not None and closed.status(utcnow()) == "closed"
    with pytest.raises(DropClosed, match="closed by an admin"):
        await claim(runtime, drop, "u2")
    assert (await runtime.drops.info(drop.id)).claimed == 1
    with pytest.raises(DropNotFound):
        await runtime.drops.claim(9999, Claimant("test", "u1"), "Ada")


async def test_role_and_membership_gates_are_decided_by_the_core(drops: tuple[Runtime, Inbox]):
    runtime, _ = drops
    by_role = await create(runtime, gates=gates_for(["r-gold", "r-silver"]), supply=None)
    with pytest.raises(NotAllowed, match="role"):
        await claim(runtime, by_role, "u1", roles={"r-bronze"})
    with pytest.raises(NotAllowed, match="role"):
        await claim(runtime, by_role, "u1")
    assert (await claim(runtime, by_role, "u1", roles={"r-bronze", "r-silver"})).edition == 1
    with pytest.raises(NotAllowed, match="only from its own test community"):
        await runtime.drops.claim(
            by_role.id, Claimant("telegram", "u9", frozenset({"r-gold"})), "Max"
        )

    members = await create(runtime, gates=gates_for(chat_member=True), supply=None)
    with pytest.raises(NotAllowed, match="members of the chat"):
        await claim(runtime, members, "u2", is_member=False)
    assert (await claim(runtime, members, "u2", is_member=True)).edition == 1


async def test_a_drop_for_linked_wallets_only(drops: tuple[Runtime, Inbox], collection: Collection):
    runtime, inbox = drops
    drop = await create(runtime, gates=gates_for(linked_wallet=True))
    with pytest.raises(DropNeedsWallet, match="link yours first"):
        await claim(runtime, drop, "u1")
    async with runtime.sessions.begin() as session:
        session.add(PlatformUser(platform="test", user_id="u1", address=HOLDER))
    claimed = await claim(runtime, drop, "u1")
    assert claimed.recipient == HOLDER and not claimed.custodial
    assert (await answered(runtime, inbox, claimed.key)).minted
    assert await collection.owner_of(claimed.token_id) == HOLDER
    assert (await runtime.drops.info(drop.id)).claimed == 1


async def test_a_bad_artwork_or_setting_creates_no_drop(drops: tuple[Runtime, Inbox]):
    runtime, _ = drops
    with pytest.raises(ImageRejected):
        await create(runtime, image=b"not an image")
    now = utcnow()
    with pytest.raises(Exception, match="end after it starts"):
        await create(runtime, starts_at=now, ends_at=now)
    with pytest.raises(Exception, match="at least 1"):
        await create(runtime, supply=0)
    assert await runtime.drops.list_drops("test", "guild") == []


async def test_claims_export_as_csv(drops: tuple[Runtime, Inbox]):
    runtime, inbox = drops
    drop = await create(runtime)
    first = await runtime.drops.claim(drop.id, Claimant("test", "u1"), "=HYPERLINK(1)")
    second = await claim(runtime, drop, "u2")
    for c in (first, second):
        await answered(runtime, inbox, c.key)
    rows = list(csv.DictReader(io.StringIO(await runtime.drops.export_csv(drop.id))))
    assert [r["edition"] for r in rows] == ["1", "2"]
    assert rows[0]["claimer_name"] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet
    assert rows[1]["claimer_id"] == "u2" and rows[1]["claimer_platform"] == "test"
    assert rows[1]["status"] == "minted" and rows[1]["token_id"] == str(second.token_id)
    assert rows[1]["tx_hash"].startswith("0x") and rows[1]["custodial"] == "yes"


async def test_a_thousand_simultaneous_claims_on_a_hundred_editions(
    drops: tuple[Runtime, Inbox], collection: Collection
):
    """Exactly 100 tokens on chain and 900 clear "sold out" answers. The claims come through
    four `Drops` services sharing the database, as from four bot processes, so their
    transactions race each other (on PostgreSQL truly at once)."""
    runtime, inbox = drops
    drop = await create(runtime, supply=100)
    services = [runtime.drops, *(another_process(runtime) for _ in range(3))]
    outcomes = await asyncio.gather(
        *(
            services[i % 4].claim(drop.id, Claimant("test", f"u{i}"), f"name of u{i}")
            for i in range(1000)
        ),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, ClaimResult)]
    sold_out = [o for o in outcomes if isinstance(o, DropSoldOut)]
    assert len(won) == 100 and len(sold_out) == 900, {type(o).__name__ for o in outcomes}
    assert sorted(c.edition for c in won) == list(range(1, 101))
    assert "Sold out" in str(sold_out[0])
    await poll_until(
        lambda: all(inbox.for_key(c.key) for c in won),
        60,
        lambda: f"{sum(bool(inbox.for_key(c.key)) for c in won)} of 100 answered",
    )
    assert all(inbox.for_key(c.key)[0].minted for c in won)
    assert await balance(collection, DEV_MINTER.address) == 100
    assert (await runtime.drops.info(drop.id)).claimed == 100


async def test_one_member_racing_themself_gets_only_their_limit(drops: tuple[Runtime, Inbox]):
    runtime, _ = drops
    drop = await create(runtime, supply=None, per_user_limit=3)
    services = [runtime.drops, *(another_process(runtime) for _ in range(2))]
    outcomes = await asyncio.gather(
        *(services[i % 3].claim(drop.id, Claimant("test", "u1"), "Ada") for i in range(30)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, ClaimResult)]
    assert sorted(c.n for c in won) == [1, 2, 3]
    assert sum(isinstance(o, DropLimitReached) for o in outcomes) == 27
    assert (await runtime.drops.info(drop.id)).claimed == 3


async def test_a_redelivered_claim_gets_the_same_edition(
    drops: tuple[Runtime, Inbox], collection: Collection
):
    """A platform may deliver one claim (a message, an interaction) again, at once (here also
    to another process) or later: with its source given, it claims once, however many
    editions the member may have."""
    runtime, inbox = drops
    drop = await create(runtime, supply=None, per_user_limit=5)
    services = [runtime.drops, another_process(runtime)]
    together = await asyncio.gather(
        *(
            services[i % 2].claim(drop.id, Claimant("test", "u1"), "Ada", source="msg-1")
            for i in range(10)
        )
    )
    assert len({(c.edition, c.request_id, c.token_id) for c in together}) == 1
    assert sum(not c.duplicate for c in together) == 1
    later = await runtime.drops.claim(drop.id, Claimant("test", "u1"), "Ada", source="msg-1")
    assert later.duplicate and later.token_id == together[0].token_id
    assert later.key == together[0].key
    other = await runtime.drops.claim(drop.id, Claimant("test", "u1"), "Ada", source="msg-2")
    assert not other.duplicate and other.edition == 2 and other.n == 2
    for c in (later, other):
        assert (await answered(runtime, inbox, c.key)).minted
    assert await balance(collection, DEV_MINTER.address) == 2
    assert (await runtime.drops.info(drop.id)).claimed == 2


@pytest.mark.slow
async def test_drops_from_the_command_line(bot_env: dict[str, str], tmp_path: Path):
    art = tmp_path / "art.png"
    art.write_bytes(png(3, (16, 16)))
    where = ["--platform", "discord", "--community", "g1"]

    async def cli(*args: str) -> CliResult:
        return await asyncio.to_thread(run_cli, "drop", *args, env=bot_env, timeout=120)

    created = await cli(
        "create", *where, "--name", "Launch", "--image", str(art), "--supply", "50", "--role", "r1"
    )
    assert created.returncode == 0, created.output
    assert created.stdout.startswith("created drop #1 Launch: 0 / 50 claimed, open")
    listed = await cli("list", *where)
    assert listed.stdout.splitlines() == ["#1 Launch: 0 / 50 claimed, open"]
    closed = await cli("close", "1")
    assert closed.stdout.strip() == "#1 Launch: 0 / 50 claimed, closed"
    exported = await cli("export", "1")
    assert exported.returncode == 0 and exported.stdout.startswith("edition,claimer_platform,")
    missing = await cli("export", "7")
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1] == "error: There is no drop #7."
    art.write_bytes(b"not an image")
    refused = await cli("create", *where, "--name", "Bad", "--image", str(art))
    assert refused.returncode == 1 and "Traceback" not in refused.output


async def test_drop_numbers_and_sizes_no_database_can_hold_get_a_reason(
    drops: tuple[Runtime, Inbox],
):
    """A forged Claim button (any digits) or an admin's typo: a clear refusal for that
    request, never an internal error, and good claims made at the same moment go through."""
    runtime, _ = drops
    drop = await create(runtime)
    forged = [2**31, 2**63, 10**30, 0, -1]
    outcomes = await asyncio.gather(
        *(claim(runtime, drop, f"g{i}") for i in range(2)),
        *(runtime.drops.claim(n, Claimant("test", "forger"), "Forger") for n in forged),
        return_exceptions=True,
    )
    assert all(isinstance(o, ClaimResult) for o in outcomes[:2]), outcomes
    assert all(isinstance(o, DropNotFound) for o in outcomes[2:]), outcomes
    for n in forged:
        with pytest.raises(DropNotFound):
            await runtime.drops.info(n)
        with pytest.raises(DropNotFound):
            await runtime.drops.close(n)
    for field, value in (("supply", 2**31), ("per_user_limit", 2**63)):
        with pytest.raises(RequestRejected, match="at most 1,000,000"):
            await create(runtime, **{field: value})


async def test_a_claim_made_on_a_platform_not_running_here_waits_for_it(
    drops: tuple[Runtime, Inbox],
):
    """The answer to a claim goes through the claimer's platform. While that platform does
    not run in this process, the answer waits for it without counting failed tries (so it is
    never given up for that), and is given once the platform runs."""
    runtime, inbox = drops
    drop = await create(runtime, platform="elsewhere")
    claimed = await runtime.drops.claim(drop.id, Claimant("elsewhere", "u1"), "Ada")

    async def waiting() -> MintRequest | None:
        async with runtime.sessions() as session:
            request = await session.get(MintRequest, claimed.request_id)
        minted = request is not None and request.phase == Phase.CONFIRMED
        return request if minted and request.answer_due_at is not None else None

    async with asyncio.timeout(60):
        while (request := await waiting()) is None:
            await asyncio.sleep(0.1)
    assert request.answered_at is None and request.answer_attempts == 0
    assert request.undeliverable_at is None

    runtime.platforms.add(RecordingPlatform("elsewhere", inbox))
    result = await answered(runtime, inbox, claimed.key)
    assert result.minted and result.token_id == claimed.token_id
