"""The codeword gate: a drop claimed with its secret word or one of its single-use codes.

The gate itself knows no code: `bot.drops.codewords` checks the code a member gives (and
reserves a single-use one for them) and then claims with a `CodeGiven` among the claimant's
facts. Any other claim (the drop's Claim button, a claim without a code) is refused with how
to claim it, so the usual buttons explain the way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.i18n import N_, _
from bot.i18n.said import Said, said
from bot.ports import Claimant, DropGate, GatedDrop, GateLookups, Refusal


@dataclass(frozen=True)
class CodeGiven:
    """The claimant gave a right code for this drop (made only by the codewords service,
    after the code was checked and, if single-use, reserved for them)."""

    drop_id: int


def how_to_claim(drop: GatedDrop) -> Said:
    """How a codeword drop is claimed, in the words a member reads on either platform."""
    return said(
        N_("{drop} is claimed with a code: send /claim {id} YOURCODE to the bot privately."),
        drop=drop.name,
        id=drop.id,
    )


@dataclass(frozen=True)
class CodewordGate:
    kind: ClassVar[str] = "codeword"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls()

    async def look_up(self, claimant: Claimant, drop: GatedDrop, lookups: GateLookups) -> Any:
        # Reached only by a claim that came without a code: there is nothing to look up.
        return None

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        given = claimant.facts.get(self)
        if isinstance(given, CodeGiven) and given.drop_id == drop.id:
            return None
        return Refusal(how_to_claim(drop))

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return _("members with the drop's code")
