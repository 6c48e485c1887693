"""The Discord client: a discord.py `commands.Bot` that carries the core to the cogs, and the
delivery of final answers into Discord.

Cogs reach the core through `bot.runtime`. Answers arrive from the mint pipeline (they may come
long after the command, or after a restart), so they are delivered from what the request
recorded: the interaction's webhook token while it is valid (15 minutes), else a message in the
channel that mentions only the requester.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.acknowledge import AcknowledgeFirst
from bot.communities import Asker
from bot.discord_inbox import Deferral, DiscordInbox, too_late
from bot.minting.types import MintResult, Upload
from bot.ports import ChatPlatform

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.env_values import Secret

log = logging.getLogger(__name__)

COGS = ("cogs.mint", "cogs.wallet", "cogs.admin", "cogs.engagement", "cogs.drops")
# Discord lets an interaction's token edit its response for 15 minutes; keep a margin.
TOKEN_LIFETIME_S = 14 * 60
# View Channel, Send Messages, Embed Links: enough to answer in a channel when an interaction
# token has expired. Slash commands need no permission of their own.
PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True, embed_links=True)
NO_MENTIONS = discord.AllowedMentions.none()
NOT_MINTED = "Not minted."
NO_DOWNLOAD = "Discord would not hand over that file; try again."
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
    import base64

    head = token.split(".", 1)[0]
    return int(base64.b64decode(head + "=" * (-len(head) % 4)).decode())


def use_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base URL and gateway (a proxy, or a test emulator).
    discord.py has no setting for these; both are class attributes read at connect time."""
    if api_base_url:
        discord.http.Route.BASE = api_base_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def asker_of(interaction: discord.Interaction[Any]) -> Asker:
    """Who is asking, as the interaction says: their roles, admin rights, and the guild they
    are a member of (an interaction from a guild carries the member; one who has not passed
    the guild's membership screening is not a member yet)."""
    user = interaction.user
    roles = getattr(user, "roles", [])
    permissions = interaction.permissions
    is_member = isinstance(user, discord.Member) and not user.pending
    return Asker(
        user_id=str(user.id),
        role_ids=frozenset(str(role.id) for role in roles),
        is_admin=permissions.manage_guild or permissions.administrator,
        member_of=str(interaction.guild_id) if is_member and interaction.guild_id else None,
    )


def upload_of(attachment: discord.Attachment | None) -> Upload | None:
    """What Discord says of an attachment before anyone downloads it: its size, and whether
    it is an image (Discord measures an image's dimensions, and reports a content type)."""
    if attachment is None:
        return None
    content_type = attachment.content_type or ""
    looks_like_image = (
        True
        if attachment.width or content_type.startswith("image/")
        else (False if content_type else None)
    )
    return Upload(attachment.size, looks_like_image)


async def tell_privately(
    interaction: discord.Interaction[MintBot],
    deferral: Deferral,
    text: str,
    *,
    in_channel: str | None = None,
    embed: discord.Embed | None = None,
) -> discord.WebhookMessage | None:
    """Answer an interaction deferred as ephemeral, seen only by the asker; returns the message.
    If the interaction can show nothing any more, say `in_channel` (default: the same text) in
    the channel instead, pinging only the asker; returns None then."""
    kwargs: dict[str, Any] = {"embed": embed} if embed is not None else {}
    if deferral.answerable:
        try:
            return await interaction.followup.send(
                text, ephemeral=True, wait=True, allowed_mentions=NO_MENTIONS, **kwargs
            )
        except discord.HTTPException as err:
            if not too_late(err):
                raise
    await interaction.client.tell_in_channel(
        str(interaction.channel_id), str(interaction.user.id), in_channel or text, embed=embed
    )
    return None


def result_embed(result: MintResult, public_base_url: str) -> discord.Embed:
    """The final answer for a minted request: image (from the bot's own gateway, never the
    expiring Discord CDN URL), name, token ID and links."""
    name = discord.utils.escape_markdown(result.name)
    embed = discord.Embed(title=name[:256], colour=discord.Colour.green())
    if result.token_url:
        embed.url = result.token_url
    if result.image_cid:
        embed.set_image(url=f"{public_base_url.rstrip('/')}/ipfs/{result.image_cid}")
    if result.token_id is not None:
        embed.add_field(name="Token ID", value=f"`{result.token_id:#066x}`"[:1024], inline=False)
    links = [
        f"[{label}]({url})"
        for label, url in (
            ("Transaction", result.tx_url),
            ("Token", result.token_url),
            ("Marketplace", result.marketplace_url),
        )
        if url
    ]
    if links:
        embed.add_field(name="Links", value=" · ".join(links), inline=False)
    owner = (
        f"held for you by the bot: `/withdraw {result.short_token_id}` sends it to the wallet "
        "you link with `/wallet link`"
        if result.custodial
        else (f"`{result.recipient}`")
    )
    embed.add_field(name="Owner", value=owner, inline=False)
    return embed


def answer_text(result: MintResult) -> str:
    if result.minted:
        asked_by = (result.reply_to or {}).get("asked_by")
        if asked_by and asked_by != result.requester_id:
            return f"<@{result.requester_id}>, <@{asked_by}> minted your message as an NFT."
        return "Minted!"
    return f"Could not mint that: {result.failure_reason or result.status_text}"


class MintBot(commands.Bot):
    """The bot process's Discord side, built by the composition root around the runtime."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            help_command=None,
            allowed_mentions=NO_MENTIONS,
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST),
        )
        self.runtime = runtime
        self.acknowledgements = AcknowledgeFirst()
        self.inbox = DiscordInbox(self, runtime.inbox, crash_at=runtime.settings.crash_at)
        self._downloads: aiohttp.ClientSession | None = None

    async def run_until_cancelled(self, token: Secret) -> None:
        """Connect and serve until cancelled (or until Discord refuses the token: that error
        propagates); closes the connection either way."""
        try:
            await self.start(token.reveal())
        finally:
            await self.close()

    async def on_ready(self) -> None:
        self.inbox.start()  # once connected: discord.py knows the guilds and channels
        try:  # so that the first burst's checks before acknowledging need no database
            await self.runtime.service.communities.warm("discord", (str(g.id) for g in self.guilds))
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
        guild_id = self.runtime.settings.discord_dev_guild_id
        if guild_id is not None:
            guild = discord.Object(guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()
        claims = self.runtime.platforms.get("discord")  # the drops cog's stand-in, if any
        self.runtime.platforms.add(_RunningDiscord(self, claims))

    async def deliver(self, result: MintResult) -> None:
        """Give a request its final answer. Raises if Discord could not be reached, so the
        pipeline tries again later."""
        reply = result.reply_to or {}
        fresh = time.time() - float(reply.get("issued_at", 0)) < TOKEN_LIFETIME_S
        if reply.get("token") and fresh:
            try:
                await self._answer_interaction(result, reply)
                return
            except discord.HTTPException as err:
                if not too_late(err):
                    raise
                log.info("interaction token for %s expired; answering in the channel", result.key)
        await self._answer_in_channel(result)

    async def _answer_interaction(self, result: MintResult, reply: dict[str, Any]) -> None:
        # The interaction's own webhook (type 3, "application"): only it may send ephemerals.
        webhook = discord.Webhook.from_state(
            {"id": reply["application_id"], "type": 3, "token": reply["token"]}, self._connection
        )
        original = int(reply["original_id"]) if reply.get("original_id") else None
        mentions = self._mentions(result)
        if result.minted:
            if original is not None:
                await webhook.edit_message(
                    original,
                    content=answer_text(result),
                    embed=self._embed(result),
                    allowed_mentions=mentions,
                )
            else:
                await webhook.send(
                    answer_text(result), embed=self._embed(result), allowed_mentions=mentions
                )
            return
        # Errors are for the requester's eyes only. The first message after a deferral fills
        # the public placeholder whatever its flags: fill it neutrally, answer, then remove it.
        if original is not None:
            with contextlib.suppress(discord.NotFound):  # already gone: a retried delivery
                await webhook.edit_message(original, content=NOT_MINTED, embed=None)
        await webhook.send(answer_text(result), ephemeral=True, allowed_mentions=NO_MENTIONS)
        if original is not None:
            with contextlib.suppress(discord.NotFound):
                await webhook.delete_message(original)

    async def _answer_in_channel(self, result: MintResult) -> None:
        embed = self._embed(result) if result.minted else None
        await self.tell_in_channel(
            result.chat_id, result.requester_id, answer_text(result), embed=embed
        )

    async def tell_in_channel(
        self, channel_id: str, user_id: str, text: str, *, embed: discord.Embed | None = None
    ) -> None:
        """Answer a member in the channel, pinging only them: where an interaction can show
        nothing any more (its token expired, or it was never acknowledged)."""
        only_them = discord.AllowedMentions(
            everyone=False, roles=False, users=[discord.Object(int(user_id))]
        )
        kwargs: dict[str, Any] = {"embed": embed} if embed is not None else {}
        await self.get_partial_messageable(int(channel_id)).send(
            f"<@{user_id}> {text}"[:2000], allowed_mentions=only_them, **kwargs
        )

    async def announce(self, result: MintResult, channel_id: str) -> None:
        """Post a confirmed mint in the server's announcement channel, pinging nobody."""
        name = discord.utils.escape_markdown(result.requester_name or "a member")
        await self.get_partial_messageable(int(channel_id)).send(
            f"🎨 New NFT by **{name}**"[:2000],
            embed=self._embed(result),
            allowed_mentions=NO_MENTIONS,
        )

    def _embed(self, result: MintResult) -> discord.Embed:
        return result_embed(result, self.runtime.settings.public_base_url)

    @staticmethod
    def _mentions(result: MintResult) -> discord.AllowedMentions:
        """Only the author of a message minted by someone else is pinged."""
        asked_by = (result.reply_to or {}).get("asked_by")
        if asked_by and asked_by != result.requester_id:
            return discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(int(result.requester_id))]
            )
        return NO_MENTIONS


class _RunningDiscord:
    """The client as the core reaches it among the running platforms (answers, announcements,
    admin alerts). Drop claims are told by the drops cog's stand-in it replaces."""

    name = "discord"

    def __init__(self, client: MintBot, claims: ChatPlatform | None) -> None:
        self.client = client
        self.claims = claims

    async def deliver(self, result: MintResult) -> None:
        await self.client.deliver(result)

    async def announce(self, result: MintResult, channel_id: str) -> None:
        await self.client.announce(result, channel_id)

    async def tell_claimer(self, result: MintResult) -> None:
        if self.claims is None:
            raise LookupError("no drops cog tells Discord claimers")
        await self.claims.tell_claimer(result)

    async def tell_admins(self, text: str) -> None:
        channel_id = self.client.runtime.settings.alert_discord_channel_id
        if channel_id is not None:
            channel = self.client.get_partial_messageable(channel_id)
            await channel.send(text, allowed_mentions=NO_MENTIONS)

    async def member(self, community_id: str, user_id: str) -> Asker | None:
        return None

    async def run(self) -> None:
        raise NotImplementedError("the Discord client runs through bot.app.serve")
