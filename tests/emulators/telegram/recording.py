"""What the bot did on the emulated Telegram, for tests to assert on: every Bot API call,
callback-query answers, and the files it downloaded and how many bytes of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support import poll_until


@dataclass
class Call:
    """One Bot API call: when it arrived, the HTTP status it was answered with (None while it
    is being answered) and, if it succeeded, its result as it read then (a message the bot
    edits later keeps the text it was sent with here)."""

    method: str
    params: dict[str, Any]
    at: float
    status: int | None = None
    result: Any = None


class TelegramRecording:
    """Everything the bot called, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.downloads: list[str] = []  # file paths the bot fetched
        self.served: dict[str, int] = {}  # file path -> bytes sent to the bot

    def sent(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, check: Callable[[], object], timeout: float = 30) -> None:
        """Poll `check`; on timeout, fail with the calls the bot made."""

        def explain() -> str:
            calls = "\n".join(f"{c.method} {c.params}"[:300] for c in self.calls[-40:])
            return f"the bot's last calls:\n{calls}"

        await poll_until(check, timeout, explain)
