"""Telegram drops: /drop_create (chat administrators), the announcement with its inline Claim
button and live counter, /drops and /drop_close.

Thin, like the rest of `bot/telegram/handlers/`: the core (`bot/drops/`) decides every
claim; this module reads what Telegram knows (is the claimer a member of the chat) and
renders. The outcome of a claim reaches the claimer through `TelegramBot.tell_claimer`.

Replies are in the asker's language (`TelegramBot._dispatch` sets it from their
`language_code`); a claim records it in its `reply_to` for the answer after minting. The
announcement and its Claim button are read by the whole chat: English (see
`drop_announcement_html`).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import PhotoSize, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.drops import DropKind, gates_for, listing_line
from bot.drops.allowlists import Allowlists
from bot.errors import RequestRejected
from bot.i18n import N_, _
from bot.live_counters import LiveCounters
from bot.ports import Claimant
from bot.telegram.files import NO_DOWNLOAD, download, media_of
from bot.telegram.handlers.allowlists import fetch_list, list_document
from bot.telegram.members import is_member
from bot.telegram.render import claim_keyboard, drop_announcement_html, esc, reply
from db.models import utcnow

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CREATE_COMMAND = re.compile(r"^/drop_create(?:@\w+)?(?:\s+|$)", re.IGNORECASE)
CLAIM_DATA = re.compile(r"^drop:claim:(\d+)$")
# Translated where it is sent: `_(CREATE_USAGE)`.
CREATE_USAGE = N_(
    "Send the artwork with the caption <code>/drop_create Name | supply | description</code>, "
    "or reply that to an image. Supply is a number or <code>open</code>, optionally followed "
    "by <code>numbered</code> (a token per claim) or <code>edition</code> (one artwork, a "
    "copy per claim; the default for open drops); each member may claim one; only this "
    "chat's members can claim."
)
Context = ContextTypes.DEFAULT_TYPE


def parse_create(text: str) -> tuple[str, int | None, DropKind | None, str] | None:
    """`/drop_create Name | supply [kind] | description` -> (name, supply or None, the kind
    if given, description)."""
    parts = [p.strip() for p in CREATE_COMMAND.sub("", text, count=1).split("|")]
    if len(parts) < 2 or not parts[0]:
        return None
    words = parts[1].lower().split()
    kinds = {k.value: k for k in DropKind}
    if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1] not in kinds):
        return None
    kind = kinds[words[1]] if len(words) == 2 else None
    if words[0] == "open":
        supply = None
    elif words[0].isdecimal() and int(words[0]) > 0:
        supply = int(words[0])
    else:
        return None
    return parts[0], supply, kind, " | ".join(parts[2:])


class DropHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.drops = bot.runtime.drops
        turns = bot.runtime.turns
        self.counters = LiveCounters(
            self._show_count,
            turn=lambda drop_id, every: turns.take(f"drop-counter:{PLATFORM}:{drop_id}", every),
        )

    def register(self, new: filters.BaseFilter) -> None:
        add = self.bot.app.add_handler
        add(MessageHandler(new & filters.CaptionRegex(CREATE_COMMAND), self.create))
        add(CommandHandler("drop_create", self.create, filters=new))
        add(CommandHandler("drops", self.list_drops, filters=new))
        add(CommandHandler("drop_close", self.close, filters=new))
        add(CallbackQueryHandler(self.claim, pattern=CLAIM_DATA))

    async def create(self, update: Update, context: Context) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, _("Drops are made in groups, by the group's administrators."))
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, _("Only this chat's administrators can create drops."))
            return
        source = message if media_of(message) is not None else message.reply_to_message
        image = media_of(source)  # its bytes decide whether it is a picture
        parsed = parse_create(message.caption or message.text or "")
        if image is None or source is None or parsed is None:
            await reply(message, _(CREATE_USAGE))
            return
        name, supply, kind, description = parsed
        # The image's message replying to a list file: the drop's allowlist.
        listed = list_document(message.reply_to_message) if source is message else None
        try:
            data = await download(self.bot, image)
            drop, allowlist = await Allowlists(self.bot.runtime.sessions).create_drop(
                self.drops,
                allowlist=await fetch_list(self.bot, listed),
                platform=PLATFORM,
                community_id=str(chat.id),
                created_by=str(user.id),
                name=name,
                description=description,
                image=data,
                supply=supply,
                gates=gates_for(chat_member=True),
                kind=kind,
            )
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        except TelegramError as err:
            log.info("telegram: could not fetch a drop's artwork: %s", err)
            await reply(message, _(NO_DOWNLOAD))
            return
        # A photo is re-sent by its ID; any other file's checked bytes go up as a photo, which
        # Telegram would refuse to make of a document's ID.
        announcement = await self.bot.app.bot.send_photo(
            chat.id,
            image.file_id if isinstance(image, PhotoSize) else data,
            caption=drop_announcement_html(drop),
            parse_mode=ParseMode.HTML,
            reply_markup=claim_keyboard(drop),
        )
        await self.drops.remember_announcement(
            drop.id, PLATFORM, str(announcement.chat_id), str(announcement.message_id)
        )
        if allowlist is not None:
            await reply(message, esc(allowlist.report()))

    async def claim(self, update: Update, context: Context) -> None:
        query, user = update.callback_query, update.effective_user
        assert query is not None and user is not None and query.data is not None
        match = CLAIM_DATA.match(query.data)
        assert match is not None
        drop_id = int(match[1])
        message = query.message
        chat_id = message.chat.id if message is not None else None
        try:
            drop = await self.drops.info(drop_id)
            member = await self.bot.app.bot.get_chat_member(int(drop.community_id), user.id)
            claim = await self.drops.claim(
                drop_id,
                Claimant(PLATFORM, str(user.id), is_member=is_member(member)),
                user.full_name,
                # The answer after minting is sent from the pipeline: in this language.
                reply_to={
                    "chat_id": chat_id or int(drop.community_id),
                    "locale": user.language_code,
                },
                source=query.id,
            )
        except RequestRejected as err:
            await query.answer(err.text()[:200], show_alert=True)
            return
        self.counters.touch(drop_id)
        told = _("You claimed {name} {edition}! Minting it now.").format(
            name=drop.name, edition=claim.edition_text
        )
        await query.answer(told[:200])

    async def list_drops(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        drops = await self.drops.list_drops(PLATFORM, str(chat.id))
        now = utcnow()
        lines = [listing_line(d, now, name=lambda n: f"<b>{esc(n)}</b>") for d in drops[:20]]
        await reply(message, "\n".join(lines) or _("No drops here yet."))

    async def close(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, _("Only this chat's administrators can close drops."))
            return
        args = context.args or []
        if len(args) != 1 or not args[0].lstrip("#").isdecimal():
            await reply(message, _("Usage: <code>/drop_close ID</code> (see /drops)"))
            return
        drop_id = int(args[0].lstrip("#"))
        try:
            await self.drops.community_drop(drop_id, PLATFORM, str(chat.id))
            drop = await self.drops.close(drop_id)
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        self.counters.touch(drop_id)
        await reply(
            message,
            _("Drop #{id} is closed at {claimed} claimed.").format(
                id=drop.id, claimed=drop.claimed
            ),
        )

    async def _show_count(self, drop_id: int) -> None:
        drop = await self.drops.info(drop_id)
        for chat_id, message_id in await self.drops.announcements(drop_id, PLATFORM):
            try:
                await self.bot.app.bot.edit_message_caption(
                    chat_id=int(chat_id),
                    message_id=int(message_id),
                    caption=drop_announcement_html(drop),
                    parse_mode=ParseMode.HTML,
                    reply_markup=claim_keyboard(drop),
                )
            except BadRequest as err:
                if "not modified" not in err.message.lower():
                    raise
