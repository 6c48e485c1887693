"""/admin holder-role, /admin holder-roles, /admin holder-role-remove: roles that follow what
members hold (bot/holders/). These commands join the /admin group (cogs/admin.py), which
Discord shows only to members with Manage Server; each checks again here."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.holder_roles import DiscordRoles
from bot.discord.render import NO_MENTIONS
from bot.errors import RequestRejected
from bot.holders.options import OURS, holder_gate

PLATFORM = "discord"


class HolderRoleCommands(commands.Cog):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.holders = bot.runtime.holders

    async def cog_load(self) -> None:
        self.holders.attach(PLATFORM, DiscordRoles(self.bot))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if interaction.guild_id is not None and asker_of(interaction).is_admin:
            return True
        await interaction.response.send_message(
            "Only members with Manage Server can use admin commands.", ephemeral=True
        )
        return False

    async def _reply(self, interaction: discord.Interaction[DiscordBot], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="holder-role", description="Give a role to members holding tokens")
    @app_commands.describe(
        role="The role to give (the bot's own role must be above it)",
        min="How many tokens a member must hold (default 1)",
        collection="'ours' (this server's collection, else the shared one) or a contract address",
        token_id="For an ERC-1155: the token ID that counts",  # noqa: S106 (an ID, no secret)
    )
    async def holder_role(
        self,
        interaction: discord.Interaction[DiscordBot],
        role: discord.Role,
        min: app_commands.Range[int, 1, 1_000_000] = 1,
        collection: str = OURS,
        token_id: str | None = None,
    ) -> None:
        guild = str(interaction.guild_id)
        runtime = self.bot.runtime
        try:
            gate = await holder_gate(
                runtime.collections, runtime.collection.address, PLATFORM, guild,
                of=collection, token_id=token_id, minimum=min,
            )  # fmt: skip
        except RequestRejected as err:
            await self._reply(interaction, str(err))
            return
        rule, _ = await self.holders.rules.set(
            PLATFORM, guild, str(role.id), gate, str(interaction.user.id)
        )
        self.holders.rule_changed(rule.id)
        # Discord refuses role changes to a bot without Manage Roles: say so now, not never.
        missing = (
            ""
            if interaction.app_permissions.manage_roles
            else "\nI lack the Manage Roles permission here: grant it (my role above "
            f"<@&{role.id}>), or no role changes."
        )
        await self._reply(
            interaction,
            f"<@&{role.id}> now goes to {rule.describe()} (verified wallets and custody), and "
            "leaves members who no longer hold enough. Members are checked now and after "
            "every transfer." + missing,
        )

    @app_commands.command(name="holder-roles", description="The roles given to token holders")
    async def holder_roles(self, interaction: discord.Interaction[DiscordBot]) -> None:
        rules = await self.holders.rules.of(PLATFORM, str(interaction.guild_id))
        lines = [f"<@&{r.role_id}>: {r.describe()}" for r in rules]
        await self._reply(interaction, "\n".join(lines) or "No holder roles here.")

    @app_commands.command(name="holder-role-remove", description="Stop giving a role to holders")
    @app_commands.describe(role="The role to stop following (members keep it)")
    async def holder_role_remove(
        self, interaction: discord.Interaction[DiscordBot], role: discord.Role
    ) -> None:
        removed = await self.holders.rules.remove(PLATFORM, str(interaction.guild_id), str(role.id))
        await self._reply(
            interaction,
            f"<@&{role.id}> no longer follows holdings; members who have it keep it."
            if removed
            else f"<@&{role.id}> has no holder rule.",
        )


async def setup(bot: DiscordBot) -> None:
    cog = HolderRoleCommands(bot)
    await bot.add_cog(cog)
    admin = bot.tree.get_command("admin")
    assert isinstance(admin, app_commands.Group), "cogs.admin loads first"
    for command in cog.get_app_commands():  # under /admin, not beside it
        bot.tree.remove_command(command.name)
        admin.add_command(command)
