"""The floor of bench/discord_ack.py: a bare discord.py bot that defers every interaction and
does nothing else.

    python bench/discord_floor.py   (settings from DISCORD_TOKEN, DISCORD_API_BASE_URL and
                                     DISCORD_GATEWAY_URL, as the bot reads them)

The same burst sent to it, through the same emulator, shows what receiving, parsing and
deferring that many interactions costs discord.py on this machine, whatever the bot does
besides. It connects as the bot does (the same intents and REST connection pool), so the
difference between the two is the bot's own work.
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

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.discord.client import CONNECTIONS_PER_HOST, intents, use_endpoints  # noqa: E402


class FloorBot(discord.Client):
    """Defers each interaction as a public "thinking…" placeholder, as the bot does a /mint."""

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(thinking=True)


async def serve() -> None:
    use_endpoints(os.environ.get("DISCORD_API_BASE_URL"), os.environ.get("DISCORD_GATEWAY_URL"))
    client = FloorBot(
        intents=intents(),
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST),
    )
    async with client:
        await client.start(os.environ["DISCORD_TOKEN"])


@contextlib.asynccontextmanager
async def floor_process(env: dict[str, str], log: Path) -> AsyncIterator[None]:
    """This module as a process of its own with exactly `env`, its output appended to `log`;
    stopped at the end."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
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
    asyncio.run(serve())
