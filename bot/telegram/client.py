"""The bot process's Telegram side: a python-telegram-bot Application around the runtime, and
Telegram as the core sees it (`bot.ports.ChatPlatform`): answers, announcements, claim
outcomes, operator alerts, and the members of a chat.

Long polling by default (our own fetch loop, bot/telegram/polling.py); with
TELEGRAM_WEBHOOK_URL, Telegram posts updates to the bot's own HTTP server instead
(`/telegram/webhook`), so several workers can share one bot. Either way an update is committed
to the inbox before Telegram hears it arrived, then handed to PTB's handlers, and marked
processed once they finished; updates left unprocessed (a crash, a failure) are handled again.
Every message goes out within Telegram's flood limits (`MessageLimits`: overall, per group, per
private chat; RetryAfter obeyed), and mint answers through `Posts` (a reply per request in a
quiet chat, one status message in a busy one).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import ChatMember, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes

from bot.chain.faults import crash_point
from bot.communities import Asker
from bot.errors import ConfigError
from bot.i18n import N_, _, speaking
from bot.i18n.said import Said
from bot.inbox import InboxEntry
from bot.minting.types import MintResult
from bot.process_locks import sole_telegram_poller
from bot.telegram.limits import MessageLimits
from bot.telegram.members import ADMINISTRATORS, is_member, sent_as_the_chat
from bot.telegram.members import is_admin as is_chat_admin
from bot.telegram.menus import menus
from bot.telegram.polling import Polling, UpdatesRequest
from bot.telegram.posts import AnswerLine, Posts
from bot.telegram.render import (
    NO_PREVIEW,
    announcement_html,
    claim_told_in_chat_html,
    result_html,
)
from bot.telegram.sent_journal import SentJournal
from bot.telegram.transport import AiohttpRequest

if TYPE_CHECKING:
    from bot.runtime import Runtime

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
STOP_GRACE_S = 5.0  # at a stop, updates being handled get this long to finish
SOMETHING_WENT_WRONG = N_("Something went wrong on my side; try again.")
# What Telegram says to an update handled again after a restart, when the member already
# reads the text (an edit to the same words), or the button press was answered or expired.
ALREADY_DONE = ("message is not modified", "query is too old", "query id is invalid")


class TelegramBot:
    """The running Telegram platform. Its feature handlers (`bot.telegram.handlers`) are
    added by whoever builds it, before it runs."""

    name = "telegram"

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        assert settings.telegram_token is not None
        self.runtime = runtime
        self.service = runtime.service
        self.webhook_url = settings.telegram_webhook_url
        self._webhook_secret = settings.telegram_webhook_secret
        self._updates_request = UpdatesRequest()
        self._bot_id = settings.telegram_token.reveal().split(":", 1)[0]  # public: its user ID
        self.limits = MessageLimits(
            overall_per_s=settings.telegram_messages_per_s,
            group_per_minute=settings.telegram_group_messages_per_minute,
            private_per_s=settings.telegram_chat_messages_per_s,
            max_retries=RETRIES_AFTER_429,
            journal=SentJournal(settings.data_dir / "telegram-sent"),
        )
        builder = (
            Application.builder()
            .token(settings.telegram_token.reveal())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .rate_limiter(self.limits)
            .concurrent_updates(CONCURRENT_UPDATES)
            .request(AiohttpRequest(connections=64))
            .get_updates_request(self._updates_request)
            .post_init(self._post_init)
        )
        # No Updater: updates come in through the inbox (`Polling`, `webhook`).
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.updater(None).build()
        self.posts = Posts(
            self.app.bot,
            self.limits,
            lambda chat, message: runtime.service.answered_in("telegram", chat, message),
            holds=runtime.service.answer_claims,
        )
        self.inbox = runtime.inbox
        self._crash_at = settings.crash_at
        self._admins: dict[int, tuple[float, asyncio.Future[tuple[ChatMember, ...]]]] = {}
        self._ready = asyncio.Event()
        self._handling: set[asyncio.Task[bool]] = set()
        self.app.add_error_handler(self._handler_failed)

    # ----- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled (or until Telegram refuses the token, polling fails for good,
        or another process polls already: that error propagates)."""
        if self.webhook_url is not None:  # any number of processes take webhook updates
            await self._run()
            return
        async with sole_telegram_poller(self.runtime.db, self._bot_id):
            await self._run()

    async def _run(self) -> None:
        try:
            await self.app.initialize()
        except InvalidToken:  # its message quotes the token
            raise ConfigError("TELEGRAM_TOKEN", "Telegram refused the token") from None
        loops: list[asyncio.Task[None]] = []
        try:
            assert self.app.post_init is not None
            await self.app.post_init(self.app)
            await self.app.start()
            self._ready.set()
            resume = self.inbox.resume("telegram", self._dispatch, self._given_up)
            loops.append(asyncio.create_task(resume, name="telegram-resume"))
            if self.webhook_url is None:
                polling = Polling(
                    self.app.bot,
                    self._updates_request,
                    self.inbox,
                    acts_on=self.acts_on,
                    take=self.take,
                    backlog=self.posts.backlog,
                    crash_at=self._crash_at,
                )
                loops.append(asyncio.create_task(polling.run(), name="telegram-polling"))
            await asyncio.gather(*loops)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if self._handling:  # let updates being handled finish, so they are not repeated
                await asyncio.wait(self._handling, timeout=STOP_GRACE_S)
            for task in self._handling:
                task.cancel()
            await asyncio.gather(*self._handling, return_exceptions=True)
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()

    async def _post_init(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        for language, commands in menus():
            await app.bot.set_my_commands(commands, language_code=language)
        if self.webhook_url is not None:
            assert self._webhook_secret is not None
            await app.bot.set_webhook(
                self.webhook_url,
                secret_token=self._webhook_secret.reveal(),
                allowed_updates=Update.ALL_TYPES,
            )
        self.runtime.platforms.add(self)  # it can answer from now on
        log.info("telegram: @%s ready (%s)", app.bot.username, self.mode)

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "long polling"

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: an update from Telegram, checked by its secret header. It is
        answered 200 only once committed to the inbox; 503 if the database refused it, so
        Telegram sends it again."""
        assert self._webhook_secret is not None
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self._webhook_secret.reveal().encode()):
            return web.Response(status=403)
        await self._ready.wait()  # after a restart, Telegram may post before we are set up
        try:
            payload = await request.json()
            update = Update.de_json(payload, self.app.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            return web.Response(status=400, text="not an update")
        if not self.acts_on(update):
            return web.Response()
        try:
            entry = await self.inbox.record("telegram", str(update.update_id), payload)
        except Exception:
            log.exception("telegram: could not record update %s", update.update_id)
            return web.Response(status=503, text="try again")
        crash_point("after_inbox_commit", self._crash_at)
        if entry.fresh:
            self.take(entry, update)
        return web.Response()

    # ----- handling updates from the inbox -----------------------------------------------------

    def acts_on(self, update: Update) -> bool:
        """Whether any handler would act on `update`; the others are confirmed unrecorded (in a
        group, most messages are none of the bot's business)."""
        return any(
            handler.check_update(update) not in (None, False)
            for group in self.app.handlers.values()
            for handler in group
        )

    def take(self, entry: InboxEntry, update: Update | None = None) -> None:
        """Hand a freshly recorded update to its handlers, in a task of its own."""

        async def dispatch(entry: InboxEntry) -> None:
            await self._dispatch(entry, update)

        task = asyncio.create_task(
            self.inbox.handle(entry, dispatch, self._given_up),
            name=f"telegram-update-{entry.update_id}",
        )
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _dispatch(self, entry: InboxEntry, update: Update | None = None) -> None:
        """Run the update's handlers, at most CONCURRENT_UPDATES at once as PTB would. Raises
        the first error a handler raised, so the inbox records a failed attempt."""
        await self._ready.wait()
        if update is None:
            update = Update.de_json(entry.payload, self.app.bot)
        handling = _Handling(entry)
        token = _HANDLING.set(handling)
        user = update.effective_user
        try:
            # PTB awaits the handlers inside process_update, in this task (a handler with
            # block=False gets a task created from here, which copies the context): the
            # member's language holds for every handler of the update and the core they call.
            with speaking(user.language_code if user is not None else None):
                await self.app.update_processor.process_update(
                    update, self.app.process_update(update)
                )
        finally:
            _HANDLING.reset(token)
        if handling.errors:
            raise handling.errors[0]
        crash_point("after_handling", self._crash_at)

    async def _handler_failed(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's error handler: the error goes to the inbox's record of the update, which
        handles it again later (and tells the member once it gives up)."""
        error = context.error
        if isinstance(error, BadRequest) and any(
            said in error.message.lower() for said in ALREADY_DONE
        ):
            return  # handled again after a restart: there is nothing more to say
        handling = _HANDLING.get()
        if handling is None or not isinstance(error, Exception):
            log.error("telegram: handling an update failed", exc_info=error)
            return
        handling.errors.append(error)

    async def _given_up(self, entry: InboxEntry, error: str) -> None:
        """Tell the member their update will not be handled (a button press: in its alert,
        not in the chat)."""
        update = Update.de_json(entry.payload, self.app.bot)
        user = update.effective_user
        # Outside the update's handling: in the language of the member who sent it.
        with contextlib.suppress(TelegramError), speaking(user.language_code if user else None):
            if update.callback_query is not None:
                await update.callback_query.answer(_(SOMETHING_WENT_WRONG), show_alert=True)
            elif (message := update.effective_message) is not None:
                # A mint's line ends saying so (a status message: in its opener's language);
                # any other update gets a reply.
                await self.posts.settle(
                    message.chat_id, message.message_id, Said(SOMETHING_WENT_WRONG)
                )

    def acknowledge(self, message: Message, who: str, name: str) -> AnswerLine:
        """The update's first answer to the member (their request's "minting…" line), shown
        once however often the update is handled: queued now (Telegram shows it when its
        limits allow; `acknowledged` waits for that), or, handled again after a crash, the line
        shown then."""
        handling = _HANDLING.get()
        shown = handling.entry.acknowledgement if handling is not None else None
        if shown is not None:
            return self.posts.resumed(
                int(shown["chat_id"]), int(shown["message_id"]), message.message_id
            )
        return self.posts.open(message.chat_id, message.message_id, who, name)

    async def acknowledged(self, line: AnswerLine) -> None:
        """Wait until the member sees `line`, and remember where in the update's inbox entry."""
        if not line.fresh:
            return
        await line.shown()
        handling = _HANDLING.get()
        if handling is not None:
            await self.inbox.acknowledged(
                handling.entry.id, {"chat_id": line.chat_id, "message_id": line.message_id}
            )
        crash_point("after_ack", self._crash_at)

    async def given_up_in(self, chat_id: int) -> int:
        """How many of this chat's updates were given up (for /stats)."""
        entries = await self.inbox.given_up("telegram", limit=1000)
        chats = (Update.de_json(e.payload, self.app.bot).effective_chat for e in entries)
        return sum(1 for chat in chats if chat is not None and chat.id == chat_id)

    # ----- answers -----------------------------------------------------------------------------

    async def deliver(self, result: MintResult) -> None:
        """Show the request's answer where its "minting…" line is (a reply of its own in a
        quiet chat, a line of the chat's status message in a busy one); if that message is
        gone, in a new one. Raises if Telegram could not be reached, so the pipeline retries."""
        await self.posts.deliver(result)

    async def announce(self, result: MintResult, chat_id: str, locale: str | None) -> None:
        """Post a confirmed mint in the community's announcement chat, in the language the
        community chose for public posts (English if none: a Telegram chat has none of its
        own)."""
        with speaking(locale):
            text = announcement_html(result)
        await self.app.bot.send_message(
            int(chat_id),
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )

    async def tell_claimer(self, result: MintResult) -> None:
        """A claimed edition is minted (or failed): tell the claimer in private if they have
        talked to the bot, else in the drop's chat. In the claimer's language, which their
        claim recorded (this runs in the pipeline, for every claimer)."""
        with speaking((result.reply_to or {}).get("locale")):
            await self._tell_claimer(result)

    async def _tell_claimer(self, result: MintResult) -> None:
        try:
            await self.app.bot.send_message(
                int(result.requester_id),
                result_html(result),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            )
            return
        except (Forbidden, BadRequest):
            pass  # no private chat with this member
        await self.app.bot.send_message(
            int((result.reply_to or {}).get("chat_id", 0)),
            claim_told_in_chat_html(result),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )

    async def tell_admins(self, text: str) -> None:
        """Say `text` in ALERT_TELEGRAM_CHAT_ID, if it is set."""
        chat_id = self.runtime.settings.alert_telegram_chat_id
        if chat_id is not None:
            await self.app.bot.send_message(chat_id, text)

    # ----- who is asking -----------------------------------------------------------------------

    async def member(self, community_id: str, user_id: str) -> Asker | None:
        """The chat's member `user_id` as Telegram says now (getChatMember), or None if they
        are not in the chat (or Telegram will not say)."""
        try:
            found = await self.app.bot.get_chat_member(int(community_id), int(user_id))
        except (BadRequest, Forbidden, ValueError):  # ValueError: not a Telegram ID at all
            return None
        if not is_member(found):
            return None
        admin = is_chat_admin(found)
        roles = frozenset({ADMINISTRATORS}) if admin else frozenset()
        return Asker(user_id, roles, is_admin=admin, member_of=community_id)

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


@dataclass
class _Handling:
    """The inbox entry whose handlers run in this task, and the errors they raised."""

    entry: InboxEntry
    errors: list[Exception] = field(default_factory=list)


_HANDLING: contextvars.ContextVar[_Handling | None] = contextvars.ContextVar(
    "telegram_handling", default=None
)
