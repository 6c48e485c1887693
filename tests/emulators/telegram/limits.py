"""Telegram's flood limits on the messages a bot sends or edits, enforced: at most
`overall_per_s` in any 1 s window across all chats, `group_per_minute` in any 60 s window in one
group (a negative chat id), `private_per_s` in any 1 s window in one private chat. A call over a
limit is not performed: it is answered 429 with the `retry_after` that frees its window, as
Telegram answers, and written down as a violation. Refused calls do not count into the
windows. A chat told to wait by a 429 a test injected must wait: a message call there before its
`retry_after` is up is refused again, and written down as a violation too (over a limit, the
window itself refuses a call that comes too early)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# The methods that send or edit a message: what Telegram's limits count, one a call (an album
# sent with sendMediaGroup counts once).
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendAnimation",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
    }
)


@dataclass(frozen=True)
class TelegramLimits:
    """How many message calls Telegram lets a bot make; the defaults are Telegram's own."""

    overall_per_s: int = 30
    group_per_minute: int = 20
    private_per_s: int = 1


@dataclass(frozen=True)
class LimitViolation:
    """A message call refused for being over `limit` ("overall", "group" or "private")."""

    method: str
    chat_id: int | None
    at: float
    limit: str
    retry_after: int


class _Window:
    """The accepted calls of the last `seconds`; full at `capacity`."""

    def __init__(self, capacity: int, seconds: float) -> None:
        self.capacity, self.seconds = capacity, seconds
        self._times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more call fits (0: it fits now). A call at `now` shares a
        window with every call after `now - seconds`."""
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()
        if len(self._times) < self.capacity:
            return 0.0
        # The call that must leave first for one more to fit.
        return self._times[len(self._times) - self.capacity] + self.seconds - now

    def add(self, now: float) -> None:
        self._times.append(now)


class FloodControl:
    """The sliding windows of one bot's message calls, and the calls they refused."""

    def __init__(self, limits: TelegramLimits) -> None:
        self.limits = limits
        self.violations: list[LimitViolation] = []
        self._overall = _Window(limits.overall_per_s, 1.0)
        self._chats: dict[int, _Window] = {}
        self._wait_until: dict[int | None, float] = {}  # per chat: the end of a 429's wait

    def admit(self, method: str, params: dict[str, Any], now: float) -> int | None:
        """None if the call may go ahead (and it is counted); else the `retry_after` it is
        refused with (whole seconds, at least 1), the call written down as a violation."""
        if method not in MESSAGE_METHODS:
            return None
        chat_id = _chat_id(params)
        early = self._wait_until.get(chat_id, 0.0) - now
        if early > 0:
            retry_after = max(1, math.ceil(early))
            self.violations.append(LimitViolation(method, chat_id, now, "retry_after", retry_after))
            return retry_after
        windows = [("overall", self._overall)]
        if chat_id is not None:
            windows.append(("group" if chat_id < 0 else "private", self._chat(chat_id)))
        waits = [(window.wait(now), name) for name, window in windows]
        wait, limit = max(waits)
        if wait <= 0:
            for _, window in windows:
                window.add(now)
            return None
        retry_after = max(1, math.ceil(wait))
        self.violations.append(LimitViolation(method, chat_id, now, limit, retry_after))
        return retry_after

    def told_to_wait(self, method: str, params: dict[str, Any], now: float, seconds: int) -> None:
        """A message call was answered 429: its chat may not be written to for `seconds`."""
        if method in MESSAGE_METHODS:
            chat_id = _chat_id(params)
            self._wait_until[chat_id] = max(self._wait_until.get(chat_id, 0.0), now + seconds)

    def _chat(self, chat_id: int) -> _Window:
        if chat_id not in self._chats:
            if chat_id < 0:
                self._chats[chat_id] = _Window(self.limits.group_per_minute, 60.0)
            else:
                self._chats[chat_id] = _Window(self.limits.private_per_s, 1.0)
        return self._chats[chat_id]


def _chat_id(params: dict[str, Any]) -> int | None:
    """The numeric chat a call writes in; None for an inline message or a channel's
    @username (only the overall limit applies to those here)."""
    try:
        return int(params["chat_id"])
    except (KeyError, TypeError, ValueError):
        return None


def describe(violations: Iterable[LimitViolation], since: float) -> str:
    """One line per refused call: method, chat, limit and seconds after `since`."""
    return "\n".join(
        f"  {v.at - since:8.3f} s  {v.method} in chat {v.chat_id}: over the {v.limit} limit"
        f" (retry after {v.retry_after} s)"
        for v in violations
    )
