"""/wallet link|verify|set|show: where a member's tokens go, proven by a signature; and
/withdraw: tokens the bot holds for a member, sent to that proven address.

The answers are in the member's language (`_()`: the tree set the interaction's locale for
the task that runs the command; /withdraw's answer, edited once the transfers are confirmed,
is still that task's), and so are the names and descriptions in Discord's menus
(`locale_str`, looked up by `bot.discord.translator`)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord.answers import tell_privately
from bot.discord.client import DiscordBot
from bot.discord.render import NO_MENTIONS
from bot.errors import RequestRejected
from bot.i18n import _
from bot.wallets import SIGN_HOWTO, describe_link, verified_reply
from bot.withdrawals import WithdrawalView

# How long a /withdraw answer waits for the transfers' confirmation before it says where
# they stand (the interaction's follow-ups stay usable for 15 minutes).
WITHDRAW_ANSWER_WAIT_S = 120


class Wallet(
    commands.GroupCog,
    group_name="wallet",
    group_description=locale_str("Your payout wallet"),
):
    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot
        self.wallets = bot.runtime.wallets

    async def _reply(self, interaction: discord.Interaction[DiscordBot], text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(
        name="link", description=locale_str("Prove an address is yours and send your NFTs there")
    )
    @app_commands.rename(address=locale_str("address"))
    @app_commands.describe(address=locale_str("Your Ethereum address (0x...)"))
    async def link(self, interaction: discord.Interaction[DiscordBot], address: str) -> None:
        try:
            challenge = await self.wallets.challenge("discord", str(interaction.user.id), address)
        except RequestRejected as err:
            await self._reply(interaction, err.text())
            return
        await self._reply(
            interaction,
            f"```\n{challenge.message}\n```\n{_(SIGN_HOWTO).format(verify='/wallet verify')}",
        )

    @app_commands.command(
        name="verify", description=locale_str("Finish /wallet link with your signature")
    )
    @app_commands.rename(signature=locale_str("signature"))
    @app_commands.describe(signature=locale_str("The 0x... signature your wallet gave you"))
    async def verify(self, interaction: discord.Interaction[DiscordBot], signature: str) -> None:
        user = interaction.user
        try:
            verified = await self.wallets.verify(
                "discord", str(user.id), user.display_name, signature
            )
        except RequestRejected as err:
            text = err.text()
        else:
            text = verified_reply(verified, code="`{}`")
        await self._reply(interaction, text)

    @app_commands.command(
        name="set", description=locale_str("Send your future NFTs to this address")
    )
    @app_commands.rename(address=locale_str("address"))
    @app_commands.describe(address=locale_str("An Ethereum address (0x...)"))
    async def set_address(self, interaction: discord.Interaction[DiscordBot], address: str) -> None:
        user = interaction.user
        try:
            linked = await self.wallets.set_unverified(
                "discord", str(user.id), user.display_name, address
            )
        except RequestRejected as err:
            text = err.text()
        else:
            text = _("Your NFTs will go to {address} (not verified by a signature).").format(
                address=f"`{linked}`"
            )
        await self._reply(interaction, text)

    @app_commands.command(name="show", description=locale_str("Where your NFTs go"))
    async def show(self, interaction: discord.Interaction[DiscordBot]) -> None:
        linked = await self.wallets.linked("discord", str(interaction.user.id))
        await self._reply(interaction, describe_link(linked, code="`{}`", link="/wallet link"))


class Custody(commands.Cog):
    def __init__(self, bot: DiscordBot) -> None:
        self.withdrawals = bot.runtime.withdrawals

    @app_commands.command(
        name="withdraw",
        description=locale_str("Send the NFTs the bot holds for you to your verified wallet"),
    )
    @app_commands.describe(
        nft=locale_str("The token's short ID from /mynfts (default: all of them)")
    )
    async def withdraw(
        self, interaction: discord.Interaction[DiscordBot], nft: str | None = None
    ) -> None:
        bot = interaction.client
        entry = await bot.inbox.take(interaction)  # recorded before it is acknowledged
        if entry is None:
            return  # the same interaction delivered again: the first delivery answers
        asked_key = f"discord:{interaction.channel_id}:{interaction.id}"
        async with bot.inbox.handling(entry):
            deferral = await bot.inbox.defer(interaction, ephemeral=True)
            try:
                views = await self.withdrawals.withdraw(
                    asked_key, "discord", str(interaction.user.id), nft
                )
            except RequestRejected as err:
                await tell_privately(interaction, deferral, err.text())
                return
            bot.inbox.submitted()
            answer = await tell_privately(
                interaction,
                deferral,
                withdrawals_markdown(views),
                in_channel=_("your withdrawal is on its way; `/mynfts` shows where it stands."),
            )
        if answer is None:
            return
        # Still this interaction's task: the answer edited in is in the member's language.
        final = await self.withdrawals.wait(asked_key, timeout=WITHDRAW_ANSWER_WAIT_S)
        if final != views:
            await answer.edit(content=withdrawals_markdown(final))


def withdrawals_markdown(views: list[WithdrawalView]) -> str:
    """Where each token of a /withdraw stands, with its transaction link, in the current
    locale."""
    lines = [_("Withdrawing to {address}:").format(address=f"`{views[0].to_address}`")]
    for view in views:
        name = discord.utils.escape_mentions(discord.utils.escape_markdown(view.name))
        line = f"**{name}** (`{view.short_id}`): {view.status_text}"
        tx = _("transaction")
        lines.append(f"{line} · [{tx}](<{view.tx_url}>)" if view.tx_url else line)
    return "\n".join(lines)[:2000]


async def setup(bot: DiscordBot) -> None:
    await bot.add_cog(Wallet(bot))
    await bot.add_cog(Custody(bot))
