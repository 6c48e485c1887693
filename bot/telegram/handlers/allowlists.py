"""Telegram allowlists: a chat administrator sends a drop's list as a CSV file with the caption
`/drop_allowlist ID` (or replies that to the file) in the drop's group; it becomes the drop's
list, in place of any it had, even while the drop is open. `/drop_create` on an image that
replies to a list file makes the drop with that list (`list_document`, `fetch_list`).

Thin: the core (`bot.drops.allowlists`) reads the file whole, refuses it with its bad lines
named (nothing changes then), or makes it the drop's list; this module fetches the file and
renders the answer, in the admin's language (bad lines and their numbers included).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import Document, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from bot.drops.allowlists import Allowlists, check_size
from bot.errors import RequestRejected
from bot.i18n import N_, _
from bot.telegram.files import NO_DOWNLOAD, download
from bot.telegram.render import esc, reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

PLATFORM = "telegram"
ALLOWLIST_COMMAND = re.compile(r"^/drop_allowlist(?:@\w+)?(?:\s+|$)", re.IGNORECASE)
# Translated where it is sent: `_(USAGE)`.
USAGE = N_(
    "Send the drop's allowlist as a CSV file with the caption "
    "<code>/drop_allowlist ID</code> (see /drops), or reply that to the file. One entry a "
    "line: a member (<code>telegram:ID</code>, <code>discord:ID</code>) or a wallet address, "
    "then optionally how many editions it may claim (default 1). It replaces the drop's "
    "list; claims already made stay."
)
Context = ContextTypes.DEFAULT_TYPE
# What a list sent as a file is called or declared as (an image sent as a file is not one).
LIST_NAMES = (".csv", ".txt", ".tsv")
LIST_TYPES = ("text/csv", "text/plain", "text/tab-separated-values", "application/vnd.ms-excel")


def list_document(message: Message | None) -> Document | None:
    """The allowlist file `message` carries, if it carries a list rather than a picture."""
    document = message.document if message is not None else None
    if document is None:
        return None
    name, mime = (document.file_name or "").lower(), (document.mime_type or "").lower()
    return document if name.endswith(LIST_NAMES) or mime in LIST_TYPES else None


async def fetch_list(bot: TelegramBot, document: Document | None) -> bytes | None:
    """The list's bytes (None without one). Raises `AllowlistRefused` for a file larger than a
    list may be, `TelegramError` if Telegram would not hand it over."""
    if document is None:
        return None
    check_size(document.file_size)
    return await download(bot, document)


class AllowlistHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.allowlists = Allowlists(bot.runtime.sessions)

    def register(self, new: filters.BaseFilter) -> None:
        add = self.bot.app.add_handler
        add(MessageHandler(new & filters.CaptionRegex(ALLOWLIST_COMMAND), self.upload))
        add(CommandHandler("drop_allowlist", self.upload, filters=new))

    async def upload(self, update: Update, context: Context) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        if chat.type == ChatType.PRIVATE:
            await reply(
                message, _("Allowlists are set in the drop's group, by its administrators.")
            )
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, _("Only this chat's administrators can set a drop's allowlist."))
            return
        words = ALLOWLIST_COMMAND.sub("", message.caption or message.text or "", count=1).split()
        replied = message.reply_to_message
        document = message.document or (replied.document if replied is not None else None)
        if len(words) != 1 or not words[0].lstrip("#").isdecimal() or document is None:
            await reply(message, _(USAGE))
            return
        drop_id = int(words[0].lstrip("#"))
        try:
            await self.bot.runtime.drops.community_drop(drop_id, PLATFORM, str(chat.id))
            data = await fetch_list(self.bot, document)
            assert data is not None
            uploaded = await self.allowlists.replace(drop_id, data, by=str(user.id))
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        except TelegramError as err:
            log.info("telegram: could not fetch an allowlist: %s", err)
            await reply(message, _(NO_DOWNLOAD))
            return
        await reply(message, esc(uploaded.report()))
