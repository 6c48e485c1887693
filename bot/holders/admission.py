"""Holders-only chats: a request to join a chat that has a holder rule is approved if the
member holds enough (verified wallet plus custody), declined otherwise, with a private word
saying why, and recorded like a role change."""

from __future__ import annotations

from dataclasses import dataclass

from bot.holders.measure import Held, held_by
from bot.holders.roles import HolderRoles
from bot.holders.rules import Rule
from bot.i18n import _
from db.models import HolderChange, utcnow


@dataclass(frozen=True)
class Admission:
    admit: bool
    rule: Rule
    held: Held

    @property
    def action(self) -> str:
        return "approve" if self.admit else "decline"

    def explanation(self, chat_title: str) -> str:
        """What the member is told privately, in plain text, in the current locale (the
        member's: the join request is theirs)."""
        held = self.held
        values = {"chat": chat_title, "what": self.rule.describe(), "total": held.total}
        if self.admit:
            return _("Welcome to {chat}: it is for {what}, and you hold {total}.").format(**values)
        if held.verified_address is None:
            return _(
                "{chat} is for {what}. You hold {total} in the bot's custody and have no "
                "verified wallet: link yours with /wallet here, then ask to join again."
            ).format(**values)
        return _(
            "{chat} is for {what}; you hold {total} ({wallet} in your wallet, {custody} in "
            "custody). Ask to join again once you hold enough."
        ).format(**values, wallet=held.wallet, custody=held.custody)


async def decide_join(
    roles: HolderRoles, platform: str, chat_id: str, user_id: str
) -> Admission | None:
    """Whether `user_id` may join `chat_id`; None if the chat has no holder rule (its admins
    decide). Raises `HoldingsUnavailable` when the chain does not answer: asked again later."""
    rule = await roles.rules.for_chat(platform, chat_id)
    if rule is None:
        return None
    held = await held_by(
        roles.sessions, roles.holdings, platform, user_id, rule.contract, rule.token_id
    )
    return Admission(held.total >= rule.min_count, rule, held)


async def record_join(roles: HolderRoles, admission: Admission, user_id: str) -> None:
    """Record an approval or a refusal the platform took."""
    rule = admission.rule
    async with roles.sessions.begin() as session:
        session.add(
            HolderChange(
                platform=rule.platform,
                community_id=rule.community_id,
                role_id=rule.role_id,
                user_id=user_id,
                action=admission.action,
                held=admission.held.total,
                cause="join",
                applied_at=utcnow(),
            )
        )
