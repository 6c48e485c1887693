"""/leaderboard and /gallery: what a server minted, and who made and holds it.

Answered in the member's language (`_()`: the tree set the interaction's locale for the task
that runs the command); names and descriptions in Discord's menus through `locale_str`."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.client import DiscordBot
from bot.discord.render import NO_MENTIONS
from bot.i18n import _, ngettext
from bot.leaderboard_gallery import Leaderboard, Ranked

GALLERY_LINES = 10


def _escaped(text: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _names(ranked: list[Ranked]) -> str:
    lines = [f"{place}. {_escaped(r.name)}: {r.count}" for place, r in enumerate(ranked, 1)]
    return "\n".join(lines) or _("nobody yet")


def leaderboard_embed(board: Leaderboard, gallery_url: str) -> discord.Embed:
    embed = discord.Embed(
        title="🏆 " + _("Leaderboard"), url=gallery_url, colour=discord.Colour.gold()
    )
    embed.add_field(name=_("Top creators (tokens minted)"), value=_names(board.creators)[:1024])
    embed.add_field(name=_("Top collectors (tokens held)"), value=_names(board.collectors)[:1024])
    return embed


@app_commands.guild_only()
class Showcase(commands.Cog):
    def __init__(self, bot: DiscordBot) -> None:
        self.engagement = bot.runtime.engagement

    @app_commands.command(
        name="leaderboard", description=locale_str("Top creators and collectors here")
    )
    async def leaderboard(self, interaction: discord.Interaction[DiscordBot]) -> None:
        community = str(interaction.guild_id)
        board = await self.engagement.leaderboard("discord", community)
        await interaction.response.send_message(
            embed=leaderboard_embed(board, self.engagement.gallery_url("discord", community)),
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(
        name="gallery", description=locale_str("This server's NFTs, or one member's")
    )
    @app_commands.rename(member=locale_str("member"))
    @app_commands.describe(member=locale_str("Only the NFTs this member created"))
    async def gallery(
        self, interaction: discord.Interaction[DiscordBot], member: discord.Member | None = None
    ) -> None:
        community = str(interaction.guild_id)
        member_id = str(member.id) if member is not None else None
        page = await self.engagement.gallery("discord", community, member_id, limit=GALLERY_LINES)
        url = self.engagement.gallery_url("discord", community)
        if member_id is not None:
            url += f"?member={member_id}"
        whose = (
            _("{member}'s NFTs").format(member=discord.utils.escape_markdown(member.display_name))
            if member is not None
            else _("This server's NFTs")
        )
        lines = [
            _("{name} by {creator}").format(
                name=f"[{discord.utils.escape_markdown(item.name)}]"
                f"(<{self.engagement.token_url(item.token_id)}>)",
                creator=discord.utils.escape_markdown(item.creator_name),
            )
            for item in page.items
        ]
        more = page.total - len(page.items)
        if page.has_more:
            lines.append(
                ngettext("…and {count} more", "…and {count} more", more).format(count=more)
            )
        embed = discord.Embed(
            title=f"🖼️ {whose} ({page.total})",
            url=url,
            description="\n".join(lines)[:4096] or _("Nothing minted yet."),
        )
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Showcase(bot))
