"""What the console (and the command line) print: results, lists and pages as plain text."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.drops import listing_line
from bot.minting.types import MintResult
from db.models import utcnow

if TYPE_CHECKING:
    # Named in annotations only: `status` renders a result without loading the chain stack.
    from bot.drops import DropInfo
    from bot.leaderboard_gallery import GalleryPage, Leaderboard, Ranked
    from bot.withdrawals import WithdrawalView


def render_result(result: MintResult) -> str:
    """A result as the console (and the CLI) print it."""
    if result.minted:
        lines = [f"✓ minted {result.name!r} (token {result.token_id})"]
        for label, url in (
            ("transaction", result.tx_url),
            ("token", result.token_url),
            ("marketplace", result.marketplace_url),
        ):
            if url:
                lines.append(f"  {label}: {url}")
        if result.image_cid:
            lines.append(f"  image: ipfs://{result.image_cid}")
        owner = "held in custody by the bot" if result.custodial else result.recipient
        lines.append(f"  owner: {owner}")
        return "\n".join(lines)
    if result.failure_reason:
        return f"✗ {result.key}: {result.status_text}: {result.failure_reason}"
    waiting = f" ({result.waiting_reason})" if result.waiting_reason else ""
    return f"… {result.key}: {result.status_text}{waiting}"


def status_line(result: MintResult) -> str:
    """A request in one line: the first line of its result, and its transaction."""
    line = render_result(result).splitlines()[0]
    if result.minted:
        line += f" [{result.key}]"
    return line + (f" · {result.tx_url}" if result.tx_url else "")


def nft_line(result: MintResult) -> str:
    """A minted token in /mynfts: its name and short ID, where it is, how to withdraw it."""
    line = f"{result.name!r} ({result.token_label})"
    if result.token_url:
        line += f" · {result.token_url}"
    if result.custodial:
        line += f" · held for you: /withdraw {result.token_ref} sends it to your wallet"
    return line


def withdrawals_text(views: list[WithdrawalView]) -> str:
    """Where each token of a /withdraw stands, with its transaction link."""
    lines = [f"Withdrawing to {views[0].to_address}:"]
    for view in views:
        line = f"  {view.name!r} ({view.short_id}): {view.status_text}"
        lines.append(f"{line} · {view.tx_url}" if view.tx_url else line)
    return "\n".join(lines)


def _ranking(ranked: list[Ranked]) -> str:
    lines = [f"  {place}. {r.name}: {r.count}" for place, r in enumerate(ranked, 1)]
    return "\n".join(lines) or "  nobody yet"


def leaderboard_text(board: Leaderboard, gallery_url: str) -> str:
    return (
        f"🏆 Top creators (tokens minted)\n{_ranking(board.creators)}\n"
        f"Top collectors (tokens held)\n{_ranking(board.collectors)}\n"
        f"All of them: {gallery_url}"
    )


def gallery_text(page: GalleryPage, url: str, token_url: Callable[[int], str]) -> str:
    lines = [f"🖼️ This community's NFTs ({page.total}): {url}"]
    lines += [
        f"  {item.name!r} by {item.creator_name}"
        + (f" · {item.editions} editions" if item.editions else "")
        + f" · {token_url(item.token_id)}"
        for item in page.items
    ]
    if page.has_more:
        lines.append(f"  …and {page.total - len(page.items)} more")
    if not page.items:
        lines.append("  Nothing minted yet.")
    return "\n".join(lines)


def drop_line(drop: DropInfo) -> str:
    return listing_line(drop, utcnow(), repr)


def drop_text(drop: DropInfo, public_base_url: str) -> str:
    """One drop in full, as its announcement shows it."""
    supply = str(drop.supply) if drop.supply is not None else "∞ (open edition)"
    lines = [
        f"🎁 {drop_line(drop)}",
        f"  {drop.description}" if drop.description else "",
        f"  claimed {drop.claimed} of {supply}; {drop.per_user_limit} per member",
        f"  artwork: {public_base_url.rstrip('/')}/ipfs/{drop.image_cid}",
        f"  claim it: /drop claim {drop.id}",
    ]
    return "\n".join(line for line in lines if line)


def announcement_text(result: MintResult) -> str:
    """A confirmed mint, as announced in the console's community."""
    links = " · ".join(url for url in (result.tx_url, result.token_url) if url)
    return f"📣 New NFT: {result.name!r} by {result.requester_name or 'a member'} {links}"
