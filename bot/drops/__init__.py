"""Community drops: one artwork, stored once, claimed by members as numbered ERC-721 tokens
or as ERC-1155 editions (`DropKind`).

`service.Drops` is what adapters call (import it from `bot.drops.service`: this front holds
the light parts only, so rendering a drop does not load the minting pipeline); `types` holds
what it hands out; `claims` decides and records claims; `gates` holds who may claim, one
module per kind; `export` writes the CSV.
"""

from __future__ import annotations

from bot.drops.gates import gates_for
from bot.drops.types import (
    ClaimResult,
    DropInfo,
    DropKind,
    conditions,
    edition_label,
    listing_line,
    per_member,
    status_text,
)

__all__ = [
    "ClaimResult",
    "DropInfo",
    "DropKind",
    "conditions",
    "edition_label",
    "gates_for",
    "listing_line",
    "per_member",
    "status_text",
]
