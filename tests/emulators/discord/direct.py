"""Direct messages: the bot opens a DM channel with a member (`POST /users/@me/channels`) and
posts in it as in any channel; `dms` maps each DM channel to its member, so a test reads what
a member was told privately with `DiscordServer.direct_messages(member)`."""

from __future__ import annotations

from aiohttp import web

from tests.emulators.discord.objects import API, json_response, snowflake, user_object
from tests.emulators.discord.recording import DiscordRecording
from tests.emulators.discord.world import DiscordWorld

DM_CHANNEL = 1


class DirectMessages:
    def __init__(self, world: DiscordWorld, recording: DiscordRecording) -> None:
        self._world = world
        self._recording = recording
        self.dms: dict[str, str] = {}  # DM channel ID -> member ID

    def add_routes(self, app: web.Application) -> None:
        """Before the REST API's catch-all route."""
        app.router.add_post(API + "/users/@me/channels", self._open)

    async def _open(self, request: web.Request) -> web.Response:
        user_id = str((await request.json())["recipient_id"])
        member = self._world.members.get(user_id)
        if member is None:
            return json_response({"message": "Unknown User", "code": 10013}, 404)
        channel_id = next((c for c, u in self.dms.items() if u == user_id), None) or snowflake()
        self.dms[channel_id] = user_id
        return json_response(
            {
                "id": channel_id,
                "type": DM_CHANNEL,
                "recipients": [user_object(user_id, member.name)],
            }
        )

    def told(self, user_id: str) -> list[str]:
        """What the bot said to `user_id` in their DMs."""
        return [
            str(m["content"])
            for m in self._recording.channel_messages
            if self.dms.get(str(m["channel_id"])) == user_id
        ]
