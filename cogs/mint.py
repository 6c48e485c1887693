"""/mint, the "Mint as NFT" message command, /status and /mynfts.

Thin: parse the interaction, ask the core, render. The core decides who may mint, duplicates,
rate limits and recipients; the answer to a mint arrives later through `DiscordChat.deliver`,
in the language recorded with the request (`reply_to["locale"]`: the interaction's locale).
Replies here are already in that language (the tree speaks it for the interaction's task).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from pathlib import PurePosixPath
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.answers import Deferral, tell_in_channel, too_late
from bot.discord.asker import asker_of, upload_of
from bot.discord.client import DiscordBot
from bot.discord.render import NO_DOWNLOAD, NO_MENTIONS, NOT_MINTED, result_embed, status_line
from bot.errors import RequestRejected
from bot.i18n import _, speaking
from bot.minting.types import MintResult, MintSubmission

GALLERY_PAGE_TIMEOUT_S = 600


async def refuse(
    interaction: discord.Interaction[DiscordBot], reason: str, deferral: Deferral | None = None
) -> None:
    """Tell only the requester, in plain words.

    Before any acknowledgement (no `deferral`): one ephemeral reply, and nothing else appears.
    After a deferral Discord turns the first message, whatever its flags, into the public
    "thinking" placeholder, and deleting the placeholder while it thinks ends the interaction.
    So: fill it with a neutral word, say why privately, then remove it. An interaction that can
    show nothing any more is answered in the channel, pinging only the requester.
    """
    try:
        if deferral is None:
            await interaction.response.send_message(
                reason, ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        if deferral.answerable:
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(
                    content=_(NOT_MINTED), embed=None, view=None
                )
            await interaction.followup.send(reason, ephemeral=True, allowed_mentions=NO_MENTIONS)
            with contextlib.suppress(discord.HTTPException):  # already gone is fine
                await interaction.delete_original_response()
            return
    except discord.HTTPException as err:
        if not too_late(err):
            raise
    await tell_in_channel(
        interaction.client, str(interaction.channel_id), str(interaction.user.id), reason
    )


def image_attachment(message: discord.Message) -> discord.Attachment | None:
    for attachment in message.attachments:
        if (attachment.content_type or "").startswith("image/") or attachment.width:
            return attachment
    return None


# Discord markup that is no word of a name: custom emoji (<:name:id>, <a:name:id>), timestamps
# (<t:1700000000:R>), and at a line's start a heading, subtext or quote marker.
_EMOJI_AND_TIMES = re.compile(r"<a?:\w+:\d+>|<t:-?\d+(?::[tTdDfFR])?>")
_LINE_MARKERS = re.compile(r"^\s*(?:#{1,3}|-#|>>>|>)\s+")


def name_for_message(message: discord.Message, attachment: discord.Attachment) -> str:
    """A token name for a message minted from the context menu (see `name_from_text`)."""
    return name_from_text(message.clean_content, attachment.filename)


def name_from_text(text: str, filename: str) -> str:
    """The first line of a message's text, or the file's name. Mentions and markup are
    dropped, so the name is only words."""
    text = discord.utils.remove_markdown(_EMOJI_AND_TIMES.sub("", text)).replace("@", "")
    # clean_content defuses mentions with zero-width spaces: drop all invisible characters.
    lines = [
        _LINE_MARKERS.sub("", "".join(c for c in line if unicodedata.category(c)[0] != "C"))
        for line in text.splitlines()
    ]
    first_line = next((line.strip() for line in lines if line.strip()), "")
    return (first_line or PurePosixPath(filename).stem or "Untitled")[:100]


class Mint(commands.Cog):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.service = bot.runtime.service
        self.mint_message_menu = app_commands.ContextMenu(
            name=locale_str("Mint as NFT"), callback=self.mint_message
        )
        self.mint_message_menu.guild_only = True
        bot.tree.add_command(self.mint_message_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.mint_message_menu.name, type=self.mint_message_menu.type)

    @app_commands.command(name="mint", description=locale_str("Mint an image as an NFT"))
    @app_commands.guild_only()
    @app_commands.describe(
        image=locale_str("The picture to mint (PNG, JPEG, GIF or WebP)"),
        name=locale_str("The token's name"),
        description=locale_str("A few words about it"),
        to=locale_str(
            "An Ethereum address to receive it (default: your linked wallet, or held for you)"
        ),
    )
    async def mint(
        self,
        interaction: discord.Interaction[DiscordBot],
        image: discord.Attachment,
        name: app_commands.Range[str, 1, 100],
        description: app_commands.Range[str, 0, 1000] | None = None,
        to: str | None = None,
    ) -> None:
        await self._mint(
            interaction,
            author=interaction.user,
            attachment=image,
            name=name,
            description=description or "",
            recipient=to,
            message_id=str(interaction.id),
            confirm_repeat=True,
        )

    async def mint_message(
        self, interaction: discord.Interaction[DiscordBot], message: discord.Message
    ) -> None:
        attachment = image_attachment(message)
        await self._mint(
            interaction,
            author=message.author,
            attachment=attachment,
            name=name_for_message(message, attachment) if attachment else "",
            description="",
            recipient=None,
            message_id=str(message.id),
            confirm_repeat=False,
        )

    async def _mint(
        self,
        interaction: discord.Interaction[DiscordBot],
        *,
        author: discord.abc.User,
        attachment: discord.Attachment | None,
        name: str,
        description: str,
        recipient: str | None,
        message_id: str,
        confirm_repeat: bool,
    ) -> None:
        key = ("discord", str(interaction.channel_id), message_id)
        asker = asker_of(interaction)
        inbox = self.bot.inbox
        # Acknowledge first, within Discord's 3 seconds even under a burst. Before that, only
        # the checks that need no database (their refusals are private: nothing public ever
        # appears) and the interaction's record in the inbox. The database's checks, the
        # download and the rest follow.
        async with self.bot.acknowledgements.acknowledging():
            if not inbox.resumed(interaction):  # a re-dispatch passed them before its record
                try:
                    await self.service.precheck(
                        key,
                        str(interaction.guild_id),
                        asker,
                        author_id=str(author.id),
                        upload=upload_of(attachment),
                        name=name,
                        description=description,
                        recipient=recipient,
                    )
                except RequestRejected as err:
                    await refuse(interaction, err.text())
                    return
            entry = await inbox.take(interaction)
        if entry is None:  # recorded before: a re-delivery, handled where it was recorded
            return
        assert attachment is not None  # the precheck refuses a request without one
        async with inbox.handling(entry):
            async with self.bot.acknowledgements.acknowledging():
                deferral = await inbox.defer(interaction, ephemeral=False)
            await self.bot.acknowledgements.settled()
            try:
                if not await self.service.admit(
                    key, str(interaction.guild_id), asker, author_id=str(author.id)
                ):
                    await self._already_minting(interaction, key, deferral)
                    return
                data = await self.bot.download(attachment)  # now: attachment URLs expire
            except RequestRejected as err:
                await refuse(interaction, err.text(), deferral)
                return
            except (aiohttp.ClientError, TimeoutError):
                await refuse(interaction, _(NO_DOWNLOAD), deferral)
                return
            submission = MintSubmission(
                platform="discord",
                chat_id=str(interaction.channel_id),
                message_id=message_id,
                requester_id=str(author.id),
                requester_name=getattr(author, "display_name", author.name),
                image=data,
                name=name,
                description=description,
                recipient=recipient,
                community_id=str(interaction.guild_id),
                reply_to={
                    "application_id": str(interaction.application_id),
                    "interaction_id": str(interaction.id),
                    # Past Discord's 3 s unacknowledged, the answer goes to the channel.
                    "token": interaction.token if deferral.answerable else None,
                    "original_id": deferral.original_id,
                    "issued_at": interaction.created_at.timestamp(),
                    "asked_by": str(interaction.user.id),
                    # The answer is given later (a worker, after a restart): in this language.
                    "locale": str(interaction.locale.value),
                },
            )
            if confirm_repeat:
                earlier = await self.service.recent_same_image("discord", str(author.id), data)
                if earlier is not None:
                    await self._confirm_repeat(interaction, submission, earlier, deferral)
                    return
            await self.submit(interaction, submission, deferral)

    async def _confirm_repeat(
        self,
        interaction: discord.Interaction[DiscordBot],
        submission: MintSubmission,
        earlier: MintResult,
        deferral: Deferral,
    ) -> None:
        """The same image from the same member within a day: ask before minting it again."""
        earlier_name = f"**{discord.utils.escape_markdown(earlier.name)}**"
        if not deferral.answerable:  # nowhere to ask: the member asks again if they mean it
            told = _(
                "You minted this image as {name} within the last day. Not minted; send it "
                "again to mint it."
            ).format(name=earlier_name)
            await refuse(interaction, told, deferral)
            return
        view = ConfirmRepeat(self, submission, owner_id=interaction.user.id)
        question = _("You minted this image as {name} within the last day. Mint it again?")
        await interaction.edit_original_response(
            content=question.format(name=earlier_name), view=view, allowed_mentions=NO_MENTIONS
        )

    async def submit(
        self,
        interaction: discord.Interaction[DiscordBot],
        submission: MintSubmission,
        deferral: Deferral,
    ) -> None:
        try:
            handle = await self.service.submit(submission)
        except RequestRejected as err:
            await refuse(interaction, err.text(), deferral)
            return
        self.bot.inbox.submitted()
        if handle.duplicate:
            key = (submission.platform, submission.chat_id, submission.message_id)
            await self._already_minting(interaction, key, deferral)

    async def _already_minting(
        self,
        interaction: discord.Interaction[DiscordBot],
        key: tuple[str, str, str],
        deferral: Deferral,
    ) -> None:
        """The key is recorded already. By this very interaction (a replay racing the first
        delivery, or a re-dispatch after a crash): its answer is on the way. By another click:
        tell this one where to look."""
        existing = await self.service.find(*key)
        asked = (existing.reply_to or {}) if existing is not None else {}
        if asked.get("interaction_id") == str(interaction.id) or (
            asked.get("token") and asked.get("token") == interaction.token
        ):
            return
        text = _("That is already being minted; the answer appears where it was first asked.")
        await refuse(interaction, text, deferral)

    @app_commands.command(name="status", description=locale_str("Your latest mint requests"))
    async def status(self, interaction: discord.Interaction[DiscordBot]) -> None:
        results, _total = await self.service.requests_of(
            "discord", str(interaction.user.id), minted_only=False, limit=5
        )
        if not results:
            text = _("You have no mint requests yet. Try {command}.").format(command="`/mint`")
        else:
            text = "\n".join(map(status_line, results))
        await interaction.response.send_message(
            text[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="mynfts", description=locale_str("The NFTs minted from your images"))
    async def mynfts(self, interaction: discord.Interaction[DiscordBot]) -> None:
        gallery = Gallery(self, owner_id=interaction.user.id)
        page, total = await gallery.page(0)
        if total == 0:
            await interaction.response.send_message(
                _("Nothing minted yet. Try `/mint`."), ephemeral=True
            )
            return
        await interaction.response.send_message(
            embed=page, view=gallery, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


class ConfirmRepeat(discord.ui.View):
    """ "Mint it again?" for the same image from the same user within a day."""

    def __init__(self, cog: Mint, submission: MintSubmission, *, owner_id: int) -> None:
        super().__init__(timeout=GALLERY_PAGE_TIMEOUT_S)
        self.cog = cog
        self.submission = submission
        self.owner_id = owner_id
        # Made in the asker's interaction: its buttons in their language.
        self.again.label = _("Mint again")
        self.cancel.label = _("Cancel")

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Mint again", style=discord.ButtonStyle.primary)
    async def again(
        self,
        interaction: discord.Interaction[DiscordBot],
        _button: discord.ui.Button[ConfirmRepeat],
    ) -> None:
        self.stop()
        await interaction.response.edit_message(content=_("Minting…"), view=None)
        await self.cog.submit(interaction, self.submission, Deferral(None, answerable=True))

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(
        self,
        interaction: discord.Interaction[DiscordBot],
        _button: discord.ui.Button[ConfirmRepeat],
    ) -> None:
        self.stop()
        await interaction.response.edit_message(content=_(NOT_MINTED), view=None)


class Gallery(discord.ui.View):
    """One minted token per page, with buttons to turn pages, in the language of whoever
    turns them: a button's interaction is not a command, so the tree has not set its locale."""

    def __init__(self, cog: Mint, *, owner_id: int) -> None:
        super().__init__(timeout=GALLERY_PAGE_TIMEOUT_S)
        self.cog = cog
        self.owner_id = owner_id
        self.index = 0
        self.total = 0

    async def page(self, index: int) -> tuple[discord.Embed, int]:
        results, self.total = await self.cog.service.requests_of(
            "discord", str(self.owner_id), minted_only=True, offset=index, limit=1
        )
        self.index = index
        self.previous.disabled = index <= 0
        self.next.disabled = index + 1 >= self.total
        if not results:
            return discord.Embed(title=_("Nothing here")), self.total
        return self._embed(results[0]), self.total

    def _embed(self, result: MintResult) -> discord.Embed:
        embed = result_embed(result, self.cog.bot.runtime.settings.public_base_url)
        footer = _("{place} of {total}").format(place=self.index + 1, total=self.total)
        embed.set_footer(text=footer)
        return embed

    async def _turn(self, interaction: discord.Interaction[DiscordBot], index: int) -> None:
        with speaking(interaction.locale.value):
            embed, _total = await self.page(index)
        await interaction.response.edit_message(embed=embed, view=self)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="◀", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[DiscordBot], _: discord.ui.Button[Gallery]
    ) -> None:
        await self._turn(interaction, max(0, self.index - 1))

    @discord.ui.button(label="▶", style=discord.ButtonStyle.secondary)
    async def next(
        self, interaction: discord.Interaction[DiscordBot], _: discord.ui.Button[Gallery]
    ) -> None:
        await self._turn(interaction, self.index + 1)


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Mint(bot))
