"""Codeword drops from Discord and Telegram, through the real discord.py and
python-telegram-bot stacks, the emulators and anvil: admins get their codes as a file only
they see, members claim with /claim or the code form (Discord) and in a private message
(Telegram), used, wrong and expired codes say so, wrong codes lock a member out, and a claim
delivered again claims once."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import open_runtime
from bot.config import load_settings
from bot.drops import gates_for
from bot.drops.code_tries import PER_MEMBER
from bot.runtime import Runtime
from db.models import InboxUpdate
from tests.emulators.discord import DiscordServer
from tests.emulators.discord.recording import Interaction
from tests.emulators.telegram import TelegramServer
from tests.emulators.telegram.documents import document_data
from tests.support import png, serving
from tests.test_discord import create_drop


async def new_drop(env: dict[str, str], platform: str, community: str, **more: Any) -> int:
    async with open_runtime(load_settings(env), start=False) as runtime:
        made = await runtime.drops.create_drop(
            platform=platform,
            community_id=community,
            created_by="admin",
            name="Harbour",
            image=png(31),
            supply=10,
            **more,
        )
        return made.id


async def close_drop(env: dict[str, str], drop_id: int) -> None:
    async with open_runtime(load_settings(env), start=False) as runtime:
        await runtime.drops.close(drop_id)


def codes_in(table: bytes) -> list[str]:
    return [row["code"] for row in csv.DictReader(io.StringIO(table.decode()))]


# ----- Discord ---------------------------------------------------------------------------------


def buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


async def answer(discord: DiscordServer, interaction: Interaction) -> str:
    """What the member alone was shown."""
    await discord.wait_for(lambda: interaction.original and interaction.original.get("content"))
    assert interaction.original is not None
    return str(interaction.original["content"])


async def claim_slash(discord: DiscordServer, user: str, code: str, drop: int | None = None):
    options: list[dict[str, Any]] = [{"name": "code", "type": 3, "value": code}]
    if drop is not None:
        options.append({"name": "drop", "type": 4, "value": drop})
    return await discord.slash(user, "claim", options)


@pytest.mark.db
async def test_codes_on_discord_by_form_and_by_claim_command(
    discord: DiscordServer, bot_env: dict[str, str]
) -> None:
    admin = discord.add_member("Ana", admin=True)
    ada, max_, eve = (discord.add_member(name) for name in ("Ada", "Max", "Eve"))
    env = {**bot_env, **discord.env()}

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        assert {"claim", "codes"} <= set(discord.commands)
        announcement = await create_drop(discord, admin, "Harbour", supply=10, members_only=True)
        assert buttons(announcement) == ["drop:claim:1"]
        drop_id = 1
        subcommand = [{"name": "count", "type": 4, "value": 3}, {"name": "drop", "type": 4}]
        subcommand[1]["value"] = drop_id
        refused = await discord.slash(
            ada, "codes", [{"name": "make", "type": 1, "options": subcommand}]
        )
        await discord.wait_for(lambda: refused.callbacks)
        assert "Manage Server" in refused.callbacks[0]["data"]["content"]
        made = await discord.slash(
            admin, "codes", [{"name": "make", "type": 1, "options": subcommand}]
        )
        await discord.wait_for(lambda: made.original and made.original.get("uploads"))
        assert made.original is not None and made.callbacks[0]["data"]["flags"] & 64  # only Ana
        codes = codes_in(made.original["uploads"][f"drop-{drop_id}-codes.csv"])
        assert len(codes) == 3
        # The announcement gains the code button.
        await discord.wait_for(lambda: len(buttons(announcement)) == 2)
        assert buttons(announcement) == ["drop:claim:1", "drop:code:1"]

        # The Claim button explains; the code button opens a form only the member sees.
        pressed = await discord.click(ada, announcement, f"drop:claim:{drop_id}")
        assert await answer(discord, pressed) == (
            f"Harbour is claimed with a code: send /claim {drop_id} YOURCODE to the bot privately."
        )
        opened = await discord.click(ada, announcement, f"drop:code:{drop_id}")
        await discord.wait_for(lambda: opened.callbacks)
        assert opened.callbacks[0]["type"] == 9  # a modal
        form_id = opened.callbacks[0]["data"]["custom_id"]
        submitted = await discord.submit_modal(ada, form_id, {"code": codes[0].lower()})
        assert (
            await answer(discord, submitted) == "You claimed **Harbour** #1 of 10! Minting it now."
        )
        # /claim (the only open codeword drop here: no number needed), used and wrong codes.
        used = await claim_slash(discord, max_, codes[0])
        assert await answer(discord, used) == "This code was already used."
        mine = await claim_slash(discord, max_, codes[1], drop_id)
        assert await answer(discord, mine) == "You claimed **Harbour** #2 of 10! Minting it now."
        await discord.replay(mine)  # the gateway delivers it again: nothing more is claimed
        # Ada may claim one: her second code is refused, and freed for someone else.
        second = await claim_slash(discord, ada, codes[2])
        assert await answer(discord, second) == (
            "You have claimed 1 of Harbour; the limit is 1 per member."
        )
        told = []
        for i in range(PER_MEMBER + 1):
            told.append(await answer(discord, await claim_slash(discord, eve, f"WRONG{i}")))
        assert told[0] == (
            f"That is not a code of Harbour. {PER_MEMBER - 1} more wrong codes and you wait "
            "an hour."
        )
        assert told[-1].startswith("Too many wrong codes: you can try again after")
        locked = await claim_slash(discord, eve, codes[2])
        assert (await answer(discord, locked)).startswith("Too many wrong codes")
        # Ada hears of her minted edition.
        await discord.wait_for(
            lambda: any(
                f["content"].startswith("Your edition is minted") for f in submitted.followups
            ),
            timeout=60,
        )
        # Nothing a member was shown repeats a code, and nothing went to the channel.
        shown = [
            str(i.original) + str(i.followups)
            for i in discord.interactions.values()
            if i is not made
        ]
        assert not [c for c in codes if any(c in s for s in shown)]
        assert discord.channel_messages == [announcement]  # the only message in the channel

    await close_drop(env, drop_id)
    identified = len(discord.identifies)
    async with serving(env):
        await discord.wait_for(lambda: len(discord.identifies) > identified)
        expired = await claim_slash(discord, max_, codes[2], drop_id)
        assert await answer(discord, expired) == "Harbour is over: its codes expired with it."
    async with open_runtime(load_settings(env), start=False) as runtime:
        assert (await runtime.drops.info(drop_id)).claimed == 2
        assert await codes_in_inbox(runtime, codes) == []


async def codes_in_inbox(runtime: Runtime, typed: list[str]) -> list[str]:
    """Which of `typed` the inbox's copies of updates still hold (they are taken out once
    acted on, so a copy of the database gives none away)."""
    async with runtime.sessions() as session:
        payloads = " ".join(await session.scalars(select(InboxUpdate.payload)))
    assert payloads, "the inbox holds the updates"
    return [t for t in typed if t.lower() in payloads.lower()]


# ----- Telegram --------------------------------------------------------------------------------


@pytest.mark.db
async def test_codes_on_telegram_in_private_messages(
    telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    ana, ada, max_ = telegram.user("Ana"), telegram.user("Ada"), telegram.user("Max")
    group = telegram.group("Art club", admins=[ana])
    env = {**bot_env, **telegram.env()}
    drop_id = await new_drop(env, "telegram", str(group["id"]), gates=gates_for(chat_member=True))

    async with serving(env):
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))
        # Codes go to the admin in private, once they have a private chat with the bot.
        assert "start a chat with @mintbot_test_bot" in await telegram.told(
            group, ana, f"/drop_codes {drop_id} 2"
        )
        await telegram.told(telegram.private(ana), ana, "/start")
        assert await telegram.told(telegram.private(ana), ana, f"/drop_word {drop_id} Lantern") == (
            f"Drop #{drop_id} is claimed with its secret word now."
        )
        assert await telegram.told(group, ana, f"/drop_codes {drop_id} 2") == (
            f"I sent you 2 codes for drop #{drop_id} in private."
        )
        (document,) = [m for m in telegram.in_chat(telegram.private(ana)) if "document" in m]
        codes = codes_in(document_data(telegram, document))
        assert len(codes) == 2

        # The drop's Claim button says how it is claimed.
        post = {"message_id": 9000, "date": 0, "chat": group, "text": "Harbour"}
        query = telegram.press(ada, post, f"drop:claim:{drop_id}")
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        assert telegram.callback_answers[query["id"]]["text"] == (
            f"Harbour is claimed with a code: send /claim {drop_id} YOURCODE to the bot privately."
        )
        # In the group, a code is not checked, and the member's message stays.
        in_group = await telegram.told(group, ada, f"/claim {drop_id} {codes[0]}")
        assert in_group.startswith("Codes are claimed in private: send /claim ID CODE to")
        assert not telegram.sent("deleteMessage")
        private = telegram.private(ada)
        assert await telegram.told(private, ada, f"/claim {drop_id} {codes[0]}") == (
            "You claimed Harbour #1 of 10! Minting it now."
        )
        # The same claim message again (as a new update): the same claim, said so.
        before = len(telegram.said(private))
        (message,) = [m for m in telegram.delivered if m.get("message", {}).get("chat") == private][
            -1:
        ]
        telegram.push({"message": message["message"]})
        await telegram.wait_for(lambda: len(telegram.said(private)) > before)
        assert telegram.said(private)[before] == (
            "This code was already used: it claimed Harbour #1 of 10 for you."
        )
        assert await telegram.told(telegram.private(max_), max_, f"/claim {codes[0]}") == (
            "This code was already used."
        )
        assert await telegram.told(telegram.private(max_), max_, "/claim 7777777") == (
            f"That is not a code of Harbour. {PER_MEMBER - 1} more wrong codes and you wait "
            "an hour."
        )
        await telegram.wait_for(
            lambda: any("Minted" in s for s in telegram.said(private)), timeout=60
        )
        await telegram.told(group, ana, f"/drop_close {drop_id}")
        late = f"/claim {drop_id} {codes[1]}"
        assert await telegram.told(telegram.private(max_), max_, late) == (
            "Harbour is over: its codes expired with it."
        )
    async with open_runtime(load_settings(env), start=False) as runtime:
        assert (await runtime.drops.info(drop_id)).claimed == 1
        assert await codes_in_inbox(runtime, [*codes, "Lantern"]) == []
