"""The role gate: only members holding one of the named roles (on the drop's own platform)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.drops.gates import elsewhere
from bot.i18n import N_, _
from bot.i18n.said import said
from bot.ports import Claimant, DropGate, GatedDrop, Refusal


@dataclass(frozen=True)
class RoleGate:
    kind: ClassVar[str] = "role"
    role_ids: frozenset[str]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        role_ids = params.get("role_ids")
        if not isinstance(role_ids, list | tuple) or not all(isinstance(r, str) for r in role_ids):
            raise ValueError("a role gate names its roles as a list of role IDs")
        if not role_ids:
            raise ValueError("a role gate names at least one role")
        return cls(frozenset(role_ids))

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        if (refusal := elsewhere(claimant, drop)) is not None:
            return refusal
        if self.role_ids & claimant.role_ids:
            return None
        return Refusal(
            said(
                N_("{drop} is for members with a role it names; you have none of them."),
                drop=drop.name,
            )
        )

    def params(self) -> dict[str, Any]:
        return {"role_ids": sorted(self.role_ids)}

    def describe(self) -> str:
        return _("holders of role {roles}").format(roles=_(" or ").join(sorted(self.role_ids)))
