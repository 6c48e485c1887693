"""Where a Telegram chat reads the answers to its mint requests.

A request in a quiet chat is answered by a reply to the member's message, "⏳ Minting…",
edited into the answer once the request is decided. While a chat has requests in flight, the
next ones join that message instead, which becomes the chat's status message: one line per
request, each member mentioned by name in the order they asked, edited as each is decided.
Every line ends in its final state, a minted one with its token's links. A message keeps the
short form of a reply of its own only while its one line is of the message it replies to.

A message is sent or edited only when Telegram's limits allow (`MessageLimits.turn`), and what
it says is decided at that moment: the changes made while it waited go out in one message, so a
busy chat costs a message per round of changes, not two per request. A change that shows a
member their request for the first time goes before an update of lines already shown. A new
message waits while a burst is still being fetched (`Backlog`), so that it shows all of its
chat's requests in the burst at once instead of one now and an edit for the rest later.

Each member reads their own answer in their language; a status message is in its opener's
(`bot.telegram.post`).

Which requests a message answers is recorded with them (`answered_in`): after a restart, the
first answer for a message rebuilds it from the database. While a message is in memory here,
this process holds it (`MessageHolds`): with several chat processes, only the holder answers
in it, so no two edit it from two copies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot.i18n import current
from bot.i18n.said import Said
from bot.minting.types import MintResult
from bot.telegram.backlog import Backlog
from bot.telegram.limits import GRANTED, LATER, NOW, MessageLimits, retry_seconds
from bot.telegram.post import Line, Post, line_of, rendering, replies_to, settled
from bot.telegram.render import NO_PREVIEW

# Requests one status message shows; the next start a new one.
MAX_LINES = 20
# An update of lines already shown, while others of its message are still minting, waits this
# long for more of them to finish, so that one edit shows them all (answers in a burst arrive
# batch by batch, and each edit costs the chat one of its 20 messages a minute).
LINGER_S = 2.0
# Tries of one send or edit (a 429, a message deleted meanwhile) before the answers waiting
# for it hear the error; the pipeline answers again later.
SHOW_ATTEMPTS = 5

Recorded = Callable[[str, str], Awaitable[list[MintResult]]]


class MessageHolds(Protocol):
    """Where a process says which shared messages it has in memory (`AnswerClaims`)."""

    async def hold_message(self, chat_id: object, message_id: object) -> None: ...

    async def let_go_message(self, chat_id: object, message_id: object) -> None: ...


class _Vanished(Exception):
    """The message to edit is gone (deleted by someone): it is sent anew."""


class Posts:
    """The chats' answer messages while their requests are in flight."""

    def __init__(
        self,
        bot: Bot,
        limits: MessageLimits,
        recorded: Recorded,
        backlog: Backlog | None = None,
        holds: MessageHolds | None = None,
    ) -> None:
        self._bot = bot
        self._holds = holds
        self._limits = limits
        self._recorded = recorded
        self.backlog = backlog or Backlog()
        self._joinable: dict[int, Post] = {}  # per chat: the message a new request joins
        self._posts: dict[tuple[int, int], Post] = {}  # sent messages still in flight
        self._rebuilding: dict[tuple[int, int], asyncio.Task[Post]] = {}

    def open(self, chat_id: int, asked: int, who: str, name: str) -> AnswerLine:
        """Show the request asked by message `asked`, pending, as soon as Telegram's limits
        allow (`AnswerLine.shown` waits for that). In the language of the member asking (the
        handler's locale)."""
        locale = current()
        post = self._joinable.get(chat_id)
        if post is None or post.settled or len(post.lines) >= MAX_LINES:
            post = Post(chat_id, reply_to=asked, locale=locale)
            self._joinable[chat_id] = post
        post.add(Line(str(asked), who, name, locale))
        return AnswerLine(self, chat_id, str(asked), post, shown=self._changed(post, first=True))

    def resumed(self, chat_id: int, message_id: int, asked: int) -> AnswerLine:
        """The line shown for `asked` before the update was handled again (in `message_id`)."""
        post = self._posts.get((chat_id, message_id))
        if post is None or post.line(str(asked)) is None:
            return AnswerLine(self, chat_id, str(asked), None, message_id)
        return AnswerLine(self, chat_id, str(asked), post)

    async def deliver(self, result: MintResult) -> None:
        """Show a decided request's final state in its message; returns once Telegram does."""
        reply = result.reply_to or {}
        chat_id = int(reply.get("chat_id", result.chat_id))
        asked = str(reply.get("request_message_id", result.message_id))
        post = await self._post_of(chat_id, reply.get("message_id"), int(asked), result.locale)
        line = post.line(asked)
        if line is None:
            line = line_of(result)
            post.add(line)
        settled(line, result)
        await self._change(post, first=False)

    async def settle(
        self, chat_id: int, asked: int, html: str | Said, post: Post | None = None
    ) -> None:
        """Give a request that ended before it was recorded its last word (HTML, or a `Said`
        to escape): in its line, or, when its message is no longer in memory (a restart), in a
        reply of its own (in the current locale: the asker's)."""
        post = post or self._holding(chat_id, str(asked))
        line = post.line(str(asked)) if post is not None else None
        if post is None or line is None:
            await self._bot.send_message(
                chat_id,
                rendering(html)(),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_parameters=ReplyParameters(asked, allow_sending_without_reply=True),
            )
            return
        line.settle(rendering(html))
        await self._change(post, first=False)

    async def withdraw(self, post: Post, asked: str) -> None:
        """Take a line away; a message left with none is deleted."""
        line = post.line(asked)
        if line is not None:
            post.lines.remove(line)
            await self._change(post, first=False)

    # ----- messages ----------------------------------------------------------------------------

    def _holding(self, chat_id: int, asked: str) -> Post | None:
        posts = [self._joinable.get(chat_id), *self._posts.values()]
        return next((p for p in posts if p and p.chat_id == chat_id and p.line(asked)), None)

    async def _post_of(
        self, chat_id: int, message_id: object, asked: int, locale: str | None
    ) -> Post:
        if not message_id:  # never shown: a message of its own, in its asker's language
            return Post(chat_id, reply_to=asked, locale=locale)
        at = (chat_id, int(str(message_id)))
        post = self._posts.get(at)
        if post is not None:
            return post
        rebuild = self._rebuilding.get(at)
        if rebuild is None:  # one rebuild, however many answers for the message arrive at once
            rebuild = asyncio.ensure_future(self._rebuild(*at))
            self._rebuilding[at] = rebuild
            rebuild.add_done_callback(lambda _: self._rebuilding.pop(at, None))
        return await asyncio.shield(rebuild)

    async def _rebuild(self, chat_id: int, message_id: int) -> Post:
        """A message sent before a restart, with every request recorded as answered in it."""
        results = await self._recorded(str(chat_id), str(message_id))
        opener, locale = replies_to(results)
        post = Post(chat_id, reply_to=opener, message_id=message_id, locale=locale)
        for result in results:
            line = line_of(result)
            if result.is_final:
                settled(line, result)
            post.add(line)
        await self._keep(post)
        return post

    async def _change(self, post: Post, *, first: bool) -> None:
        """Wait until Telegram shows `post` as it is now (or later)."""
        await self._changed(post, first=first)

    def _changed(self, post: Post, *, first: bool) -> asyncio.Future[None]:
        """`post` changed: the future of Telegram showing it as it is now (or later)."""
        post.version += 1
        post.changed.set()
        if first:  # an update of it already waiting for its turn now carries a first answer
            self._limits.promote(post.chat_id)
        shown: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Its error is also its waiter's, who may have stopped waiting: never left unread.
        shown.add_done_callback(lambda done: done.cancelled() or done.exception())
        post.waiters.append((post.version, first, shown))
        if post.task is None or post.task.done():
            post.task = asyncio.create_task(self._show(post), name=f"telegram-post-{post.chat_id}")
        return shown

    async def _show(self, post: Post) -> None:
        """Send or edit `post` until Telegram shows its latest version."""
        failures = 0
        while post.shown < post.version:
            if post.message_id is None:
                await self.backlog.drained()
            await self._linger(post)
            priority = NOW if post.urgent() else LATER
            try:
                async with self._limits.turn(post.chat_id, priority):
                    version = post.version  # what it says is decided now, in its turn
                    await self._put(post)
            except (_Vanished, RetryAfter) as err:
                if isinstance(err, RetryAfter):
                    self._limits.pause(retry_seconds(err.retry_after))
                failures += 1
                if failures >= SHOW_ATTEMPTS:
                    post.failed(err)
                    return
                continue
            except TelegramError as err:
                post.failed(err)
                return
            except Exception as err:  # never leave an answer waiting on a dead task
                post.failed(err)
                raise
            post.shown_up_to(version)
        if post.settled:  # nothing in flight here any more
            if self._joinable.get(post.chat_id) is post:
                del self._joinable[post.chat_id]
            if post.message_id is not None:
                await self._forget(post.chat_id, post.message_id)

    async def _keep(self, post: Post) -> None:
        assert post.message_id is not None
        self._posts[(post.chat_id, post.message_id)] = post
        if self._holds is not None:
            await self._holds.hold_message(post.chat_id, post.message_id)

    async def _forget(self, chat_id: int, message_id: int) -> None:
        if self._posts.pop((chat_id, message_id), None) is not None and self._holds is not None:
            await self._holds.let_go_message(chat_id, message_id)

    @staticmethod
    async def _linger(post: Post) -> None:
        """Hold an update back while other lines of its message are about to finish."""
        loop = asyncio.get_running_loop()
        until = loop.time() + LINGER_S
        while not post.urgent() and not all(line.final for line in post.lines):
            post.changed.clear()
            left = until - loop.time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await post.changed.wait()

    async def _put(self, post: Post) -> None:
        """Tell Telegram what `post` says now: delete it once no line is left, send it the first
        time, else edit it."""
        if not post.lines:
            if post.message_id is not None:
                with contextlib.suppress(BadRequest):  # already gone
                    await self._bot.delete_message(post.chat_id, post.message_id)
                await self._forget(post.chat_id, post.message_id)
            return
        if post.message_id is None:
            if post.reply_to is None:  # a rebuilt message deleted meanwhile: under its first
                post.reply_to = int(post.lines[0].key)
                post.locale = post.lines[0].locale
            sent = await self._bot.send_message(
                post.chat_id,
                post.html(),
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_parameters=ReplyParameters(post.reply_to, allow_sending_without_reply=True),
                rate_limit_args=GRANTED,  # type: ignore[call-arg]
            )
            post.message_id = sent.message_id
            await self._keep(post)  # before its requests are recorded as answered in it
            return
        try:
            await self._bot.edit_message_text(
                post.html(),
                chat_id=post.chat_id,
                message_id=post.message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                rate_limit_args=GRANTED,  # type: ignore[call-arg]
            )
        except BadRequest as err:
            said = err.message.lower()
            if "not modified" in said:
                return  # it says this already (shown before a restart)
            if "not found" in said or "can't be edited" in said:
                await self._forget(post.chat_id, post.message_id)
                post.message_id = None
                raise _Vanished from err
            raise


class AnswerLine:
    """A request's line, as its handler holds it: where it is shown, and how to end it before
    the request is recorded (refused, or already asked)."""

    def __init__(
        self,
        posts: Posts,
        chat_id: int,
        asked: str,
        post: Post | None,
        message_id: int | None = None,
        shown: asyncio.Future[None] | None = None,
    ) -> None:
        self._posts = posts
        self._chat_id = chat_id
        self._asked = asked
        self._post = post  # None: shown before a restart, in a message no longer in memory
        self._message_id = message_id
        self._shown = shown  # None: shown before this handler held it

    @property
    def fresh(self) -> bool:
        """Whether this handler showed it (not a line shown before the update came again)."""
        return self._shown is not None

    async def shown(self) -> None:
        """Wait until the member sees the line."""
        if self._shown is not None:
            await asyncio.shield(self._shown)

    @property
    def chat_id(self) -> int:
        return self._chat_id

    @property
    def replies_to(self) -> int | None:
        """The member's message its message replies to, if known here."""
        return self._post.reply_to if self._post is not None else None

    @property
    def message_id(self) -> int:
        found = self._post.message_id if self._post is not None else self._message_id
        assert found is not None, "a line is shown before its handler holds it"
        return found

    async def settle(self, html: str | Said) -> None:
        """End the line with `html` (a refusal: a `Said`, shown in its reader's language)."""
        await self._posts.settle(self._chat_id, int(self._asked), html, self._post)

    async def withdraw(self) -> None:
        """Take the line away (the request's answer is shown elsewhere already)."""
        if self._post is not None:
            await self._posts.withdraw(self._post, self._asked)
