"""/help: how to mint and what each command does, shown to the asker alone, in their language
(`_()`: the tree set the interaction's locale for the task that runs the command)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.client import DiscordBot
from bot.discord.render import NO_MENTIONS
from bot.i18n import N_, _

# Translated where it is sent: `_(HELP)`.
HELP = N_(
    "**Mint your art as an NFT**\n"
    "• `/mint` with an image and a name (a description and a `to` address are optional): the "
    "NFT goes to your linked wallet, or the bot holds it for you.\n"
    "• Or *Mint as NFT* in a message's Apps menu: the NFT goes to whoever posted the image "
    "(others need the curator role).\n\n"
    "/status: your recent requests\n"
    "/mynfts: your NFTs\n"
    "/wallet link: prove an address is yours, then /wallet verify; /wallet show: where your "
    "NFTs go\n"
    "/withdraw: move the NFTs the bot holds for you to your verified address\n"
    "/leaderboard: top creators and collectors here; /gallery: this server's NFTs\n"
    "Drops: /drop list shows them; the Claim or Enter button under one claims it or enters its "
    "raffle (also /raffle enter); a drop with codes is claimed with /claim\n"
    "Members with Manage Server: /admin, /drop create, /raffle create, /codes"
)


class Help(commands.Cog):
    @app_commands.command(
        name="help", description=locale_str("How to mint, and what each command does")
    )
    async def help(self, interaction: discord.Interaction[DiscordBot]) -> None:
        await interaction.response.send_message(
            _(HELP), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Help())
