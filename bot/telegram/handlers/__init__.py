"""Telegram handlers. Thin: read the update, ask the core, render.

A mint's key is the image message: (telegram, chat ID, message ID of the photo or file), so an
image mints once however many replies ask, and the token goes to whoever posted it. Whether a
file is a picture is decided by its bytes (the core decodes them), never by its name or the
type Telegram was told, and every `/mint` the bot sees is answered.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from telegram import Bot, ChatMember, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from bot.acknowledge import AcknowledgeFirst
from bot.communities import AnnounceTarget, CommunityConfig, check_announce_target
from bot.errors import RequestConflict, RequestRejected
from bot.minting.types import MintSubmission
from bot.telegram.handlers.drops import DropHandlers
from bot.telegram.files import NO_DOWNLOAD, Media, download, media_of
from bot.telegram.members import can_post, is_admin
from bot.telegram.render import (
    HELP,
    MINTING,
    custody_hint,
    esc,
    gallery_html,
    leaderboard_html,
    link,
    reply,
    status_line,
)
from bot.telegram.handlers.wallet import WalletHandlers

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

MINT_COMMAND = re.compile(r"^/mint(?:@\w+)?(?:\s+|$)", re.IGNORECASE)
USAGE = (
    "Give it a name: send an image with the caption <code>/mint Name | description</code>, "
    "or reply <code>/mint Name</code> to a message with an image."
)
NOT_A_MEMBERS_FILE = "I can only mint a picture a member posted."
ALREADY = "This image is already minted, or being minted: the answer is in the reply to it."
CONFIG_USAGE = (
    "Usage: <code>/config minters admins|everyone</code>, "
    "<code>/config announce here|off|CHAT_ID</code> (announce every mint from this group "
    "in a chat), or both"
)
MAX_PAGE = 100_000
ADMIN_COMMANDS = ("pause", "resume", "balance", "stats", "config")
ADMINISTRATORS = "administrators"  # the one role Telegram groups have, as the core sees it
Context = ContextTypes.DEFAULT_TYPE


def parse_mint(text: str) -> tuple[str, str]:
    """`/mint Name | description` → (name, description); both may be empty."""
    rest = MINT_COMMAND.sub("", text.strip(), count=1)
    name, _, description = rest.partition("|")
    return name.strip(), description.strip()


def register(bot: TelegramBot) -> None:
    on = Handlers(bot)
    new = filters.UpdateType.MESSAGE  # not edits, not channel posts
    add = bot.app.add_handler
    # Any message captioned /mint, whatever it carries: its bytes decide, or it is told why not.
    add(MessageHandler(new & filters.CaptionRegex(MINT_COMMAND), on.mint_caption))
    add(CommandHandler("mint", on.mint_reply, filters=new))
    for name, callback in (
        ("start", on.start),
        ("help", on.help),
        ("status", on.status),
        ("mynfts", on.mynfts),
        ("leaderboard", on.leaderboard),
        ("gallery", on.gallery),
    ):
        add(CommandHandler(name, callback, filters=new))
    for name in ADMIN_COMMANDS:
        add(CommandHandler(name, on.admin, filters=new))
    DropHandlers(bot).register(new)
    on.wallets.register(new)
    add(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on.edited))
    add(MessageHandler(new & filters.ChatType.PRIVATE & ~filters.COMMAND, on.hint))


class Handlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.service = bot.service
        self.communities = bot.service.communities
        self.wallets = WalletHandlers(bot)
        self._in_hand: set[tuple[tuple[str, str, str], int]] = set()  # (key, asking message)
        # A burst arrives in getUpdates pages of 100, 100-300 ms apart under load: the work
        # after a reply waits that long for the next page's replies (bench/telegram_reply.py).
        self.replies = AcknowledgeFirst(quiet_s=0.25)

    # ----- minting -----------------------------------------------------------------------------

    async def mint_caption(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        await self._mint(update, context, message, message.caption or "")

    async def mint_reply(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None
        target = message.reply_to_message
        if target is None or media_of(target) is None:  # `/mint` alone, or to a text message
            await reply(message, USAGE)
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
            await reply(message, USAGE)
            return
        if media is None or author is None or author.is_bot:
            await reply(message, NOT_A_MEMBERS_FILE)
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
            await reply(message, esc(str(err)))
            return
        # Answer first, at once even under a burst; the checks that touch the database, the
        # download and the rest follow, and edit this reply.
        async with self.replies.acknowledging():
            placeholder = await self.bot.acknowledge(message, lambda: reply(message, MINTING))
        await self.replies.settled()
        try:
            asker = await self.bot.asker(update, context)
            fresh = await self.service.admit(key, str(chat.id), asker, author_id=str(author.id))
        except RequestRejected as err:
            await placeholder.edit_text(esc(str(err)), parse_mode=ParseMode.HTML)
            return
        if not fresh:  # a re-delivered update, or another ask for an image already in hand
            await self._already(message, key, placeholder)
            return
        try:
            data = await download(self.bot, media)
        except RequestRejected as err:
            await placeholder.edit_text(esc(str(err)), parse_mode=ParseMode.HTML)
            return
        except TelegramError as err:
            log.info("telegram: could not download %s: %s", key, err)
            await placeholder.edit_text(NO_DOWNLOAD)
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
            reply_to={
                "chat_id": chat.id,
                "message_id": placeholder.message_id,
                "asked_by": str(user.id),
                "request_message_id": message.message_id,
            },
        )
        try:
            handle = await self.service.submit(submission)
            won = not handle.duplicate
        except RequestConflict:
            won = False
        except RequestRejected as err:  # a rate limit, decided as the request was recorded
            await placeholder.edit_text(esc(str(err)), parse_mode=ParseMode.HTML)
            return
        if not won:  # another request for this image was recorded first; its reply answers
            await self._already(message, key, placeholder)

    async def _already(
        self, message: Message, key: tuple[str, str, str], placeholder: Message
    ) -> None:
        """Tell a second asker the image is taken care of; for a re-delivered update (its own
        request is the one recorded, and its answer is on its way) remove the extra reply."""
        recorded = await self.service.find(*key)
        reply_to = (recorded.reply_to or {}) if recorded else {}
        if reply_to.get("message_id") == placeholder.message_id:
            return  # handled again after a restart: this reply is the request's own
        if reply_to.get("request_message_id") == message.message_id:
            await placeholder.delete()
        else:
            await placeholder.edit_text(ALREADY)

    async def edited(self, update: Update, context: Context) -> None:
        """Edits never mint: a hint if someone edits /mint into (or within) a message."""
        message = update.edited_message
        if message is None or not MINT_COMMAND.match(message.caption or message.text or ""):
            return
        await reply(
            message, "Edits don't mint. To mint, send <code>/mint Name</code> as a new message."
        )

    async def hint(self, update: Update, context: Context) -> None:
        """Stickers, voice notes, plain text in a private chat: say what works. (A photo or
        file without /mint may be one of an album: no tip for each. In groups, other messages
        are none of the bot's business.)"""
        message = update.effective_message
        if message is not None and not (message.photo or message.document):
            await reply(
                message,
                "I mint images: send one with the caption <code>/mint Name</code>, or reply "
                "<code>/mint Name</code> to it. /help",
            )

    # ----- the rest ----------------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """/start, also from deep links (t.me/<bot>?start=wallet, =status, =mynfts)."""
        payload = (context.args or [""])[0].lower()
        routes = {"wallet": self.wallets.wallet, "status": self.status, "mynfts": self.mynfts}
        if payload in routes:
            context.args = []
            await routes[payload](update, context)
            return
        await self.help(update, context)

    async def help(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply(update.effective_message, HELP)

    async def status(self, update: Update, context: Context) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        results, _ = await self.service.requests_of(
            "telegram", str(user.id), minted_only=False, limit=5
        )
        text = "\n".join(map(status_line, results)) or "You have no mint requests yet. /help"
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
            await reply(message, "Nothing minted yet. /help")
            return
        lines = [f"Your NFTs ({total}), page {page} of {(total + 9) // 10}:"]
        lines += [
            " · ".join(
                x
                for x in (
                    f"<b>{esc(r.name)}</b>",
                    link("token", r.token_url),
                    f"in custody: {custody_hint(r)}" if r.custodial else None,
                )
                if x
            )
            for r in results
        ]
        if page * 10 < total:
            lines.append(f"More: <code>/mynfts {page + 1}</code>")
        await reply(message, "\n".join(lines))

    async def leaderboard(self, update: Update, context: Context) -> None:
        """/leaderboard: this group's top creators and collectors."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await reply(message, "Leaderboards are per group: ask in one.")
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
            await reply(message, "Galleries are per group: ask in one (/mynfts lists yours).")
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

    async def admin(self, update: Update, context: Context) -> None:
        """/pause, /resume, /balance, /stats, /config: for the chat's administrators."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None and message.text is not None
        command = message.text.split()[0].lstrip("/").split("@")[0].lower()
        if chat.type == ChatType.PRIVATE:
            await reply(message, "Admin commands work in groups, for the group's administrators.")
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await reply(message, f"Only this chat's administrators can use /{command}.")
            return
        community = str(chat.id)
        if command in ("pause", "resume"):
            await self.communities.configure("telegram", community, paused=command == "pause")
            text = (
                "Minting is paused here. Requests already made go on."
                if command == "pause"
                else "Minting is on again."
            )
        elif command == "balance":
            address, balance, spent = await self.service.hot_wallet()
            text = (
                f"Hot wallet <code>{address}</code>: {balance / 1e18:.6f} in native currency; "
                f"fees committed today (UTC): {spent / 1e18:.6f}."
            )
        elif command == "stats":
            counts = await self.service.community_stats("telegram", community)
            creators = counts.pop("creators", 0)
            lines = [f"{esc(phase)}: {count}" for phase, count in sorted(counts.items())]
            text = "\n".join([f"Creators: {creators}", *lines]) if lines else "No requests yet."
            if given_up := await self.bot.given_up_in(chat.id):
                text += f"\nUpdates given up after failing repeatedly: {given_up}"
        else:
            text = await self._config(update, context, community)
        await reply(message, text)

    async def _config(self, update: Update, context: Context, community: str) -> str:
        """/config [minters admins|everyone] [announce here|off|CHAT_ID]"""
        args = context.args or []
        changes: dict[str, Any] = {}
        pairs = dict(zip(args[::2], args[1::2], strict=False))
        if len(args) % 2 or set(pairs) - {"minters", "announce"}:
            return CONFIG_USAGE
        if "minters" in pairs:
            if pairs["minters"] not in ("admins", "everyone"):
                return CONFIG_USAGE
            changes["minter_role_id"] = ADMINISTRATORS if pairs["minters"] == "admins" else None
        if "announce" in pairs:
            target = pairs["announce"]
            if target not in ("here", "off") and not re.fullmatch(r"-?\d{1,20}", target):
                return CONFIG_USAGE
            chat_id = None if target == "off" else community if target == "here" else target
            if chat_id is not None:
                chat_id = str(int(chat_id))
                try:
                    check_announce_target(
                        community, await self._announce_target(update, context, community, chat_id)
                    )
                except RequestRejected as err:
                    return esc(str(err))
            changes["announce_channel_id"] = chat_id
        config = await self.communities.configure("telegram", community, **changes)
        return describe(config)

    async def _announce_target(
        self, update: Update, context: Context, community: str, chat_id: str
    ) -> AnnounceTarget:
        """What Telegram says of announcing in `chat_id`: does the asker administer that chat
        (an anonymous admin cannot be told apart there, so does not), may the bot post."""
        if chat_id == community:
            return AnnounceTarget(chat_id, community, asker_is_admin=True, bot_can_post=True)
        user = update.effective_user
        assert user is not None
        bot = context.bot
        asker = await _chat_member(bot, chat_id, user.id)
        me = await _chat_member(bot, chat_id, bot.id)
        return AnnounceTarget(
            chat_id,
            chat_id,  # a Telegram chat is a community of its own
            asker_is_admin=asker is not None and is_admin(asker),
            bot_can_post=me is not None and can_post(me),
        )


def describe(config: CommunityConfig) -> str:
    who = "chat administrators" if config.minter_role_id else "every member"
    announce = (
        f"chat <code>{esc(config.announce_channel_id)}</code>"
        if config.announce_channel_id
        else "off"
    )
    return (
        f"Minting: {'<b>paused</b>' if config.paused else 'on'}\n"
        f"Who may mint: {who}\n"
        "Who may mint others' images: chat administrators\n"
        f"Announcing every mint: {announce}"
    )


async def _chat_member(bot: Bot, chat_id: str, user_id: int) -> ChatMember | None:
    """The user's membership of the chat, or None if Telegram will not say (an unknown chat,
    one the bot is not in)."""
    try:
        return await bot.get_chat_member(int(chat_id), user_id)
    except (BadRequest, Forbidden):
        return None
