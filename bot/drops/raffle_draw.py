"""A raffle's draw as anyone can re-run it: tickets, the published entrant list, and the
algorithm that picks winners from that list and a block hash. Nothing here reads the bot's
database or needs its settings, so `python -m bot raffle verify` runs it from public data.

Tickets. An entrant's ticket is sha256(salt || "platform:user_id") in lowercase hex, where the
salt is the raffle's own 32 random bytes. The salt is never published: Telegram user IDs are
about ten digits, so with it anyone could hash every ID and unmask the list in minutes. Each
entrant is shown their own ticket when they enter, and finds it in the published list.

The draw. With `seed` the 32 bytes of the announced block's hash, `tickets` the published list
sorted ascending (unique), and `k` the number of winners (at most the number of tickets):

    pool, winners, counter = sorted(tickets), [], 0
    while len(winners) < k:
        x = int(sha256(seed || counter as 8 bytes big-endian))   # 256-bit big-endian
        counter += 1
        n = len(pool)
        if x >= 2**256 - 2**256 % n: continue                    # rejection: no modulo bias
        winners.append(pool.pop(x % n))

Winners are listed in the order drawn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FORMAT = "mintbot-raffle/1"
SALT_BYTES = 32
_SPACE = 2**256


def ticket(salt: str, platform: str, user_id: str) -> str:
    """The entrant's ticket: sha256 of the raffle's salt (hex) and "platform:user_id"."""
    return hashlib.sha256(bytes.fromhex(salt) + f"{platform}:{user_id}".encode()).hexdigest()


def draw(seed: bytes, tickets: Sequence[str], k: int) -> list[str]:
    """The winners (in the order drawn) of `k` editions among `tickets`, from `seed`: the
    algorithm of this module's docstring."""
    if len(seed) != 32:
        raise ValueError("the seed is a 32-byte block hash")
    pool = sorted(set(tickets))
    if len(pool) != len(tickets):
        raise ValueError("the entrant list repeats a ticket")
    winners: list[str] = []
    counter = 0
    while len(winners) < min(k, len(tickets)):
        x = int.from_bytes(hashlib.sha256(seed + counter.to_bytes(8, "big")).digest(), "big")
        counter += 1
        n = len(pool)
        if x >= _SPACE - _SPACE % n:
            continue  # the top sliver of the 256-bit space would favour the lowest indices
        winners.append(pool.pop(x % n))
    return winners


@dataclass(frozen=True)
class EntrantList:
    """The document published at the draw (stored on IPFS, its CID in the announcement): the
    raffle, the chain and block whose hash seeds it, how many win, every ticket (sorted),
    and the winners the bot drew."""

    raffle: int
    name: str
    chain_id: int
    block: int
    seed: str  # the block's hash as the bot read it, 0x-hex
    winners_wanted: int
    tickets: tuple[str, ...]
    winners: tuple[str, ...]

    def encode(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces), so the same list has the same CID."""
        return json.dumps(
            {
                "format": FORMAT,
                "raffle": self.raffle,
                "name": self.name,
                "chain_id": self.chain_id,
                "block": self.block,
                "seed": self.seed,
                "winners_wanted": self.winners_wanted,
                "tickets": list(self.tickets),
                "winners": list(self.winners),
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> EntrantList:
        """The list from its published bytes; raises `ValueError` if they are not one."""
        try:
            doc: Any = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} entrant list")
            return cls(
                raffle=int(doc["raffle"]),
                name=str(doc["name"]),
                chain_id=int(doc["chain_id"]),
                block=int(doc["block"]),
                seed=str(doc["seed"]),
                winners_wanted=int(doc["winners_wanted"]),
                tickets=tuple(str(t) for t in doc["tickets"]),
                winners=tuple(str(t) for t in doc["winners"]),
            )
        except (AttributeError, KeyError, TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"not a raffle entrant list: {err}") from None


@dataclass(frozen=True)
class Verdict:
    """What re-running a draw found: the winners recomputed from the chain's block hash, and
    whether they (and the hash) match what the list says."""

    winners: tuple[str, ...]
    seed: str
    seed_matches: bool
    winners_match: bool

    @property
    def ok(self) -> bool:
        return self.seed_matches and self.winners_match


def verify(entrants: EntrantList, block_hash: str) -> Verdict:
    """Re-run the draw of `entrants` with the hash the chain reports for its block."""
    seed = bytes.fromhex(block_hash.removeprefix("0x"))
    winners = tuple(draw(seed, entrants.tickets, entrants.winners_wanted))
    return Verdict(
        winners=winners,
        seed="0x" + seed.hex(),
        seed_matches=entrants.seed.lower() == "0x" + seed.hex(),
        winners_match=winners == entrants.winners,
    )
