"""The allowlist gate: only the members on the drop's list, or who linked an address on it, each
up to their entry's allowance (which replaces the drop's per-member limit for them). An
address counts for a member only once they verified it (signed the wallet challenge).

The list is rows of its own table (`db.models.AllowlistEntry`); the gate's parameters name the
list and count its entries. Replacing a drop's list writes a new list and changes the gate
in one transaction, so a claim looked up against the old list meets a gate it has no facts
for and is looked up again: every claim is decided on one whole list, old or new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import select

from bot.drops.allowlist_csv import entry_counts
from bot.holders.measure import verified_address
from bot.i18n import N_, _
from bot.i18n.said import said
from bot.ports import Allowance, Claimant, DropGate, GatedDrop, GateLookups, Refusal
from db.models import AllowlistEntry


@dataclass(frozen=True)
class Listed:
    """What a claimant's lookup found: their member entry's allowance, and that of the address
    they had linked and verified then (None: not on the list)."""

    member: int | None
    address: str | None
    by_address: int | None

    def allowance(self, linked: str | None) -> Allowance | None:
        """The larger of their entries' allowances; an address counts only while it is still
        the one they link. An address's allowance is the entry's, shared by every member who
        verified that address: two accounts of one wallet do not claim it twice."""
        by_address = None
        if linked is not None and self.address == linked.lower():
            by_address = self.by_address
        if by_address is not None and (self.member is None or by_address > self.member):
            return Allowance(by_address, shared=f"address:{self.address}")
        return None if self.member is None else Allowance(self.member)


@dataclass(frozen=True)
class AllowlistGate:
    kind: ClassVar[str] = "allowlist"
    allowlist: int  # the AllowlistEntry rows' list
    members: int
    addresses: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        counts = [params.get(k) for k in ("allowlist", "members", "addresses")]
        numbers = [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c >= 0]
        if len(numbers) != len(counts):
            raise ValueError("an allowlist gate names its list and counts its entries")
        return cls(*numbers)

    async def look_up(self, claimant: Claimant, drop: GatedDrop, lookups: GateLookups) -> Listed:
        member = f"{claimant.platform.lower()}:{claimant.user_id}"
        async with lookups.sessions() as session:
            # Only an address the member proved is theirs: anyone can link any address
            # unverified (to be minted to), which says nothing of who they are.
            verified = await verified_address(session, claimant.platform, claimant.user_id)
            address = verified.lower() if verified else None
            wanted = [member, address] if address else [member]
            rows = await session.execute(
                select(AllowlistEntry.entry, AllowlistEntry.allowance).where(
                    AllowlistEntry.allowlist_id == self.allowlist,
                    AllowlistEntry.entry.in_(wanted),
                )
            )
            found = {entry: allowance for entry, allowance in rows}
        return Listed(found.get(member), address, found.get(address) if address else None)

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        listed = claimant.facts.get(self)
        if not isinstance(listed, Listed):
            # Not looked up: an airdrop, which is past the gates on who may claim.
            return Refusal(
                said(N_("{drop}'s allowlist was not checked for this claim."), drop=drop.name)
            )
        if listed.allowance(claimant.linked_address) is not None:
            return None
        if self.addresses and listed.address is None:
            return Refusal(
                said(
                    N_(
                        "{drop} is for the members on its allowlist; you are not on it. If your "
                        "wallet's address is on it, link and verify that wallet first (/wallet), "
                        "then claim again."
                    ),
                    drop=drop.name,
                )
            )
        return Refusal(
            said(
                N_("{drop} is for the members on its allowlist; you are not on it."), drop=drop.name
            )
        )

    def allowance(self, claimant: Claimant, drop: GatedDrop) -> Allowance | None:
        listed = claimant.facts.get(self)
        return listed.allowance(claimant.linked_address) if isinstance(listed, Listed) else None

    def params(self) -> dict[str, Any]:
        return {"allowlist": self.allowlist, "members": self.members, "addresses": self.addresses}

    def describe(self) -> str:
        return _("those on its allowlist ({entries})").format(
            entries=entry_counts(self.members, self.addresses)
        )
