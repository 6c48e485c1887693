"""Allowlists through the real discord.py and python-telegram-bot stacks, against the emulators:
an admin uploads the list (/drop create's option and /drop allowlist on Discord, a document
captioned /drop_allowlist ID on Telegram), bad lines come back by number and change nothing,
members on the list claim and others are told why not, and the list is replaced while the
drop is open."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.emulators.discord import DiscordServer, Interaction
from tests.emulators.telegram import TelegramServer, plain_text
from tests.support import png, serving

pytestmark = pytest.mark.db
BAD_LIST = b"member,allowance\ndiscord:1\ndiscord:ada\n\ndiscord:2,many\n"


async def answer(discord: DiscordServer, interaction: Interaction) -> str:
    """What the user was told: the reply, or what filled the deferred command's placeholder."""

    def told() -> str | None:
        if interaction.original is not None and interaction.original.get("content"):
            return str(interaction.original["content"])
        replies = [c for c in interaction.callbacks if c["type"] == 4]
        return str(replies[0]["data"]["content"]) if replies else None

    await discord.wait_for(told)
    return str(told())


def told(message: dict[str, Any]) -> str:
    """A Telegram message as its reader sees it."""
    return plain_text(message["text"], message.get("parse_mode"))


async def drop_command(
    discord: DiscordServer,
    user: str,
    sub: str,
    files: dict[str, bytes],
    *,
    locale: str = "en-US",
    **values: Any,
) -> Interaction:
    """`user` runs /drop `sub` with these attachments and options, their Discord in `locale`."""
    attachments = {
        name: discord.add_attachment(data, f"{name}.csv", content_type="text/csv")
        if name != "image"
        else discord.add_attachment(data)
        for name, data in files.items()
    }
    options = [{"name": k, "type": 11, "value": a["id"]} for k, a in attachments.items()]
    options += [{"name": k, "type": 4, "value": v} for k, v in values.items()]
    return await discord.slash(
        user,
        "drop",
        [{"name": sub, "type": 1, "options": options}],
        attachments={a["id"]: a for a in attachments.values()},
        locale=locale,
    )


async def test_allowlists_from_discord_and_telegram(
    discord: DiscordServer, telegram: TelegramServer, bot_env: dict[str, str]
) -> None:
    admin = discord.add_member("Ana", admin=True)
    guest, late, stranger = (discord.add_member(n) for n in ("Ada", "Lea", "Max"))
    ana, ada, max_ = telegram.user("Ana"), telegram.user("Ada"), telegram.user("Max")
    group = telegram.group("Art club", admins=[ana])
    env = {**bot_env, **discord.env(), **telegram.env()}

    async def click(member: str, announcement: dict[str, Any]) -> str:
        custom_id = announcement["components"][0]["components"][0]["custom_id"]
        pressed = await discord.click(member, announcement, custom_id)
        await discord.wait_for(lambda: pressed.original and pressed.original.get("content"))
        assert pressed.original is not None
        return str(pressed.original["content"])

    async def press(user: dict[str, Any], announcement: dict[str, Any]) -> str:
        data = announcement["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        query = telegram.press(user, announcement, data)
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return str(telegram.callback_answers[query["id"]]["text"])

    async def upload(sender: dict[str, Any], data: bytes, caption: str) -> str:
        sent = telegram.send_document(group, sender, data, "text/csv", caption, file_name="l.csv")
        await telegram.wait_for(lambda: telegram.replies_to(sent))
        return told(telegram.replies_to(sent)[0])

    async with serving(env):
        await discord.wait_for(lambda: discord.synced.is_set() and discord.identified.is_set())
        await telegram.wait_for(lambda: telegram.sent("getUpdates"))

        # Discord: /drop create with its allowlist; a bad one makes no drop.
        listed = f"discord:{guest},2\n".encode()
        files = {"image": png(900), "allowlist": listed}
        create = await drop_command(discord, admin, "create", files, supply=5)
        await discord.wait_for(lambda: create.callbacks)
        (modal,) = create.callbacks
        assert modal["type"] == 9, modal  # a modal for the text
        before = len(discord.channel_messages)
        made = await discord.submit_modal(
            admin, modal["data"]["custom_id"], {"name": "Guests", "description": ""}
        )
        await discord.wait_for(lambda: len(discord.channel_messages) > before)
        announcement = discord.channel_messages[-1]
        drop_id = int(re.findall(r"Drop #(\d+)", await answer(discord, made))[0])
        assert (await answer(discord, made)).endswith(
            f"Drop #{drop_id} is limited to its allowlist: 1 entry (1 member, 0 addresses)."
        )
        assert "You claimed **Guests** #1 of 5" in await click(guest, announcement)
        assert "#2 of 5" in await click(guest, announcement)  # an allowance of 2
        assert await click(stranger, announcement) == (
            "Guests is for the members on its allowlist; you are not on it."
        )

        # /drop allowlist: admins only; bad lines by number, and nothing changes.
        refused = await drop_command(discord, late, "allowlist", {"file": listed}, drop=drop_id)
        assert "Only members with Manage Server" in await answer(discord, refused)
        bad = await drop_command(discord, admin, "allowlist", {"file": BAD_LIST}, drop=drop_id)
        assert (await answer(discord, bad)).splitlines() == [
            "The allowlist was refused (2 bad lines); nothing was changed. Fix the file and "
            "upload all of it again.",
            "line 3: 'discord:ada': a discord member is named by their numeric user ID",
            "line 5: the allowance 'many' is not a whole number from 1 to 1000",
        ]
        assert "not on it" in await click(late, announcement)
        # Replaced while open: the new list counts, claims made stay.
        new_list = f"discord:{late}\ndiscord:{guest}\n".encode()
        good = await drop_command(discord, admin, "allowlist", {"file": new_list}, drop=drop_id)
        assert await answer(discord, good) == (
            f"Drop #{drop_id}'s allowlist is replaced: 2 entries (2 members, 0 addresses). "
            "Claims already made stay."
        )
        assert "#3 of 5" in await click(late, announcement)
        assert "You have claimed 2 of Guests" in await click(guest, announcement)

        # Telegram: /drop_create on the artwork, replying to the list sent as a file.
        first_list = telegram.send_document(
            group, ana, f"telegram:{ada['id']}\n".encode(), "text/csv", file_name="list.csv"
        )
        photo = [{**telegram.add_file(png(901)), "width": 90, "height": 90}]
        create_pier = telegram.send(
            group,
            ana,
            photo=photo,
            reply_to_message=first_list,
            **telegram.caption("/drop_create Pier | 5"),
        )
        await telegram.wait_for(lambda: telegram.replies_to(create_pier))
        post = next(m for m in telegram.in_chat(group) if m.get("photo"))
        pier = int(re.findall(r"Drop #(\d+)", plain_text(post["caption"], "HTML"))[0])
        assert told(telegram.replies_to(create_pier)[0]) == (
            f"Drop #{pier} is limited to its allowlist: 1 entry (1 member, 0 addresses)."
        )
        assert "#1 of 5" in await press(ada, post)
        assert await press(max_, post) == (
            "Pier is for the members on its allowlist; you are not on it."
        )

        # /drop_allowlist ID as a document's caption, from a chat admin.
        assert "Only this chat's administrators" in await upload(
            max_, b"telegram:1\n", f"/drop_allowlist {pier}"
        )
        bad_lines = f"telegram:{max_['id']}\ntelegram:-5\n".encode()
        assert await upload(ana, bad_lines, f"/drop_allowlist {pier}") == (
            "The allowlist was refused (1 bad line); nothing was changed. Fix the file and "
            "upload all of it again.\n"
            "line 2: 'telegram:-5': a telegram member is named by their numeric user ID"
        )
        assert "not on it" in await press(max_, post)
        assert (await upload(ana, b"x", "/drop_allowlist")).startswith(
            "Send the drop's allowlist as a CSV file with the caption /drop_allowlist ID"
        )
        # Or the command answering the file, sent before without a caption.
        document = telegram.send_document(
            group, ana, f"telegram:{max_['id']}\n".encode(), "text/csv", file_name="new.csv"
        )
        command = telegram.send_text(group, ana, f"/drop_allowlist {pier}", reply_to=document)
        await telegram.wait_for(lambda: telegram.replies_to(command))
        assert told(telegram.replies_to(command)[0]) == (
            f"Drop #{pier}'s allowlist is replaced: 1 entry (1 member, 0 addresses). "
            "Claims already made stay."
        )
        assert "#2 of 5" in await press(max_, post)
        assert "not on it" in await press(ada, post)
