"""Telegram /mint (as a caption, or replied to an image), /status and /mynfts.

Replies here are in the asker's language (the update's handling speaks it); the answer the
pipeline gives later is in the language recorded with the request (`reply_to["locale"]`).

A mint's key is the image message: (telegram, chat ID, message ID of the photo or file), so an
image mints once however many replies ask, and the token goes to whoever posted it. Whether a
file is a picture is decided by its bytes (the core decodes them), never by its name or the
type Telegram was told, and every `/mint` the bot sees is answered.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from bot.acknowledge import AcknowledgeFirst
from bot.errors import RequestConflict, RequestRejected
from bot.i18n import N_, _
from bot.i18n.said import Said
from bot.minting.types import MintSubmission
from bot.telegram.files import NO_DOWNLOAD, Media, download, media_of
from bot.telegram.posts import AnswerLine
from bot.telegram.render import custody_hint, esc, link, mention, reply, status_line

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

MINT_COMMAND = re.compile(r"^/mint(?:@\w+)?(?:\s+|$)", re.IGNORECASE)
# Translated where they are sent (`_()`).
USAGE = N_(
    "Give it a name: send an image with the caption <code>/mint Name | description</code>, "
    "or reply <code>/mint Name</code> to a message with an image."
)
NOT_A_MEMBERS_FILE = N_("I can only mint a picture a member posted.")
ALREADY = N_("This image is already minted, or being minted: its answer is with the first request.")
MAX_PAGE = 100_000
Context = ContextTypes.DEFAULT_TYPE


def parse_mint(text: str) -> tuple[str, str]:
    """`/mint Name | description` → (name, description); both may be empty."""
    rest = MINT_COMMAND.sub("", text.strip(), count=1)
    name, _bar, description = rest.partition("|")
    return name.strip(), description.strip()


class MintHandlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.service = bot.service
        self._in_hand: set[tuple[tuple[str, str, str], int]] = set()  # (key, asking message)
        # A burst arrives in getUpdates pages of 100, 100-300 ms apart under load: the work
        # after a reply waits that long for the next page's replies (bench/telegram_reply.py).
        self.replies = AcknowledgeFirst(quiet_s=0.25)

    def register(self, new: filters.BaseFilter) -> None:
        add = self.bot.app.add_handler
        # Any message captioned /mint, whatever it carries: its bytes decide, or it is told why.
        add(MessageHandler(new & filters.CaptionRegex(MINT_COMMAND), self.mint_caption))
        add(CommandHandler("mint", self.mint_reply, filters=new))
        add(CommandHandler("status", self.status, filters=new))
        add(CommandHandler("mynfts", self.mynfts, filters=new))

    def register_last(self, new: filters.BaseFilter) -> None:
        """Edits and stray private messages: after every command, which come first."""
        add = self.bot.app.add_handler
        add(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.edited))
        add(MessageHandler(new & filters.ChatType.PRIVATE & ~filters.COMMAND, self.hint))

    async def mint_caption(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        await self._mint(update, context, message, message.caption or "")

    async def mint_reply(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        target = message.reply_to_message
        if target is None or media_of(target) is None:  # `/mint` alone, or to a text message
            await reply(message, _(USAGE))
            return
        await self._mint(update, context, target, message.text or "")

    async def _mint(
        self, update: Update, context: Context, image_message: Message, text: str
    ) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        name, description = parse_mint(text)
        media = media_of(image_message)
        author = image_message.from_user
        if not name:
            await reply(message, _(USAGE))
            return
        if media is None or author is None or author.is_bot:
            await reply(message, _(NOT_A_MEMBERS_FILE))
            return
        key = ("telegram", str(chat.id), str(image_message.message_id))
        # The same update delivered twice at once: the first copy answers, so the second
        # stays silent. Only that: which request for an image wins, the database decides.
        this = (key, message.message_id)
        if this in self._in_hand:
            return
        self._in_hand.add(this)
        try:
            await self._mint_image(update, context, key, image_message, media, name, description)
        finally:
            self._in_hand.discard(this)

    async def _mint_image(
        self,
        update: Update,
        context: Context,
        key: tuple[str, str, str],
        image_message: Message,
        media: Media,
        name: str,
        description: str,
    ) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        author = image_message.from_user
        assert message is not None and chat is not None and user is not None and author
        try:  # the size Telegram reports, if it does; the download is capped whatever it says
            self.service.check_size(media.file_size or 0)
        except RequestRejected as err:
            await reply(message, esc(err.text()))
            return
        # Answer first: the line is shown as soon as Telegram's limits allow, before any work
        # on the request. Under a burst the work after one line (the database, the download)
        # waits for the others' lines, so that it does not slow down the updates still
        # coming in, whose lines then join the chat's status message before it is sent.
        async with self.replies.acknowledging():
            line = self.bot.acknowledge(message, mention(str(user.id), user.full_name), name)
            await self.bot.acknowledged(line)
        await self.replies.settled()
        try:
            asker = await self.bot.asker(update, context)
            fresh = await self.service.admit(key, str(chat.id), asker, author_id=str(author.id))
        except RequestRejected as err:
            await line.settle(err.said)
            return
        if not fresh:  # a re-delivered update, or another ask for an image already in hand
            await self._already(message, key, line)
            return
        try:
            data = await download(self.bot, media)
        except RequestRejected as err:
            await line.settle(err.said)
            return
        except TelegramError as err:
            log.info("telegram: could not download %s: %s", key, err)
            await line.settle(Said(NO_DOWNLOAD))
            return
        submission = MintSubmission(
            platform="telegram",
            chat_id=str(chat.id),
            message_id=str(image_message.message_id),
            requester_id=str(author.id),
            requester_name=author.full_name,
            image=data,
            name=name,
            description=description,
            community_id=str(chat.id),
            answered_in=str(line.message_id),
            reply_to={
                "chat_id": chat.id,
                "message_id": line.message_id,
                "asked_by": str(user.id),
                "asked_by_name": user.full_name,
                "request_message_id": message.message_id,
                "post_replies_to": line.replies_to,
                # The answer is given later (a worker, after a restart): in this language.
                "locale": user.language_code,
            },
        )
        try:
            handle = await self.service.submit(submission)
            won = not handle.duplicate
        except RequestConflict:
            won = False
        except RequestRejected as err:  # a rate limit, decided as the request was recorded
            await line.settle(err.said)
            return
        if not won:  # another request for this image was recorded first; its line answers
            await self._already(message, key, line)

    async def _already(self, message: Message, key: tuple[str, str, str], line: AnswerLine) -> None:
        """Tell a second asker the image is taken care of. For a re-delivered update its own
        request is the one recorded, and its answer is on its way: in this line, or in the
        line shown the first time (then this one goes)."""
        recorded = await self.service.find(*key)
        reply_to = (recorded.reply_to or {}) if recorded else {}
        await line.shown()
        if reply_to.get("request_message_id") != message.message_id:
            await line.settle(Said(ALREADY))
        elif reply_to.get("message_id") != line.message_id:
            await line.withdraw()

    async def edited(self, update: Update, context: Context) -> None:
        """Edits never mint: a hint if someone edits /mint into (or within) a message."""
        message = update.edited_message
        if message is None or not MINT_COMMAND.match(message.caption or message.text or ""):
            return
        await reply(
            message,
            _("Edits don't mint. To mint, send {command} as a new message.").format(
                command="<code>/mint Name</code>"
            ),
        )

    async def hint(self, update: Update, context: Context) -> None:
        """Stickers, voice notes, plain text in a private chat: say what works. (A photo or
        file without /mint may be one of an album: no tip for each. In groups, other messages
        are none of the bot's business.)"""
        message = update.effective_message
        if message is not None and not (message.photo or message.document):
            await reply(
                message,
                _(
                    "I mint images: send one with the caption {command}, or reply {command} "
                    "to it. /help"
                ).format(command="<code>/mint Name</code>"),
            )

    # ----- what was asked --------------------------------------------------------------------

    async def status(self, update: Update, context: Context) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        results, _total = await self.service.requests_of(
            "telegram", str(user.id), minted_only=False, limit=5
        )
        text = "\n".join(map(status_line, results)) or _("You have no mint requests yet. /help")
        await reply(message, text)

    async def mynfts(self, update: Update, context: Context) -> None:
        """/mynfts [page]: ten at a time, newest first."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        asked = context.args[0] if context.args else ""
        # isdecimal, not isdigit: int() refuses digits such as "²"; the cap keeps the offset
        # within every database's integers.
        page = min(max(1, int(asked)), MAX_PAGE) if asked.isdecimal() and len(asked) < 10 else 1
        results, total = await self.service.requests_of(
            "telegram", str(user.id), minted_only=True, offset=(page - 1) * 10, limit=10
        )
        if total == 0:
            await reply(message, _("Nothing minted yet. /help"))
            return
        lines = [
            _("Your NFTs ({total}), page {page} of {pages}:").format(
                total=total, page=page, pages=(total + 9) // 10
            )
        ]
        lines += [
            " · ".join(
                x
                for x in (
                    f"<b>{esc(r.name)}</b>",
                    link(_("token"), r.token_url),
                    _("in custody: {hint}").format(hint=custody_hint(r)) if r.custodial else None,
                )
                if x
            )
            for r in results
        ]
        if page * 10 < total:
            lines.append(_("More: {command}").format(command=f"<code>/mynfts {page + 1}</code>"))
        await reply(message, "\n".join(lines))
