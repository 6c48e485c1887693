"""What the bot did on the emulated Discord, for tests to assert on: every REST call, each
interaction and how it was answered, messages posted to channels, gateway opcodes, downloads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support import poll_until


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    body: Any
    at: float
    host: str = "127.0.0.1"  # the address the bot reached the emulator at


@dataclass
class Interaction:
    """A dispatched interaction and what the bot did with it."""

    id: str
    token: str
    payload: dict[str, Any]
    dispatched_at: float
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    callback_at: float | None = None
    original: dict[str, Any] | None = None
    original_edits: list[dict[str, Any]] = field(default_factory=list)
    original_deleted: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    expired: bool = False
    # Discord's 3 seconds to acknowledge have passed: a callback now is refused.
    timed_out: bool = False
    # Discord: a deferred response is a "thinking" placeholder until the first edit or
    # follow-up fills it (keeping the deferral's public or ephemeral state); deleting it while
    # it is still thinking ends the interaction's webhook.
    loading: bool = False
    dead: bool = False
    answered_at: float | None = None  # the final answer: an embed, or an ephemeral follow-up
    # Each time the gateway sent it: to which shard, on the connection made to which address.
    deliveries: list[tuple[int, str]] = field(default_factory=list)


class DiscordRecording:
    """Everything the bot sent or did, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.interactions: dict[str, Interaction] = {}
        self.channel_messages: list[dict[str, Any]] = []
        self.commands: dict[str, dict[str, Any]] = {}  # the application commands it synced
        self.gateway_ops: list[int] = []
        # Each IDENTIFY taken: (shard, count, address connected at); each refused, why; and
        # events no session's shard would carry.
        self.identifies: list[tuple[int, int, str]] = []
        self.refused_identifies: list[str] = []
        self.undelivered: list[tuple[str, dict[str, Any]]] = []
        # How many bytes of each streamed attachment the bot was sent before it hung up, and
        # whether the stream ran to its end (set once it ends either way).
        self.bytes_sent: dict[str, int] = {}
        self.sent_whole: dict[str, bool] = {}
        self.identified = asyncio.Event()
        self.synced = asyncio.Event()

    def posted(self) -> list[dict[str, Any]]:
        return self.channel_messages

    def by_token(self, token: str) -> Interaction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def wait_for(self, check: Callable[[], object], timeout: float = 30) -> None:
        """Poll `check`; on timeout, fail with the REST calls the bot made."""

        def explain() -> str:
            calls = "\n".join(f"{c.method} {c.path} {c.body}"[:300] for c in self.calls)
            return f"the bot's REST calls:\n{calls}"

        await poll_until(check, timeout, explain)
