"""Holder roles and the holder gate end to end: `python -m bot run` against the Discord emulator
and anvil. A role follows what a member holds (custody, then their own wallet), through a
mint, a withdrawal and a transfer away; a holders-only drop admits only holders."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.app import open_runtime
from bot.chain.contract import Collection
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.drops.gates.holder import HolderGate
from bot.env_values import Secret
from bot.holders.roles import MAX_ATTEMPTS, NotAMember, holder_roles
from bot.runtime import Runtime
from db.models import PlatformUser
from tests.emulators.discord import EPHEMERAL, DiscordServer, Interaction
from tests.emulators.telegram import TelegramServer
from tests.support import COLLECTOR, FEES, Inbox, answered, png, rpc, submission
from tests.test_discord import claim, create_drop, discord_bot, link_wallet
from tests.test_telegram import link_wallet as link_telegram_wallet
from tests.test_telegram import polling_bot, readable

pytestmark = pytest.mark.db
ELSEWHERE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil dev account 4


def said(interaction: Interaction) -> str:
    texts = [c["data"].get("content", "") for c in interaction.callbacks if c["type"] == 4]
    texts += [m["content"] for m in interaction.followups if m["flags"] & EPHEMERAL]
    if interaction.original and interaction.original.get("content"):
        texts.append(interaction.original["content"])
    return "\n".join(texts)


async def admin(discord: DiscordServer, member: str, name: str, **options: Any) -> str:
    """`member` runs /admin NAME with `options` (a role option by its ID); what they saw."""
    types = {"role": 8, "min": 4}
    values = [{"name": k, "type": types.get(k, 3), "value": v} for k, v in options.items()]
    resolved = (
        {"roles": {options["role"]: discord.roles[options["role"]]}} if "role" in options else {}
    )
    command = await discord.slash(
        member, "admin", [{"name": name, "type": 1, "options": values}], **resolved
    )
    await discord.wait_for(lambda: said(command))
    return said(command)


async def test_a_holder_role_follows_a_mint_a_withdrawal_and_a_transfer_away(
    discord: DiscordServer,
    bot_env: dict[str, str],
    collection: Collection,
    w3: AsyncWeb3,
    minter: HotWallet,
    tmp_path: Path,
) -> None:
    holders = discord.add_role("Holders")
    ana = discord.add_member("Ana", admin=True)
    ada, max_ = discord.add_member("Ada"), discord.add_member("Max")
    changes = discord.member_roles.role_changes
    # Only transfers and the bot's own confirmations may move the role: no full re-check.
    env = {**bot_env, "HOLDER_RECHECK_S": "3600"}
    async with discord_bot(discord, env, tmp_path / "bot.log"):
        told = await admin(discord, ana, "holder-role", role=holders)
        assert (
            f"<@&{holders}> now goes to holders of a token of {collection.address.lower()}" in told
        )
        # The emulator's bot lacks Manage Roles (its roles change anyway): the admin is told.
        assert "I lack the Manage Roles permission here" in told
        assert "Only members with Manage Server" in await admin(discord, max_, "holder-roles")
        assert f"<@&{holders}>: holders of a token of" in await admin(discord, ana, "holder-roles")

        # The holder gate alone: a drop for holders of the community's collection.
        drop = await create_drop(discord, ana, "For holders", holders_of="ours")
        assert "For holders is for holders of a token of" in await claim(discord, ada, drop)

        # A mint into custody for Ada: the role comes once the mint is confirmed.
        minted = await discord.mint(ada, png(31), "Mine")
        await discord.wait_for(lambda: holders in discord.members[ada].role_ids, timeout=60)
        assert minted.original is not None
        assert "You claimed **For holders** #1" in await claim(discord, ada, drop)
        assert holders not in discord.members[max_].role_ids
        # Max's own wallet holds one: the role comes once he proves the wallet is his.
        maxs_wallet = Account.create()
        await collection.mint(minter, maxs_wallet.address, 7, FEES)
        await link_wallet(discord, max_, maxs_wallet)
        await discord.wait_for(lambda: holders in discord.members[max_].role_ids)
        await discord.wait_for(
            lambda: any(
                f["content"].startswith("Your edition is minted")
                for i in discord.interactions.values()
                for f in i.followups
            ),
            timeout=60,
        )

        # Withdrawn to her verified wallet: she still holds, nothing changes.
        await link_wallet(discord, ada)
        withdrawal = await discord.slash(ada, "withdraw", [])
        await discord.wait_for(
            lambda: "delivered" in str((withdrawal.original or {}).get("content")), timeout=60
        )
        # Then her wallet sends the token away: the role goes.
        wallet = HotWallet(Secret("0x" + bytes(COLLECTOR.key).hex()))
        await rpc(w3, "anvil_setBalance", wallet.address, hex(10**18))
        tokens = await owned_tokens(collection, wallet.address)
        assert len(tokens) == 2  # her mint and her claim
        for token_id in tokens:
            data = collection.encode_transfer(wallet.address, ELSEWHERE, token_id)
            await send_and_confirm(
                w3, wallet, {"to": collection.address, "data": "0x" + data.hex()}, FEES
            )
            if token_id == tokens[0]:  # one left: she still holds
                assert holders in discord.members[ada].role_ids
        await discord.wait_for(lambda: holders not in discord.members[ada].role_ids, timeout=60)
        assert [(user, present) for _, user, _, present in changes] == [
            (ada, True),
            (max_, True),
            (ada, False),
        ]

        stats = await admin(discord, ana, "stats")
        assert "Holder rules: 1; members holding their role: 1" in stats
        assert "Holder role changes: grant 2, remove 1" in stats


async def owned_tokens(collection: Collection, owner: str) -> list[int]:
    """The tokens sent to `owner` (from the collection's Transfer events)."""
    events = await collection.contract.events.Transfer().get_logs(
        from_block=0, argument_filters={"to": owner}
    )
    return [int(e.args["id"]) for e in events]


async def test_a_holders_only_chat_approves_holders_and_declines_the_others(
    telegram: TelegramServer,
    bot_env: dict[str, str],
    collection: Collection,
    minter: HotWallet,
    tmp_path: Path,
) -> None:
    ana, ada, max_ = telegram.user("Ana"), telegram.user("Ada"), telegram.user("Max")
    lounge = telegram.group("Holders lounge", admins=[ana])
    await collection.mint(minter, COLLECTOR.address, 5, FEES)  # Ada's wallet holds one
    async with polling_bot(telegram, bot_env, tmp_path / "bot.log"):
        await link_telegram_wallet(telegram, telegram.private(ada), ada)
        refused = telegram.send_text(lounge, max_, "/holders_only")
        await telegram.wait_for(lambda: telegram.replies_to(refused))
        assert "Only this chat's administrators" in readable(telegram.replies_to(refused)[0])
        made = telegram.send_text(lounge, ana, "/holders_only 1 ours")
        await telegram.wait_for(lambda: telegram.replies_to(made))
        told = readable(telegram.replies_to(made)[0])
        assert f"now for holders of a token of {collection.address.lower()}" in told
        (link,) = telegram.join_requests.invite_links
        assert link["creates_join_request"] and link["invite_link"] in told

        asked = telegram.join_requests.request_to_join(lounge, ada)
        telegram.join_requests.request_to_join(lounge, max_)
        await telegram.wait_for(
            lambda: (
                telegram.join_requests.answer_of(lounge, ada) == "approved"
                and telegram.join_requests.answer_of(lounge, max_) == "declined"
            )
        )

        def privately(user: dict[str, Any]) -> list[str]:
            return [readable(m) for m in telegram.in_chat(telegram.private(user))]

        await telegram.wait_for(lambda: len(privately(max_)) == 1)
        await telegram.wait_for(
            lambda: any("Welcome to Holders lounge" in t for t in privately(ada))
        )
        assert "link yours with /wallet" in privately(max_)[0]
        # The same request delivered again: answered once, recorded once.
        telegram.deliver(asked)
        await telegram.wait_for(lambda: telegram.confirmed(asked))
        stats = telegram.send_text(lounge, ana, "/stats")
        await telegram.wait_for(lambda: telegram.replies_to(stats))
        assert "Holder role changes: approve 1, decline 1" in readable(
            telegram.replies_to(stats)[0]
        )
        assert len(telegram.join_requests.answers) == 2

        # A drop in the lounge for holders only: Ada holds, Max does not.
        telegram.send_photo(lounge, ana, [png(41)], "/drop_create Lounge pass | 5")
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(lounge)))
        post = next(m for m in telegram.in_chat(lounge) if m.get("photo"))
        drop_id = int(re.findall(r"Drop #(\d+)", str(post["caption"]))[0])
        for text, answer in (
            (f"/drop_holders {drop_id} two", "'two' is not a contract address"),
            ("/drop_holders", "Usage: /drop_holders ID"),
            (f"/drop_holders {drop_id} 1 ours", f"Drop #{drop_id} is now for holders of a"),
        ):
            asked = telegram.send_text(lounge, ana, text)
            await telegram.wait_for(lambda asked=asked: telegram.replies_to(asked))
            assert answer in readable(telegram.replies_to(asked)[0])
        asked = telegram.send_text(lounge, max_, f"/drop_holders {drop_id} off")
        await telegram.wait_for(lambda: telegram.replies_to(asked))
        assert "Only this chat's administrators" in readable(telegram.replies_to(asked)[0])

        async def press(user: dict[str, Any]) -> str:
            query = telegram.press(user, post, f"drop:claim:{drop_id}")
            await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
            return str(telegram.callback_answers[query["id"]]["text"])

        assert "Lounge pass is for holders of a token of" in await press(ana)  # holds none
        assert "You claimed Lounge pass #1 of 5" in await press(ada)


class Keeper:
    """A platform's side of roles that fails for whom the test says."""

    def __init__(self, failing: dict[str, Exception]) -> None:
        self.failing = failing
        self.has: dict[str, bool] = {}
        self.calls: Counter[str] = Counter()

    async def set_role(self, community_id: str, user_id: str, role_id: str, present: bool) -> None:
        self.calls[user_id] += 1
        if user_id in self.failing:
            raise self.failing[user_id]
        self.has[user_id] = present


async def test_one_members_failure_is_theirs_alone_and_a_restart_tells_what_was_left(
    bot_env: dict[str, str], collection: Collection, minter: HotWallet
) -> None:
    settings = load_settings(bot_env)
    wallets = {user: Account.create() for user in ("ada", "flaky", "gone", "max")}
    keeper = Keeper({"flaky": RuntimeError("503 Service Unavailable"), "gone": NotAMember()})
    async with open_runtime(settings, start=False) as runtime:
        async with runtime.sessions.begin() as session:
            session.add_all(
                PlatformUser(platform="test", user_id=u, address=a.address, address_verified=True)
                for u, a in wallets.items()
            )
        for n, user in enumerate(("ada", "flaky", "gone"), start=1):
            await collection.mint(minter, wallets[user].address, n, FEES)
        roles = runtime.holders
        gate = HolderGate(collection.address.lower(), None, 1)
        rule, _ = await roles.rules.set("test", "g", "role", gate, "admin")
        roles.keepers["test"] = keeper  # its loop not started: the passes are the test's
        assert await roles.decide(rule, None, "rule") == 3
        assert await roles.apply_pending() == 1
        assert keeper.has == {"ada": True}
        for _ in range(MAX_ATTEMPTS + 2):  # the failing member is asked a bounded number of times
            await roles.apply_pending()
        assert keeper.calls == {"ada": 1, "flaky": MAX_ATTEMPTS, "gone": 1}
        stats = await roles.rules.stats("test", "g")
        assert (stats.changes, stats.holding, stats.pending) == ({"grant": 1}, 3, 1)

        # A restart: the decisions are in the database; its first full check changes none of
        # them and tells the platform only what it had not taken, and asks once more about
        # the member who was not in the server (who has joined since).
        again = holder_roles(settings, runtime.chain, runtime.sessions, [], runtime.wallets)
        healed = Keeper({})
        again.keepers["test"] = healed
        await again.recheck_all()
        assert healed.has == {"flaky": True, "gone": True}
        assert (await again.rules.stats("test", "g")).changes == {"grant": 3}


async def test_custody_is_followed_from_the_logs_where_another_process_confirms(
    bot: tuple[Runtime, Inbox], collection: Collection
) -> None:
    """Roles run where the chat platforms do; with `run --role`, the bot's confirmations
    happen in the pipeline process. A mint into custody still brings the role: the Transfer
    log names its token, and the token its member once the database records the mint."""
    runtime, inbox = bot
    chat_side = holder_roles(runtime.settings, runtime.chain, runtime.sessions, [], runtime.wallets)
    keeper = Keeper({})
    chat_side.keepers["test"] = keeper  # its loop not started: the passes are the test's
    gate = HolderGate(collection.address.lower(), None, 1)
    await chat_side.rules.set("test", "chat", "role", gate, "admin")
    await chat_side.follow_once()  # the first pass starts reading at the head
    await runtime.service.submit(submission("601"))
    assert (await answered(runtime, inbox, "test:chat:601")).custodial
    await chat_side.follow_once()
    assert keeper.has == {"u1": True}
