"""What the drops core hands out: a drop as people see it (`DropInfo`), a claim that got an
edition (`ClaimResult`), how both are written, and the limits every drop keeps."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.content.metadata import NAME_MAX
from bot.errors import DropNotFound
from bot.i18n import N_, _
from bot.ports import DropGate, LimitingGate

# The origin (the `platform` column) of every claim's mint request; its chat is the drop's ID.
# Stored in every claim's key and metadata, so it never changes.
DROP_ORIGIN = "drop"
# The most editions a drop may have, and a member may claim: far beyond any community's need,
# and within every database's integer columns.
MAX_SUPPLY = 1_000_000
# Drop IDs are INTEGER columns: 32-bit signed on PostgreSQL.
MAX_DROP_ID = 2**31 - 1
# The answer address of an airdropped edition: nobody asked in a chat, so once decided it
# counts as answered without a message (the airdrop command reports it).
NOBODY_TO_TELL: dict[str, object] = {"nobody": True}
# Room after the drop's name for " #12345 of 12345".
DROP_NAME_MAX = NAME_MAX - 20
# A drop's status (`DropInfo.status`, compared by code) as people read it: translated with `_`.
STATUS_TEXTS = {
    "open": N_("open"),
    "not open yet": N_("not open yet"),
    "sold out": N_("sold out"),
    "ended": N_("ended"),
    "closed": N_("closed"),
}


class DropKind(enum.StrEnum):
    """How a drop's claims are minted: one ERC-721 token per claim, each with its own number
    and metadata ("#12 of 500"); or one ERC-1155 token ID for the artwork, each claim a
    balance of 1 of it (an edition, as Zora and Manifold mint them), which costs far less."""

    NUMBERED = "numbered"
    EDITION = "edition"

    @staticmethod
    def default(supply: int | None) -> DropKind:
        """Open editions are editions; a drop with a supply is numbered unless asked."""
        return DropKind.EDITION if supply is None else DropKind.NUMBERED


def known_id(drop_id: int) -> None:
    """Refuse a drop number no drop can have (a forged button or a typo) before it reaches
    the database, which would fail on it rather than find nothing."""
    if not 1 <= drop_id <= MAX_DROP_ID:
        raise DropNotFound(N_("There is no drop #{id}."), id=drop_id)


def edition_label(edition: int, supply: int | None) -> str:
    """The edition as its token's name writes it: #12 of 500, or #12 for an open edition.
    English always: it is part of the token's metadata, which every reader shares."""
    return f"#{edition} of {supply}" if supply is not None else f"#{edition}"


def edition_text(edition: int, supply: int | None) -> str:
    """The edition as a member is told it, in the current locale."""
    if supply is None:
        return f"#{edition}"
    return _("#{edition} of {supply}").format(edition=edition, supply=supply)


def status_text(status: str) -> str:
    """A status of `DropInfo.status`, in the current locale."""
    return _(STATUS_TEXTS[status]) if status in STATUS_TEXTS else status


def claim_key(platform: str, user_id: str, n: int) -> str:
    """The message part of a claim's mint request key: "platform:user:n", with an over-long
    user ID replaced by its digest so the key fits its 64-character column."""
    key = f"{platform}:{user_id}:{n}"
    if len(key) <= 64:
        return key
    return f"{platform}:{hashlib.sha256(user_id.encode()).hexdigest()[:32]}:{n}"


@dataclass(frozen=True)
class DropInfo:
    """A drop as an admin or a claimer is shown it."""

    id: int
    platform: str
    community_id: str
    name: str
    description: str
    image_cid: str
    supply: int | None
    claimed: int
    per_user_limit: int
    starts_at: datetime
    ends_at: datetime | None
    # Who may claim: every gate must let the claimant through.
    gates: tuple[DropGate, ...]
    closed_at: datetime | None
    kind: DropKind = DropKind.NUMBERED

    @property
    def sold_out(self) -> bool:
        return self.supply is not None and self.claimed >= self.supply

    def is_over(self, now: datetime) -> bool:
        """No edition can be claimed any more (closed, sold out or ended)."""
        return self.status(now) in ("closed", "sold out", "ended")

    def status(self, now: datetime) -> str:
        """One of: open, not open yet, sold out, ended, closed."""
        if self.closed_at is not None:
            return "closed"
        if self.sold_out:
            return "sold out"
        if now < self.starts_at:
            return "not open yet"
        if self.ends_at is not None and now >= self.ends_at:
            return "ended"
        return "open"


def listing_line(drop: DropInfo, now: datetime, name: Callable[[str], str] = str) -> str:
    """The drop in a list of drops: "#3 Harbour: 12 / 50 claimed, open", in the current
    locale. `name` marks the name up for where the line is shown (bold, escaped); by default
    it stays plain."""
    supply = f" / {drop.supply}" if drop.supply is not None else ""
    return _("#{id} {name}: {claimed} claimed, {status}").format(
        id=drop.id,
        name=name(drop.name),
        claimed=f"{drop.claimed}{supply}",
        status=status_text(drop.status(now)),
    )


def per_member(drop: DropInfo) -> str:
    """How many editions each member may claim, as an announcement says it (in the current
    locale): the drop's limit, unless a gate gives each claimant their own (an allowlist
    entry's allowance)."""
    if any(isinstance(gate, LimitingGate) for gate in drop.gates):
        return _("as each allowlist entry allows")
    return _("{count} per member").format(count=drop.per_user_limit)


def conditions(drop: DropInfo, *, leave_out: tuple[str, ...] = ()) -> str:
    """Who may claim, in words ("members of the chat; members with a linked wallet") of the
    current locale, leaving out the gate kinds the caller shows its own way; empty if anyone
    may."""
    return "; ".join(g.describe() for g in drop.gates if g.kind not in leave_out)


@dataclass(frozen=True)
class ClaimResult:
    """A claim that got an edition; the token is minted in the background."""

    drop_id: int
    edition: int
    supply: int | None
    n: int  # the claimer's own claim number, 1..per_user_limit
    request_id: int
    key: str  # the mint request's key, as MintService results carry it
    token_id: int
    recipient: str
    custodial: bool
    duplicate: bool = False  # the same source claimed before: this is that claim

    @property
    def edition_text(self) -> str:
        """The edition as the claimer is told it, in the current locale."""
        return edition_text(self.edition, self.supply)
