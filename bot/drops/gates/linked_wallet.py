"""The wallet gate: editions go only to claimers' own linked wallets, never into custody."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.drops.gates import LinkWallet
from bot.i18n import N_, _
from bot.i18n.said import said
from bot.ports import Claimant, DropGate, GatedDrop, Refusal


@dataclass(frozen=True)
class LinkedWalletGate:
    kind: ClassVar[str] = "linked_wallet"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls()

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        if claimant.linked_address:
            return None
        return LinkWallet(
            said(
                N_(
                    "{drop} is minted only to members' own wallets: link yours first, "
                    "then claim again."
                ),
                drop=drop.name,
            )
        )

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return _("members with a linked wallet")
