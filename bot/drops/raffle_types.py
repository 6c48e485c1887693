"""What the raffles core hands out: a raffle as members see it (`RaffleInfo`), an entry as its
member is answered (`Entry`), and how a platform says what a draw decided (`RaffleVoice`).
Texts are plain: each platform escapes and marks them up its own way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.drops.types import DropInfo
from db.models import aware_utc

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
        """The raffle as its announcement states it."""
        state = "entries open" if self.drop.starts_at <= now < self.closes_at else "not open"
        if now >= self.closes_at:
            state = "drawn" if self.drawn else "entries closed, draw pending"
        return (
            f"Raffle #{self.drop.id} {self.drop.name}: {_count(self.drop.supply or 0, 'winner')}, "
            f"{self.entrants} entered, {state}. Entries close {when(self.closes_at)}. "
            f"The draw's seed is the hash of block {self.block} of chain {self.chain_id}."
        )

    def drawn_text(self) -> str:
        """The draw as it is announced."""
        if self.cancelled:
            return f"Raffle #{self.drop.id} {self.drop.name} was cancelled; nobody was drawn."
        return (
            f"Raffle #{self.drop.id} {self.drop.name} is drawn: {_count(self.winners, 'winner')} "
            f"among {_count(self.entrants, 'entrant')}; each was told privately.\n"
            f"Seed: hash of block {self.block} = {self.seed}\n"
            f"Entrant list (tickets): ipfs://{self.entrants_cid}\n"
            f"Check it yourself: {self.verify_command}"
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
        if self.outcome == "won":
            return f"You won {self.name}! Your edition is being minted."
        if self.outcome in ("lost", "late"):
            return f"The draw of {self.name} is done: you were not drawn this time."
        first = "You are already entered in" if self.duplicate else "You entered"
        return (
            f"{first} {self.name}. Your ticket: {self.ticket[:16]}… (find it in the entrant "
            f"list published at the draw). Entries close {when(self.closes_at)}; the winners "
            f"are drawn from the hash of block {self.block}."
        )


def when(moment: datetime) -> str:
    """A moment as raffle texts write it."""
    return aware_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
