"""Telegram's flood limits, kept on our side so Telegram never has to refuse a message.

Telegram allows a bot about 30 messages a second across all chats, 20 a minute in one group
and about one a second in one private chat; an edit counts as a message. Each limit is a
sliding window: at most `count` messages in any `period` seconds, as Telegram counts them on
arrival. We cannot see when a message arrives, only that it arrived between the moment we
sent it and the moment its answer came back, so a message holds its place in every window
from its start until `period` after its answer. Whatever the network does in between, no
window on Telegram's side can then hold more than `count` of them.

One dispatcher hands out turns, most urgent first and in order of asking within a priority
(`NOW`: a member is waiting for this answer; `LATER`: an update of a message they already
see). Updates leave urgent messages a sixth of each window and, beyond a sixth of their own,
as many places as urgent messages took in its last period: under a steady stream of new
requests their first answers do not queue behind updates, and updates wait, gathering more
changes into one edit. An update still waiting when a member starts waiting on the same
message goes as urgent (`promote`). A chat that is at its own limit does not hold up the
others.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.sent_journal import SentJournal

log = logging.getLogger(__name__)

NOW = 0
LATER = 1
# `rate_limit_args` of a call made inside `turn()`: its place is already taken.
GRANTED = -1

# The Bot API methods that send or edit a message: what Telegram's limits count.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendAudio",
        "sendVoice",
        "sendSticker",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
    }
)
# Windows of chats that have been quiet for a full period hold nothing; past this many they
# are dropped.
MAX_IDLE_WINDOWS = 1024


class Window:
    """At most `count` messages in any `period` seconds: a message counts from when it was
    started (`begin`) until `period` after it ended (`end`).

    Updates (not `urgent`) leave a sixth of the window to urgent messages. Beyond a sixth of
    their own, they also leave as many places as urgent messages took in the last period:
    under a steady stream of first answers the window is never full when the next one comes,
    and updates wait, gathering more changes into fewer edits, yet always get their sixth."""

    def __init__(self, count: int, period: float) -> None:
        self.count = count
        self.period = period
        self._ended: deque[float] = deque()  # when each counted message ended, oldest first
        self._open = 0
        # When each message of the last period began, urgent or not, oldest first.
        self._begun: dict[bool, deque[float]] = {True: deque(), False: deque()}

    def ready_at(self, now: float, *, urgent: bool = True) -> float:
        """The earliest time a message may start (`now` if it may now; inf while only a
        message under way could free a place)."""
        # Left the window when `t + period <= now`, computed so, as the times returned below
        # are: one that has not left is then never returned as ready now.
        while self._ended and self._ended[0] + self.period <= now:
            self._ended.popleft()
        for begun in self._begun.values():
            while begun and begun[0] + self.period <= now:
                begun.popleft()
        used = self._open + len(self._ended)
        sixth = self.count // 6
        updates, firsts = self._begun[False], self._begun[True]
        limit = self.count
        if not urgent and len(updates) >= max(1, sixth):  # past their own sixth
            limit -= max(sixth, len(firsts))
        elif not urgent:
            limit -= sixth
        if used < max(1, limit):
            return now
        expiring = used - max(1, limit)  # this many must leave the window first, oldest first
        ready = self._ended[expiring] + self.period if expiring < len(self._ended) else math.inf
        if not urgent:  # or an update or first answer leaving the period makes room for them
            ready = min([ready, *(begun[0] + self.period for begun in (updates, firsts) if begun)])
        return ready

    def seed(self, ended: float) -> None:
        """A message that ended at `ended` before this window was made (oldest first)."""
        self._ended.append(ended)

    def begin(self, now: float, *, urgent: bool) -> None:
        self._open += 1
        self._begun[urgent].append(now)

    def end(self, now: float) -> None:
        self._open -= 1
        self._ended.append(now)

    def idle(self, now: float) -> bool:
        return self._open == 0 and self.ready_at(now) == now and not self._ended


@dataclass(order=True)
class _Ticket:
    priority: int  # `promote` may make it more urgent
    seq: int
    chat: int | str | None = field(compare=False)
    windows: tuple[Window, ...] = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


class MessageLimits(BaseRateLimiter[int]):
    """PTB's rate-limiter hook: every message-sending call waits for its turn under the
    overall, per-group and per-private-chat limits. `rate_limit_args` is the call's priority
    (`NOW` unless given). A 429 (`RetryAfter`) pauses every call for as long as Telegram says,
    then the call is tried again, at most `max_retries` times."""

    def __init__(
        self,
        *,
        overall_per_s: float,
        group_per_minute: float,
        private_per_s: float,
        max_retries: int,
        journal: SentJournal | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._overall = _window(overall_per_s, 1.0)
        self._group_per_minute = group_per_minute
        self._private_per_s = private_per_s
        self._chats: dict[int | str, Window] = {}
        self._max_retries = max_retries
        self._clock = clock
        self._waiting: list[_Ticket] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._paused_until = 0.0
        self._dispatcher: asyncio.Task[None] | None = None
        self._journal = journal

    async def initialize(self) -> None:
        if self._journal is not None and self._dispatcher is None:
            now = self._clock()
            for ago, chat in self._journal.open():  # what the last process sent lately
                for window in self._windows(_chat_key(chat)):
                    window.seed(now - ago)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="telegram-limits")

    async def shutdown(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        if self._journal is not None:
            self._journal.close()

    def pause(self, seconds: float) -> None:
        """Telegram said to wait: no message starts for `seconds`."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._changed.set()

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int | str | None, priority: int = NOW) -> AsyncIterator[None]:
        """Wait for a message to `chat_id` to be allowed, and hold its place while the body
        sends it (with `rate_limit_args=GRANTED`). What the body sends may be decided only
        now, so it says the latest."""
        chat = _chat_key(chat_id)
        windows = self._windows(chat)
        await self._wait_turn(priority, chat, windows)
        if self._journal is not None and chat_id is not None:
            self._journal.record(chat_id)  # at its start: a kill mid-call still counts it
        try:
            yield
        finally:
            self._ended(windows)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint not in MESSAGE_METHODS or rate_limit_args == GRANTED:
            return await callback(*args, **kwargs)
        priority = NOW if rate_limit_args is None else rate_limit_args
        for attempt in itertools.count():
            try:
                async with self.turn(data.get("chat_id"), priority):
                    return await callback(*args, **kwargs)
            except RetryAfter as err:
                if attempt >= self._max_retries:
                    raise
                log.info("telegram: asked to wait %s s before %s", err.retry_after, endpoint)
                self.pause(retry_seconds(err.retry_after))
        raise AssertionError("unreachable")

    # ----- turns -------------------------------------------------------------------------------

    def promote(self, chat_id: int | str) -> None:
        """A member now waits on a message still waiting for its turn in `chat_id` (an update
        of a message they will see their first answer on): it goes as urgent from here on."""
        chat = _chat_key(chat_id)
        promoted = False
        for ticket in self._waiting:
            if ticket.chat == chat and ticket.priority > NOW:
                ticket.priority = NOW
                promoted = True
        if promoted:
            self._waiting.sort()
            self._changed.set()

    def _windows(self, chat_id: int | str | None) -> tuple[Window, ...]:
        windows = [self._overall] if self._overall is not None else []
        if chat_id is not None:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chat_window(chat_id)
                if chat is not None:
                    self._forget_idle()
                    self._chats[chat_id] = chat
            if chat is not None:
                windows.append(chat)
        return tuple(windows)

    def _chat_window(self, chat_id: int | str) -> Window | None:
        # Negative IDs and @usernames are groups and channels; positive IDs are private chats.
        if isinstance(chat_id, str) or chat_id < 0:
            return _window(self._group_per_minute, 60.0)
        return _window(self._private_per_s, 1.0)

    def _forget_idle(self) -> None:
        if len(self._chats) < MAX_IDLE_WINDOWS:
            return
        now = self._clock()
        for chat_id, window in list(self._chats.items()):
            if window.idle(now):
                del self._chats[chat_id]

    async def _wait_turn(
        self, priority: int, chat: int | str | None, windows: tuple[Window, ...]
    ) -> None:
        granted = asyncio.get_running_loop().create_future()
        ticket = _Ticket(priority, next(self._seq), chat, windows, granted)
        bisect.insort(self._waiting, ticket)
        self._changed.set()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            if ticket.granted.done() and not ticket.granted.cancelled():
                self._ended(windows)  # granted as we were cancelled: give the place back
            raise

    def _ended(self, windows: tuple[Window, ...]) -> None:
        now = self._clock()
        for window in windows:
            window.end(now)
        self._changed.set()

    async def _dispatch(self) -> None:
        while True:
            self._changed.clear()
            wake_at = self._grant(self._clock())
            wait = None if wake_at == math.inf else max(0.0, wake_at - self._clock())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._changed.wait()

    def _grant(self, now: float) -> float:
        """Start every waiting call that may start now, in turn order; returns when the next
        one may (inf: when something ends or arrives)."""
        if now < self._paused_until:
            return self._paused_until
        if self._overall is not None and (free := self._overall.ready_at(now)) > now:
            return free  # every call counts against it
        wake_at = math.inf
        still: list[_Ticket] = []
        for ticket in self._waiting:
            if ticket.granted.done():  # its caller gave up waiting
                continue
            urgent = ticket.priority == NOW
            ready = max((w.ready_at(now, urgent=urgent) for w in ticket.windows), default=now)
            if ready <= now:
                for window in ticket.windows:
                    window.begin(now, urgent=urgent)
                ticket.granted.set_result(None)
            else:
                wake_at = min(wake_at, ready)
                still.append(ticket)
        self._waiting = still
        return wake_at


def _chat_key(chat_id: object) -> int | str | None:
    """A chat as its windows are kept: a numeric ID as a number, an @username as is."""
    with contextlib.suppress(TypeError, ValueError):
        return int(chat_id)  # type: ignore[call-overload,no-any-return]
    return chat_id if isinstance(chat_id, str) else None


def _window(per_period: float, period: float) -> Window | None:
    """A window of `per_period` messages per `period` (None: no limit). A fractional rate
    becomes a whole count over a longer period with the same average."""
    if per_period <= 0:
        return None
    if per_period >= 1 and float(per_period).is_integer():
        return Window(int(per_period), period)
    return Window(1, period / per_period)


def retry_seconds(retry_after: Any) -> float:
    if hasattr(retry_after, "total_seconds"):
        return float(retry_after.total_seconds())
    return float(retry_after)
