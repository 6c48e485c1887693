"""Telegram holders-only chats and drops: /holders_only (a chat's administrators) makes the chat
one that holders join, and answers with an invite link that asks for approval; the bot
approves the join requests of members holding enough and declines the others, telling them why
in private. /drop_holders makes a drop one that only holders may claim. The core
(`bot/holders/`, `bot/drops/`) decides; this module reads and renders, in the language of
whoever the update is from (an admin's command, a member's join request)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ChatJoinRequestHandler, CommandHandler, ContextTypes, filters

from bot.drops.gates.holder import HolderGate
from bot.errors import RequestRejected
from bot.holders.admission import decide_join, record_join
from bot.holders.options import OURS, holder_gate
from bot.holders.rules import describe_gate
from bot.i18n import N_, _
from bot.telegram.render import esc, reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

PLATFORM = "telegram"
USAGE = N_(
    "Usage: <code>/holders_only [min] [ours|CONTRACT] [TOKEN_ID]</code>: only members holding "
    "at least <i>min</i> tokens (default 1) of this group's collection (<code>ours</code>, the "
    "default) or of a contract may join, through an invite link that asks for approval. "
    "<code>/holders_only off</code> ends it."
)
DROP_USAGE = N_(
    "Usage: <code>/drop_holders ID [min] [ours|CONTRACT] [TOKEN_ID]</code> (see /drops): only "
    "members holding at least <i>min</i> (default 1) tokens of this chat's collection, or of "
    "the contract named, may claim the drop; <code>/drop_holders ID off</code> lifts it."
)
Context = ContextTypes.DEFAULT_TYPE


class HolderHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.holders = bot.runtime.holders

    def register(self, new: filters.BaseFilter) -> None:
        self.bot.app.add_handler(CommandHandler("holders_only", self.holders_only, filters=new))
        self.bot.app.add_handler(CommandHandler("drop_holders", self.drop_holders, filters=new))
        self.bot.app.add_handler(ChatJoinRequestHandler(self.join_request))

    async def holders_only(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, _("Run /holders_only in the group that is for holders."))
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(
                message,
                _("Only this chat's administrators can use {command}.").format(
                    command="/holders_only"
                ),
            )
            return
        args, here = list(context.args or []), str(chat.id)
        if args[:1] == ["off"]:
            removed = await self.holders.rules.remove(PLATFORM, here, here)
            await reply(
                message,
                _("Join requests are left to the administrators again.")
                if removed
                else _("This chat is not holders-only."),
            )
            return
        minimum = args.pop(0) if args and args[0].isdecimal() else "1"
        of = args.pop(0) if args else OURS
        token_id = args.pop(0) if args else None
        if args:
            await reply(message, _(USAGE))
            return
        runtime = self.bot.runtime
        try:
            gate = await holder_gate(
                runtime.collections, runtime.collection.address, PLATFORM, here,
                of=of, token_id=token_id, minimum=int(minimum),
            )  # fmt: skip
        except RequestRejected as err:
            await reply(message, f"{esc(err.text())}\n{_(USAGE)}")
            return
        user = update.effective_user
        rule, _changed = await self.holders.rules.set(
            PLATFORM, here, here, gate, str(user.id if user else chat.id)
        )
        link = await context.bot.create_chat_invite_link(
            chat.id, name="holders", creates_join_request=True
        )
        await reply(
            message,
            _(
                "This chat is now for {what} (verified wallets and custody). Share this link: "
                "{link}\nI approve holders' requests to join and tell the others why not."
            ).format(what=esc(rule.describe()), link=esc(link.invite_link)),
        )

    async def drop_holders(self, update: Update, context: Context) -> None:
        """`/drop_holders ID [min] [ours|CONTRACT] [TOKEN_ID]`: the drop is for holders from
        now on (in place of any holder condition it had); `/drop_holders ID off` lifts it."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, _("Only this chat's administrators can change a drop."))
            return
        args, here = list(context.args or []), str(chat.id)
        if not args or not args[0].lstrip("#").isdecimal():
            await reply(message, _(DROP_USAGE))
            return
        drop_id = int(args.pop(0).lstrip("#"))
        drops, runtime = self.bot.runtime.drops, self.bot.runtime
        try:
            await drops.community_drop(drop_id, PLATFORM, here)
            if args == ["off"]:
                drop = await drops.set_gate(drop_id, HolderGate.kind, None)
                await reply(
                    message,
                    _("Drop #{number} is no longer for holders only.").format(number=drop.id),
                )
                return
            minimum = args.pop(0) if args and args[0].isdecimal() else "1"
            of = args.pop(0) if args else OURS
            token_id = args.pop(0) if args else None
            if args:
                await reply(message, _(DROP_USAGE))
                return
            gate = await holder_gate(
                runtime.collections, runtime.collection.address, PLATFORM, here,
                of=of, token_id=token_id, minimum=int(minimum),
            )  # fmt: skip
            drop = await drops.set_gate(drop_id, HolderGate.kind, gate)
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        what = describe_gate(gate.contract, gate.token_id, gate.min)
        await reply(
            message,
            _("Drop #{number} is now for {what} (verified wallets and custody).").format(
                number=drop.id, what=esc(what)
            ),
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
                request.user_chat_id, admission.explanation(chat.title or _("The chat"))
            )
        except (BadRequest, Forbidden) as err:  # the member may not be reachable: decided anyway
            log.info("telling a join requester why: %s", err.message)
