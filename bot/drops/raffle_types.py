"""What the raffles core hands out: a raffle as members see it (`RaffleInfo`), an entry as its
member is answered (`Entry`), what a draw means for one entrant (`outcome_text`), and how a
platform says what a draw decided (`RaffleVoice`).

Texts are plain: each platform escapes and marks them up its own way. A member's own texts
(`Entry.text`, `outcome_text`) are in the current locale: the one of the member's request,
or the one recorded with their entry when the draw tells them later. Texts the whole chat
reads (`open_text`, `drawn_text`) are in English (`PUBLIC_LOCALE`): a community has no
language setting, and the member or admin whose request happens to post them speaks for
nobody else in the chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.drops.types import DropInfo
from bot.i18n import _, ngettext, speaking
from bot.i18n.said import Said
from db.models import aware_utc

# The language of texts a whole chat reads (None: English). A per-community setting would
# go here; there is none yet.
PUBLIC_LOCALE: str | None = None

# The verifier gives the chain: --rpc URL, or RPC_URL.
VERIFY_COMMAND = "python -m bot raffle verify {id} --cid {cid} --gateway {gateway}"


class RaffleVoice(Protocol):
    """How a chat platform says what a raffle's draw decided (registered by its adapter with
    `Raffles.speak_through`): the draw in the chats that announced the raffle, and each
    entrant's outcome to them alone."""

    async def announce_draw(self, drop_id: int, chat_id: str, message_id: str, text: str) -> None:
        """Post `text` (plain) in the chat, under the raffle's announcement (`message_id`),
        whose Enter button goes."""

    async def tell_entrant(self, user_id: str, reply_to: dict[str, object], text: str) -> None:
        """Tell the entrant `text` (plain) privately; raise if they cannot be reached now."""


@dataclass(frozen=True)
class RaffleInfo:
    """A raffle as members are shown it."""

    drop: DropInfo
    closes_at: datetime
    block: int
    chain_id: int
    entrants: int
    drawn: bool
    seed: str | None
    entrants_cid: str | None
    winners: int
    cancelled: bool
    # Where the published list can be read: the bot's own IPFS gateway (PUBLIC_BASE_URL).
    gateway: str

    @property
    def verify_command(self) -> str | None:
        if self.entrants_cid is None:
            return None
        return VERIFY_COMMAND.format(id=self.drop.id, cid=self.entrants_cid, gateway=self.gateway)

    def open_text(self, now: datetime) -> str:
        """The raffle as its announcement states it (in `PUBLIC_LOCALE`)."""
        with speaking(PUBLIC_LOCALE):
            state = (
                _("entries open") if self.drop.starts_at <= now < self.closes_at else _("not open")
            )
            if now >= self.closes_at:
                state = _("drawn") if self.drawn else _("entries closed, draw pending")
            return _(
                "Raffle #{id} {name}: {winners}, {entrants} entered, {state}. Entries close "
                "{closes}. The draw's seed is the hash of block {block} of chain {chain}."
            ).format(
                id=self.drop.id,
                name=self.drop.name,
                winners=_winners(self.drop.supply or 0),
                entrants=self.entrants,
                state=state,
                closes=when(self.closes_at),
                block=self.block,
                chain=self.chain_id,
            )

    def closed_text(self) -> str:
        """What the admin who closed its entries is told (in the current locale)."""
        return _(
            "Entries to raffle #{id} are closed at {entrants}; the draw waits for block {block}."
        ).format(id=self.drop.id, entrants=self.entrants, block=self.block)

    def drawn_text(self) -> str:
        """The draw as it is announced (in `PUBLIC_LOCALE`)."""
        with speaking(PUBLIC_LOCALE):
            if self.cancelled:
                return _("Raffle #{id} {name} was cancelled; nobody was drawn.").format(
                    id=self.drop.id, name=self.drop.name
                )
            among = ngettext("among {n} entrant", "among {n} entrants", self.entrants)
            return _(
                "Raffle #{id} {name} is drawn: {winners} {among}; each was told privately.\n"
                "Seed: hash of block {block} = {seed}\n"
                "Entrant list (tickets): {list}\n"
                "Check it yourself: {verify}"
            ).format(
                id=self.drop.id,
                name=self.drop.name,
                winners=_winners(self.winners),
                among=among.format(n=self.entrants),
                block=self.block,
                seed=self.seed,
                list=f"ipfs://{self.entrants_cid}",
                verify=self.verify_command,
            )


@dataclass(frozen=True)
class Entry:
    """A member's entry as they are answered: also when they enter again."""

    drop_id: int
    name: str
    ticket: str
    block: int
    closes_at: datetime
    duplicate: bool
    outcome: str | None  # once drawn: "won", "lost" or "late"

    def text(self) -> str:
        """The entry as its member is told it (in the current locale)."""
        if self.outcome == "won":
            return _("You won {name}! Your edition is being minted.").format(name=self.name)
        if self.outcome in ("lost", "late"):
            return _("The draw of {name} is done: you were not drawn this time.").format(
                name=self.name
            )
        first = (
            _("You are already entered in {name}.") if self.duplicate else _("You entered {name}.")
        )
        return (
            first.format(name=self.name)
            + " "
            + _(
                "Your ticket: {ticket}… (find it in the entrant list published at the draw). "
                "Entries close {closes}; the winners are drawn from the hash of block {block}."
            ).format(ticket=self.ticket[:16], closes=when(self.closes_at), block=self.block)
        )


def outcome_text(
    info: RaffleInfo,
    outcome: str | None,
    ticket: str,
    refused: str | None,
    custodial: bool | None,
) -> str:
    """What the draw means for one entrant, in plain words, in the current locale (the
    entrant's: `raffle_rounds` tells each inside `speaking` their entry's locale).
    `refused`: why a winner's edition could not be given, a `Said` as JSON (or, in an older
    row, plain English)."""
    name = info.drop.name
    if info.cancelled:
        return _("{name} was cancelled by an admin; nobody was drawn.").format(name=name)
    if outcome == "won":
        if refused is not None:
            reason = Said.from_json(refused) or Said(refused)
            return _("You won {name}, but your edition could not be given: {reason}").format(
                name=name, reason=reason.text()
            )
        if custodial:
            return _(
                "You won {name}! Your edition is minting to the bot, for you (/withdraw)."
            ).format(name=name)
        return _("You won {name}! Your edition is minting to your linked wallet.").format(name=name)
    if outcome == "late":
        return _(
            "Your entry to {name} came after its seed block existed, so it was not drawn."
        ).format(name=name)
    return _(
        "The draw of {name} is done: you were not drawn this time ({winners} of {entrants} "
        "entrants won; your ticket {ticket}…). Check the draw: {verify}"
    ).format(
        name=name,
        winners=info.winners,
        entrants=info.entrants,
        ticket=ticket[:16],
        verify=info.verify_command,
    )


def locale_in(reply_to: Mapping[str, object]) -> str | None:
    """The language tag an entry (or a claim) recorded where its member is answered: the
    platform's own ("es-ES", "de"); None if none was (an older entry: English)."""
    tag = reply_to.get("locale")
    return tag if isinstance(tag, str) else None


def when(moment: datetime) -> str:
    """A moment as raffle texts write it (the same in every language: ISO date, UTC)."""
    return aware_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _winners(n: int) -> str:
    return ngettext("{n} winner", "{n} winners", n).format(n=n)
