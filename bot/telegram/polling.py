"""Long polling through the inbox: fetch a page of updates, commit it, only then confirm it.

Telegram forgets every update below the offset of the next getUpdates, so that offset moves
past a page only once the page is committed to the inbox (one transaction for the page). The
updates are then handed to their handlers; a crash anywhere leaves each update either still
with Telegram or in the inbox, never neither. python-telegram-bot's own `Updater` fetches the
next page while the handlers of the last one still run, before anything is recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Bot, Update
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter

from bot.chain.faults import crash_point
from bot.errors import MintbotError
from bot.inbox import DurableInbox, InboxEntry
from bot.telegram.backlog import Backlog
from bot.telegram.transport import AiohttpRequest

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_TIMEOUT_S = 10  # how long Telegram holds a getUpdates open while nothing comes
PAGE = 100  # Telegram's most updates per getUpdates
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
# Consecutive failures (Telegram unreachable, or the database refusing pages) before polling
# gives up, stopping the bot with the error: about a quarter of an hour at the longest wait.
FAILURES_MAX = 40


class TelegramUnreachable(MintbotError):
    """Polling failed too many times in a row."""


class UpdatesRequest(AiohttpRequest):
    """getUpdates' own connection, which keeps the last answer as Telegram sent it (through
    PTB's parsing hook), so updates are stored raw rather than re-serialised from PTB's
    objects (that cost about 90 µs an update)."""

    def __init__(self) -> None:
        super().__init__(connections=1)
        self.last_answer: Any = None

    def parse_json_payload(self, payload: bytes) -> Any:  # type: ignore[override]
        self.last_answer = AiohttpRequest.parse_json_payload(payload)
        return self.last_answer


class Polling:
    """The fetch loop. `acts_on(update)` says whether any handler would act on an update
    (only those are recorded); `take(entry, update)` hands a fresh one to its handlers."""

    def __init__(
        self,
        bot: Bot,
        updates_request: UpdatesRequest,
        inbox: DurableInbox,
        *,
        acts_on: Callable[[Update], bool],
        take: Callable[[InboxEntry, Update], None],
        backlog: Backlog | None = None,
        crash_at: str | None = None,
    ) -> None:
        self.bot = bot
        self.updates_request = updates_request
        self.inbox = inbox
        self.acts_on = acts_on
        self.take = take
        self.backlog = backlog
        self.crash_at = crash_at
        self._failures = 0

    async def run(self) -> None:
        """Poll until cancelled. Raises `TelegramUnreachable` after FAILURES_MAX failures in a
        row, and at once if Telegram refuses the token."""
        await self._retrying("deleteWebhook", self.bot.delete_webhook)
        offset: int | None = None
        page = await self._page(offset)
        while True:
            fresh: list[tuple[InboxEntry, Update]] = []
            if page:
                crash_point("after_fetch", self.crash_at)
                wanted = [(update, raw) for update, raw in page if self.acts_on(update)]
                try:
                    entries = await self.inbox.record_many(
                        "telegram", [(str(update.update_id), raw) for update, raw in wanted]
                    )
                except Exception as err:  # the offset stays: Telegram keeps the page for us
                    await self._failed("recording updates", err)
                    page = await self._page(offset)
                    continue
                crash_point("after_inbox_commit", self.crash_at)
                fresh = [(e, u) for e, (u, _) in zip(entries, wanted, strict=True) if e.fresh]
                offset = page[-1][0].update_id + 1
            self._failures = 0
            # The next request goes out before this page's handlers start, not behind them.
            following = asyncio.ensure_future(self._page(offset))
            for entry, update in fresh:
                self.take(entry, update)
            if self.backlog is not None:
                self.backlog.page(full=len(page) >= PAGE)
            page = await following

    async def _page(self, offset: int | None) -> list[tuple[Update, dict[str, Any]]]:
        """The next page: each update, and its JSON as Telegram sent it."""
        updates = await self._retrying("getUpdates", functools.partial(self._fetch, offset))
        answer = self.updates_request.last_answer
        raw = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(raw, list) or len(raw) != len(updates):
            raw = [update.to_dict() for update in updates]
        return list(zip(updates, raw, strict=True))

    async def _fetch(self, offset: int | None) -> tuple[Update, ...]:
        return await self.bot.get_updates(
            offset=offset, limit=PAGE, timeout=POLL_TIMEOUT_S, allowed_updates=Update.ALL_TYPES
        )

    async def _retrying(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()`, again after a wait while it fails for a reason that may pass: the network,
        a 429, a 5xx, another poller ending (Conflict). Anything else is raised."""
        while True:
            try:
                result = await call()
            except RetryAfter as err:
                wait = err.retry_after
                await asyncio.sleep(
                    wait.total_seconds() if isinstance(wait, dtm.timedelta) else wait
                )
                continue
            except BadRequest:
                raise
            except (NetworkError, Conflict) as err:
                await self._failed(what, err)
                continue
            return result

    async def _failed(self, what: str, err: Exception) -> None:
        self._failures += 1
        if self._failures >= FAILURES_MAX:
            raise TelegramUnreachable(
                f"telegram: {what} failed {self._failures} times in a row; last: {err}"
            ) from err
        wait = min(RETRY_FIRST_S * 2 ** (self._failures - 1), RETRY_MAX_S)
        log.warning("telegram: %s failed (%s); trying again in %.1f s", what, err, wait)
        await asyncio.sleep(wait)
