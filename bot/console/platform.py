"""The console as the registry knows it: the chat platform that runs when no other is
configured, on the bot's own terminal."""

from __future__ import annotations

from bot.console.chat import ConsoleChat
from bot.ports import PlatformKind
from bot.runtime import Runtime

CONSOLE = PlatformKind[Runtime](
    name="console",
    label="Console",
    community_label="local console",
    configured=lambda settings: False,
    build=lambda runtime, routes: ConsoleChat(runtime),
    fallback=True,
)
