"""The membership gate: only members of the community the drop was made in, as its platform
says (Discord's server membership, Telegram's getChatMember)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.drops.gates import elsewhere
from bot.i18n import N_, _
from bot.i18n.said import said
from bot.ports import Claimant, DropGate, GatedDrop, Refusal


@dataclass(frozen=True)
class ChatMemberGate:
    kind: ClassVar[str] = "chat_member"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DropGate:
        return cls()

    def check(self, claimant: Claimant, drop: GatedDrop) -> Refusal | None:
        if (refusal := elsewhere(claimant, drop)) is not None:
            return refusal
        if claimant.is_member:
            return None
        return Refusal(
            said(N_("{drop} is for members of the chat it was made in."), drop=drop.name)
        )

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return _("members of the chat")
