"""Discord as the core sees it (`bot.ports.ChatPlatform`): final answers, announcements,
claim outcomes and operator alerts, delivered into Discord, and the members of a server.

Answers arrive from the mint pipeline, long after the command or after a restart, so they are
delivered from what the request recorded: the interaction's webhook token while it is valid
(15 minutes), else a message in the channel that mentions only the requester.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bot.communities import Asker
from bot.discord.answers import answer_later
from bot.discord.asker import asker_of_member
from bot.discord.client import open_client
from bot.discord.render import (
    NO_MENTIONS,
    NOT_MINTED,
    announcement_text,
    answer_mentions,
    answer_text,
    claim_text,
    result_embed,
)
from bot.errors import ConfigError
from bot.i18n import _, speaking
from bot.minting.types import MintResult

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)


class DiscordChat:
    """The running Discord platform, around its discord.py client (`DiscordBot`)."""

    name = "discord"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.bot = open_client(runtime, self)

    async def run(self) -> None:
        """Connect and serve until cancelled (or until Discord refuses the token: that error
        propagates); closes the connection either way."""
        token = self.runtime.settings.discord_token
        assert token is not None, "Discord runs only with DISCORD_TOKEN set"
        try:
            await self.bot.start(token.reveal())
        except discord.LoginFailure:  # said without the token, but said as a setting is
            raise ConfigError("DISCORD_TOKEN", "Discord refused the token") from None
        finally:
            await self.bot.close()

    async def deliver(self, result: MintResult) -> None:
        """Give a request its final answer. Raises if Discord could not be reached, so the
        pipeline tries again later."""
        reply = result.reply_to or {}
        await answer_later(
            self.bot,
            reply,
            lambda webhook: self._answer_interaction(result, reply, webhook),
            channel_id=result.chat_id,
            user_id=result.requester_id,
            text=answer_text(result),
            embed=self._embed(result) if result.minted else None,
        )

    async def _answer_interaction(
        self, result: MintResult, reply: Mapping[str, Any], webhook: discord.Webhook
    ) -> None:
        original = int(reply["original_id"]) if reply.get("original_id") else None
        if result.minted:
            mentions = answer_mentions(result)
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
                await webhook.edit_message(original, content=_(NOT_MINTED), embed=None)
        await webhook.send(answer_text(result), ephemeral=True, allowed_mentions=NO_MENTIONS)
        if original is not None:
            with contextlib.suppress(discord.NotFound):
                await webhook.delete_message(original)

    async def announce(self, result: MintResult, channel_id: str, locale: str | None) -> None:
        """Post a confirmed mint in the server's announcement channel, pinging nobody, in the
        community's language for public posts (`/admin config language`; English if unset).
        The whole server reads it, so no member's language, nor the server's "primary
        language" (which most servers leave at its default), decides: one rule for every
        public post, drops and raffles too."""
        with speaking(locale):
            text, embed = announcement_text(result), self._embed(result)
        await self.bot.get_partial_messageable(int(channel_id)).send(
            text, embed=embed, allowed_mentions=NO_MENTIONS
        )

    async def tell_claimer(self, result: MintResult) -> None:
        """A claim's token is minted (or failed): tell the claimer privately while the
        interaction lasts, else in the drop's channel. In the claimer's language, which their
        claim recorded (this runs in the pipeline, for every claimer)."""
        reply = result.reply_to or {}
        with speaking(reply.get("locale")):
            text = claim_text(result)
            embed = self._embed(result) if result.minted else None
        kwargs: dict[str, Any] = {"embed": embed} if embed else {}
        await answer_later(
            self.bot,
            reply,
            lambda webhook: webhook.send(
                text, ephemeral=True, allowed_mentions=NO_MENTIONS, **kwargs
            ),
            channel_id=str(reply.get("channel_id", 0)),
            user_id=result.requester_id,
            text=text,
            embed=embed,
        )

    async def tell_admins(self, text: str) -> None:
        """Say `text` in ALERT_DISCORD_CHANNEL_ID, if it is set."""
        channel_id = self.runtime.settings.alert_discord_channel_id
        if channel_id is not None:
            channel = self.bot.get_partial_messageable(channel_id)
            await channel.send(text, allowed_mentions=NO_MENTIONS)

    async def member(self, community_id: str, user_id: str) -> Asker | None:
        """The server's member `user_id` as Discord knows them now, or None if they are not
        one (or the bot is not in that server)."""
        guild = self.bot.get_guild(int(community_id))
        if guild is None:
            return None
        try:
            found = guild.get_member(int(user_id)) or await guild.fetch_member(int(user_id))
        except discord.NotFound:
            return None
        return asker_of_member(found)

    def _embed(self, result: MintResult) -> discord.Embed:
        return result_embed(result, self.runtime.settings.public_base_url)
