"""/drop create|list|info|close|export, and the Claim button under a drop's announcement.

Thin: the core (`bot/drops/`) decides who may claim, supply, limits and windows; this cog
collects what Discord knows (the claimer's roles), renders, and keeps the announcement's
counter current. The Claim button is a dynamic item keyed by the drop's ID, so buttons posted
before a restart keep working.

Answers are in the asker's language: the tree sets it for commands, and a button's or a form's
handler sets it from its own interaction (they do not pass through the tree). A claim records
it in its `reply_to`, so the answer after minting is in it too. The announcement and its
buttons are read by the whole channel: English, as no community language is set anywhere.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any, Literal

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.answers import tell_privately
from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.codes import CodeButton, takes_codes
from bot.discord.drop_buttons import DropButton
from bot.discord.render import NO_DOWNLOAD, NO_MENTIONS, drop_embed
from bot.drops import DropInfo, DropKind, gates_for, listing_line
from bot.drops.allowlists import Allowlists, check_size
from bot.errors import RequestRejected
from bot.holders.options import holder_gate
from bot.i18n import ENGLISH, _, speaking
from bot.live_counters import LiveCounters
from bot.ports import Claimant, DropGate
from cogs.allowlists import ADMINS_ONLY, DROP_DESCRIPTION, fetch_allowlist
from db.models import utcnow

PLATFORM = "discord"


class ClaimButton(DropButton, template=r"drop:claim:(?P<id>\d+)"):
    action = "drop:claim"
    # Shown to the whole channel under the announcement: English, as the announcement.
    button_label = "Claim"
    button_emoji = "🎁"
    button_style = discord.ButtonStyle.success

    async def callback(self, interaction: discord.Interaction[DiscordBot]) -> None:  # type: ignore[override]
        with speaking(interaction.locale.value):
            await self._claim(interaction)

    async def _claim(self, interaction: discord.Interaction[DiscordBot]) -> None:
        bot, user = interaction.client, interaction.user
        entry = await bot.inbox.take(interaction)  # recorded before it is acknowledged
        if entry is None:
            return  # the same click delivered again: the first delivery answers
        drops = bot.runtime.drops
        asker = asker_of(interaction)
        async with bot.inbox.handling(entry):
            deferral = await bot.inbox.defer(interaction, ephemeral=True)
            try:
                drop = await drops.info(self.drop_id)
                claimant = Claimant(
                    PLATFORM,
                    str(user.id),
                    asker.role_ids,
                    is_member=asker.is_member(drop.community_id),
                )
                claim = await drops.claim(
                    self.drop_id,
                    claimant,
                    user.display_name,
                    reply_to={
                        "application_id": str(interaction.application_id),
                        "token": interaction.token if deferral.answerable else None,
                        "issued_at": interaction.created_at.timestamp(),
                        "channel_id": str(interaction.channel_id),
                        # The answer after minting is sent from the pipeline: in this language.
                        "locale": interaction.locale.value,
                    },
                    source=str(interaction.id),
                )
            except RequestRejected as err:
                await tell_privately(interaction, deferral, err.text())
                return
            bot.inbox.submitted()
            cog = bot.get_cog("Drops")
            if isinstance(cog, Drops):
                cog.counters.touch(self.drop_id)
            name = discord.utils.escape_markdown(drop.name)
            told = (
                _("You claimed **{name}** {edition}. Minting it to your linked wallet…")
                if not claim.custodial
                else _(
                    "You claimed **{name}** {edition}. Minting it to the bot, for you "
                    "(`/withdraw`)…"
                )
            )
            await tell_privately(
                interaction, deferral, told.format(name=name, edition=claim.edition_text)
            )


class DropText(discord.ui.Modal, title="New drop"):
    def __init__(self, cog: Drops, options: dict[str, Any]) -> None:
        # Made in the admin's /drop create: in their language.
        super().__init__(title=_("New drop"), custom_id=f"drop:create:{options['nonce']}")
        self.name = discord.ui.TextInput[DropText](
            label=_("Name"), max_length=100, custom_id="name"
        )
        self.description = discord.ui.TextInput[DropText](
            label=_("Description"),
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=1000,
            custom_id="description",
        )
        self.add_item(self.name)
        self.add_item(self.description)
        self.cog = cog
        self.options = options

    async def on_submit(self, interaction: discord.Interaction[DiscordBot]) -> None:  # type: ignore[override]
        with speaking(interaction.locale.value):
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self.cog.create(
                interaction, str(self.name.value), str(self.description.value), self.options
            )


@app_commands.guild_only()
class Drops(commands.GroupCog, group_name="drop", group_description=locale_str("Community drops")):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.drops = bot.runtime.drops
        self.base_url = bot.runtime.settings.public_base_url
        turns = bot.runtime.turns
        self.counters = LiveCounters(
            self._show_count,
            turn=lambda drop_id, every: turns.take(f"drop-counter:{PLATFORM}:{drop_id}", every),
        )

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ClaimButton)

    async def cog_unload(self) -> None:
        await self.counters.close()

    async def _admin(self, interaction: discord.Interaction[DiscordBot]) -> bool:
        if asker_of(interaction).is_admin:
            return True
        await interaction.response.send_message(_(ADMINS_ONLY), ephemeral=True)
        return False

    @app_commands.command(name="create", description=locale_str("Create a drop members can claim"))
    @app_commands.rename(
        image=locale_str("image"),
        supply=locale_str("supply"),
        per_member=locale_str("per_member"),
        opens_in_minutes=locale_str("opens_in_minutes"),
        hours=locale_str("hours"),
        role=locale_str("role"),
        members_only=locale_str("members_only"),
        wallet_required=locale_str("wallet_required"),
        kind=locale_str("kind"),
        allowlist=locale_str("allowlist"),
        holders_of=locale_str("holders_of"),
        holders_min=locale_str("holders_min"),
        holders_id=locale_str("holders_id"),
    )
    @app_commands.describe(
        image=locale_str("The artwork (PNG, JPEG, GIF or WebP)"),
        supply=locale_str("How many editions (leave out: an open edition)"),
        per_member=locale_str("How many each member may claim (default 1)"),
        opens_in_minutes=locale_str("Open later (default: now)"),
        hours=locale_str("Close after this many hours (default: when an admin closes it)"),
        role=locale_str("Only members with this role may claim"),
        members_only=locale_str("Only members of this server may claim"),
        wallet_required=locale_str("Only members with a linked wallet may claim"),
        # Discord refuses a description over 100 characters, in any language.
        kind=locale_str(
            "numbered: a token per claim (#12 of 500); edition: a copy per claim, cheaper"
        ),
        allowlist=locale_str(
            "Only those on this CSV list may claim (the format: see /drop allowlist)"
        ),
        holders_of=locale_str("Only holders of this collection: 'ours' or a contract address"),
        holders_min=locale_str("How many tokens of it a claimer must hold (default 1)"),
        holders_id=locale_str("The ERC-1155 token ID they must hold (with holders_of)"),
    )
    async def create_command(
        self,
        interaction: discord.Interaction[DiscordBot],
        image: discord.Attachment,
        supply: app_commands.Range[int, 1, 1_000_000] | None = None,
        per_member: app_commands.Range[int, 1, 1000] = 1,
        opens_in_minutes: app_commands.Range[int, 0, 525_600] = 0,
        hours: app_commands.Range[float, 0.01, 8760.0] | None = None,
        role: discord.Role | None = None,
        members_only: bool = False,
        wallet_required: bool = False,
        kind: Literal["numbered", "edition"] | None = None,
        allowlist: discord.Attachment | None = None,
        holders_of: str | None = None,
        holders_min: app_commands.Range[int, 1, 1_000_000] = 1,
        holders_id: str | None = None,
    ) -> None:
        if not await self._admin(interaction):
            return
        try:  # refused before the modal, privately: no need to fill it in for nothing
            self.bot.runtime.service.check_size(image.size)
            check_size(allowlist.size if allowlist else None)
            holder = []
            if holders_of is not None:
                holder.append(
                    await self._holder_gate(interaction, holders_of, holders_id, holders_min)
                )
        except RequestRejected as err:
            await interaction.response.send_message(err.text(), ephemeral=True)
            return
        options = {
            "nonce": interaction.id,
            "image": image,
            "supply": supply,
            "per_member": per_member,
            "opens_in_minutes": opens_in_minutes,
            "hours": hours,
            "role": None if role is None or role.is_default() else str(role.id),
            "members_only": members_only,
            "wallet_required": wallet_required,
            "kind": kind,
            "allowlist": allowlist,
            "holder": holder,
        }
        await interaction.response.send_modal(DropText(self, options))

    async def create(
        self,
        interaction: discord.Interaction[DiscordBot],
        name: str,
        description: str,
        options: dict[str, Any],
    ) -> None:
        attachment: discord.Attachment = options["image"]
        starts = utcnow() + timedelta(minutes=options["opens_in_minutes"])
        ends = starts + timedelta(hours=options["hours"]) if options["hours"] else None
        try:
            drop, listed = await Allowlists(self.bot.runtime.sessions).create_drop(
                self.drops,
                allowlist=await fetch_allowlist(self.bot, options["allowlist"]),
                platform=PLATFORM,
                community_id=str(interaction.guild_id),
                created_by=str(interaction.user.id),
                name=name,
                description=description,
                image=await self.bot.download(attachment),
                supply=options["supply"],
                per_user_limit=options["per_member"],
                starts_at=starts,
                ends_at=ends,
                gates=gates_for(
                    [options["role"]] if options["role"] else [],
                    chat_member=options["members_only"],
                    linked_wallet=options["wallet_required"],
                )
                + options["holder"],
                kind=DropKind(options["kind"]) if options["kind"] else None,
            )
        except (RequestRejected, aiohttp.ClientError, TimeoutError) as err:
            text = err.text() if isinstance(err, RequestRejected) else _(NO_DOWNLOAD)
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        channel = interaction.channel
        assert isinstance(channel, discord.abc.Messageable)
        embed, view = self._announcement(drop)
        announcement = await channel.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
        await self.drops.remember_announcement(
            drop.id, PLATFORM, str(announcement.channel.id), str(announcement.id)
        )
        told = _("Drop #{id} is up: {url}").format(id=drop.id, url=announcement.jump_url)
        await interaction.followup.send(
            told + (f"\n{listed.report()}" if listed else ""), ephemeral=True
        )

    async def _holder_gate(
        self, interaction: discord.Interaction[DiscordBot], of: str, token: str | None, least: int
    ) -> DropGate:
        runtime = self.bot.runtime
        return await holder_gate(
            runtime.collections, runtime.collection.address, PLATFORM, str(interaction.guild_id),
            of=of, token_id=token, minimum=least,
        )  # fmt: skip

    def _announcement(self, drop: DropInfo) -> tuple[discord.Embed, discord.ui.View]:
        """The drop's announcement and its buttons. The whole channel reads them: English,
        whoever posts or updates them (no community language is set anywhere yet)."""
        with speaking(ENGLISH):
            return drop_embed(drop, self.base_url), self._view(drop)

    def _view(self, drop: DropInfo) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        view.add_item(ClaimButton(drop.id, disabled=drop.is_over(utcnow())))
        if takes_codes(drop):
            view.add_item(CodeButton(drop.id, disabled=drop.is_over(utcnow())))
        return view

    async def _show_count(self, drop_id: int) -> None:
        drop = await self.drops.info(drop_id)
        for channel_id, message_id in await self.drops.announcements(drop_id, PLATFORM):
            message = self.bot.get_partial_messageable(int(channel_id)).get_partial_message(
                int(message_id)
            )
            embed, view = self._announcement(drop)
            await message.edit(embed=embed, view=view)

    @app_commands.command(name="list", description=locale_str("This server's drops"))
    async def list_command(self, interaction: discord.Interaction[DiscordBot]) -> None:
        drops = await self.drops.list_drops(PLATFORM, str(interaction.guild_id))
        now = utcnow()
        lines = [listing_line(d, now, name=_bold) for d in drops[:20]]
        await interaction.response.send_message(
            "\n".join(lines) or _("No drops yet."), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="info", description=locale_str("One drop"))
    @app_commands.describe(drop=DROP_DESCRIPTION)
    async def info_command(self, interaction: discord.Interaction[DiscordBot], drop: int) -> None:
        try:
            found = await self.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
        except RequestRejected as err:
            await interaction.response.send_message(err.text(), ephemeral=True)
            return
        # Shown to the asker alone: in their language.
        await interaction.response.send_message(
            embed=drop_embed(found, self.base_url), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="close", description=locale_str("End a drop early"))
    @app_commands.describe(drop=DROP_DESCRIPTION)
    async def close_command(self, interaction: discord.Interaction[DiscordBot], drop: int) -> None:
        if not await self._admin(interaction):
            return
        try:
            await self.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
            closed = await self.drops.close(drop)
        except RequestRejected as err:
            await interaction.response.send_message(err.text(), ephemeral=True)
            return
        self.counters.touch(drop)
        await interaction.response.send_message(
            _("Drop #{id} is closed at {claimed} claimed.").format(
                id=closed.id, claimed=closed.claimed
            ),
            ephemeral=True,
        )

    @app_commands.command(name="export", description=locale_str("A drop's claims as CSV"))
    @app_commands.describe(drop=DROP_DESCRIPTION)
    async def export_command(self, interaction: discord.Interaction[DiscordBot], drop: int) -> None:
        if not await self._admin(interaction):
            return
        try:
            await self.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
            table = await self.drops.export_csv(drop)
        except RequestRejected as err:
            await interaction.response.send_message(err.text(), ephemeral=True)
            return
        # The file itself stays English: its columns are read by spreadsheets and scripts.
        await interaction.response.send_message(
            _("Claims of drop #{id}:").format(id=drop),
            file=discord.File(io.BytesIO(table.encode()), filename=f"drop-{drop}-claims.csv"),
            ephemeral=True,
        )


def _bold(name: str) -> str:
    return f"**{discord.utils.escape_markdown(name)}**"


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Drops(bot))
