"""Telegram raffles: /raffle_create (chat administrators), the announcement with its inline
Enter button, /enter ID, /raffle_close ID; and the raffles' voice on Telegram: the draw is
posted under the announcement, each entrant hears their outcome in a private message.

Thin: the core (`bot/drops/raffles.py`) decides who may enter (once per member) and draws.

Answers to a member or an administrator are in their language (`TelegramBot._dispatch` set
their `language_code`); an entrant's outcome in the language recorded with their entry
(`reply_to`'s "locale"); the announcement, its Enter button and the draw, which the whole
group reads, in English (`raffle_types.PUBLIC_LOCALE`).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, PhotoSize, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from bot.drops import gates_for
from bot.drops.raffle_types import Entry
from bot.errors import RequestRejected
from bot.i18n import N_, _
from bot.ports import Claimant
from bot.telegram.files import NO_DOWNLOAD, download, media_of
from bot.telegram.members import is_member
from bot.telegram.render import esc, reply
from db.models import utcnow

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CREATE_COMMAND = re.compile(r"^/raffle_create(?:@\w+)?(?:\s+|$)", re.IGNORECASE)
ENTER_DATA = re.compile(r"^raffle:enter:(\d+)$")
CREATE_USAGE = N_(
    "Send the artwork with the caption "
    "<code>/raffle_create Name | winners | hours | description</code>, or reply that to an "
    "image. Only this chat's members can enter; the winners are drawn when it closes."
)
Context = ContextTypes.DEFAULT_TYPE


def parse_create(text: str) -> tuple[str, int, float, str] | None:
    """`/raffle_create Name | winners | hours | description` -> its parts."""
    parts = [p.strip() for p in CREATE_COMMAND.sub("", text, count=1).split("|")]
    if len(parts) < 3 or not parts[0] or not parts[1].isdecimal():
        return None
    try:
        hours = float(parts[2])
    except ValueError:
        return None
    if not 0 < hours <= 8760 or int(parts[1]) < 1:
        return None
    return parts[0], int(parts[1]), hours, " | ".join(parts[3:])


def enter_keyboard(drop_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton("🎟 Enter", callback_data=f"raffle:enter:{drop_id}")
    return InlineKeyboardMarkup([[button]])


class TelegramRaffleVoice:
    """How the core's raffle outcomes are said on Telegram (`raffle_types.RaffleVoice`)."""

    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot

    async def announce_draw(self, drop_id: int, chat_id: str, message_id: str, text: str) -> None:
        await self.bot.app.bot.send_message(
            int(chat_id),
            esc(text),
            parse_mode=ParseMode.HTML,
            reply_to_message_id=int(message_id),
            allow_sending_without_reply=True,
        )
        # The announcement says the draw too, and loses its Enter button.
        await self.bot.app.bot.edit_message_caption(
            chat_id=int(chat_id),
            message_id=int(message_id),
            caption=f"🎟 {esc(text)}"[:1024],
            parse_mode=ParseMode.HTML,
            reply_markup=None,
        )

    async def tell_entrant(self, user_id: str, reply_to: dict[str, object], text: str) -> None:
        # Private only: Telegram refuses (Forbidden) a member who never started the bot;
        # they hear their outcome by asking /enter again.
        await self.bot.app.bot.send_message(int(user_id), esc(text), parse_mode=ParseMode.HTML)


class RaffleHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.raffles = bot.runtime.raffles
        self.raffles.speak_through(PLATFORM, TelegramRaffleVoice(bot))

    def register(self, new: filters.BaseFilter) -> None:
        add = self.bot.app.add_handler
        add(MessageHandler(new & filters.CaptionRegex(CREATE_COMMAND), self.create))
        add(CommandHandler("raffle_create", self.create, filters=new))
        add(CommandHandler("enter", self.enter_command, filters=new))
        add(CommandHandler("raffle_close", self.close, filters=new))
        add(CallbackQueryHandler(self.enter_button, pattern=ENTER_DATA))

    async def create(self, update: Update, context: Context) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, _("Raffles are made in groups, by the group's administrators."))
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, _("Only this chat's administrators can create raffles."))
            return
        source = message if media_of(message) is not None else message.reply_to_message
        image = media_of(source)
        parsed = parse_create(message.caption or message.text or "")
        if image is None or source is None or parsed is None:
            await reply(message, _(CREATE_USAGE))
            return
        name, winners, hours, description = parsed
        try:
            data = await download(self.bot, image)
            raffle = await self.raffles.create(
                platform=PLATFORM,
                community_id=str(chat.id),
                created_by=str(user.id),
                name=name,
                description=description,
                image=data,
                winners=winners,
                ends_at=utcnow() + timedelta(hours=hours),
                gates=gates_for(chat_member=True),
            )
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        except TelegramError as err:
            log.info("telegram: could not fetch a raffle's artwork: %s", err)
            await reply(message, _(NO_DOWNLOAD))
            return
        announcement = await self.bot.app.bot.send_photo(
            chat.id,
            image.file_id if isinstance(image, PhotoSize) else data,
            caption=f"🎟 {esc(raffle.open_text(utcnow()))}",
            parse_mode=ParseMode.HTML,
            reply_markup=enter_keyboard(raffle.drop.id),
        )
        await self.raffles.drops.remember_announcement(
            raffle.drop.id, PLATFORM, str(announcement.chat_id), str(announcement.message_id)
        )

    async def _enter(self, update: Update, drop_id: int, chat_id: int | None) -> Entry:
        user = update.effective_user
        assert user is not None
        drop = await self.raffles.drops.info(drop_id)
        member = await self.bot.app.bot.get_chat_member(int(drop.community_id), user.id)
        return await self.raffles.enter(
            drop_id,
            Claimant(PLATFORM, str(user.id), is_member=is_member(member)),
            user.full_name,
            # The draw tells them their outcome later: in this language.
            reply_to={"chat_id": chat_id or int(drop.community_id), "locale": user.language_code},
        )

    async def enter_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        match = ENTER_DATA.match(query.data)
        assert match is not None
        chat_id = query.message.chat.id if query.message is not None else None
        try:
            entered = await self._enter(update, int(match[1]), chat_id)
        except RequestRejected as err:
            await query.answer(err.text()[:200], show_alert=True)
            return
        await query.answer(entered.text()[:200], show_alert=True)

    async def enter_command(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        args = context.args or []
        if len(args) != 1 or not args[0].lstrip("#").isdecimal():
            await reply(message, _("Usage: <code>/enter ID</code> (the raffle's number)"))
            return
        try:
            entered = await self._enter(update, int(args[0].lstrip("#")), chat.id)
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        await reply(message, esc(entered.text()))

    async def close(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, _("Only this chat's administrators can close raffles."))
            return
        args = context.args or []
        if len(args) != 1 or not args[0].lstrip("#").isdecimal():
            await reply(message, _("Usage: <code>/raffle_close ID</code>"))
            return
        drop_id = int(args[0].lstrip("#"))
        try:
            await self.raffles.drops.community_drop(drop_id, PLATFORM, str(chat.id))
            raffle = await self.raffles.close_entries(drop_id)
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        await reply(message, esc(raffle.closed_text()))
