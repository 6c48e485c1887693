"""Holder roles on Discord: a role given or taken by REST (`PUT`/`DELETE
/guilds/{guild}/members/{user}/roles/{role}`), both harmless to repeat. discord.py waits out
Discord's 429s and retries them a bounded number of times before raising."""

from __future__ import annotations

import discord

from bot.discord.client import DiscordBot
from bot.holders.roles import NotAMember

UNKNOWN_MEMBER = 10007
REASON = "holder role: tokens held"


class DiscordRoles:
    """`bot.holders.roles.RoleKeeper` for Discord."""

    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot

    async def set_role(self, community_id: str, user_id: str, role_id: str, present: bool) -> None:
        http = self.bot.http
        change = http.add_role if present else http.remove_role
        try:
            await change(int(community_id), int(user_id), int(role_id), reason=REASON)
        except discord.NotFound as err:
            if err.code == UNKNOWN_MEMBER:
                raise NotAMember(user_id) from None
            raise
