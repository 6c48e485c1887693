"""Allowlist drops in the core against a real anvil: members and linked addresses on the list
claim up to their allowance, others are refused with a reason, the list is replaced while the
drop is open (a claim sees the old list or the new one, whole), bad files change nothing, and
the command line."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chain.contract import Collection
from bot.discord.render import drop_embed
from bot.drops import ClaimResult, DropInfo
from bot.drops.allowlists import Allowlists, Uploaded
from bot.drops.service import Drops
from bot.errors import (
    AllowlistRefused,
    DropLimitReached,
    ImageRejected,
    NotAllowed,
)
from bot.ports import Claimant, GateLookups
from bot.runtime import Runtime
from bot.telegram.render import drop_announcement_html
from db.models import Allowlist, AllowlistEntry, PlatformUser
from tests.platform_stub import RecordingPlatform
from tests.support import CliResult, Inbox, answered, png, run_cli

pytestmark = pytest.mark.db
HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
OTHER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


@pytest.fixture
def drops(bot: tuple[Runtime, Inbox]) -> tuple[Runtime, Inbox]:
    """The bot, with Discord's claim answers heard in its inbox."""
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("discord", inbox))
    return runtime, inbox


async def create(runtime: Runtime, allowlist: bytes | None, **changes: Any) -> DropInfo:
    fields: dict[str, Any] = {
        "platform": "discord",
        "community_id": "g1",
        "name": "Guests",
        "image": png(77),
        "supply": 20,
    } | changes
    drop, _ = await Allowlists(runtime.sessions).create_drop(
        runtime.drops, allowlist=allowlist, created_by="admin", **fields
    )
    return drop


async def claim(drops: Drops, drop: DropInfo, user: str) -> ClaimResult:
    return await drops.claim(drop.id, Claimant("discord", user), f"name of {user}")


async def link(runtime: Runtime, user: str, address: str, *, verified: bool = True) -> None:
    async with runtime.sessions.begin() as session:
        await session.merge(
            PlatformUser(
                platform="discord", user_id=user, address=address, address_verified=verified
            )
        )


async def test_members_and_linked_addresses_on_the_list_claim_their_allowance(
    drops: tuple[Runtime, Inbox], collection: Collection
) -> None:
    runtime, inbox = drops
    drop = await create(
        runtime,
        f"member,allowance\ndiscord:1,3\ndiscord:2\ndiscord:3\n{HOLDER},2\n{OTHER},4\n".encode(),
    )
    assert [g.describe() for g in drop.gates] == ["those on its allowlist (3 members, 2 addresses)"]
    # Announcements say who may claim, and that the list sets how many.
    caption = drop_announcement_html(drop)
    assert "as each allowlist entry allows" in caption
    assert "For those on its allowlist (3 members, 2 addresses)" in caption
    fields = {f.name: f.value for f in drop_embed(drop, "http://127.0.0.1").fields}
    assert fields["Each may claim"] == "as each allowlist entry allows"
    assert fields["Who may claim"] == "those on its allowlist (3 members, 2 addresses)"
    # An allowance replaces the drop's per-member limit of 1.
    assert [(await claim(runtime.drops, drop, "1")).n for _ in range(3)] == [1, 2, 3]
    with pytest.raises(DropLimitReached, match="You have claimed 3 of Guests; you may claim 3"):
        await claim(runtime.drops, drop, "1")
    assert (await claim(runtime.drops, drop, "2")).n == 1
    with pytest.raises(DropLimitReached, match="the limit is 1 per member"):
        await claim(runtime.drops, drop, "2")
    with pytest.raises(NotAllowed) as refused:
        await claim(runtime.drops, drop, "9")
    assert str(refused.value) == (
        "Guests is for the members on its allowlist; you are not on it. If your wallet's "
        "address is on it, link and verify that wallet first (/wallet), then claim again."
    )
    # An address linked without proof is anyone's to name: it does not put them on the list.
    await link(runtime, "9", HOLDER, verified=False)
    with pytest.raises(NotAllowed, match="link and verify that wallet first"):
        await claim(runtime.drops, drop, "9")
    # A member not on the list qualifies through the address they proved is theirs; its
    # edition goes there.
    await link(runtime, "9", HOLDER)
    by_address = [await claim(runtime.drops, drop, "9") for _ in range(2)]
    assert {c.recipient for c in by_address} == {HOLDER}
    with pytest.raises(DropLimitReached, match="The address you verified has claimed 2 of"):
        await claim(runtime.drops, drop, "9")
    # The address's allowance is its entry's, not each member's: another account that proved
    # the same wallet claims out of the same two.
    await link(runtime, "8", HOLDER)
    with pytest.raises(DropLimitReached, match="has claimed 2 of Guests; its allowlist entry"):
        await claim(runtime.drops, drop, "8")
    # On the list twice (their ID, their address): the larger allowance counts.
    await link(runtime, "3", OTHER)
    assert [(await claim(runtime.drops, drop, "3")).n for _ in range(4)] == [1, 2, 3, 4]
    with pytest.raises(DropLimitReached, match="allowlist entry allows 4"):
        await claim(runtime.drops, drop, "3")
    assert (await answered(runtime, inbox, by_address[0].key)).minted
    assert await collection.owner_of(by_address[0].token_id) == HOLDER
    # An airdrop is past the gates on who may claim, the list among them.
    given = await runtime.drops.airdrop(drop.id, source="gift", member="discord:42")
    assert given.edition == 11
    assert (await runtime.drops.info(drop.id)).claimed == 11


class SwapAfterFirstRead:
    """Sessions for a claim's lookups that, once the first lookup has read the list, let the
    admin's replacement commit before the claim goes on: the claim now holds facts of the
    old list, and the drop names the new one."""

    def __init__(self, runtime: Runtime, swap: Any) -> None:
        self.sessions = runtime.sessions
        self.swap = swap
        self.swapped: list[Uploaded] = []

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session
        if not self.swapped:
            self.swapped.append(await self.swap())


async def test_the_list_is_replaced_while_the_drop_is_open(drops: tuple[Runtime, Inbox]) -> None:
    runtime, _ = drops
    allowlists = Allowlists(runtime.sessions)
    drop = await create(runtime, b"discord:1\ndiscord:2\n")
    first = await claim(runtime.drops, drop, "1")

    new_list = b"discord:2\ndiscord:3,2\n"
    replaced = await allowlists.replace(drop.id, new_list, by="admin")
    assert replaced.report() == (
        f"Drop #{drop.id}'s allowlist is replaced: 2 entries (2 members, 0 addresses). "
        "Claims already made stay."
    )
    with pytest.raises(NotAllowed, match="not on it"):  # 1 is not on the new list
        await claim(runtime.drops, drop, "1")
    assert [(await claim(runtime.drops, drop, "3")).n for _ in range(2)] == [1, 2]
    assert (await runtime.drops.info(drop.id)).claimed == 3  # 1's claim stays
    assert first.edition == 1
    async with runtime.sessions() as session:
        lists = list(await session.scalars(select(Allowlist).order_by(Allowlist.id)))
        kept = await session.scalar(select(func.count()).select_from(AllowlistEntry))
    assert [(a.drop_id, a.replaced_at is not None) for a in lists] == [
        (drop.id, True),
        (drop.id, False),
    ]
    assert kept == 2  # the replaced list's entries are gone

    # A claim looked up on one list while another replaces it is never decided on the list
    # it looked up: it is looked up again, and decided on the new list.
    lookups = SwapAfterFirstRead(
        runtime, lambda: allowlists.replace(drop.id, b"discord:5\n", by="admin")
    )
    racing = Drops(
        sessions=runtime.sessions,
        content=runtime.content,
        service=runtime.service,
        platforms=runtime.platforms,
        max_image_bytes=runtime.settings.max_image_bytes,
        max_image_pixels=runtime.settings.max_image_pixels,
        max_image_frames=runtime.settings.max_image_frames,
        lookups=GateLookups(lookups),  # type: ignore[arg-type]
    )
    with pytest.raises(NotAllowed, match="not on it"):
        await claim(racing, drop, "2")  # on the list it looked up first, not on the new one
    assert lookups.swapped and lookups.swapped[0].replaced
    assert (await claim(racing, drop, "5")).n == 1


async def test_a_bad_file_changes_nothing_and_names_its_lines(
    drops: tuple[Runtime, Inbox],
) -> None:
    runtime, _ = drops
    allowlists = Allowlists(runtime.sessions)
    drop = await create(runtime, b"discord:1\n")
    with pytest.raises(AllowlistRefused) as refused:
        await allowlists.replace(drop.id, b"discord:2\ndiscord:two\n\nslack:3,1\n", by="admin")
    assert str(refused.value).splitlines() == [
        "The allowlist was refused (2 bad lines); nothing was changed. Fix the file and "
        "upload all of it again.",
        "line 2: 'discord:two': a discord member is named by their numeric user ID",
        "line 4: 'slack:3': members are written discord:ID or telegram:ID",
    ]
    assert (await claim(runtime.drops, drop, "1")).n == 1  # the old list holds
    with pytest.raises(NotAllowed):
        await claim(runtime.drops, drop, "2")
    # A drop is made with its list or not at all.
    with pytest.raises(AllowlistRefused, match="line 1: "):
        await create(runtime, b"discord:1,0\n", name="Never")
    with pytest.raises(ImageRejected):
        await create(runtime, b"discord:1\n", image=b"not an image")
    assert [d.name for d in await runtime.drops.list_drops("discord", "g1")] == ["Guests"]
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Allowlist)) == 1


# Files of lines that are mostly almost right: members, addresses, allowances, and noise.
_CELLS = st.sampled_from(
    ["discord:1", "telegram:22", HOLDER, HOLDER.lower(), "discord:x", "0x12", "slack:3", ""]
)
_LINES = st.tuples(_CELLS, st.sampled_from(["", ",1", ",2", ",0", ",x", ",1,1", ";3"]))
_FILES = st.one_of(
    st.binary(max_size=300),
    st.lists(_LINES.map("".join), max_size=12).map(lambda lines: "\n".join(lines).encode()),
)


@settings(max_examples=20)
@given(data=_FILES)
async def test_any_upload_is_taken_whole_or_refused_whole(
    drops: tuple[Runtime, Inbox], data: bytes
) -> None:
    runtime, _ = drops
    drop = await create(runtime, b"discord:1,5\n", supply=None)
    try:
        uploaded = await Allowlists(runtime.sessions).replace(drop.id, data, by="admin")
    except AllowlistRefused as refused:
        assert str(refused).startswith("The allowlist was refused (")
        wanted = {"discord:1": 5}
    else:
        wanted = uploaded.parsed.entries
    (gate,) = (await runtime.drops.info(drop.id)).gates
    async with runtime.sessions() as session:
        stored = await session.execute(
            select(AllowlistEntry.entry, AllowlistEntry.allowance).where(
                AllowlistEntry.allowlist_id == gate.params()["allowlist"]
            )
        )
        assert {entry: allowance for entry, allowance in stored} == wanted


@pytest.mark.slow
async def test_allowlists_from_the_command_line(bot_env: dict[str, str], tmp_path: Path) -> None:
    art, good, bad = tmp_path / "art.png", tmp_path / "list.csv", tmp_path / "bad.csv"
    art.write_bytes(png(5, (16, 16)))
    good.write_text("address,allowance\ndiscord:1,2\n" + f"{HOLDER}\n")
    bad.write_text("discord:1\n\ndiscord:x\n")

    async def cli(*args: str) -> CliResult:
        return await asyncio.to_thread(run_cli, "drop", *args, env=bot_env, timeout=120)

    where = ["--platform", "discord", "--community", "g1", "--image", str(art)]
    refused = await cli("create", *where, "--name", "No", "--allowlist", str(bad))
    assert refused.returncode == 1, refused.output
    assert "line 3: 'discord:x': a discord member is named by their numeric user ID" in (
        refused.stderr
    )
    created = await cli("create", *where, "--name", "Yes", "--allowlist", str(good))
    assert created.returncode == 0, created.output
    assert created.stdout.splitlines() == [
        "created drop #1 Yes: 0 claimed, open",
        "Drop #1 is limited to its allowlist: 2 entries (1 member, 1 address).",
    ]
    replaced = await cli("allowlist", "1", str(good))
    assert replaced.returncode == 0, replaced.output
    assert replaced.stdout.startswith("Drop #1's allowlist is replaced: 2 entries")
    again = await cli("allowlist", "1", str(bad))
    assert again.returncode == 1 and "Traceback" not in again.output
    assert "(1 bad line); nothing was changed" in again.stderr
