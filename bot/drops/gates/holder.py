"""The holder gate: only members who hold at least `min` tokens of a collection (any ERC-721,
or one token of any ERC-1155, on the bot's chain), counting their verified address's balance
on chain at claim time and what the bot's custody holds for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.holders.measure import Held, held_by
from bot.i18n import N_
from bot.i18n.said import Said, said
from bot.ports import Claimant, DropGate, GatedDrop, GateLookups, Refusal

# A minimum past this is a typo, not a condition (and keeps the stored number small).
MAX_MIN = 1_000_000


def parse_address(value: object) -> str:
    """A 0x-prefixed 40-digit hex address, lower-cased; `ValueError` in an admin's words."""
    text = value.strip() if isinstance(value, str) else ""
    digits = text[2:] if text[:2] in ("0x", "0X") else ""
    if len(digits) != 40 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise ValueError(f"{value!r} is not a contract address (0x and 40 hex digits)")
    return "0x" + digits.lower()


def parse_token_id(value: object) -> int | None:
    """An ERC-1155 token ID (decimal or 0x hex), or None for none."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    try:
        token_id = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a token ID") from None
    if not 0 <= token_id < 1 << 256:
        raise ValueError(f"{value!r} is not a token ID")
    return token_id


def parse_min(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("a holder gate's minimum is a whole number")
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if not 1 <= count <= MAX_MIN:
        raise ValueError(f"a holder gate's minimum is between 1 and {MAX_MIN}")
    return count


@dataclass(frozen=True)
class HolderGate:
    kind: ClassVar[str] = "holder"
    contract: str  # lower-case hex
    token_id: int | None  # the ERC-1155 token counted; None: an ERC-721's balance
    min: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls(
            parse_address(params.get("contract")),
            parse_token_id(params.get("token_id")),
            parse_min(params.get("min", 1)),
        )

    async def look_up(self, claimant: Claimant, drop: GatedDrop, lookups: GateLookups) -> Held:
        if lookups.holdings is None:
            raise RuntimeError("this process reads no chain balances")
        return await held_by(
            lookups.sessions,
            lookups.holdings,
            claimant.platform,
            claimant.user_id,
            self.contract,
            self.token_id,
        )

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        held: Held = claimant.facts[self]
        if held.total >= self.min:
            return None
        # Said: a claim is decided in a group commit, perhaps in another member's task.
        what = self._what()
        if held.verified_address is None:
            return Refusal(
                said(
                    N_(
                        "{drop} is for {what}. You hold {total} in custody; link and verify "
                        "your wallet (/wallet) so that its tokens count too."
                    ),
                    drop=drop.name,
                    what=what,
                    total=held.total,
                )
            )
        return Refusal(
            said(
                N_(
                    "{drop} is for {what}; you hold {total} ({wallet} in your wallet, "
                    "{custody} in custody)."
                ),
                drop=drop.name,
                what=what,
                total=held.total,
                wallet=held.wallet,
                custody=held.custody,
            )
        )

    def _what(self) -> Said:
        """Who may claim, as a `Said` ("holders of at least 3 of 0x…").

        The count is in the msgid (a Said cannot choose a plural form): "a token" for one."""
        token = f" #{self.token_id}" if self.token_id is not None else ""
        if self.min > 1:
            return said(
                N_("holders of at least {min} of {contract}{token}"),
                min=self.min,
                contract=self.contract,
                token=token,
            )
        return said(
            N_("holders of a token of {contract}{token}"), contract=self.contract, token=token
        )

    def params(self) -> dict[str, Any]:
        # The token ID as text: a uint256 does not fit every JSON reader's numbers.
        token = None if self.token_id is None else str(self.token_id)
        return {"contract": self.contract, "token_id": token, "min": self.min}

    def describe(self) -> str:
        return self._what().text()
