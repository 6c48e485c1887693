"""/drop allowlist: an admin sets or replaces a drop's allowlist from a CSV attachment, even
while the drop is open; and the file of /drop create's `allowlist` option, fetched here.

Thin: the core (`bot.drops.allowlists`) reads the file whole, refuses it with its bad lines
named, or makes it the drop's list. The command joins the /drop group of `cogs.drops` (loaded
before this extension), so admins find it beside /drop create. Its answers, bad lines and
their numbers included, are in the admin's language.
"""

from __future__ import annotations

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.render import NO_DOWNLOAD, NO_MENTIONS
from bot.drops.allowlists import Allowlists, check_size
from bot.errors import RequestRejected
from bot.i18n import N_, _

PLATFORM = "discord"
# Discord shows at most 100 characters of an option's description.
ALLOWLIST_FORMAT = locale_str(
    "CSV: discord:ID, telegram:ID or a 0x address a line, then optionally its allowance"
)
# The /drop commands' `drop` option (shared with `cogs.drops`).
DROP_DESCRIPTION = locale_str("The drop's number (see /drop list)")
# Translated where it is sent: `_(ADMINS_ONLY)`.
ADMINS_ONLY = N_("Only members with Manage Server can run drops.")


async def fetch_allowlist(bot: DiscordBot, attachment: discord.Attachment | None) -> bytes | None:
    """The attachment's bytes (None without one). Raises `AllowlistRefused` for a file larger
    than an allowlist may be, `aiohttp.ClientError` or `TimeoutError` if Discord would not
    hand it over."""
    if attachment is None:
        return None
    check_size(attachment.size)
    return await bot.download(attachment)


@app_commands.command(name="allowlist", description=locale_str("Set or replace a drop's allowlist"))
@app_commands.rename(file=locale_str("file"))
@app_commands.describe(drop=DROP_DESCRIPTION, file=ALLOWLIST_FORMAT)
async def allowlist_command(
    interaction: discord.Interaction[DiscordBot], drop: int, file: discord.Attachment
) -> None:
    bot = interaction.client
    if not asker_of(interaction).is_admin:
        await interaction.response.send_message(_(ADMINS_ONLY), ephemeral=True)
        return
    try:  # refused before anything is fetched
        check_size(file.size)
        await bot.runtime.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
    except RequestRejected as err:
        await interaction.response.send_message(
            err.text(), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        data = await fetch_allowlist(bot, file)
        assert data is not None
        uploaded = await Allowlists(bot.runtime.sessions).replace(
            drop, data, by=str(interaction.user.id)
        )
        text = uploaded.report()
    except RequestRejected as err:
        text = err.text()
    except (aiohttp.ClientError, TimeoutError):
        text = _(NO_DOWNLOAD)
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


class AllowlistCommands(commands.Cog):
    """Puts /drop allowlist into the /drop group while loaded."""

    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot

    def _group(self) -> app_commands.Group:
        drops = self.bot.get_cog("Drops")
        if not isinstance(drops, commands.GroupCog) or drops.app_command is None:
            raise RuntimeError("cogs.drops must be loaded before cogs.allowlists")
        return drops.app_command

    async def cog_load(self) -> None:
        self._group().add_command(allowlist_command)

    async def cog_unload(self) -> None:
        drops = self.bot.get_cog("Drops")
        if isinstance(drops, commands.GroupCog) and drops.app_command is not None:
            drops.app_command.remove_command(allowlist_command.name)


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(AllowlistCommands(bot))
