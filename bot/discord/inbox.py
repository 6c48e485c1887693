"""Discord's way in through the durable inbox: an interaction the bot will act on is committed
before it is deferred or answered in any way, and one left unfinished (the process died, or
its handling failed) is handed to discord.py again, as if the gateway had just delivered it.

The row holds the interaction as Discord sent it (ID, token, command, options, attachment
URLs, member, roles, channel, guild), so a re-dispatch runs the very same handler. Handling it
again is safe: the request key (a mint), the claim's source (a drop) and the withdrawal's key
still decide duplicates. A re-dispatched interaction may have been deferred already (its
placeholder is reused and edited within the token's 15 minutes) or be past Discord's 3 s
(nothing can be shown through it any more: answers go to the channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import discord
import orjson

from bot.chain.faults import crash_point
from bot.discord.answers import ALREADY_ACKNOWLEDGED, UNKNOWN_INTERACTION, Deferral, tell_in_channel
from bot.i18n import N_, _, speaking
from bot.inbox import DurableInbox, InboxEntry, Owns

log = logging.getLogger(__name__)

PLATFORM = "discord"
# How long a re-dispatched row may wait for its handler to take it before the attempt counts
# as failed (a command that no longer exists, say); the inbox then tries again later.
TAKE_TIMEOUT_S = 60.0
GIVEN_UP = N_("Sorry, I could not handle that request after several tries; please ask again.")

# The INTERACTION_CREATE payload being parsed. discord.py starts an interaction's handler as
# a task within the parse, and a task starts with a copy of the context, so the handler finds
# the payload here to record it.
_PAYLOAD: ContextVar[dict[str, Any] | None] = ContextVar("discord_payload", default=None)
_RESUMING: ContextVar[_Resumption | None] = ContextVar("discord_resuming", default=None)


@dataclass
class _Resumption:
    """An inbox row being dispatched again, and how its handler is doing."""

    entry: InboxEntry
    taken: asyncio.Event
    outcome: asyncio.Future[None]


class DiscordInbox:
    """The Discord side of `DurableInbox`, for the cogs: `take` an interaction before
    acknowledging it, `defer` it, do the work inside `handling`."""

    def __init__(
        self,
        client: discord.Client,
        inbox: DurableInbox,
        *,
        crash_at: str | None,
        owns: Owns | None = None,
    ) -> None:
        self.client = client
        self.inbox = inbox
        self.crash_at = crash_at
        # Which rows are this process's to dispatch again (its shards' guilds); None: all.
        self.owns = owns
        self._resuming: asyncio.Task[None] | None = None
        state = client._connection  # discord.py has no hook for the raw payload of an event
        parse = state.parsers["INTERACTION_CREATE"]

        def parse_keeping_payload(data: dict[str, Any]) -> None:
            # A copy, as Discord sent it: discord.py changes parts of the payload it parses.
            token = _PAYLOAD.set(orjson.loads(orjson.dumps(data)))
            try:
                parse(data)
            finally:
                _PAYLOAD.reset(token)

        state.parsers["INTERACTION_CREATE"] = parse_keeping_payload
        self._parse = parse_keeping_payload

    def resumed(self, interaction: discord.Interaction[Any]) -> bool:
        """Is this interaction an inbox row dispatched again (checked before: skip the checks
        made before its first acknowledgement)?"""
        resumption = _RESUMING.get()
        return resumption is not None and resumption.entry.update_id == str(interaction.id)

    async def take(self, interaction: discord.Interaction[Any]) -> InboxEntry | None:
        """Commit the interaction to the inbox, before anything acknowledges it (concurrent
        ones share a transaction). Returns its entry, for `handling`; None if it was recorded
        before (a gateway re-delivery: whoever recorded it handles it). A row dispatched again
        is returned as it is. Raises if the database refused it: then nothing may be shown."""
        resumption = _RESUMING.get()
        if resumption is not None and resumption.entry.update_id == str(interaction.id):
            resumption.taken.set()
            return resumption.entry
        payload = _PAYLOAD.get()
        if payload is None or str(payload.get("id")) != str(interaction.id):
            raise RuntimeError(f"no gateway payload for interaction {interaction.id}")
        entry = await self.inbox.record(PLATFORM, str(interaction.id), payload)
        crash_point("after_inbox_commit", self.crash_at)
        return entry if entry.fresh else None

    @contextlib.asynccontextmanager
    async def handling(self, entry: InboxEntry) -> AsyncIterator[None]:
        """Record how the handling of a taken interaction ended: processed, or a failed
        attempt with its error (the inbox dispatches it again later, a bounded number of
        times)."""
        resumption = _RESUMING.get()
        if resumption is not None and resumption.entry.id != entry.id:
            resumption = None
        try:
            yield
        except Exception as err:
            if resumption is not None:  # the inbox's dispatch records it
                resumption.outcome.set_exception(err)
            else:
                error = f"{type(err).__name__}: {err}"
                if await self.inbox.failed(entry.id, error):
                    await self._given_up(entry, error)
            raise
        if resumption is not None:
            resumption.outcome.set_result(None)
        else:
            await self.inbox.processed(entry.id)

    async def defer(self, interaction: discord.Interaction[Any], *, ephemeral: bool) -> Deferral:
        """Acknowledge with a "thinking…" placeholder (public, or seen only by the asker).
        Already acknowledged (a re-dispatch after a crash, or a replay): its placeholder is
        reused. Past Discord's 3 s: nothing can be shown through it."""
        try:
            response = await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        except discord.NotFound as err:
            if err.code != UNKNOWN_INTERACTION:
                raise
            deferral = Deferral(None, answerable=False)
        except discord.HTTPException as err:
            if err.code != ALREADY_ACKNOWLEDGED:
                raise
            original_id = None
            with contextlib.suppress(discord.HTTPException):
                original_id = str((await interaction.original_response()).id)
            deferral = Deferral(original_id, answerable=True)
        else:
            message_id = response.message_id if response is not None else None
            deferral = Deferral(str(message_id) if message_id else None, answerable=True)
        crash_point("after_ack", self.crash_at)
        return deferral

    def submitted(self) -> None:
        """The interaction's request is recorded in the core (a crash point for tests)."""
        crash_point("after_submit", self.crash_at)

    # ----- dispatching again -----------------------------------------------------------------

    def start(self) -> None:
        """Dispatch the rows left unfinished, now and from time to time (once connected, so
        discord.py knows the guilds and channels)."""
        if self._resuming is None:
            self._resuming = asyncio.create_task(
                self.inbox.resume(PLATFORM, self._dispatch, self._given_up, owns=self.owns),
                name="discord-inbox-resume",
            )

    async def close(self) -> None:
        if self._resuming is not None:
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming

    async def given_up_in(self, guild_id: str) -> int:
        """How many of this server's interactions were given up (for /admin stats)."""
        entries = await self.inbox.given_up(PLATFORM, limit=1000)
        return sum(1 for e in entries if str(e.payload.get("guild_id")) == guild_id)

    async def _dispatch(self, entry: InboxEntry) -> None:
        """Hand a row to discord.py as the gateway would; return once its handler finished
        (raising what it raised)."""
        loop = asyncio.get_running_loop()
        resumption = _Resumption(entry, asyncio.Event(), loop.create_future())
        token = _RESUMING.set(resumption)
        try:
            self._parse(entry.payload)
        finally:
            _RESUMING.reset(token)
        try:
            async with asyncio.timeout(TAKE_TIMEOUT_S):
                await resumption.taken.wait()
        except TimeoutError:
            raise RuntimeError("no handler took the interaction") from None
        await resumption.outcome

    async def _given_up(self, entry: InboxEntry, error: str) -> None:
        """Tell the member, in the channel, that their request will not be handled."""
        payload = entry.payload
        user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
        if payload.get("channel_id") and user.get("id"):
            # Outside the interaction's handling: in the language its member asked in.
            with speaking(payload.get("locale")):
                await tell_in_channel(
                    self.client, str(payload["channel_id"]), str(user["id"]), _(GIVEN_UP)
                )
