"""/raffle create|close, /enter, and the Enter button under a raffle's announcement.

Thin: the core (`bot/drops/raffles.py`) decides who may enter, once per member, and draws;
this cog collects what Discord knows (the entrant's roles), renders, and is the raffles'
voice on Discord: the draw is posted under the announcement, and each entrant hears their
outcome in a direct message (an interaction's ephemeral follow-up is gone by the draw), or
through their entry's interaction while its token lasts if their DMs are closed.

Answers to a member or an admin are in their language (the tree set the interaction's
locale); an entrant's outcome in the language recorded with their entry (`reply_to`'s
"locale"); the announcement and the draw, which the whole channel reads, in English
(`raffle_types.PUBLIC_LOCALE`), and so is the Enter button under them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.answers import interaction_webhook, tell_privately
from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.drop_buttons import DropButton
from bot.discord.render import NO_DOWNLOAD, NO_MENTIONS, drop_embed
from bot.drops import DropKind, gates_for
from bot.drops.raffle_types import RaffleInfo
from bot.errors import RequestRejected
from bot.i18n import _
from bot.ports import Claimant
from db.models import utcnow

PLATFORM = "discord"


class EnterButton(DropButton, template=r"raffle:enter:(?P<id>\d+)"):
    action = "raffle:enter"
    button_label = "Enter"
    button_emoji = "🎟️"
    button_style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction[DiscordBot]) -> None:  # type: ignore[override]
        await enter(interaction, self.drop_id)


async def enter(interaction: discord.Interaction[DiscordBot], drop_id: int) -> None:
    """Enter the member who asked (the button, or /enter); answer them alone."""
    bot, user = interaction.client, interaction.user
    entry = await bot.inbox.take(interaction)  # recorded before it is acknowledged
    if entry is None:
        return  # the same click delivered again: the first delivery answers
    raffles = bot.runtime.raffles
    asker = asker_of(interaction)
    async with bot.inbox.handling(entry):
        deferral = await bot.inbox.defer(interaction, ephemeral=True)
        try:
            drop = await bot.runtime.drops.info(drop_id)
            entered = await raffles.enter(
                drop_id,
                Claimant(
                    PLATFORM,
                    str(user.id),
                    asker.role_ids,
                    is_member=asker.is_member(drop.community_id),
                ),
                user.display_name,
                reply_to={
                    "application_id": str(interaction.application_id),
                    "token": interaction.token if deferral.answerable else None,
                    "issued_at": interaction.created_at.timestamp(),
                    "channel_id": str(interaction.channel_id),
                    # The draw tells them their outcome later: in this language.
                    "locale": interaction.locale.value,
                },
            )
        except RequestRejected as err:
            await tell_privately(interaction, deferral, err.text())
            return
        bot.inbox.submitted()
        await tell_privately(interaction, deferral, discord.utils.escape_markdown(entered.text()))


class DiscordRaffleVoice:
    """How the core's raffle outcomes are said on Discord (`bot.drops.raffle_types.RaffleVoice`)."""

    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot

    async def announce_draw(self, drop_id: int, chat_id: str, message_id: str, text: str) -> None:
        channel = self.bot.get_partial_messageable(int(chat_id))
        announcement = channel.get_partial_message(int(message_id))
        await channel.send(
            discord.utils.escape_markdown(text)[:2000],
            reference=announcement,
            allowed_mentions=NO_MENTIONS,
        )
        view = discord.ui.View(timeout=None)
        view.add_item(EnterButton(drop_id, disabled=True))
        await announcement.edit(view=view)

    async def tell_entrant(self, user_id: str, reply_to: dict[str, object], text: str) -> None:
        said = discord.utils.escape_markdown(text)[:2000]
        try:
            dm = await self.bot.create_dm(discord.Object(int(user_id)))
            await dm.send(said, allowed_mentions=NO_MENTIONS)
            return
        except discord.Forbidden:  # their DMs are closed to the bot
            webhook = interaction_webhook(self.bot, reply_to)
            if webhook is None:
                raise
        await webhook.send(said, ephemeral=True, allowed_mentions=NO_MENTIONS)


@app_commands.guild_only()
class Raffles(commands.GroupCog, group_name="raffle", group_description=locale_str("Raffle drops")):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.raffles = bot.runtime.raffles
        self.base_url = bot.runtime.settings.public_base_url

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(EnterButton)
        self.raffles.speak_through(PLATFORM, DiscordRaffleVoice(self.bot))

    async def _admin(self, interaction: discord.Interaction[DiscordBot]) -> bool:
        if asker_of(interaction).is_admin:
            return True
        await interaction.response.send_message(
            _("Only members with Manage Server can run raffles."), ephemeral=True
        )
        return False

    @app_commands.command(
        name="create", description=locale_str("A raffle: winners drawn at the close")
    )
    @app_commands.rename(
        image=locale_str("image"),
        name=locale_str("name"),
        winners=locale_str("winners"),
        hours=locale_str("hours"),
        description=locale_str("description"),
        role=locale_str("role"),
        members_only=locale_str("members_only"),
        wallet_required=locale_str("wallet_required"),
        kind=locale_str("kind"),
    )
    @app_commands.describe(
        image=locale_str("The artwork (PNG, JPEG, GIF or WebP)"),
        name=locale_str("The raffle's name"),
        winners=locale_str("How many winners (each gets an edition)"),
        hours=locale_str("Entries close after this many hours"),
        description=locale_str("What it is"),
        role=locale_str("Only members with this role may enter"),
        members_only=locale_str("Only members of this server may enter"),
        wallet_required=locale_str("Only members with a linked wallet may enter"),
        kind=locale_str("numbered: a token per winner; edition: one artwork, a copy per winner"),
    )
    async def create_command(
        self,
        interaction: discord.Interaction[DiscordBot],
        image: discord.Attachment,
        name: app_commands.Range[str, 1, 100],
        winners: app_commands.Range[int, 1, 100_000],
        hours: app_commands.Range[float, 0.01, 8760.0],
        description: app_commands.Range[str, 0, 1000] = "",
        role: discord.Role | None = None,
        members_only: bool = False,
        wallet_required: bool = False,
        kind: Literal["numbered", "edition"] | None = None,
    ) -> None:
        if not await self._admin(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            raffle = await self.raffles.create(
                platform=PLATFORM,
                community_id=str(interaction.guild_id),
                created_by=str(interaction.user.id),
                name=name,
                description=description,
                image=await self.bot.download(image),
                winners=winners,
                ends_at=utcnow() + timedelta(hours=hours),
                gates=gates_for(
                    [str(role.id)] if role is not None and not role.is_default() else [],
                    chat_member=members_only,
                    linked_wallet=wallet_required,
                ),
                kind=DropKind(kind) if kind else None,
            )
        except (RequestRejected, aiohttp.ClientError, TimeoutError) as err:
            text = err.text() if isinstance(err, RequestRejected) else _(NO_DOWNLOAD)
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        channel = interaction.channel
        assert isinstance(channel, discord.abc.Messageable)
        announcement = await channel.send(
            discord.utils.escape_markdown(raffle.open_text(utcnow())),
            embed=drop_embed(raffle.drop, self.base_url),
            view=self._view(raffle),
            allowed_mentions=NO_MENTIONS,
        )
        await self.raffles.drops.remember_announcement(
            raffle.drop.id, PLATFORM, str(announcement.channel.id), str(announcement.id)
        )
        await interaction.followup.send(
            _("Raffle #{id} is up: {link}").format(id=raffle.drop.id, link=announcement.jump_url),
            ephemeral=True,
        )

    def _view(self, raffle: RaffleInfo) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        view.add_item(EnterButton(raffle.drop.id, disabled=raffle.drawn))
        return view

    @app_commands.command(name="close", description=locale_str("Close a raffle's entries now"))
    @app_commands.describe(drop=locale_str("The raffle's number (in its announcement)"))
    async def close_command(self, interaction: discord.Interaction[DiscordBot], drop: int) -> None:
        if not await self._admin(interaction):
            return
        try:
            await self.raffles.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
            raffle = await self.raffles.close_entries(drop)
        except RequestRejected as err:
            await interaction.response.send_message(err.text(), ephemeral=True)
            return
        await interaction.response.send_message(raffle.closed_text(), ephemeral=True)


class Entering(commands.Cog):
    @app_commands.command(name="enter", description=locale_str("Enter a raffle"))
    @app_commands.describe(drop=locale_str("The raffle's number (in its announcement)"))
    @app_commands.guild_only()
    async def enter_command(
        self, interaction: discord.Interaction[DiscordBot], drop: app_commands.Range[int, 1]
    ) -> None:
        await enter(interaction, drop)


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Raffles(bot))
    await bot.add_cog(Entering())
