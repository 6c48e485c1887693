"""The floor of bench/discord_ack.py: a bare discord.py bot that defers every interaction and
does nothing else.

    python bench/discord_floor.py [--commands]   (settings from DISCORD_TOKEN,
        DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL, as the bot reads them)

The same burst sent to it, through the same emulator, shows what receiving, parsing and
deferring that many interactions costs discord.py on this machine, whatever the bot does
besides. It connects as the bot does (the same intents and REST connection pool), so the
difference between the two is the bot's own work.

With `--commands` it defers from a `/mint` slash command with the bot's options, declared
through discord.py's app-command tree as the bot's is: the difference to the bare floor is
what discord.py's command dispatch (finding the command, checking and converting its options)
costs, a part of the bot's difference that no bot with typed slash commands avoids.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.discord.client import CONNECTIONS_PER_HOST, intents, use_endpoints  # noqa: E402


class FloorBot(discord.Client):
    """Defers each interaction as a public "thinking…" placeholder, as the bot does a /mint."""

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(thinking=True)


class CommandFloorBot(discord.Client):
    """Defers each `/mint`, found and its options converted by discord.py's command tree."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="mint", description="Mint an image as an NFT")
        @app_commands.guild_only()
        async def mint(
            interaction: discord.Interaction[Any],
            image: discord.Attachment,
            name: app_commands.Range[str, 1, 100],
            description: app_commands.Range[str, 0, 1000] | None = None,
            to: str | None = None,
        ) -> None:
            await interaction.response.defer(thinking=True)


async def serve(commands: bool) -> None:
    use_endpoints(os.environ.get("DISCORD_API_BASE_URL"), os.environ.get("DISCORD_GATEWAY_URL"))
    client = (CommandFloorBot if commands else FloorBot)(
        intents=intents(),
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST),
    )
    async with client:
        await client.start(os.environ["DISCORD_TOKEN"])


@contextlib.asynccontextmanager
async def floor_process(
    env: dict[str, str], log: Path, *, commands: bool = False
) -> AsyncIterator[None]:
    """This module as a process of its own with exactly `env`, its output appended to `log`;
    stopped at the end. `commands`: the floor with the command tree."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            *(["--commands"] if commands else []),
            env={"PATH": os.environ["PATH"], **env},
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    try:
        yield
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()


if __name__ == "__main__":
    asyncio.run(serve(commands="--commands" in sys.argv[1:]))
