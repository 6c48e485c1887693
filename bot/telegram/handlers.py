"""Telegram handlers. Thin: read the update, ask the core, render.

A mint's key is the image message: (telegram, chat ID, message ID of the photo or file), so an
image mints once however many replies ask, and the token goes to whoever posted it.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from telegram import Document, Message, PhotoSize, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import CommandHandler, ContextTypes, MessageHandler, filters

from bot.acknowledge import AcknowledgeFirst
from bot.communities import CommunityConfig
from bot.errors import RequestConflict, RequestRejected
from bot.minting.requests import MintSubmission
from bot.telegram.drops import DropHandlers
from bot.telegram.render import (
    HELP,
    MINTING,
    NO_PREVIEW,
    custody_hint,
    esc,
    gallery_html,
    leaderboard_html,
    link,
    status_line,
    withdrawals_html,
)
from bot.wallets import SIGN_HOWTO, describe_link

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

log = logging.getLogger(__name__)

MINT_COMMAND = re.compile(r"^/mint(?:@\w+)?(?:\s+|$)", re.IGNORECASE)
USAGE = (
    "Give it a name: send an image with the caption <code>/mint Name | description</code>, "
    "or reply <code>/mint Name</code> to a message with an image."
)
TOO_BIG = (
    "That file is over the 20 MB Telegram lets bots download (a self-hosted Bot API server "
    "lifts this). Send a smaller version."
)
NO_DOWNLOAD = "Telegram would not hand over that file; try again."
LINK_USAGE = "<code>/wallet link 0x…</code>"
ALREADY = "This image is already minted, or being minted: the answer is in the reply to it."
# How long a /withdraw answer is kept up to date before "on its way" stays as it is.
WITHDRAW_ANSWER_WAIT_S = 120
CONFIG_USAGE = (
    "Usage: <code>/config minters admins|everyone</code>, "
    "<code>/config announce here|off|CHAT_ID</code> (announce every mint from this group "
    "in a chat), or both"
)
ADMIN_COMMANDS = ("pause", "resume", "balance", "stats", "config")
ADMINISTRATORS = "administrators"  # the one role Telegram groups have, as the core sees it
Context = ContextTypes.DEFAULT_TYPE


def parse_mint(text: str) -> tuple[str, str]:
    """`/mint Name | description` → (name, description); both may be empty."""
    rest = MINT_COMMAND.sub("", text.strip(), count=1)
    name, _, description = rest.partition("|")
    return name.strip(), description.strip()


def image_of(message: Message | None) -> PhotoSize | Document | None:
    """The message's image: the largest size of a photo, or a file whose type is an image."""
    if message is None:
        return None
    if message.photo:
        return max(message.photo, key=lambda size: size.width * size.height)
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        return document
    return None


def register(bot: TelegramBot) -> None:
    on = Handlers(bot)
    new = filters.UpdateType.MESSAGE  # not edits, not channel posts
    images = filters.PHOTO | filters.Document.IMAGE
    add = bot.app.add_handler
    add(MessageHandler(new & images & filters.CaptionRegex(MINT_COMMAND), on.mint_caption))
    add(CommandHandler("mint", on.mint_reply, filters=new))
    for name, callback in (
        ("start", on.start),
        ("help", on.help),
        ("status", on.status),
        ("mynfts", on.mynfts),
        ("wallet", on.wallet),
        ("withdraw", on.withdraw),
        ("leaderboard", on.leaderboard),
        ("gallery", on.gallery),
    ):
        add(CommandHandler(name, callback, filters=new))
    for name in ADMIN_COMMANDS:
        add(CommandHandler(name, on.admin, filters=new))
    DropHandlers(bot).register(images, new)
    add(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on.edited))
    add(MessageHandler(new & filters.ChatType.PRIVATE & ~filters.COMMAND, on.not_an_image))


class Handlers:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot = bot
        self.service = bot.service
        self.communities = bot.service.communities
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
        if image_of(target) is None:
            await _reply(message, USAGE)
            return
        assert target is not None
        await self._mint(update, context, target, message.text or "")

    async def _mint(
        self, update: Update, context: Context, image_message: Message, text: str
    ) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        assert message is not None and chat is not None and user is not None
        name, description = parse_mint(text)
        image = image_of(image_message)
        author = image_message.from_user
        if not name:
            await _reply(message, USAGE)
            return
        if image is None or author is None or author.is_bot:
            await _reply(message, "I can only mint an image a member posted.")
            return
        key = ("telegram", str(chat.id), str(image_message.message_id))
        # The same update delivered twice at once: the first copy answers, so the second
        # stays silent. Only that: which request for an image wins, the database decides.
        this = (key, message.message_id)
        if this in self._in_hand:
            return
        self._in_hand.add(this)
        try:
            await self._mint_image(update, context, key, image_message, image, name, description)
        finally:
            self._in_hand.discard(this)

    async def _mint_image(
        self,
        update: Update,
        context: Context,
        key: tuple[str, str, str],
        image_message: Message,
        image: PhotoSize | Document,
        name: str,
        description: str,
    ) -> None:
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        author = image_message.from_user
        assert message is not None and chat is not None and user is not None and author
        try:
            self.service.check_size(image.file_size or 0)
        except RequestRejected as err:
            await _reply(message, esc(str(err)))
            return
        # Answer first, at once even under a burst; the checks that touch the database, the
        # download and the rest follow, and edit this reply.
        async with self.replies.acknowledging():
            placeholder = await self.bot.acknowledge(message, lambda: _reply(message, MINTING))
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
            data = bytes(await (await image.get_file()).download_as_bytearray())
        except TelegramError as err:
            log.info("telegram: could not download %s: %s", key, err)
            too_big = "too big" in str(err).lower()
            await placeholder.edit_text(TOO_BIG if too_big else NO_DOWNLOAD)
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
        if image_of(message) is None and image_of(message.reply_to_message) is None:
            return
        await _reply(
            message, "Edits don't mint. To mint, send <code>/mint Name</code> as a new message."
        )

    async def not_an_image(self, update: Update, context: Context) -> None:
        """Stickers, voice notes, plain text in a private chat: say what works. (In groups,
        other messages are none of the bot's business.)"""
        message = update.effective_message
        if message is not None and image_of(message) is None:
            await _reply(
                message, "I mint images: send one with the caption <code>/mint Name</code>. /help"
            )

    # ----- the rest ----------------------------------------------------------------------------

    async def start(self, update: Update, context: Context) -> None:
        """/start, also from deep links (t.me/<bot>?start=wallet, =status, =mynfts)."""
        payload = (context.args or [""])[0].lower()
        routes = {"wallet": self.wallet, "status": self.status, "mynfts": self.mynfts}
        if payload in routes:
            context.args = []
            await routes[payload](update, context)
            return
        await self.help(update, context)

    async def help(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await _reply(update.effective_message, HELP)

    async def status(self, update: Update, context: Context) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        results, _ = await self.service.requests_of(
            "telegram", str(user.id), minted_only=False, limit=5
        )
        text = "\n".join(map(status_line, results)) or "You have no mint requests yet. /help"
        await _reply(message, text)

    async def mynfts(self, update: Update, context: Context) -> None:
        """/mynfts [page]: ten at a time, newest first."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        page = max(1, int(context.args[0])) if context.args and context.args[0].isdigit() else 1
        results, total = await self.service.requests_of(
            "telegram", str(user.id), minted_only=True, offset=(page - 1) * 10, limit=10
        )
        if total == 0:
            await _reply(message, "Nothing minted yet. /help")
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
        await _reply(message, "\n".join(lines))

    async def wallet(self, update: Update, context: Context) -> None:
        """/wallet shows where the user's NFTs go; /wallet link 0x… and /wallet verify 0x…
        link an address with proof; /wallet [set] 0x… links one without, where allowed."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        wallets, user_id = self.bot.runtime.wallets, str(user.id)
        args = context.args or []
        action = args[0].lower() if args else "show"
        try:
            if action == "show":
                found = await wallets.linked("telegram", user_id)
                text = describe_link(found, code="<code>{}</code>", link=LINK_USAGE)
            elif action == "link" and len(args) == 2:
                challenge = await wallets.challenge("telegram", user_id, args[1])
                howto = SIGN_HOWTO.format(verify="<code>/wallet verify 0x…</code>")
                text = f"<pre>{esc(challenge.message)}</pre>\n{esc(howto)}"
            elif action == "verify" and len(args) == 2:
                address = await wallets.verify("telegram", user_id, user.full_name, args[1])
                text = f"Verified: your NFTs will go to <code>{address}</code>."
            elif len(args) == 1 or (action == "set" and len(args) == 2):
                linked = await wallets.set_unverified("telegram", user_id, user.full_name, args[-1])
                text = f"Your NFTs will go to <code>{linked}</code> (not verified by a signature)."
            else:
                text = (
                    f"Usage: {LINK_USAGE}, then <code>/wallet verify 0x…</code>; /wallet shows it."
                )
        except RequestRejected as err:
            text = esc(str(err))
        await _reply(message, text)

    async def withdraw(self, update: Update, context: Context) -> None:
        """/withdraw [token]: move one or all of the NFTs the bot holds for the user to their
        verified address. The answer is edited in place once the transfers are confirmed."""
        message, user = update.effective_message, update.effective_user
        assert message is not None and user is not None
        asked_key = f"telegram:{message.chat_id}:{message.message_id}"
        withdrawals = self.bot.runtime.withdrawals
        token = context.args[0] if context.args else None
        try:
            views = await withdrawals.withdraw(asked_key, "telegram", str(user.id), token)
        except RequestRejected as err:
            await _reply(message, esc(str(err)))
            return
        answer = await _reply(message, withdrawals_html(views))
        final = await withdrawals.wait(asked_key, timeout=WITHDRAW_ANSWER_WAIT_S)
        if final != views:
            await answer.edit_text(
                withdrawals_html(final), parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            )

    async def leaderboard(self, update: Update, context: Context) -> None:
        """/leaderboard: this group's top creators and collectors."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await _reply(message, "Leaderboards are per group: ask in one.")
            return
        engagement = self.bot.runtime.engagement
        board = await engagement.leaderboard("telegram", str(chat.id))
        await _reply(
            message, leaderboard_html(board, engagement.gallery_url("telegram", str(chat.id)))
        )

    async def gallery(self, update: Update, context: Context) -> None:
        """/gallery: the group's NFTs; as a reply to someone's message, that member's."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None
        if chat.type == ChatType.PRIVATE:
            await _reply(message, "Galleries are per group: ask in one (/mynfts lists yours).")
            return
        engagement = self.bot.runtime.engagement
        replied = message.reply_to_message
        member = replied.from_user if replied is not None else None
        member_id = str(member.id) if member is not None and not member.is_bot else None
        page = await engagement.gallery("telegram", str(chat.id), member_id, limit=10)
        url = engagement.gallery_url("telegram", str(chat.id))
        if member_id is not None:
            url += f"?member={member_id}"
        await _reply(message, gallery_html(page, url, engagement.token_url, member))

    async def admin(self, update: Update, context: Context) -> None:
        """/pause, /resume, /balance, /stats, /config: for the chat's administrators."""
        message, chat = update.effective_message, update.effective_chat
        assert message is not None and chat is not None and message.text is not None
        command = message.text.split()[0].lstrip("/").split("@")[0].lower()
        if chat.type == ChatType.PRIVATE:
            await _reply(message, "Admin commands work in groups, for the group's administrators.")
            return
        if not (await self.bot.asker(update, context)).is_admin:
            await _reply(message, f"Only this chat's administrators can use /{command}.")
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
            text = await self._config(community, context.args or [])
        await _reply(message, text)

    async def _config(self, community: str, args: list[str]) -> str:
        """/config [minters admins|everyone] [announce here|off|CHAT_ID]"""
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
            changes["announce_channel_id"] = {"here": community, "off": None}.get(target, target)
        config = await self.communities.configure("telegram", community, **changes)
        return describe(config)


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


async def _reply(message: Message, html: str) -> Message:
    return await message.reply_text(
        html, parse_mode=ParseMode.HTML, do_quote=True, link_preview_options=NO_PREVIEW
    )
