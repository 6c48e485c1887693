"""/wallet set and /wallet show: where a member's tokens go."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_client import NO_MENTIONS, MintBot
from bot.errors import RequestRejected


class Wallet(commands.GroupCog, group_name="wallet", group_description="Your payout wallet"):
    def __init__(self, bot: MintBot) -> None:
        self.bot = bot
        self.service = bot.runtime.service

    @app_commands.command(name="set", description="Send your future NFTs to this address")
    @app_commands.describe(address="An Ethereum address (0x...)")
    async def set_address(self, interaction: discord.Interaction[MintBot], address: str) -> None:
        try:
            linked = await self.service.link_address(
                "discord", str(interaction.user.id), interaction.user.display_name, address
            )
        except RequestRejected as err:
            text = str(err)
        else:
            text = f"Your NFTs will go to `{linked}` (not verified by a signature)."
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="show", description="Where your NFTs go")
    async def show(self, interaction: discord.Interaction[MintBot]) -> None:
        linked = await self.service.linked_address("discord", str(interaction.user.id))
        if linked is None:
            text = "No wallet linked: the bot holds your NFTs for you. Link one with `/wallet set`."
        else:
            address, verified = linked
            text = f"Your NFTs go to `{address}`" + ("" if verified else " (not verified).")
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: MintBot) -> None:
    await bot.add_cog(Wallet(bot))
