"""The raffle gate: a raffle's editions go only to the winners of its draw, which claims them
for them (as a grant, past the gates on who may claim). Any claim asked directly is refused;
members enter the raffle instead (`bot.drops.raffles`), where the drop's other gates apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.i18n import N_, _
from bot.i18n.said import said
from bot.ports import Claimant, DropGate, GatedDrop, Refusal


@dataclass(frozen=True)
class RaffleGate:
    kind: ClassVar[str] = "raffle"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls()

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        return Refusal(
            said(
                N_(
                    "{drop} is a raffle: enter it (the Enter button, or /enter {id}); "
                    "its editions go to the winners drawn at the close."
                ),
                drop=drop.name,
                id=drop.id,
            )
        )

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return _("winners of its raffle")
