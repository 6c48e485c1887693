"""Members' roles changed by REST: `PUT` and `DELETE /guilds/{guild}/members/{user}/roles/{role}`
as Discord answers them (204, idempotent; 404 Unknown Member / Unknown Role). The member's
roles change in the world, so the next interaction carries them. No GUILD_MEMBER_UPDATE is
sent: the bot asks for the guilds intent only, and Discord sends member updates only with the
privileged members intent."""

from __future__ import annotations

import time

from aiohttp import web

from tests.emulators.discord.objects import API, json_response
from tests.emulators.discord.world import DiscordWorld

UNKNOWN_MEMBER = 10007
UNKNOWN_ROLE = 10011


class MemberRoles:
    """Gives and takes members' roles, writing down each change that changed something."""

    def __init__(self, world: DiscordWorld) -> None:
        self._world = world
        # (monotonic time, user ID, role ID, whether the member has it now), per real change.
        self.role_changes: list[tuple[float, str, str, bool]] = []

    def add_routes(self, app: web.Application) -> None:
        path = API + "/guilds/{guild}/members/{user}/roles/{role}"
        app.router.add_route("PUT", path, self._change)
        app.router.add_route("DELETE", path, self._change)

    async def _change(self, request: web.Request) -> web.Response:
        guild, user, role = (request.match_info[k] for k in ("guild", "user", "role"))
        member = self._world.members.get(user)
        if member is None or member.guild_id != guild:
            return json_response({"message": "Unknown Member", "code": UNKNOWN_MEMBER}, 404)
        if role not in self._world.roles or role == guild:
            return json_response({"message": "Unknown Role", "code": UNKNOWN_ROLE}, 404)
        present = request.method == "PUT"
        if (role in member.role_ids) != present:
            if present:
                member.role_ids.append(role)
            else:
                member.role_ids.remove(role)
            self.role_changes.append((time.monotonic(), user, role, present))
        return web.Response(status=204)
