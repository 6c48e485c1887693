"""/admin pause|resume|balance|stats|config|dashboard, /admin collection create|show and /admin
webhook add|remove|test|list, for members with Manage Server.

Answers are in the admin's language (`_()`: the tree set the interaction's locale for the task
that runs the command), and so are option names and descriptions in Discord's menus
(`locale_str`); command names stay as they are, since answers and docs name them.

Discord hides the group from everyone else (default permissions), and every command checks
again here, since a server's own overrides can show it to others.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.communities import KEEP, AnnounceTarget, CommunityConfig, check_announce_target
from bot.community_collections.metadata import CollectionText
from bot.community_collections.records import describe as describe_collection
from bot.community_stats import PAUSED, RESUMED, balance_line, stats_lines
from bot.dashboard.wiring import sign_in_link
from bot.discord.asker import asker_of
from bot.discord.client import DiscordBot
from bot.discord.render import NO_DOWNLOAD, NO_MENTIONS
from bot.errors import RequestRejected
from bot.i18n import N_, NATIVE_NAMES, _, public_language
from bot.webhooks.endpoints import added_lines, queued_line, removed_line

CHANNEL_MENTION = re.compile(r"<#(\d+)>|(\d{15,21})")
# Shared with the holder-role commands (cogs/holders.py), which join this group.
ADMINS_ONLY = N_("Only members with Manage Server can use admin commands.")


def describe(config: CommunityConfig) -> str:
    channels = " ".join(f"<#{c}>" for c in config.allowed_channels) or _("every channel")
    minter = f"<@&{config.minter_role_id}>" if config.minter_role_id else _("everyone")
    curator = (
        f"<@&{config.curator_role_id}>" if config.curator_role_id else _("nobody (authors only)")
    )
    announce = f"<#{config.announce_channel_id}>" if config.announce_channel_id else _("off")
    minting = "**{}**".format(_("paused")) if config.paused else _("on")
    return "\n".join(
        [
            _("Minting: {state}").format(state=minting),
            _("Channels: {channels}").format(channels=channels),
            _("Who may mint: {who}").format(who=minter),
            _("Who may mint others' messages: {who}").format(who=curator),
            _("Announcing every mint: {where}").format(where=announce),
            _("Language of public posts: {language}").format(
                language=public_language(config.locale)
            ),
        ]
    )


# The languages a community may choose for its public posts, each by its own name; "default"
# clears the choice (English).
LANGUAGES = [app_commands.Choice(name=name, value=code) for code, name in NATIVE_NAMES.items()]
LANGUAGES.append(app_commands.Choice(name=locale_str("none chosen (English)"), value="default"))


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(
    commands.GroupCog, group_name="admin", group_description=locale_str("Run minting here")
):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.service = bot.runtime.service
        self.communities = bot.runtime.service.communities

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if asker_of(interaction).is_admin:
            return True
        await interaction.response.send_message(_(ADMINS_ONLY), ephemeral=True)
        return False

    async def _reply(self, interaction: discord.Interaction[DiscordBot], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="pause", description=locale_str("Stop new mints in this server"))
    async def pause(self, interaction: discord.Interaction[DiscordBot]) -> None:
        await self.communities.configure("discord", str(interaction.guild_id), paused=True)
        await self._reply(interaction, _(PAUSED))

    @app_commands.command(
        name="resume", description=locale_str("Allow new mints in this server again")
    )
    async def resume(self, interaction: discord.Interaction[DiscordBot]) -> None:
        await self.communities.configure("discord", str(interaction.guild_id), paused=False)
        await self._reply(interaction, _(RESUMED))

    @app_commands.command(
        name="balance", description=locale_str("The hot wallet's balance and today's spend")
    )
    async def balance(self, interaction: discord.Interaction[DiscordBot]) -> None:
        address, balance, spent = await self.service.hot_wallet()
        await self._reply(interaction, balance_line(f"`{address}`", balance, spent))

    @app_commands.command(name="stats", description=locale_str("Mint requests from this server"))
    async def stats(self, interaction: discord.Interaction[DiscordBot]) -> None:
        counts = await self.service.community_stats("discord", str(interaction.guild_id))
        text = "\n".join(stats_lines(counts))
        if given_up := await self.bot.inbox.given_up_in(str(interaction.guild_id)):
            text += "\n" + _("Interactions given up after failing repeatedly: {count}").format(
                count=given_up
            )
        holders = await self.bot.runtime.holders.rules.stats("discord", str(interaction.guild_id))
        text = "\n".join([text, *holders.lines()])
        await self._reply(interaction, text)

    @app_commands.command(
        name="dashboard",
        description=locale_str("A link to this server's dashboard, for 30 minutes"),
    )
    async def dashboard(self, interaction: discord.Interaction[DiscordBot]) -> None:
        settings = self.bot.runtime.settings
        asker = str(interaction.user.id)
        url = sign_in_link(settings, "discord", str(interaction.guild_id), asker)
        await self._reply(
            interaction,
            _(
                "Your dashboard for this server: {url}\nThe link signs you in once, for 30 "
                "minutes: keep it to yourself."
            ).format(url=f"<{url}>"),
        )

    collection = app_commands.Group(
        name="collection", description=locale_str("This server's own collection contract")
    )

    @collection.command(
        name="create", description=locale_str("Create this server's own collection")
    )
    @app_commands.rename(
        name=locale_str("name"),
        symbol=locale_str("symbol"),
        royalty_bps=locale_str("royalty_bps"),
        description=locale_str("description"),
        link=locale_str("link"),
        image=locale_str("image"),
    )
    @app_commands.describe(
        name=locale_str("The collection's name, as marketplaces show it"),
        symbol=locale_str("A short ticker, like ART (letters and digits)"),
        royalty_bps=locale_str(
            "Royalties in basis points (500 = 5 %), paid to your verified wallet"
        ),
        description=locale_str("What marketplaces show on the collection's page"),
        link=locale_str("The community's site (https://…)"),
        image=locale_str("The collection's picture"),
    )
    async def collection_create(
        self,
        interaction: discord.Interaction[DiscordBot],
        name: app_commands.Range[str, 1, 64],
        symbol: app_commands.Range[str, 1, 11],
        royalty_bps: app_commands.Range[int, 0, 1000] = 0,
        description: app_commands.Range[str, 0, 1000] = "",
        link: app_commands.Range[str, 0, 200] | None = None,
        image: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            picture = await self.bot.download(image) if image is not None else None
            view = await self.bot.runtime.collections.create(
                platform="discord",
                community_id=str(interaction.guild_id),
                created_by=str(interaction.user.id),
                name=name,
                symbol=symbol,
                royalty_bps=royalty_bps,
                text=CollectionText(description, link, picture),
            )
        except (aiohttp.ClientError, TimeoutError):
            text = _(NO_DOWNLOAD)
        except RequestRejected as err:
            text = err.text()
        else:
            text = describe_collection(view)
        await interaction.followup.send(
            discord.utils.escape_markdown(text), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @collection.command(name="show", description=locale_str("This server's own collection, if any"))
    async def collection_show(self, interaction: discord.Interaction[DiscordBot]) -> None:
        view = await self.bot.runtime.collections.view("discord", str(interaction.guild_id))
        text = (
            describe_collection(view)
            if view is not None
            else _(
                "This server mints into the shared collection: {create} makes one of its own."
            ).format(create="/admin collection create")
        )
        await self._reply(interaction, discord.utils.escape_markdown(text))

    webhook = app_commands.Group(
        name="webhook", description=locale_str("Signed webhooks of this server")
    )

    @webhook.command(name="add", description=locale_str("Post this server's events to a URL"))
    @app_commands.describe(url=locale_str("The https:// URL that receives the events"))
    async def webhook_add(
        self, interaction: discord.Interaction[DiscordBot], url: app_commands.Range[str, 1, 2000]
    ) -> None:
        guild, user = str(interaction.guild_id), str(interaction.user.id)
        try:
            added = await self.bot.runtime.webhooks.add("discord", guild, url, user)
        except RequestRejected as err:
            await self._reply(interaction, discord.utils.escape_markdown(err.text()))
            return
        named, secret, usage = added_lines(added)
        # Ephemeral: the secret is shown to this admin only, and never again.
        await self._reply(
            interaction, f"{discord.utils.escape_markdown(named)}\n`{secret}`\n{usage}"
        )

    @webhook.command(name="remove", description=locale_str("Stop posting events to a webhook"))
    @app_commands.rename(number=locale_str("number"))
    @app_commands.describe(
        number=locale_str("The webhook's number, as /admin webhook list shows it")
    )
    async def webhook_remove(
        self, interaction: discord.Interaction[DiscordBot], number: app_commands.Range[int, 1]
    ) -> None:
        try:
            gone = await self.bot.runtime.webhooks.remove(
                "discord", str(interaction.guild_id), number
            )
        except RequestRejected as err:
            await self._reply(interaction, err.text())
            return
        await self._reply(interaction, discord.utils.escape_markdown(removed_line(gone)))

    @webhook.command(
        name="test", description=locale_str("Send a webhook.test event to this server's webhooks")
    )
    async def webhook_test(self, interaction: discord.Interaction[DiscordBot]) -> None:
        guild, user = str(interaction.guild_id), str(interaction.user.id)
        try:
            queued = await self.bot.runtime.webhooks.test("discord", guild, user)
        except RequestRejected as err:
            await self._reply(interaction, err.text())
            return
        await self._reply(interaction, queued_line(queued))

    @webhook.command(name="list", description=locale_str("This server's webhooks"))
    async def webhook_list(self, interaction: discord.Interaction[DiscordBot]) -> None:
        listed = await self.bot.runtime.webhooks.listed("discord", str(interaction.guild_id))
        text = "\n".join(v.line() for v in listed) or _("No webhooks: {add}.").format(
            add="/admin webhook add URL"
        )
        await self._reply(interaction, discord.utils.escape_markdown(text))

    @app_commands.command(
        name="config", description=locale_str("Where and by whom minting is allowed")
    )
    @app_commands.rename(
        channels=locale_str("channels"),
        minter_role=locale_str("minter_role"),
        curator_role=locale_str("curator_role"),
        announce=locale_str("announce"),
        language=locale_str("language"),
    )
    @app_commands.choices(language=LANGUAGES)
    @app_commands.describe(
        channels=locale_str("Channels where minting works (mention them), or 'all'"),
        minter_role=locale_str("Only this role may mint (@everyone: anyone)"),
        curator_role=locale_str("This role may mint anyone's message (@everyone: authors only)"),
        announce=locale_str("Announce every mint in this channel (mention it), or 'off'"),
        language=locale_str("The language of announcements, drops and draws the server reads"),
    )
    async def config(
        self,
        interaction: discord.Interaction[DiscordBot],
        channels: str | None = None,
        minter_role: discord.Role | None = None,
        curator_role: discord.Role | None = None,
        announce: str | None = None,
        language: app_commands.Choice[str] | None = None,
    ) -> None:
        allowed: tuple[str, ...] | None = None
        announce_in: Any = KEEP
        if announce is not None:
            mentioned = [a or b for a, b in CHANNEL_MENTION.findall(announce)]
            if announce.strip().lower() != "off" and len(mentioned) != 1:
                await self._reply(interaction, _("Mention one channel (#name), or say `off`."))
                return
            announce_in = mentioned[0] if mentioned else None
            if announce_in is not None:
                try:
                    check_announce_target(str(interaction.guild_id), self._target(announce_in))
                except RequestRejected as err:
                    await self._reply(interaction, err.text())
                    return
        if channels is not None:
            found = tuple(a or b for a, b in CHANNEL_MENTION.findall(channels))
            if channels.strip().lower() != "all" and not found:
                await self._reply(interaction, _("Mention the channels (#name), or say `all`."))
                return
            allowed = found
        config = await self.communities.configure(
            "discord",
            str(interaction.guild_id),
            allowed_channels=allowed,
            minter_role_id=_role(minter_role),
            curator_role_id=_role(curator_role),
            announce_channel_id=announce_in,
            locale=KEEP if language is None else _chosen(language.value),
        )
        await self._reply(interaction, describe(config))

    def _target(self, channel_id: str) -> AnnounceTarget:
        """A channel as Discord told the bot of it: its guild (None for a channel it does not
        know, such as one of a server it is not in) and whether the bot may post there. Whether
        the asker administers another server, an interaction does not say."""
        channel = self.bot.get_channel(int(channel_id))
        if not isinstance(channel, discord.abc.GuildChannel):
            return AnnounceTarget(channel_id, None, asker_is_admin=False, bot_can_post=False)
        me = channel.guild.me
        can_post = me is not None and channel.permissions_for(me).send_messages
        return AnnounceTarget(
            channel_id, str(channel.guild.id), asker_is_admin=False, bot_can_post=can_post
        )


def _role(role: discord.Role | None) -> str | Any | None:
    """KEEP when not given; None for @everyone (no restriction); else the role's ID."""
    if role is None:
        return KEEP
    return None if role.is_default() else str(role.id)


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Admin(bot))


def _chosen(language: str) -> str | None:
    """A language picked for public posts: a shipped locale, or None for "default"."""
    return None if language == "default" else language
