"""The bot process's Telegram side: a python-telegram-bot Application around the runtime.

Long polling by default; with TELEGRAM_WEBHOOK_URL, Telegram posts updates to the bot's own
HTTP server instead (`/telegram/webhook`), so several workers can share one bot. Sending goes
through PTB's AIORateLimiter (Telegram's overall and per-group limits, RetryAfter retried).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import BotCommand, ChatMember, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes

from bot.communities import Asker
from bot.minting.requests import MintResult
from bot.telegram import handlers
from bot.telegram.handlers import ADMINISTRATORS
from bot.telegram.members import sent_as_the_chat
from bot.telegram.render import NO_PREVIEW, announcement_html, result_html
from bot.telegram.transport import AiohttpRequest

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
ADMINS_CACHE_S = 60.0  # getChatAdministrators answers are reused this long
# Retries of a call Telegram answered with 429 (after waiting its retry_after) before the
# error reaches the caller; the pipeline retries an answer later on its own.
RETRIES_AFTER_429 = 3
# Updates handled at once. A mint's handler holds its slot through the download and the
# request insert, so PTB's default of 256 made the 257th message of a burst wait seconds for
# its first reply (bench/telegram_reply.py).
CONCURRENT_UPDATES = 1024
COMMANDS = [
    BotCommand("mint", "Mint an image: caption or reply /mint Name | description"),
    BotCommand("status", "Your recent mint requests"),
    BotCommand("mynfts", "Your NFTs"),
    BotCommand("wallet", "Where your NFTs go"),
    BotCommand("withdraw", "Move the NFTs the bot holds for you to your linked wallet"),
    BotCommand("leaderboard", "Top creators and collectors in this group"),
    BotCommand("gallery", "This group's NFTs (reply to a member: theirs)"),
    BotCommand("help", "How to mint"),
]


class TelegramBot:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        assert settings.telegram_token is not None
        self.runtime = runtime
        self.service = runtime.service
        self.webhook_url = settings.telegram_webhook_url
        self._webhook_secret = settings.telegram_webhook_secret
        builder = (
            Application.builder()
            .token(settings.telegram_token.reveal())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .rate_limiter(
                AIORateLimiter(
                    overall_max_rate=settings.telegram_messages_per_s,
                    max_retries=RETRIES_AFTER_429,
                )
            )
            .concurrent_updates(CONCURRENT_UPDATES)
            .request(AiohttpRequest(connections=64))
            .get_updates_request(AiohttpRequest(connections=1))
            .post_init(self._post_init)
        )
        if self.webhook_url is not None:
            builder = builder.updater(None)
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._admins: dict[int, tuple[float, asyncio.Future[tuple[ChatMember, ...]]]] = {}
        handlers.register(self)

    # ----- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled (or until Telegram refuses the token: that error propagates)."""
        await self.app.initialize()
        try:
            assert self.app.post_init is not None
            await self.app.post_init(self.app)
            if self.app.updater is not None:
                await self.app.updater.start_polling(timeout=10, allowed_updates=Update.ALL_TYPES)
            await self.app.start()
            await asyncio.Event().wait()
        finally:
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()

    async def _post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await app.bot.set_my_commands(COMMANDS)
        if self.webhook_url is not None:
            assert self._webhook_secret is not None
            await app.bot.set_webhook(
                self.webhook_url,
                secret_token=self._webhook_secret.reveal(),
                allowed_updates=Update.ALL_TYPES,
            )
        self.service.add_notifier("telegram", self.deliver)
        self.service.add_announcer("telegram", self.announce)
        chat_id = self.runtime.settings.alert_telegram_chat_id
        if chat_id is not None:
            self.runtime.alerts.add("telegram", lambda text: app.bot.send_message(chat_id, text))
        log.info("telegram: @%s ready (%s)", app.bot.username, self.mode)

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "long polling"

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: an update from Telegram, checked by its secret header."""
        assert self._webhook_secret is not None
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self._webhook_secret.reveal().encode()):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.app.bot)
        except ValueError:
            return web.Response(status=400, text="not an update")
        await self.app.update_queue.put(update)
        return web.Response()

    # ----- answers -----------------------------------------------------------------------------

    async def deliver(self, result: MintResult) -> None:
        """Edit the request's "minting…" reply into its answer; if that reply is gone, answer
        with a new one. Raises if Telegram could not be reached, so the pipeline retries."""
        reply = result.reply_to or {}
        text = result_html(result)
        chat_id = int(reply.get("chat_id", result.chat_id))
        if reply.get("message_id"):
            try:
                await self.app.bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=int(reply["message_id"]),
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                )
                return
            except BadRequest as err:
                if "not modified" in err.message.lower():
                    return  # answered before a restart
                if "not found" not in err.message.lower():
                    raise
        await self.app.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_parameters=ReplyParameters(
                int(result.message_id), allow_sending_without_reply=True
            ),
        )

    async def announce(self, result: MintResult, chat_id: str) -> None:
        """Post a confirmed mint in the community's announcement chat."""
        await self.app.bot.send_message(
            int(chat_id),
            announcement_html(result),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )

    # ----- who is asking -----------------------------------------------------------------------

    async def asker(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> Asker:
        """The sender as the core sees them: chat administrators hold the "administrators"
        role and count as curators (checked with getChatAdministrators, cached briefly; an
        anonymous administrator writes as the chat itself)."""
        user = update.effective_user
        chat = update.effective_chat
        assert user is not None and chat is not None
        is_admin = chat.type != ChatType.PRIVATE and (
            sent_as_the_chat(update.effective_message) or user.id in await self.admins_of(chat.id)
        )
        roles = frozenset({ADMINISTRATORS}) if is_admin else frozenset()
        return Asker(str(user.id), roles, is_admin=is_admin)

    async def admins_of(self, chat_id: int) -> frozenset[int]:
        """The chat's administrators: one getChatAdministrators per chat a minute, shared by
        every update that asks meanwhile (a burst in a new chat makes one call, not hundreds)."""
        cached = self._admins.get(chat_id)
        if cached is None or cached[0] <= time.monotonic():
            lookup = asyncio.ensure_future(self.app.bot.get_chat_administrators(chat_id))
            cached = (time.monotonic() + ADMINS_CACHE_S, lookup)
            self._admins[chat_id] = cached
        try:
            members = await asyncio.shield(cached[1])
        except TelegramError:
            if self._admins.get(chat_id) is cached:
                del self._admins[chat_id]  # ask again next time
            raise
        return frozenset(m.user.id for m in members)
