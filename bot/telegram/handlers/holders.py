"""Telegram holders-only chats: /holders_only (a chat's administrators) makes the chat one
that holders join, and answers with an invite link that asks for approval; the bot approves
the join requests of members holding enough and declines the others, telling them why in
private. The core (`bot/holders/`) decides; this module reads and renders."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ChatJoinRequestHandler, CommandHandler, ContextTypes, filters

from bot.errors import RequestRejected
from bot.holders.admission import decide_join, record_join
from bot.holders.options import OURS, holder_gate
from bot.telegram.render import esc, reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

PLATFORM = "telegram"
USAGE = (
    "Usage: <code>/holders_only [min] [ours|CONTRACT] [TOKEN_ID]</code>: only members holding "
    "at least <i>min</i> tokens (default 1) of this group's collection (<code>ours</code>, the "
    "default) or of a contract may join, through an invite link that asks for approval. "
    "<code>/holders_only off</code> ends it."
)
Context = ContextTypes.DEFAULT_TYPE


class HolderHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.holders = bot.runtime.holders

    def register(self, new: filters.BaseFilter) -> None:
        self.bot.app.add_handler(CommandHandler("holders_only", self.holders_only, filters=new))
        self.bot.app.add_handler(ChatJoinRequestHandler(self.join_request))

    async def holders_only(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, "Run /holders_only in the group that is for holders.")
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, "Only this chat's administrators can use /holders_only.")
            return
        args, here = list(context.args or []), str(chat.id)
        if args[:1] == ["off"]:
            removed = await self.holders.rules.remove(PLATFORM, here, here)
            await reply(
                message,
                "Join requests are left to the administrators again."
                if removed
                else "This chat is not holders-only.",
            )
            return
        minimum = args.pop(0) if args and args[0].isdecimal() else "1"
        of = args.pop(0) if args else OURS
        token_id = args.pop(0) if args else None
        if args:
            await reply(message, USAGE)
            return
        runtime = self.bot.runtime
        try:
            gate = await holder_gate(
                runtime.collections, runtime.collection.address, PLATFORM, here,
                of=of, token_id=token_id, minimum=int(minimum),
            )  # fmt: skip
        except RequestRejected as err:
            await reply(message, f"{esc(str(err))}\n{USAGE}")
            return
        user = update.effective_user
        rule, _ = await self.holders.rules.set(
            PLATFORM, here, here, gate, str(user.id if user else chat.id)
        )
        link = await context.bot.create_chat_invite_link(
            chat.id, name="holders", creates_join_request=True
        )
        await reply(
            message,
            f"This chat is now for {esc(rule.describe())} (verified wallets and custody). "
            f"Share this link: {esc(link.invite_link)}\nI approve holders' requests to join "
            "and tell the others why not.",
        )

    async def join_request(self, update: Update, context: Context) -> None:
        request = update.chat_join_request
        assert request is not None
        user_id, chat = str(request.from_user.id), request.chat
        admission = await decide_join(self.holders, PLATFORM, str(chat.id), user_id)
        if admission is None:
            return  # not a holders-only chat: its administrators decide
        try:
            if admission.admit:
                await request.approve()
            else:
                await request.decline()
        except BadRequest as err:
            # Decided already (a redelivered update) or withdrawn: nothing to do or record.
            log.info("join request to %s: %s", chat.id, err.message)
            return
        await record_join(self.holders, admission, user_id)
        try:
            await context.bot.send_message(
                request.user_chat_id, admission.explanation(chat.title or "The chat")
            )
        except (BadRequest, Forbidden) as err:  # the member may not be reachable: decided anyway
            log.info("telling a join requester why: %s", err.message)
