"""/claim CODE and the "Claim with a code" form of codeword drops; /codes make|word for admins.

Thin: the core (`bot/drops/codewords.py`) checks codes, counts wrong ones and claims; this
cog reads what Discord knows (the claimer's roles and membership), answers only the claimer
(every answer is ephemeral, and none repeats the code), and hands admins their codes as a
CSV file only they see. Every answer is in the asker's language (the tree set the
interaction's locale), and the claim records it for the answers that come later (minted).
"""

from __future__ import annotations

import io
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.answers import tell_privately
from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.codes import FORM_ID, CodeButton, typed_code
from bot.drops.codes import MAX_BATCH
from bot.drops.codewords import codes_csv
from bot.errors import RequestRejected
from bot.i18n import N_, _, ngettext
from bot.ports import Claimant

PLATFORM = "discord"


class Codewords(commands.Cog):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.codewords = bot.runtime.codewords

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(CodeButton)

    # ----- members -----------------------------------------------------------------------

    @app_commands.command(name="claim", description=locale_str("Claim a drop with its code"))
    @app_commands.rename(code=locale_str("code"))
    @app_commands.describe(
        code=locale_str("The code or secret word (only you see this command)"),
        drop=locale_str("The drop's number (needed only when several drops take codes)"),
    )
    @app_commands.guild_only()
    async def claim_command(
        self,
        interaction: discord.Interaction[DiscordBot],
        code: app_commands.Range[str, 1, 100],
        drop: app_commands.Range[int, 1, 2**31 - 1] | None = None,
    ) -> None:
        await self.claim(interaction, drop, code)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[DiscordBot]) -> None:
        """A submitted "Claim with a code" form (opened by `CodeButton`)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: Any = interaction.data or {}
        match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
        if match is not None:
            await self.claim(interaction, int(match["id"]), typed_code(data))

    async def claim(
        self, interaction: discord.Interaction[DiscordBot], drop_id: int | None, code: str
    ) -> None:
        bot, user = self.bot, interaction.user
        entry = await bot.inbox.take(interaction)  # recorded before it is acknowledged
        if entry is None:
            return  # delivered again: the first delivery answers
        async with bot.inbox.handling(entry):
            deferral = await bot.inbox.defer(interaction, ephemeral=True)
            asker = asker_of(interaction)
            try:
                drop = await self._drop(str(interaction.guild_id), drop_id)
                claimed = await self.codewords.claim(
                    drop.id,
                    Claimant(
                        PLATFORM,
                        str(user.id),
                        asker.role_ids,
                        is_member=asker.is_member(drop.community_id),
                    ),
                    user.display_name,
                    code,
                    reply_to={
                        "application_id": str(interaction.application_id),
                        "token": interaction.token if deferral.answerable else None,
                        "issued_at": interaction.created_at.timestamp(),
                        "channel_id": str(interaction.channel_id),
                        # The mint is answered later: in this language.
                        "locale": interaction.locale.value,
                    },
                    source=str(interaction.id),
                )
            except RequestRejected as err:
                await self.codewords.forget_typed(PLATFORM, str(interaction.id), code)
                await tell_privately(interaction, deferral, err.text())
                return
            bot.inbox.submitted()
            await self.codewords.forget_typed(PLATFORM, str(interaction.id), code)
            self._touch(drop.id)
            name = discord.utils.escape_markdown(claimed.drop.name)
            await tell_privately(
                interaction, deferral, claimed.text.replace(claimed.drop.name, f"**{name}**", 1)
            )

    async def _drop(self, guild_id: str, drop_id: int | None) -> Any:
        """The drop asked for, in this server; without a number, its one open codeword drop."""
        if drop_id is not None:
            return await self.codewords.drops.community_drop(drop_id, PLATFORM, guild_id)
        open_drops = await self.codewords.open_drops(PLATFORM, guild_id)
        if len(open_drops) == 1:
            return open_drops[0]
        if not open_drops:
            raise RequestRejected(N_("No drop here is claimed with a code right now."))
        numbers = ", ".join(f"#{d.id}" for d in open_drops)
        raise RequestRejected(
            N_("Several drops take codes here ({numbers}): add `drop:`."), numbers=numbers
        )

    def _touch(self, drop_id: int) -> None:
        """The drop's announcement shows its new count (and buttons)."""
        counters = getattr(self.bot.get_cog("Drops"), "counters", None)
        if counters is not None:
            counters.touch(drop_id)

    # ----- admins ------------------------------------------------------------------------

    codes = app_commands.Group(
        name="codes",
        description=locale_str("Codeword drops: codes and secret words"),
        guild_only=True,
    )

    @codes.command(
        name="make", description=locale_str("Make single-use codes for a drop (CSV, only you)")
    )
    @app_commands.rename(count=locale_str("count"))
    @app_commands.describe(drop=locale_str("The drop's number"), count=locale_str("How many codes"))
    async def make_command(
        self,
        interaction: discord.Interaction[DiscordBot],
        drop: int,
        count: app_commands.Range[int, 1, MAX_BATCH],
    ) -> None:
        if not await self._admin(interaction):
            return
        entry = await self.bot.inbox.take(interaction)
        if entry is None:
            return
        async with self.bot.inbox.handling(entry):
            deferral = await self.bot.inbox.defer(interaction, ephemeral=True)
            try:
                await self.codewords.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
                made = await self.codewords.make_codes(drop, count)
            except RequestRejected as err:
                await tell_privately(interaction, deferral, err.text())
                return
            self._touch(drop)
            table = codes_csv(drop, made).encode()
            await interaction.followup.send(
                ngettext(
                    "{n} single-use code for drop #{id}: hand one to each member. "
                    "Only you see this file, and the bot keeps no copy.",
                    "{n} single-use codes for drop #{id}: hand one to each member. "
                    "Only you see this file, and the bot keeps no copy.",
                    len(made),
                ).format(n=len(made), id=drop),
                file=discord.File(io.BytesIO(table), filename=f"drop-{drop}-codes.csv"),
                ephemeral=True,
            )

    @codes.command(name="word", description=locale_str("Set a drop's secret word"))
    @app_commands.rename(word=locale_str("word"))
    @app_commands.describe(
        drop=locale_str("The drop's number"), word=locale_str("The word members claim it with")
    )
    async def word_command(
        self,
        interaction: discord.Interaction[DiscordBot],
        drop: int,
        word: app_commands.Range[str, 1, 64],
    ) -> None:
        if not await self._admin(interaction):
            return
        try:
            await self.codewords.drops.community_drop(drop, PLATFORM, str(interaction.guild_id))
            await self.codewords.set_word(drop, word)
        except RequestRejected as err:
            await interaction.response.send_message(err.text(), ephemeral=True)
            return
        self._touch(drop)
        await interaction.response.send_message(
            _(
                "Drop #{id} is claimed with its secret word now: `/claim` or its "
                "“Claim with a code” button."
            ).format(id=drop),
            ephemeral=True,
        )

    async def _admin(self, interaction: discord.Interaction[DiscordBot]) -> bool:
        if asker_of(interaction).is_admin:
            return True
        await interaction.response.send_message(
            _("Only members with Manage Server can run drops."), ephemeral=True
        )
        return False


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Codewords(bot))
