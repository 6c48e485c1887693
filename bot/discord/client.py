"""The Discord client: a discord.py `commands.Bot` that carries the core to the feature cogs
(top-level `cogs/`, one per feature, loaded as extensions), and fetches members' attachments.

Cogs reach the core through `bot.runtime`, and the platform (`bot.discord.chat`) through
`bot.platform`, which joins the running platforms once the commands are synced.

With DISCORD_SHARDS set the client is discord.py's `AutoShardedBot` running those shards
(`ShardedDiscordBot`, from `open_client`): it knows only the guilds on its shards, and only
their interactions reach it. Nothing here or in the cogs reads a single connection's state
(`ws`, `latency`): answers go over REST, which any process may use.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.acknowledge import AcknowledgeFirst
from bot.discord.inbox import DiscordInbox
from bot.discord.render import NO_MENTIONS
from bot.discord.shards import ShardPlan
from bot.discord.translator import CatalogueTranslator, LocalizedTree

if TYPE_CHECKING:
    from bot.ports import ChatPlatform
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

COGS = (
    "cogs.mint",
    "cogs.wallet",
    "cogs.admin",
    "cogs.holders",
    "cogs.engagement",
    "cogs.drops",
    "cogs.allowlists",
    "cogs.raffles",
    "cogs.codewords",
    "cogs.help",
)
# View Channel, Send Messages, Embed Links: enough to answer in a channel when an interaction
# token has expired. Slash commands need no permission of their own.
PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
# Connections kept open per host (API, CDN). discord.py's default opens a new one for every
# concurrent request, so a burst of 500 interactions costs 500 handshakes before the first
# acknowledgement; a bounded keep-alive pool acknowledges them sooner (bench/discord_ack.py).
CONNECTIONS_PER_HOST = 32
# Attachments are read in pieces of this size, so a download stops soon after the size limit.
DOWNLOAD_CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT_S = 120


def intents() -> discord.Intents:
    """Guilds only: commands arrive as interactions, which carry the member and its roles, and
    the messages a context menu targets; no privileged intent is needed."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id, permissions=PERMISSIONS, scopes=("bot", "applications.commands")
    )


def application_id_from_token(token: str) -> int:
    """A bot token starts with its user ID in base64; for a bot that is the application ID."""
    head = token.split(".", 1)[0]
    return int(base64.b64decode(head + "=" * (-len(head) % 4)).decode())


def use_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base URL and gateway (a proxy, or a test emulator).
    discord.py has no setting for these; both are class attributes read at connect time."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class DiscordBot(commands.Bot):
    """discord.py's client for this bot: the container the cogs reach the core through."""

    def __init__(self, runtime: Runtime, platform: ChatPlatform, **sharding: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            tree_cls=LocalizedTree,
            allowed_mentions=NO_MENTIONS,
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST),
            **sharding,
        )
        self.runtime = runtime
        self.platform = platform
        self.acknowledgements = AcknowledgeFirst()
        plan = runtime.settings.discord_shards
        self.inbox = DiscordInbox(
            self,
            runtime.inbox,
            crash_at=runtime.settings.crash_at,
            # Another process's shards' interactions are its own to dispatch again.
            owns=plan.owns_interaction if plan is not None and plan.ids is not None else None,
        )
        self._downloads: aiohttp.ClientSession | None = None

    async def on_ready(self) -> None:
        self.inbox.start()  # once connected: discord.py knows the guilds and channels
        try:  # so that the first burst's checks before acknowledging need no database
            await self.runtime.service.communities.warm(
                self.platform.name, (str(g.id) for g in self.guilds)
            )
        except Exception as err:  # they are read on first use instead
            log.warning("could not read the servers' settings in advance: %s", err)

    async def close(self) -> None:
        await self.inbox.close()
        if self._downloads is not None:
            await self._downloads.close()
        await super().close()

    async def download(self, attachment: discord.Attachment) -> bytes:
        """An attachment's bytes, streamed and cut off as soon as they pass the image size
        limit, whatever size Discord announced: `ImageRejected` then. Raises
        `aiohttp.ClientError` or `TimeoutError` if Discord would not hand the file over."""
        if self._downloads is None:
            self._downloads = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST),
                timeout=aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_S),
            )
        service, cap = self.runtime.service, self.runtime.settings.max_image_bytes
        async with self._downloads.get(attachment.url) as response:
            response.raise_for_status()
            if response.content_length is not None:
                service.check_size(response.content_length)
            data = bytearray()
            async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                data += chunk
                if len(data) > cap:  # leaving the block drops the connection and the rest
                    raise service.too_big(None)
        return bytes(data)

    async def setup_hook(self) -> None:
        for extension in COGS:
            await self.load_extension(extension)
        await self.tree.set_translator(CatalogueTranslator())  # names in the members' languages
        guild_id = self.runtime.settings.discord_dev_guild_id
        if guild_id is not None:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        self.runtime.platforms.add(self.platform)  # it can answer from now on


class ShardedDiscordBot(DiscordBot, commands.AutoShardedBot):
    """`DiscordBot` on discord.py's `AutoShardedBot`: one gateway connection per shard."""


def open_client(runtime: Runtime, platform: ChatPlatform) -> DiscordBot:
    """The client DISCORD_SHARDS asks for: unset, one connection without shards; `auto`, as
    many shards as Discord recommends, all here; `IDS/COUNT`, those shards of COUNT."""
    plan: ShardPlan | None = runtime.settings.discord_shards
    if plan is None:
        return DiscordBot(runtime, platform)
    if plan.ids is None:
        return ShardedDiscordBot(runtime, platform)
    return ShardedDiscordBot(runtime, platform, shard_ids=list(plan.ids), shard_count=plan.count)
