"""Drop gates as data: each built-in kind, a stored kind the bot does not know, the migration
that carried the old gate columns over, and a gate defined in this module alone, registered by
one line and used from Discord and Telegram."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from bot.app import open_runtime
from bot.config import load_settings
from bot.drops import ClaimResult, gates_for
from bot.drops.gates import LinkWallet, load_gates, store_gates
from bot.errors import DropLimitReached, NotAllowed
from bot.ports import GATES, Allowance, Claimant, DropGate, GatedDrop, GateLookups, Refusal
from bot.runtime import Runtime
from db.engine import MIGRATIONS_DIR, create_db_engine, upgrade
from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.platform_stub import RecordingPlatform
from tests.support import Inbox, answered, png, serving

DROP = GatedDrop(id=7, name="Harbour", platform="discord", community_id="g1")


def gate(kind: str, **params: Any) -> DropGate:
    return GATES.get(kind).from_params(params)


def refusal_text(gate: DropGate, claimant: Claimant) -> str | None:
    refusal = gate.check(claimant, DROP)
    return None if refusal is None else str(refusal.reason)


# ----- the built-in kinds ----------------------------------------------------------------------


def test_the_role_gate_lets_in_holders_of_any_of_its_roles_on_the_drops_platform() -> None:
    roles = gate("role", role_ids=["r-gold", "r-silver", "r-gold"])
    assert roles.params() == {"role_ids": ["r-gold", "r-silver"]}
    assert roles.describe() == "holders of role r-gold or r-silver"
    assert refusal_text(roles, Claimant("discord", "u1", frozenset({"r-silver", "x"}))) is None
    assert refusal_text(roles, Claimant("discord", "u1", frozenset({"r-bronze"}))) == (
        "Harbour is for members with a role it names; you have none of them."
    )
    # Roles someone holds elsewhere mean nothing here.
    assert refusal_text(roles, Claimant("telegram", "u1", frozenset({"r-gold"}))) == (
        "Harbour can be claimed only from its own discord community."
    )
    for bad in ({}, {"role_ids": []}, {"role_ids": "r-gold"}, {"role_ids": [5]}):
        with pytest.raises(ValueError, match="role"):
            GATES.get("role").from_params(bad)


def test_the_membership_gate_follows_what_the_platform_says() -> None:
    members = gate("chat_member")
    assert (members.params(), members.describe()) == ({}, "members of the chat")
    assert refusal_text(members, Claimant("discord", "u1", is_member=True)) is None
    assert refusal_text(members, Claimant("discord", "u1", is_member=False)) == (
        "Harbour is for members of the chat it was made in."
    )
    assert "only from its own discord community" in str(
        refusal_text(members, Claimant("telegram", "u1", is_member=True))
    )


def test_the_wallet_gate_asks_for_a_linked_wallet_from_any_platform() -> None:
    wallet = gate("linked_wallet")
    assert (wallet.params(), wallet.describe()) == ({}, "members with a linked wallet")
    assert refusal_text(wallet, Claimant("telegram", "u1", linked_address="0xabc")) is None
    refusal = wallet.check(Claimant("discord", "u1"), DROP)
    assert isinstance(refusal, LinkWallet)
    assert str(refusal.reason) == (
        "Harbour is minted only to members' own wallets: link yours first, then claim again."
    )


def test_stored_gates_read_back_and_what_cannot_be_read_refuses_everyone() -> None:
    built = gates_for(["r1"], chat_member=True, linked_wallet=True)
    stored = store_gates(built)
    assert stored == [
        {"kind": "role", "params": {"role_ids": ["r1"]}},
        {"kind": "chat_member", "params": {}},
        {"kind": "linked_wallet", "params": {}},
    ]
    assert load_gates(stored) == tuple(built)
    unreadable = [
        {"kind": "moon_phase", "params": {}},
        {"kind": "role", "params": {"role_ids": []}},
        {"params": {}},
        "role",
    ]
    everyone = Claimant("discord", "u1", frozenset({"r1"}), is_member=True, linked_address="0x1")
    for entry in unreadable:
        (loaded,) = load_gates([entry])
        refusal = loaded.check(everyone, DROP)
        assert refusal is not None and "cannot check" in str(refusal.reason), entry
    assert "unknown kind 'moon_phase'" in str(refusal_text(load_gates(unreadable)[0], everyone))
    with pytest.raises(ValueError, match="no drop gate kind 'guest_list'"):
        store_gates([GuestListGate(frozenset())])


# ----- a stored kind this bot does not know ----------------------------------------------------


@pytest.mark.db
async def test_an_unknown_stored_gate_refuses_its_drop_and_fails_nothing_else(
    bot: tuple[Runtime, Inbox],
) -> None:
    """Data written by a newer bot (a gate kind this one lacks) turns that drop's claimants
    away with a reason; claims recorded with them in the same group go through."""
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("test", inbox))

    async def create(name: str) -> int:
        made = await runtime.drops.create_drop(
            platform="test", community_id="g", created_by="admin", name=name, image=png(3)
        )
        return made.id

    strange, plain = await create("Strange"), await create("Plain")
    async with runtime.sessions.begin() as session:
        await session.execute(
            sa.text("UPDATE nft_drop SET gates = :gates WHERE id = :id"),
            {"gates": '[{"kind": "moon_phase", "params": {"full": true}}]', "id": strange},
        )
    info = await runtime.drops.info(strange)
    assert [g.describe() for g in info.gates] == [
        "a condition this bot cannot check (unknown kind 'moon_phase')"
    ]
    outcomes = await asyncio.gather(
        *(
            runtime.drops.claim(drop_id, Claimant("test", f"u{i}"), "Ada")
            for i, drop_id in enumerate([strange, plain, strange, plain])
        ),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [NotAllowed, ClaimResult, NotAllowed, ClaimResult]
    assert str(outcomes[0]) == (
        "Strange has a claim condition this bot cannot check (unknown kind 'moon_phase'); "
        "ask an admin of the drop."
    )
    claimed = outcomes[1]
    assert isinstance(claimed, ClaimResult)
    assert (await answered(runtime, inbox, claimed.key)).minted


# ----- the migration from one column per gate --------------------------------------------------

_OLD_DROP = sa.text(
    "INSERT INTO nft_drop (id, platform, community_id, created_by, name, description, "
    "image_cid, image_digest, image_mime, image_width, image_height, supply, per_user_limit, "
    "starts_at, gate_roles, gate_chat_member, require_linked_address, claimed, created_at) "
    "VALUES (:id, 'discord', 'g1', 'admin', :name, '', 'bafy', 'digest', 'image/png', 8, 8, "
    "NULL, 1, :now, :roles, :member, :wallet, 0, :now)"
)
_OLD_COLUMNS = sa.text(
    "SELECT id, gate_roles, gate_chat_member, require_linked_address FROM nft_drop ORDER BY id"
)


def _migrate(direction: str, revision: str) -> Any:
    def run(sync: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = sync
        getattr(command, direction)(config, revision)

    return run


@pytest.mark.empty_database
@pytest.mark.db
async def test_the_migration_carries_the_old_gate_columns_over_and_back(database_url: str):
    engine = create_db_engine(database_url)
    now = datetime.now(UTC)
    old = [
        (1, "Open to all", "[]", False, False),
        (2, "Gold and silver", '["r-silver", "r-gold"]', False, False),
        (3, "Members with wallets", "[]", True, True),
        (4, "Everything", '["r1"]', True, True),
    ]
    try:
        await upgrade(engine, "0011")
        async with engine.begin() as conn:
            for drop_id, name, roles, member, wallet in old:
                await conn.execute(
                    _OLD_DROP,
                    {
                        "id": drop_id,
                        "name": name,
                        "now": now,
                        "roles": roles,
                        "member": member,
                        "wallet": wallet,
                    },
                )
            # A row that refers to a drop, as claims and announcements do.
            await conn.execute(
                sa.text(
                    "INSERT INTO drop_announcement (drop_id, platform, chat_id, message_id, "
                    "created_at) VALUES (4, 'discord', 'c', 'm', :now)"
                ),
                {"now": now},
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            gates = {
                row.id: row.gates
                for row in await conn.execute(
                    sa.select(sa.table("nft_drop", sa.column("id"), sa.column("gates", sa.JSON)))
                )
            }
        assert gates == {
            1: [],
            2: [{"kind": "role", "params": {"role_ids": ["r-gold", "r-silver"]}}],
            3: [{"kind": "chat_member", "params": {}}, {"kind": "linked_wallet", "params": {}}],
            4: [
                {"kind": "role", "params": {"role_ids": ["r1"]}},
                {"kind": "chat_member", "params": {}},
                {"kind": "linked_wallet", "params": {}},
            ],
        }
        async with engine.begin() as conn:
            await conn.run_sync(_migrate("downgrade", "0011"))
            back = [tuple(row) for row in await conn.execute(_OLD_COLUMNS)]
        assert back == [
            (1, "[]", False, False),
            (2, '["r-gold", "r-silver"]', False, False),
            (3, "[]", True, True),
            (4, '["r1"]', True, True),
        ]
        # A gate the old columns cannot hold stops the downgrade rather than lifting it.
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE nft_drop SET gates = :gates WHERE id = 1"),
                {"gates": '[{"kind": "guest_list", "params": {"guests": []}}]'},
            )
        with pytest.raises(RuntimeError, match="drop #1 has gates of kind guest_list"):
            async with engine.begin() as conn:
                await conn.run_sync(_migrate("downgrade", "0011"))
    finally:
        await engine.dispose()


# ----- a new gate: this module and one registry line -------------------------------------------


@dataclass(frozen=True)
class GuestListGate:
    """Only the guests named, as "platform:user ID"."""

    kind: ClassVar[str] = "guest_list"
    guests: frozenset[str]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls(frozenset(params["guests"]))

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        if f"{claimant.platform}:{claimant.user_id}" in self.guests:
            return None
        return Refusal(f"{drop.name} is for its guest list; you are not on it.")

    def params(self) -> dict[str, Any]:
        return {"guests": sorted(self.guests)}

    def describe(self) -> str:
        return f"{len(self.guests)} guests"


@pytest.fixture
def guest_lists() -> Iterator[None]:
    GATES.register("guest_list", GuestListGate)
    try:
        yield
    finally:
        GATES.unregister("guest_list")


@pytest.mark.db
async def test_a_gate_from_this_module_alone_works_from_discord_and_telegram(
    guest_lists: None,
    discord: DiscordServer,
    telegram: TelegramServer,
    bot_env: dict[str, str],
) -> None:
    admin = discord.add_member("Ana", admin=True)
    guest, gatecrasher = discord.add_member("Ada"), discord.add_member("Max")
    ada, max_ = telegram.user("Ada"), telegram.user("Max")
    group = telegram.group("Art club")
    env = {**bot_env, **discord.env(), **telegram.env(), "WEB_SERVER": "inline"}

    async def drop_for(platform: str, community: str, invited: str) -> int:
        async with open_runtime(load_settings(env), start=False) as runtime:
            made = await runtime.drops.create_drop(
                platform=platform,
                community_id=community,
                created_by="admin",
                name=f"Guests of {platform}",
                image=png(11),
                supply=5,
                gates=[GuestListGate(frozenset({f"{platform}:{invited}"}))],
            )
            assert [g.describe() for g in made.gates] == ["1 guests"]
            return made.id

    on_discord = await drop_for("discord", discord.guild_id, guest)
    on_telegram = await drop_for("telegram", str(group["id"]), str(ada["id"]))

    # The Claim button under each drop's announcement, as the bot renders it.
    message_id = discord.add_message(admin, "Guests of discord", [])
    announcement = discord.messages[message_id]
    custom_id = f"drop:claim:{on_discord}"
    announcement["components"] = [
        {"type": 1, "components": [{"type": 2, "style": 3, "custom_id": custom_id}]}
    ]
    post = {"message_id": 9000, "date": int(time.time()), "chat": group, "text": "Guests"}

    async def click(member: str) -> str:
        pressed = await discord.click(member, announcement, custom_id)
        await discord.wait_for(lambda: pressed.original and pressed.original.get("content"))
        assert pressed.original is not None
        return str(pressed.original["content"])

    async def press(user: dict[str, Any]) -> str:
        query = telegram.press(user, post, f"drop:claim:{on_telegram}")
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return str(telegram.callback_answers[query["id"]]["text"])

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        assert (
            await click(gatecrasher)
            == "Guests of discord is for its guest list; you are not on it."
        )
        assert "You claimed **Guests of discord** #1 of 5" in await click(guest)
        assert await press(max_) == "Guests of telegram is for its guest list; you are not on it."
        assert await press(ada) == "You claimed Guests of telegram #1 of 5! Minting it now."
        # Each claimer hears of their minted edition on the platform they claimed on.
        await discord.wait_for(
            lambda: any(
                f["content"].startswith("Your edition is minted")
                for i in discord.interactions.values()
                for f in i.followups
            ),
            timeout=60,
        )
        await telegram.wait_for(
            lambda: any(
                "Minted <b>Guests of telegram #1 of 5</b>" in str(m.get("text"))
                for m in [*telegram.in_chat(telegram.private(ada)), *telegram.in_chat(group)]
            ),
            timeout=60,
        )


# ----- gates that look things up, and allowances -----------------------------------------------


@dataclass(frozen=True)
class QuotaGate:
    """Whoever the test's table names, each with their own quota: looked up before the
    claim is decided, the way a list in the database or a balance on chain is."""

    kind: ClassVar[str] = "quota"
    table: str  # the name of a module-level quota table below

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls(params["table"])

    async def look_up(self, claimant: Claimant, drop: GatedDrop, lookups: GateLookups) -> Any:
        LOOKED_UP.append(claimant.user_id)
        quota = QUOTAS[self.table].get(claimant.user_id)
        if isinstance(quota, Exception):
            raise quota
        return quota

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        return None if claimant.facts[self] else Refusal("Not on the quota table.")

    def allowance(self, claimant: Claimant, drop: GatedDrop) -> Allowance | None:
        return Allowance(int(claimant.facts[self]))

    def params(self) -> dict[str, Any]:
        return {"table": self.table}

    def describe(self) -> str:
        return "members with a quota"


QUOTAS: dict[str, dict[str, Any]] = {"t": {"ada": 2, "max": 0, "eve": OSError("down")}}
LOOKED_UP: list[str] = []


async def test_a_looking_gate_is_asked_before_the_claim_and_sets_its_allowance(
    bot: tuple[Runtime, Inbox],
) -> None:
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("test", inbox))
    GATES.register("quota", QuotaGate)
    try:
        drop = await runtime.drops.create_drop(
            platform="test",
            community_id="g",
            created_by="admin",
            name="Quota",
            image=png(12),
            gates=[QuotaGate("t")],
        )

        async def claim(user: str) -> ClaimResult:
            return await runtime.drops.claim(drop.id, Claimant("test", user), user)

        # Ada's quota of two replaces the drop's per-member limit of one.
        assert [(await claim("ada")).n, (await claim("ada")).n] == [1, 2]
        with pytest.raises(DropLimitReached, match="you may claim 2"):
            await claim("ada")
        with pytest.raises(NotAllowed, match="Not on the quota table"):
            await claim("max")
        # A lookup that fails refuses that claim alone, in words the member can act on.
        with pytest.raises(NotAllowed, match="could not be checked just now"):
            await claim("eve")
        assert LOOKED_UP == ["ada", "ada", "ada", "max", "eve"]
        # An airdrop is past the gates on who may claim: nothing to look up.
        given = await runtime.drops.airdrop(drop.id, source="gift-1", member="test:zed")
        assert given.edition == 3 and LOOKED_UP[-1] == "eve"
    finally:
        GATES.unregister("quota")
