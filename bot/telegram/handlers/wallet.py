"""Telegram /wallet and /withdraw. Their answers show a member's address, so they are given
in the member's private chat even when asked in a group; the group sees only where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.errors import RequestRejected
from bot.i18n import _
from bot.telegram.render import (
    ANSWERED_IN_PRIVATE,
    NO_PREVIEW,
    esc,
    private_chat_needed,
    reply,
    withdrawals_html,
)
from bot.wallets import SIGN_HOWTO, describe_link, verified_reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

LINK_USAGE = "<code>/wallet link 0x…</code>"
# How long a /withdraw answer is kept up to date before "on its way" stays as it is.
WITHDRAW_ANSWER_WAIT_S = 120
Context = ContextTypes.DEFAULT_TYPE


class WalletHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot

    def register(self, new: filters.BaseFilter) -> None:
        self.bot.app.add_handler(CommandHandler("wallet", self.wallet, filters=new))
        self.bot.app.add_handler(CommandHandler("withdraw", self.withdraw, filters=new))

    async def wallet(self, update: Update, context: Context) -> None:
        """/wallet shows where the user's NFTs go; /wallet link 0x… and /wallet verify 0x…
        link an address with proof; /wallet [set] 0x… links one without, where allowed.
        Answered in private, even when asked in a group."""
        user = update.effective_user
        assert user is not None
        if not await self._private_chat_open(update, context, "/wallet", start="wallet"):
            return
        wallets, user_id = self.bot.runtime.wallets, str(user.id)
        args = context.args or []
        action = args[0].lower() if args else "show"
        try:
            if action == "show":
                found = await wallets.linked("telegram", user_id)
                text = describe_link(found, code="<code>{}</code>", link=LINK_USAGE)
            elif action == "link" and len(args) == 2:
                challenge = await wallets.challenge("telegram", user_id, args[1])
                howto = _(SIGN_HOWTO).format(verify="<code>/wallet verify 0x…</code>")
                text = f"<pre>{esc(challenge.message)}</pre>\n{esc(howto)}"
            elif action == "verify" and len(args) == 2:
                verified = await wallets.verify("telegram", user_id, user.full_name, args[1])
                text = verified_reply(verified, code="<code>{}</code>")
            elif len(args) == 1 or (action == "set" and len(args) == 2):
                linked = await wallets.set_unverified("telegram", user_id, user.full_name, args[-1])
                text = _("Your NFTs will go to {address} (not verified by a signature).").format(
                    address=f"<code>{linked}</code>"
                )
            else:
                text = _(
                    "Usage: {link}, then <code>/wallet verify 0x…</code>; /wallet shows it."
                ).format(link=LINK_USAGE)
        except RequestRejected as err:
            text = esc(err.text())
        await self._answer_privately(update, context, text)

    async def withdraw(self, update: Update, context: Context) -> None:
        """/withdraw [token]: move one or all of the NFTs the bot holds for the user to their
        verified address. Answered in private, even when asked in a group; the answer is
        edited in place once the transfers are confirmed."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        if not await self._private_chat_open(update, context, "/withdraw", start="mynfts"):
            return
        asked_key = f"telegram:{message.chat_id}:{message.message_id}"
        withdrawals = self.bot.runtime.withdrawals
        token = context.args[0] if context.args else None
        try:
            views = await withdrawals.withdraw(asked_key, "telegram", str(user.id), token)
        except RequestRejected as err:
            await self._answer_privately(update, context, esc(err.text()))
            return
        answer = await self._answer_privately(update, context, withdrawals_html(views))
        # Still the update's handling: the answer edited in is in the member's language.
        final = await withdrawals.wait(asked_key, timeout=WITHDRAW_ANSWER_WAIT_S)
        if final != views:
            await answer.edit_text(
                withdrawals_html(final), parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            )

    async def _private_chat_open(
        self, update: Update, context: Context, command: str, *, start: str
    ) -> bool:
        """Answers about a member's wallet never show in a group. True if this one can reach
        them: asked in private, or they have started the bot (Telegram refuses a bot's message
        to anyone who has not). Else the group hears how to open a private chat, and nothing
        of theirs; `start` is the deep link's payload."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        if chat.type == ChatType.PRIVATE:
            return True
        try:
            await context.bot.send_chat_action(user.id, ChatAction.TYPING)
            return True
        except (Forbidden, BadRequest):
            url = f"https://t.me/{context.bot.username}?start={start}"
            await reply(message, private_chat_needed(command, url))
            return False

    async def _answer_privately(self, update: Update, context: Context, html: str) -> Message:
        """Reply in a private chat; asked in a group, answer in the member's private chat and
        say so in the group."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        if chat.type == ChatType.PRIVATE:
            return await reply(message, html)
        answer = await context.bot.send_message(
            user.id, html, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        )
        await reply(message, _(ANSWERED_IN_PRIVATE))
        return answer
