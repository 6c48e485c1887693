"""/admin holder-role, /admin holder-roles, /admin holder-role-remove: roles that follow what
members hold (bot/holders/). These commands join the /admin group (cogs/admin.py), which
Discord shows only to members with Manage Server; each checks again here. Answers, option
names and descriptions are in the admin's language, as in cogs/admin.py."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.holder_roles import DiscordRoles
from bot.discord.render import NO_MENTIONS
from bot.errors import RequestRejected
from bot.holders.options import OURS, holder_gate
from bot.i18n import _
from cogs.admin import ADMINS_ONLY

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
        await interaction.response.send_message(_(ADMINS_ONLY), ephemeral=True)
        return False

    async def _reply(self, interaction: discord.Interaction[DiscordBot], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(
        name="holder-role", description=locale_str("Give a role to members holding tokens")
    )
    @app_commands.rename(
        role=locale_str("role"),
        min=locale_str("min"),
        collection=locale_str("collection"),
        token_id=locale_str("token_id"),
    )
    @app_commands.describe(
        role=locale_str("The role to give (the bot's own role must be above it)"),
        min=locale_str("How many tokens a member must hold (default 1)"),
        collection=locale_str(
            "'ours' (this server's collection, else the shared one) or a contract address"
        ),
        token_id=locale_str("For an ERC-1155: the token ID that counts"),
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
            await self._reply(interaction, err.text())
            return
        rule, _changed = await self.holders.rules.set(
            PLATFORM, guild, str(role.id), gate, str(interaction.user.id)
        )
        self.holders.rule_changed(rule.id)
        # Discord refuses role changes to a bot without Manage Roles: say so now, not never.
        mention = f"<@&{role.id}>"
        text = _(
            "{role} now goes to {what} (verified wallets and custody), and leaves members who no "
            "longer hold enough. Members are checked now and after every transfer."
        ).format(role=mention, what=rule.describe())
        if not interaction.app_permissions.manage_roles:
            text += "\n" + _(
                "I lack the Manage Roles permission here: grant it (my role above {role}), or no "
                "role changes."
            ).format(role=mention)
        await self._reply(interaction, text)

    @app_commands.command(
        name="holder-roles", description=locale_str("The roles given to token holders")
    )
    async def holder_roles(self, interaction: discord.Interaction[DiscordBot]) -> None:
        rules = await self.holders.rules.of(PLATFORM, str(interaction.guild_id))
        lines = [f"<@&{r.role_id}>: {r.describe()}" for r in rules]
        await self._reply(interaction, "\n".join(lines) or _("No holder roles here."))

    @app_commands.command(
        name="holder-role-remove", description=locale_str("Stop giving a role to holders")
    )
    @app_commands.rename(role=locale_str("role"))
    @app_commands.describe(role=locale_str("The role to stop following (members keep it)"))
    async def holder_role_remove(
        self, interaction: discord.Interaction[DiscordBot], role: discord.Role
    ) -> None:
        removed = await self.holders.rules.remove(PLATFORM, str(interaction.guild_id), str(role.id))
        said = (
            _("{role} no longer follows holdings; members who have it keep it.")
            if removed
            else _("{role} has no holder rule.")
        )
        await self._reply(interaction, said.format(role=f"<@&{role.id}>"))


async def setup(bot: DiscordBot) -> None:
    cog = HolderRoleCommands(bot)
    await bot.add_cog(cog)
    admin = bot.tree.get_command("admin")
    assert isinstance(admin, app_commands.Group), "cogs.admin loads first"
    for command in cog.get_app_commands():  # under /admin, not beside it
        bot.tree.remove_command(command.name)
        admin.add_command(command)
