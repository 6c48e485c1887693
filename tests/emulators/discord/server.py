"""A local Discord: enough of the REST API and the gateway for the real discord.py to run a bot
against it, with every REST call recorded.

Tests build a world (a guild, roles, members, channels, messages with attachments), then act
as users: dispatch slash commands, message context menus and button clicks as real
INTERACTION_CREATE events, replay them, expire interaction tokens, force a RESUME. The bot
reaches it through DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.emulators.discord.direct import DirectMessages
from tests.emulators.discord.gateway import Gateway
from tests.emulators.discord.objects import APPLICATION_ID, DEFAULT_PERMISSIONS, TOKEN, snowflake
from tests.emulators.discord.recording import DiscordRecording, Interaction
from tests.emulators.discord.rest import RestApi
from tests.emulators.discord.roles import MemberRoles
from tests.emulators.discord.world import DiscordWorld


class DiscordServer(DiscordWorld, DiscordRecording):
    """The world tests build and what the bot did in it, served over HTTP and a websocket."""

    def __init__(self) -> None:
        DiscordWorld.__init__(self)
        DiscordRecording.__init__(self)
        self._gateway = Gateway(self, self)
        self._rest_api = RestApi(self, self)
        self.member_roles = MemberRoles(self)
        self.direct = DirectMessages(self, self)
        self._runner: web.AppRunner | None = None

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._rest_api.record], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway.connect)
        self.member_roles.add_routes(app)  # before the REST API's catch-all route
        self.direct.add_routes(app)
        self._rest_api.add_routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def listen_also(self, host: str) -> None:
        """Listen at another loopback address too (127.0.0.2, ...), on the same port: a bot
        process given `env(host)` is then told apart by the address its calls come to."""
        assert self._runner is not None
        await web.TCPSite(self._runner, host, self.port).start()

    async def stop(self) -> None:
        await self._gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def env(self, host: str = "127.0.0.1") -> dict[str, str]:
        return {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE_URL": self.api_url_at(host),
            "DISCORD_GATEWAY_URL": self.gateway_url_at(host),
        }

    # ----- acting as users ---------------------------------------------------------------------

    async def slash(
        self,
        user_id: str,
        name: str,
        options: list[dict[str, Any]],
        *,
        locale: str = "en-US",
        **resolved: Any,
    ) -> Interaction:
        """A user runs /name; subcommands are options of type 1. `locale`: the language of
        their Discord client (an interaction's `locale`, "de", "es-ES", ...)."""
        data: dict[str, Any] = {
            "id": self.commands.get(name, {}).get("id", snowflake()),
            "name": name,
            "type": 1,
            "options": options,
        }
        if resolved:
            data["resolved"] = resolved
        return await self._interact(user_id, 2, data, locale=locale)

    async def mint(self, user_id: str, image: bytes, name: str, **more: str) -> Interaction:
        attachment = self.add_attachment(image)
        options: list[dict[str, Any]] = [
            {"name": "image", "type": 11, "value": attachment["id"]},
            {"name": "name", "type": 3, "value": name},
            *({"name": key, "type": 3, "value": value} for key, value in more.items()),
        ]
        return await self.slash(
            user_id, "mint", options, attachments={attachment["id"]: attachment}
        )

    async def message_command(self, user_id: str, name: str, message_id: str) -> Interaction:
        data = {
            "id": self.commands.get(name, {}).get("id", snowflake()),
            "name": name,
            "type": 3,
            "target_id": message_id,
            "resolved": {"messages": {message_id: self.messages[message_id]}},
        }
        return await self._interact(user_id, 2, data)

    async def click(
        self, user_id: str, message: dict[str, Any], custom_id: str, *, locale: str = "en-US"
    ) -> Interaction:
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(user_id, 3, data, message=message, locale=locale)

    async def submit_modal(
        self, user_id: str, custom_id: str, fields: dict[str, str], *, locale: str = "en-US"
    ) -> Interaction:
        """A user fills in and submits the modal `custom_id` the bot showed."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
        data = {"custom_id": custom_id, "components": rows}
        return await self._interact(user_id, 5, data, locale=locale)

    async def _interact(
        self, user_id: str, kind: int, data: dict[str, Any], **extra: Any
    ) -> Interaction:
        member = self.members[user_id]
        guild_id = member.guild_id
        channel = self.guilds[guild_id]["channels"][0]
        interaction_id = snowflake()
        token = f"interaction-token-{interaction_id}"
        payload = {
            "id": interaction_id,
            "application_id": APPLICATION_ID,
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": guild_id,
            "channel_id": channel["id"],
            "channel": {"id": channel["id"], "type": 0, "guild_id": guild_id, "name": "art"},
            "member": self.member_object(member),
            "app_permissions": str(DEFAULT_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 25 * 1024 * 1024,
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "data": data,
            **extra,
        }
        record = Interaction(interaction_id, token, payload, time.monotonic())
        self.interactions[interaction_id] = record
        await self.replay(record)
        return record

    async def dispatch(self, event: str, data: dict[str, Any]) -> tuple[int, str] | None:
        """Send a gateway event to the session of its shard (held for its RESUME while it is
        disconnected); returns the shard and the address its bot connected at, or None."""
        return await self._gateway.dispatch(event, data)

    async def replay(self, interaction: Interaction) -> None:
        """Deliver the same INTERACTION_CREATE again, as a gateway replay after RESUME can."""
        delivered = await self.dispatch("INTERACTION_CREATE", interaction.payload)
        if delivered is not None:
            interaction.deliveries.append(delivered)

    def expire(self, interaction: Interaction) -> None:
        """Its webhook token stops working, as Discord's do after 15 minutes."""
        interaction.expired = True

    def time_out(self, interaction: Interaction) -> None:
        """Discord's 3 seconds to acknowledge it pass: a late callback is refused (and an
        interaction never acknowledged has no response to edit or follow up)."""
        interaction.timed_out = True

    def shards_at(self, host: str) -> set[int]:
        """The shards whose sessions the bot connected at `host` identified."""
        return {shard for shard, _, at in self.identifies if at == host}

    async def force_resume(self) -> None:
        """Drop the connection with a resumable close code; discord.py reconnects and RESUMEs."""
        await self._gateway.close(code=4000)
