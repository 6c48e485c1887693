"""How a member hears back on Discord after the moment has passed: through the interaction's
own webhook while its token lasts (only it can show a message to them alone), else in the
channel, pinging only them.

An answer from the pipeline (a mint, a drop claim) may come long after the command, or after
a restart, so it goes by what the request recorded (`reply_to`: the application ID, the
interaction token and when it was issued), never by a live interaction object.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import discord

from bot.discord.render import NO_MENTIONS, only

log = logging.getLogger(__name__)

# Discord lets an interaction's token edit its response for 15 minutes; keep a margin.
TOKEN_LIFETIME_S = 14 * 60
# Discord's error codes: "This interaction has already been acknowledged" (a replay, or a
# re-dispatch); "Unknown interaction" (its 3 s to acknowledge are over); "Invalid Webhook
# Token" (its 15 minutes are over); "Unknown Webhook" (it was never acknowledged).
ALREADY_ACKNOWLEDGED = 40060
UNKNOWN_INTERACTION = 10062
INVALID_WEBHOOK_TOKEN = 50027
UNKNOWN_WEBHOOK = 10015


@dataclass(frozen=True)
class Deferral:
    """How an interaction was acknowledged: its placeholder's message ID where Discord said
    it, and whether the interaction can still show anything (False once past Discord's 3 s
    without an acknowledgement: answers then go to the channel)."""

    original_id: str | None
    answerable: bool


def too_late(err: discord.HTTPException) -> bool:
    """Is this Discord saying the interaction can show nothing any more (too late to
    acknowledge, its token expired, never acknowledged)? Then answer in the channel."""
    return err.status < 500 and err.code in (
        UNKNOWN_INTERACTION,
        INVALID_WEBHOOK_TOKEN,
        UNKNOWN_WEBHOOK,
    )


def interaction_webhook(client: discord.Client, reply: Mapping[str, Any]) -> discord.Webhook | None:
    """The webhook of the interaction `reply` recorded, while its token is still good."""
    fresh = time.time() - float(reply.get("issued_at", 0)) < TOKEN_LIFETIME_S
    if not (reply.get("token") and fresh):
        return None
    # The interaction's own webhook (type 3, "application"): only it may send ephemerals.
    return discord.Webhook.from_state(
        {"id": reply["application_id"], "type": 3, "token": reply["token"]},
        client._connection,  # discord.py builds webhooks on a client's state this way only
    )


async def answer_later(
    client: discord.Client,
    reply: Mapping[str, Any],
    through_interaction: Callable[[discord.Webhook], Awaitable[object]],
    *,
    channel_id: str,
    user_id: str,
    text: str,
    embed: discord.Embed | None = None,
) -> None:
    """Answer through the recorded interaction (`through_interaction`) while it can show
    anything, else say `text` in the channel, pinging only `user_id`. Raises if Discord could
    not be reached, so the pipeline tries again later."""
    webhook = interaction_webhook(client, reply)
    if webhook is not None:
        try:
            await through_interaction(webhook)
            return
        except discord.HTTPException as err:
            if not too_late(err):
                raise
            log.info("an interaction token expired; answering in channel %s", channel_id)
    await tell_in_channel(client, channel_id, user_id, text, embed=embed)


async def tell_in_channel(
    client: discord.Client,
    channel_id: str,
    user_id: str,
    text: str,
    *,
    embed: discord.Embed | None = None,
) -> None:
    """Answer a member in the channel, pinging only them: where an interaction can show
    nothing any more (its token expired, or it was never acknowledged)."""
    kwargs: dict[str, Any] = {"embed": embed} if embed is not None else {}
    await client.get_partial_messageable(int(channel_id)).send(
        f"<@{user_id}> {text}"[:2000], allowed_mentions=only(user_id), **kwargs
    )


async def tell_privately(
    interaction: discord.Interaction[Any],
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
    await tell_in_channel(
        interaction.client,
        str(interaction.channel_id),
        str(interaction.user.id),
        in_channel or text,
        embed=embed,
    )
    return None
