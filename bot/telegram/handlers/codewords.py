"""Telegram codeword drops: /claim in a private chat with the bot (so the code is not shown in
the group), and for a chat's administrators /drop_codes (the codes arrive as a CSV document
in their private chat with the bot) and /drop_word (sent in private, for the same reason).

A /claim in a group is not checked: the member is told to send it to the bot privately.
Their message is left alone (the bot deletes nothing of theirs); the answer says that a
code shown in a group can be used by anyone who read it. Every answer is in the sender's
language (`TelegramBot._dispatch` set their `language_code`), and a claim records it for the
answers that come later (minted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import InputFile, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.drops.codewords import codes_csv
from bot.drops.types import DropInfo
from bot.errors import RequestRejected
from bot.i18n import N_, _, ngettext
from bot.ports import Claimant
from bot.telegram.members import is_member
from bot.telegram.render import esc, reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

PLATFORM = "telegram"
Context = ContextTypes.DEFAULT_TYPE
CLAIM_USAGE = N_(
    "Send <code>/claim ID CODE</code> here (the drop's number is in its announcement), or "
    "<code>/claim CODE</code> while only one drop takes codes."
)


def parse_claim(args: list[str]) -> tuple[int | None, str]:
    """`/claim [ID] CODE` -> (the drop's number if given, the code or word as typed)."""
    if len(args) >= 2 and args[0].lstrip("#").isdecimal() and len(args[0]) <= 10:
        return int(args[0].lstrip("#")), " ".join(args[1:])
    return None, " ".join(args)


class CodewordHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.codewords = bot.runtime.codewords

    def register(self, new: filters.BaseFilter) -> None:
        add = self.bot.app.add_handler
        add(CommandHandler("claim", self.claim, filters=new))
        add(CommandHandler("drop_codes", self.make_codes, filters=new))
        add(CommandHandler("drop_word", self.set_word, filters=new))

    # ----- members -----------------------------------------------------------------------

    async def claim(self, update: Update, context: Context) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        typed = " ".join(context.args or [])
        if chat.type != ChatType.PRIVATE:
            await self.codewords.forget_typed(PLATFORM, str(update.update_id), typed)
            await reply(
                message,
                _(
                    "Codes are claimed in private: send <code>/claim ID CODE</code> to "
                    "@{bot}. A code shown here can be used by anyone who reads it."
                ).format(bot=esc(self.bot.app.bot.username)),
            )
            return
        drop_id, code = parse_claim(context.args or [])
        if not code:
            await reply(message, _(CLAIM_USAGE))
            return
        try:
            drop = await self._drop(drop_id)
            member = await self.bot.app.bot.get_chat_member(int(drop.community_id), user.id)
            claimed = await self.codewords.claim(
                drop.id,
                Claimant(PLATFORM, str(user.id), is_member=is_member(member)),
                user.full_name,
                code,
                # The mint is answered later: in this language.
                reply_to={"chat_id": chat.id, "locale": user.language_code},
                source=f"{chat.id}:{message.message_id}",
            )
        except RequestRejected as err:
            await self.codewords.forget_typed(PLATFORM, str(update.update_id), code)
            await reply(message, esc(err.text()))
            return
        except (BadRequest, Forbidden):  # the drop's chat is gone, or the bot left it
            await reply(message, _("I cannot check your membership of that drop's chat now."))
            return
        await self.codewords.forget_typed(PLATFORM, str(update.update_id), code)
        name = claimed.drop.name
        await reply(message, esc(claimed.text).replace(esc(name), f"<b>{esc(name)}</b>", 1))

    async def _drop(self, drop_id: int | None) -> DropInfo:
        if drop_id is not None:
            drop = await self.codewords.drops.info(drop_id)
            if drop.platform != PLATFORM:
                raise RequestRejected(N_("There is no drop #{id} here."), id=drop_id)
            return drop
        open_drops = await self.codewords.open_drops(PLATFORM)
        if len(open_drops) != 1:
            raise RequestRejected(
                N_("Which drop? Send /claim ID CODE (its number is in its post).")
            )
        return open_drops[0]

    # ----- administrators ----------------------------------------------------------------

    async def make_codes(self, update: Update, context: Context) -> None:
        """/drop_codes ID N in the drop's chat: the codes go to the admin privately."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        args = context.args or []
        if len(args) != 2 or not all(a.lstrip("#").isdecimal() for a in args):
            await reply(message, _("Usage: <code>/drop_codes ID COUNT</code>, in the drop's chat."))
            return
        drop_id, count = int(args[0].lstrip("#")), int(args[1])
        try:
            drop = await self._admins_drop(update, context, drop_id)
            # Reachable first: codes nobody can be given are not made.
            await self.bot.app.bot.send_message(
                user.id,
                ngettext(
                    "Making {n} code for drop #{id}…", "Making {n} codes for drop #{id}…", count
                ).format(n=count, id=drop.id),
            )
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        except (Forbidden, BadRequest):
            await reply(
                message,
                _(
                    "I send codes in private: start a chat with @{bot} first, then ask again."
                ).format(bot=esc(self.bot.app.bot.username)),
            )
            return
        try:
            made = await self.codewords.make_codes(drop.id, count)
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        await self.bot.app.bot.send_document(
            user.id,
            InputFile(codes_csv(drop.id, made).encode(), filename=f"drop-{drop.id}-codes.csv"),
            caption=ngettext(
                "{n} single-use code for drop #{id}: one per member. The bot keeps no copy.",
                "{n} single-use codes for drop #{id}: one per member. The bot keeps no copy.",
                len(made),
            ).format(n=len(made), id=drop.id),
        )
        if chat.type != ChatType.PRIVATE:
            sent = ngettext(
                "I sent you {n} code for drop #{id} in private.",
                "I sent you {n} codes for drop #{id} in private.",
                len(made),
            )
            await reply(message, sent.format(n=len(made), id=drop.id))

    async def set_word(self, update: Update, context: Context) -> None:
        """/drop_word ID WORD, in private: the drop is claimed with that word."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        word = " ".join((context.args or [])[1:])
        if chat.type != ChatType.PRIVATE:
            await self.codewords.forget_typed(PLATFORM, str(update.update_id), word)
            await reply(
                message,
                _(
                    "Send the secret word to me in private (<code>/drop_word ID WORD</code>): "
                    "everyone here can read this chat."
                ),
            )
            return
        args = context.args or []
        if len(args) < 2 or not args[0].lstrip("#").isdecimal():
            await reply(message, _("Usage: <code>/drop_word ID WORD</code>"))
            return
        try:
            drop = await self._admins_drop(update, context, int(args[0].lstrip("#")))
            await self.codewords.set_word(drop.id, word)
        except RequestRejected as err:
            await self.codewords.forget_typed(PLATFORM, str(update.update_id), word)
            await reply(message, esc(err.text()))
            return
        await self.codewords.forget_typed(PLATFORM, str(update.update_id), word)
        await reply(
            message, _("Drop #{id} is claimed with its secret word now.").format(id=drop.id)
        )

    async def _admins_drop(self, update: Update, context: Context, drop_id: int) -> DropInfo:
        """The drop, if the sender administers its chat (asked in that chat, or in private)."""
        user, chat = update.effective_user, update.effective_chat
        assert user is not None and chat is not None
        drop = await self.codewords.drops.info(drop_id)
        if drop.platform != PLATFORM or (
            chat.type != ChatType.PRIVATE and drop.community_id != str(chat.id)
        ):
            raise RequestRejected(N_("There is no drop #{id} here."), id=drop_id)
        try:
            asker = await self.bot.member(drop.community_id, str(user.id))
        except TelegramError:
            asker = None
        if asker is None or not asker.is_admin:
            raise RequestRejected(N_("Only the drop's chat administrators can do this."))
        return drop
