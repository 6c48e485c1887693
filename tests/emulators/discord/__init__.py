"""The Discord emulator: `DiscordServer` (world, REST, gateway and recording in one), and the
names tests assert with."""

from __future__ import annotations

from tests.emulators.discord.objects import EPHEMERAL, TOKEN
from tests.emulators.discord.recording import Call, Interaction
from tests.emulators.discord.server import DiscordServer
from tests.emulators.discord.world import Member

__all__ = ["EPHEMERAL", "TOKEN", "Call", "DiscordServer", "Interaction", "Member"]
