"""The Telegram Bot API emulator: `TelegramServer` (world, Bot API, files, updates, flood limits
and recording in one), and the names tests assert with."""

from __future__ import annotations

from tests.emulators.telegram.limits import MESSAGE_METHODS, LimitViolation, TelegramLimits
from tests.emulators.telegram.protocol import BOT_ID, TOKEN
from tests.emulators.telegram.recording import Call
from tests.emulators.telegram.server import TelegramServer
from tests.emulators.telegram.text import plain_text
from tests.emulators.telegram.world import ANONYMOUS_ADMIN

__all__ = [
    "ANONYMOUS_ADMIN",
    "BOT_ID",
    "MESSAGE_METHODS",
    "TOKEN",
    "Call",
    "LimitViolation",
    "TelegramLimits",
    "TelegramServer",
    "plain_text",
]
