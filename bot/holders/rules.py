"""Holder rules as admins set them, list and remove them, and what `/admin stats` shows of the
roles they gave and took."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.drops.gates.holder import HolderGate
from bot.i18n import N_, _
from db.models import HolderChange, HolderMember, HolderRule


@dataclass(frozen=True)
class Rule:
    """A holder rule: `role_id` for members holding at least `min_count` of `contract` (of
    `token_id`, for an ERC-1155). On Telegram `role_id` is the holders-only chat."""

    id: int
    platform: str
    community_id: str
    role_id: str
    contract: str
    token_id: int | None
    min_count: int

    @classmethod
    def of(cls, row: HolderRule) -> Rule:
        token = None if row.token_id is None else int(row.token_id)
        return cls(
            row.id, row.platform, row.community_id, row.role_id, row.contract, token, row.min_count
        )

    def describe(self) -> str:
        return describe_gate(self.contract, self.token_id, self.min_count)


def describe_gate(contract: str, token_id: int | None, minimum: int) -> str:
    """Who a holder condition admits, in the current locale: "holders of at least 3 of 0x…"
    (of a token "#ID" of an ERC-1155), as a drop's holder gate says it."""
    return HolderGate(contract, token_id, minimum).describe()


# What a holder rule did to a member, as /admin stats counts it (HolderChange.action).
ACTIONS = {
    "grant": N_("grant"),
    "remove": N_("remove"),
    "approve": N_("approve"),
    "decline": N_("decline"),
}


@dataclass(frozen=True)
class HolderStats:
    """What a community's holder rules did: roles (or entries) given and taken (made by the
    platform), members found to hold (`holding`, whether or not they are in the community),
    and decisions the platform has not taken yet."""

    rules: int
    holding: int
    changes: Counter[str]
    pending: int

    def lines(self) -> list[str]:
        if not self.rules and not self.changes:
            return []
        done = ", ".join(
            f"{_(ACTIONS.get(action, action))} {n}" for action, n in sorted(self.changes.items())
        )
        changes = _("Holder role changes: {changes}").format(changes=done or _("none yet"))
        if self.pending:
            changes += " " + _("({count} not applied yet)").format(count=self.pending)
        return [
            _("Holder rules: {rules}; members holding their role: {holding}").format(
                rules=self.rules, holding=self.holding
            ),
            changes,
        ]


class HolderRules:
    """The rules of every community, in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def set(
        self,
        platform: str,
        community_id: str,
        role_id: str,
        gate: HolderGate,
        created_by: str,
    ) -> tuple[Rule, bool]:
        """Make `role_id` follow `gate`'s condition (replacing its rule, if it had one); True
        if the rule is new or changed. Members are decided again by the next pass."""
        token = None if gate.token_id is None else str(gate.token_id)
        async with self.sessions.begin() as session:
            row = await session.scalar(
                select(HolderRule).where(
                    HolderRule.platform == platform,
                    HolderRule.community_id == community_id,
                    HolderRule.role_id == role_id,
                )
            )
            if row is None:
                row = HolderRule(
                    platform=platform,
                    community_id=community_id,
                    role_id=role_id,
                    contract=gate.contract,
                    token_id=token,
                    min_count=gate.min,
                    created_by=created_by,
                )
                session.add(row)
                changed = True
            else:
                changed = (row.contract, row.token_id, row.min_count) != (
                    gate.contract,
                    token,
                    gate.min,
                )
                row.contract, row.token_id, row.min_count = gate.contract, token, gate.min
            await session.flush()
            return Rule.of(row), changed

    async def remove(self, platform: str, community_id: str, role_id: str) -> Rule | None:
        """Stop following `role_id`; the rule it had, if any. Roles given stay with their
        members (taking them all at once is the admin's call, not a side effect)."""
        async with self.sessions.begin() as session:
            row = await session.scalar(
                select(HolderRule).where(
                    HolderRule.platform == platform,
                    HolderRule.community_id == community_id,
                    HolderRule.role_id == role_id,
                )
            )
            if row is None:
                return None
            await session.execute(delete(HolderMember).where(HolderMember.rule_id == row.id))
            await session.delete(row)
            return Rule.of(row)

    async def of(self, platform: str, community_id: str | None = None) -> list[Rule]:
        """The rules of `platform` (of one community, if given)."""
        query = select(HolderRule).where(HolderRule.platform == platform)
        if community_id is not None:
            query = query.where(HolderRule.community_id == community_id)
        async with self.sessions() as session:
            return [Rule.of(r) for r in await session.scalars(query.order_by(HolderRule.id))]

    async def for_chat(self, platform: str, chat_id: str) -> Rule | None:
        """The rule that admits members to the holders-only chat `chat_id`."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(HolderRule).where(
                    HolderRule.platform == platform, HolderRule.role_id == chat_id
                )
            )
        return None if row is None else Rule.of(row)

    async def stats(self, platform: str, community_id: str) -> HolderStats:
        async with self.sessions() as session:
            rules = [
                r.id
                for r in await session.scalars(
                    select(HolderRule).where(
                        HolderRule.platform == platform, HolderRule.community_id == community_id
                    )
                )
            ]
            holding = await session.scalar(
                select(func.count()).where(
                    HolderMember.rule_id.in_(rules), HolderMember.want.is_(True)
                )
            )
            pending = await session.scalar(
                select(func.count()).where(
                    HolderMember.rule_id.in_(rules), HolderMember.applied.is_(False)
                )
            )
            changes = Counter(
                {
                    str(action): int(n)
                    for action, n in await session.execute(
                        select(HolderChange.action, func.count())
                        .where(
                            HolderChange.platform == platform,
                            HolderChange.community_id == community_id,
                            HolderChange.applied_at.is_not(None),
                        )
                        .group_by(HolderChange.action)
                    )
                }
            )
        return HolderStats(len(rules), int(holding or 0), changes, int(pending or 0))
