"""What the bot says on Telegram, in HTML parse mode. Every piece of user text goes through
`esc`; nothing else here is user-controlled."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, User
from telegram.constants import ParseMode

from bot.drops import DropInfo, conditions, per_member, status_text
from bot.i18n import N_, _, ngettext, speaking
from bot.leaderboard_gallery import GalleryPage, Leaderboard, Ranked
from bot.minting.types import MintResult
from bot.withdrawals import WithdrawalView
from db.models import utcnow

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Shown until a request is decided; translated where shown (`_()`).
MINTING = N_("⏳ Minting…")
# Translated where it is sent: `_(HELP)`.
HELP = N_(
    "<b>Mint your art as an NFT</b>\n"
    "• Send an image with the caption <code>/mint Name | optional description</code>\n"
    "• Or reply <code>/mint Name</code> to a message with an image: the NFT goes to whoever "
    "posted the image (others need to be a chat admin).\n"
    "Tip: send the image <i>as a file</i> to keep its full quality; photos are compressed by "
    "Telegram.\n\n"
    "/status: your recent requests\n/mynfts: your NFTs\n"
    "/wallet: where your NFTs go; <code>/wallet link 0x…</code> links an address\n"
    "/withdraw: move the NFTs the bot holds for you to your linked address\n"
    "/leaderboard: top creators and collectors here; /gallery: this group's NFTs\n"
    "Drops: /drops lists them; the Claim or Enter button under one claims it or enters its "
    "raffle (also <code>/enter ID</code>); a drop with codes is claimed in our private chat "
    "with <code>/claim ID CODE</code>\n"
    "Admins in groups: /pause, /resume, /balance, /stats, /config, /dashboard, /drop_create, "
    "/raffle_create, /drop_allowlist, /drop_codes, /holders_only"
)

ANSWERED_IN_PRIVATE = N_("🔒 I answered you in our private chat.")


async def reply(message: Message, html: str) -> Message:
    """Answer `message`, quoting it, in HTML without link previews."""
    return await message.reply_text(
        html, parse_mode=ParseMode.HTML, do_quote=True, link_preview_options=NO_PREVIEW
    )


def esc(text: str) -> str:
    return escape(text, quote=True)


def link(label: str, url: str | None) -> str | None:
    return f'<a href="{esc(url)}">{esc(label)}</a>' if url else None


def private_chat_needed(command: str, start_url: str) -> str:
    """Asked in a group by a member who never started the bot: the answer would show their
    wallet, and Telegram lets a bot write only to those who have."""
    return _(
        "🔒 I answer {command} in private, so your wallet stays yours. "
        "{open_chat}, then send {command} there."
    ).format(command=command, open_chat=link(_("Open a chat with me"), start_url))


# The mint answers below are rendered in the current locale: the pipeline delivers each inside
# `speaking` of the locale recorded with its request (a status message: of its opener).


def not_minted(result: MintResult, most: int | None = None) -> str:
    reason = result.reason_shown()
    return _("❌ Not minted: {reason}").format(
        reason=esc(reason if most is None else clip(reason, most))
    )


def result_html(result: MintResult) -> str:
    """The final answer to a request, edited into the "minting…" reply."""
    if not result.minted:
        return not_minted(result)
    links = [
        link(label, url)
        for label, url in (
            (_("Transaction"), result.tx_url),
            (_("Token"), result.token_url),
            (_("Marketplace"), result.marketplace_url),
        )
    ]
    owner = (
        _("held for you by the bot; {hint}").format(hint=custody_hint(result))
        if result.custodial
        else f"<code>{esc(result.recipient or '')}</code>"
    )
    token_id = f"<code>{result.token_id:#066x}</code>" if result.token_id is not None else None
    lines = [
        _("✅ Minted <b>{name}</b>").format(name=esc(result.name)),
        _("Token ID: {token_id}").format(token_id=token_id) if token_id else "",
        " · ".join(x for x in links if x),
        _("Owner: {owner}").format(owner=owner),
    ]
    asked_by = (result.reply_to or {}).get("asked_by")
    if asked_by and asked_by != result.requester_id:
        lines.append(
            _("Minted for {member} at another member's request.").format(
                member=esc(result.requester_name)
            )
        )
    return "\n".join(line for line in lines if line)


PENDING_LINE = N_("⏳ minting…")


def minting() -> str:
    """A request's own reply until it is decided."""
    return _(MINTING)


def pending_line() -> str:
    """A request's line on a status message until it is decided."""
    return _(PENDING_LINE)


# A status message shows at most this many requests; each line is kept short, so that the
# message stays well under Telegram's 4096 characters.
BOARD_NAME_CHARS = 40
BOARD_WHO_CHARS = 32
BOARD_REASON_CHARS = 100


def clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def mention(user_id: str, name: str) -> str:
    """A member by name, linked so Telegram notifies them."""
    return f'<a href="tg://user?id={esc(user_id)}">{esc(clip(name, BOARD_WHO_CHARS))}</a>'


def result_line_html(result: MintResult) -> str:
    """A request's final state on its line of a chat's status message, with its token's links."""
    if not result.minted:
        return not_minted(result, BOARD_REASON_CHARS)
    parts = [
        _("✅ Minted"),
        link(_("token"), result.token_url),
        link(_("transaction"), result.tx_url),
    ]
    if result.custodial:
        parts.append(
            _("held for you by the bot ({command})").format(
                command=f"<code>/withdraw {result.token_ref}</code>"
            )
        )
    return " · ".join(x for x in parts if x)


def board_html(lines: list[tuple[str, str, str, bool]]) -> str:
    """A busy chat's status message: (who asked, what, state, final) for each request, in the
    order they were asked."""
    done = sum(1 for *_, final in lines if final)
    rows = [
        ngettext(
            "Mint requests here: {done} of {count} done",
            "Mint requests here: {done} of {count} done",
            len(lines),
        ).format(done=done, count=len(lines))
    ]
    rows += [
        f"{n}. {who} · <b>{esc(clip(name, BOARD_NAME_CHARS))}</b>: {state}"
        for n, (who, name, state, _) in enumerate(lines, 1)
    ]
    return "\n".join(rows)


def status_line(result: MintResult) -> str:
    line = f"<b>{esc(result.name)}</b>: {esc(result.status_shown())}"
    if waiting := result.waiting_shown():
        line += f" ({esc(waiting)})"
    if result.tx_url:
        line += f" · {link(_('transaction'), result.tx_url)}"
    return line


def custody_hint(result: MintResult) -> str:
    return _("{command} sends it to your linked wallet").format(
        command=f"<code>/withdraw {result.token_ref}</code>"
    )


def withdrawals_html(views: list[WithdrawalView]) -> str:
    """Where each token of a /withdraw stands, with its transaction link, in the current
    locale."""
    to = f"<code>{esc(views[0].to_address)}</code>"
    lines = [_("Withdrawing to {address}:").format(address=to)]
    lines += [
        " · ".join(
            x
            for x in (
                f"<b>{esc(v.name)}</b> (<code>{v.short_id}</code>): {esc(v.status_text)}",
                link(_("transaction"), v.tx_url),
            )
            if x
        )
        for v in views
    ]
    return "\n".join(lines)


def announcement_html(result: MintResult) -> str:
    """A confirmed mint, as posted in a community's announcement chat, in the current locale:
    the community's language for public posts, which the caller speaks (the whole group
    reads it, not one member)."""
    links = " · ".join(
        x
        for x in (
            link(_("transaction"), result.tx_url),
            link(_("token"), result.token_url),
            link(_("marketplace"), result.marketplace_url),
        )
        if x
    )
    by = esc(result.requester_name or _("a member"))
    new = _("🎨 New NFT: {name} by {member}").format(name=f"<b>{esc(result.name)}</b>", member=by)
    return f"{new}\n{links}"


def _ranking(ranked: list[Ranked]) -> str:
    lines = [f"{place}. {esc(r.name)}: {r.count}" for place, r in enumerate(ranked, 1)]
    return "\n".join(lines) or _("nobody yet")


def leaderboard_html(board: Leaderboard, gallery_url: str) -> str:
    return (
        "🏆 "
        + _("<b>Top creators</b> (tokens minted)")
        + f"\n{_ranking(board.creators)}\n\n"
        + _("<b>Top collectors</b> (tokens held)")
        + f"\n{_ranking(board.collectors)}\n\n"
        + str(link(_("All of this group’s NFTs"), gallery_url))
    )


def gallery_html(
    page: GalleryPage, url: str, token_url: Callable[[int], str], member: User | None
) -> str:
    whose = (
        _("{member}’s NFTs").format(member=esc(member.full_name))
        if member is not None
        else _("This group’s NFTs")
    )
    lines = [f"🖼️ <b>{whose}</b> ({page.total})"]
    lines += [
        _("{name} by {creator}").format(
            name=link(item.name, token_url(item.token_id)), creator=esc(item.creator_name)
        )
        + (
            " · "
            + ngettext("{count} edition", "{count} editions", item.editions).format(
                count=item.editions
            )
            if item.editions
            else ""
        )
        for item in page.items
    ]
    if not page.items:
        lines.append(_("Nothing minted yet."))
    lines.append(str(link(_("See them all"), url)))
    return "\n".join(lines)


def drop_announcement_html(drop: DropInfo) -> str:
    """A drop's announcement, the caption under its artwork, with the live count.

    The whole chat reads it, whoever posts or updates it: in the community's language for
    public posts (`drop.public_locale`, English if none is set)."""
    supply = str(drop.supply) if drop.supply is not None else "∞"
    with speaking(drop.public_locale):
        counted = _("Claimed: <b>{claimed}</b>").format(claimed=f"{drop.claimed} / {supply}")
        status = status_text(drop.status(utcnow()))
        who = conditions(drop)
        lines = [
            f"🎁 <b>{esc(drop.name)}</b>",
            esc(drop.description) if drop.description else "",
            f"{counted} · {per_member(drop)} · {status}",
            _("For {who}").format(who=esc(who)) if who else "",
            _("Drop #{id}").format(id=drop.id),
        ]
    return "\n".join(line for line in lines if line)


def claim_keyboard(drop: DropInfo) -> InlineKeyboardMarkup | None:
    """The Claim button under a drop's announcement, while the drop is not over: in the
    announcement's language (everybody sees the same button)."""
    if drop.is_over(utcnow()):
        return None
    with speaking(drop.public_locale):
        label = _("🎁 Claim")
    button = InlineKeyboardButton(label, callback_data=f"drop:claim:{drop.id}")
    return InlineKeyboardMarkup([[button]])


def claim_told_in_chat_html(result: MintResult) -> str:
    """A claim's outcome said in the drop's chat, to a claimer the bot cannot write to in
    private: their name links to them."""
    name = esc(result.requester_name or _("member"))
    mention = f'<a href="tg://user?id={int(result.requester_id)}">{name}</a>'
    return f"{mention}: {result_html(result)}"
