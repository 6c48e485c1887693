"""/wallet link|verify|set|show: where a member's tokens go, proven by a signature."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_client import NO_MENTIONS, MintBot
from bot.errors import RequestRejected
from bot.wallets import SIGN_HOWTO, describe_link


class Wallet(commands.GroupCog, group_name="wallet", group_description="Your payout wallet"):
    def __init__(self, bot: MintBot) -> None:
        self.bot = bot
        self.wallets = bot.runtime.wallets

    async def _reply(self, interaction: discord.Interaction[MintBot], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(
        name="link", description="Prove an address is yours and send your NFTs there"
    )
    @app_commands.describe(address="Your Ethereum address (0x...)")
    async def link(self, interaction: discord.Interaction[MintBot], address: str) -> None:
        try:
            challenge = await self.wallets.challenge("discord", str(interaction.user.id), address)
        except RequestRejected as err:
            await self._reply(interaction, str(err))
            return
        await self._reply(
            interaction,
            f"```\n{challenge.message}\n```\n{SIGN_HOWTO.format(verify='/wallet verify')}",
        )

    @app_commands.command(name="verify", description="Finish /wallet link with your signature")
    @app_commands.describe(signature="The 0x... signature your wallet gave you")
    async def verify(self, interaction: discord.Interaction[MintBot], signature: str) -> None:
        user = interaction.user
        try:
            address = await self.wallets.verify(
                "discord", str(user.id), user.display_name, signature
            )
        except RequestRejected as err:
            text = str(err)
        else:
            text = f"Verified: your NFTs will go to `{address}`."
        await self._reply(interaction, text)

    @app_commands.command(name="set", description="Send your future NFTs to this address")
    @app_commands.describe(address="An Ethereum address (0x...)")
    async def set_address(self, interaction: discord.Interaction[MintBot], address: str) -> None:
        user = interaction.user
        try:
            linked = await self.wallets.set_unverified(
                "discord", str(user.id), user.display_name, address
            )
        except RequestRejected as err:
            text = str(err)
        else:
            text = f"Your NFTs will go to `{linked}` (not verified by a signature)."
        await self._reply(interaction, text)

    @app_commands.command(name="show", description="Where your NFTs go")
    async def show(self, interaction: discord.Interaction[MintBot]) -> None:
        linked = await self.wallets.linked("discord", str(interaction.user.id))
        await self._reply(interaction, describe_link(linked, code="`{}`", link="/wallet link"))


async def setup(bot: MintBot) -> None:
    await bot.add_cog(Wallet(bot))
