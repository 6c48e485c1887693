"""What the bot says on Discord: answers, announcements and drop cards as text and embeds.

Every piece of member text is escaped for Discord's markdown; nothing here pings anyone
unless it names who (`NO_MENTIONS` is the default everywhere).
"""

from __future__ import annotations

import discord

from bot.drops import DropInfo, conditions, per_member, status_text
from bot.i18n import N_, _
from bot.minting.types import MintResult
from db.models import utcnow

NO_MENTIONS = discord.AllowedMentions.none()
# Translated where they are sent (`_()`).
NOT_MINTED = N_("Not minted.")
NO_DOWNLOAD = N_("Discord would not hand over that file; try again.")


def only(user_id: str) -> discord.AllowedMentions:
    """Mentions that ping `user_id` and nobody else."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(int(user_id))]
    )


def result_embed(result: MintResult, public_base_url: str) -> discord.Embed:
    """The final answer for a minted request: image (from the bot's own gateway, never the
    expiring Discord CDN URL), name (linking the token's page, whose link unfurls wherever it
    is shared), token ID and links. In the current locale: the pipeline renders an answer in
    the language recorded with its request."""
    name = discord.utils.escape_markdown(result.name)
    embed = discord.Embed(title=name[:256], colour=discord.Colour.green())
    if result.token_url:
        embed.url = result.token_url
    if result.image_cid:
        embed.set_image(url=f"{public_base_url.rstrip('/')}/ipfs/{result.image_cid}")
    if result.token_id is not None:
        embed.add_field(name=_("Token ID"), value=f"`{result.token_id:#066x}`"[:1024], inline=False)
    links = [
        f"[{label}]({url})"
        for label, url in (
            (_("Transaction"), result.tx_url),
            (_("Token"), result.token_url),
            (_("Marketplace"), result.marketplace_url),
        )
        if url
    ]
    if links:
        embed.add_field(name=_("Links"), value=" · ".join(links), inline=False)
    owner = (
        _("held for you by the bot: {withdraw} sends it to the wallet you link with {link}").format(
            withdraw=f"`/withdraw {result.token_ref}`", link="`/wallet link`"
        )
        if result.custodial
        else (f"`{result.recipient}`")
    )
    embed.add_field(name=_("Owner"), value=owner[:1024], inline=False)
    return embed


def answer_text(result: MintResult) -> str:
    if result.minted:
        asked_by = (result.reply_to or {}).get("asked_by")
        if asked_by and asked_by != result.requester_id:
            return _("{author}, {asker} minted your message as an NFT.").format(
                author=f"<@{result.requester_id}>", asker=f"<@{asked_by}>"
            )
        return _("Minted!")
    return _("Could not mint that: {reason}").format(reason=result.reason_shown())[:2000]


def status_line(result: MintResult) -> str:
    """A request on /status: its name, phase (and why it waits), and its transaction."""
    line = f"**{discord.utils.escape_markdown(result.name)}**: {result.status_shown()}"
    if waiting := result.waiting_shown():
        line += f" ({waiting})"
    if result.tx_url:
        line += f" · [{_('transaction')}]({result.tx_url})"
    return line


def answer_mentions(result: MintResult) -> discord.AllowedMentions:
    """Only the author of a message minted by someone else is pinged."""
    asked_by = (result.reply_to or {}).get("asked_by")
    if asked_by and asked_by != result.requester_id:
        return only(result.requester_id)
    return NO_MENTIONS


def announcement_text(result: MintResult) -> str:
    """A confirmed mint, as posted in a server's announcement channel (with its embed), in the
    current locale: the community's language for public posts, which the caller speaks."""
    name = discord.utils.escape_markdown(result.requester_name or _("a member"))
    return _("🎨 New NFT by {member}").format(member=f"**{name}**")[:2000]


def claim_text(result: MintResult) -> str:
    """The outcome of a drop claim, for the claimer, in the current locale (the claimer's,
    set from their claim's `reply_to` where it is sent)."""
    if result.minted:
        return _("Your edition is minted: {name}").format(
            name=f"**{discord.utils.escape_markdown(result.name)}**"
        )
    return _("Your claim could not be minted: {reason}").format(reason=result.reason_shown())


def drop_embed(drop: DropInfo, public_base_url: str) -> discord.Embed:
    """A drop's card: artwork, text, and the live count, in the current locale (the community's
    public language for the announcement the whole channel reads; the asker's for /drop
    info)."""
    embed = discord.Embed(
        title=discord.utils.escape_markdown(drop.name)[:256],
        description=discord.utils.escape_markdown(drop.description)[:4000] or None,
        colour=discord.Colour.gold(),
    )
    embed.set_image(url=f"{public_base_url.rstrip('/')}/ipfs/{drop.image_cid}")
    supply = str(drop.supply) if drop.supply is not None else _("∞ (open edition)")
    embed.add_field(name=_("Claimed"), value=f"{drop.claimed} / {supply}")
    embed.add_field(name=_("Each may claim"), value=per_member(drop))
    status = drop.status(utcnow())
    shown = status_text(status)
    if drop.ends_at is not None and status == "open":
        shown = _("{status}, until {when}").format(
            status=shown, when=discord.utils.format_dt(drop.ends_at, "R")
        )
    elif status == "not open yet":
        shown = _("{status}: opens {when}").format(
            status=shown, when=discord.utils.format_dt(drop.starts_at, "R")
        )
    embed.add_field(name=_("Status"), value=shown)
    roles = [r for gate in drop.gates if gate.kind == "role" for r in gate.params()["role_ids"]]
    if roles:
        embed.add_field(name=_("For"), value=" ".join(f"<@&{r}>" for r in roles))
    if others := conditions(drop, leave_out=("role",)):
        embed.add_field(name=_("Who may claim"), value=discord.utils.escape_markdown(others)[:1024])
    embed.set_footer(text=_("Drop #{id}").format(id=drop.id))
    return embed
