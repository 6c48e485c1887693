"""Telegram /leaderboard and /gallery: a group's top creators and collectors, and its NFTs
(or, replied to a member's message, that member's), in the asking member's language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.i18n import _
from bot.telegram.render import gallery_html, leaderboard_html, reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

Context = ContextTypes.DEFAULT_TYPE


class EngagementHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot

    def register(self, new: filters.BaseFilter) -> None:
        add = self.bot.app.add_handler
        add(CommandHandler("leaderboard", self.leaderboard, filters=new))
        add(CommandHandler("gallery", self.gallery, filters=new))

    async def leaderboard(self, update: Update, context: Context) -> None:
        """/leaderboard: this group's top creators and collectors."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, _("Leaderboards are per group: ask in one."))
            return
        engagement = self.bot.runtime.engagement
        board = await engagement.leaderboard("telegram", str(chat.id))
        await reply(
            message, leaderboard_html(board, engagement.gallery_url("telegram", str(chat.id)))
        )

    async def gallery(self, update: Update, context: Context) -> None:
        """/gallery: the group's NFTs; as a reply to someone's message, that member's."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, _("Galleries are per group: ask in one (/mynfts lists yours)."))
            return
        engagement = self.bot.runtime.engagement
        replied = message.reply_to_message
        member = replied.from_user if replied is not None else None
        member_id = str(member.id) if member is not None and not member.is_bot else None
        page = await engagement.gallery("telegram", str(chat.id), member_id, limit=10)
        url = engagement.gallery_url("telegram", str(chat.id))
        if member_id is not None:
            url += f"?member={member_id}"
        await reply(message, gallery_html(page, url, engagement.token_url, member))
