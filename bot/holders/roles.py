"""Holder roles: a role for every member whose verified address (or the bot's custody for them)
holds enough of a collection, taken back when they no longer do.

Members are decided again when a Transfer log names their address or a token of theirs in
custody, when a transaction of the bot's confirms a mint or a withdrawal of theirs, when they
link a wallet, when a rule is set, and in a full re-check every HOLDER_RECHECK_S and at start
(which also catches what happened while the bot was down, and any log a reorg took away). A
decision (`HolderMember.want`) and its change record are committed before the platform is
told; rows the platform has not taken (`applied` false) are told again, with a bound on
attempts, so a restart repeats at most the last word, and giving a role a member has is
harmless. One member's failure is recorded on their row; the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.holdings import ChainHoldings, HoldingsUnavailable, chain_holdings
from bot.holders.custody import custody_counts
from bot.holders.members import (
    candidates,
    custody_changed,
    custody_of_tokens,
    users_at,
    verified_addresses,
)
from bot.holders.rules import HolderRules, Rule
from bot.holders.transfers import Moves, TransferLogs
from bot.i18n.said import Said
from bot.ports import GateLookups
from db.models import (
    HolderChange,
    HolderMember,
    HolderRule,
    utcnow,
)

if TYPE_CHECKING:
    from bot.chain.setup import Chain
    from bot.chain.watcher import TxWatcher
    from bot.config import Settings
    from bot.wallets import WalletLinks

log = logging.getLogger(__name__)

# Tries to tell the platform one decision before leaving it to the next full re-check.
MAX_ATTEMPTS = 5
# Platform calls in flight at once (each platform's client also keeps to its rate limits).
CONCURRENT_CALLS = 8
# Balances asked of the chain at once in a re-check.
CONCURRENT_READS = 16
# How long a token seen moving is asked about until the database records its move.
WATCH_S = 600.0
# What a member's row says when the platform found them outside the community.
NOT_A_MEMBER = "not a member of the community"
# Members decided, or decisions told, per database transaction (and per IN list).
AT_ONCE = 1_000
# With no rule to follow, how long a process waits before looking for one again: a rule set
# in another process is followed here within this (the setting process decides it at once).
IDLE_S = 5.0


class NotAMember(Exception):
    """The member is not in the community: there is no role to give or take."""


class RoleKeeper(Protocol):
    """A chat platform's side of holder roles."""

    async def set_role(self, community_id: str, user_id: str, role_id: str, present: bool) -> None:
        """Give (`present`) or take the role; doing so twice is harmless. Raise `NotAMember`
        if the user is not in the community, anything else to be asked again later."""


class HolderRoles:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        holdings: ChainHoldings,
        logs: TransferLogs,
        *,
        poll_interval: float,
        recheck_s: float,
    ) -> None:
        self.sessions = sessions
        self.holdings = holdings
        self.lookups = GateLookups(sessions, holdings)  # what holder gates read, through drops
        self.logs = logs
        self.rules = HolderRules(sessions)
        self.poll_interval = poll_interval
        self.recheck_s = recheck_s
        self.keepers: dict[str, RoleKeeper] = {}
        self._attached = asyncio.Event()
        self._wake = asyncio.Event()
        self._confirmed_txs: set[int] = set()
        self._dirty_rules: set[int] = set()
        self._linked: set[tuple[str, str]] = set()
        self._watched: dict[int, float] = {}  # token -> until when it is asked about again

    # ----- who tells us ------------------------------------------------------------------------

    def attach(self, platform: str, keeper: RoleKeeper) -> None:
        """Give and take `platform`'s roles through `keeper` from now on."""
        self.keepers[platform] = keeper
        self._attached.set()

    async def after_look(self, tx_id: int, checked: bool) -> None:
        """The transaction watcher looked at one of the bot's transactions (`TxFollower`):
        if it was confirmed, custody may have changed. Kept only where roles are followed."""
        if checked and self._attached.is_set():  # read at the next pass, within a poll interval
            self._confirmed_txs.add(tx_id)

    def needs_funds(self, reason: Said) -> None:
        """Nothing to do here (`TxFollower`)."""

    def funded(self) -> None:
        """Nothing to do here (`TxFollower`)."""

    def member_linked(self, platform: str, user_id: str) -> None:
        """A member linked another address (`WalletLinks.on_linked`): decide them soon."""
        if self._attached.is_set():
            self._linked.add((platform, user_id))
            self._wake.set()

    def rule_changed(self, rule_id: int) -> None:
        """Decide the rule's members again soon (it was just set)."""
        self._dirty_rules.add(rule_id)
        self._wake.set()

    # ----- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Once a platform is attached: a full re-check, then follow transfers every poll
        interval and re-check in full every `recheck_s`, until cancelled. A failed pass is
        logged and the next one tries again."""
        await self._attached.wait()
        next_full = 0.0
        while True:
            wait = self.poll_interval
            try:
                if time.monotonic() >= next_full:
                    await self.recheck_all()
                    next_full = time.monotonic() + self.recheck_s
                if not await self.follow_once():
                    wait = max(wait, IDLE_S)  # a rule set here wakes it at once
            except Exception as err:
                log.warning("holder roles: %s: %s", type(err).__name__, err)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()

    async def recheck_all(self) -> None:
        for rule in await self._followed_rules():
            await self.decide(rule, None, "recheck")
        async with self.sessions.begin() as session:
            # Failed rows get another bounded round; members who were not in the community
            # are asked once more (they may have joined since).
            await session.execute(
                update(HolderMember)
                .where(HolderMember.applied.is_(False), HolderMember.attempts >= MAX_ATTEMPTS)
                .values(attempts=0)
            )
            await session.execute(
                update(HolderMember)
                .where(HolderMember.applied.is_(True), HolderMember.error == NOT_A_MEMBER)
                .values(applied=False, attempts=0)
            )
        await self.apply_pending()

    async def follow_once(self) -> bool:
        """Decide again the members a new Transfer log, a confirmed transaction of the bot or
        a wallet link names, and the members of rules just set; then tell the platforms.
        False if no rule is followed here."""
        rules = await self._followed_rules()
        if not rules:
            # Nothing to follow (a removed rule takes its members' rows with it): no chain
            # reads, and what was noted meanwhile concerns no rule.
            self._dirty_rules.clear()
            self._confirmed_txs.clear()
            self._linked.clear()
            return False
        dirty, self._dirty_rules = self._dirty_rules, set()
        for rule in rules:
            if rule.id in dirty:
                await self.decide(rule, None, "rule")
        contracts = sorted({r.contract for r in rules})
        moves = await self.logs.next_moves(contracts)
        txs, self._confirmed_txs = self._confirmed_txs, set()
        changed = await custody_changed(self.sessions, txs) if txs else {}
        linked, self._linked = self._linked, set()
        for platform, user_id in linked:
            changed.setdefault(platform, set()).add(user_id)
        for platform, users in (await self._custody_moved(moves)).items():
            changed.setdefault(platform, set()).update(users)
        for rule in rules:
            addresses = moves.addresses.get(rule.contract, set()) if moves else set()
            users = set(changed.get(rule.platform, ()))
            if addresses:
                for address in addresses:
                    self.holdings.forget(address)
                users |= await users_at(self.sessions, rule.platform, addresses)
            if users:
                await self.decide(rule, users, "transfer")
        await self.apply_pending()
        return True

    async def _custody_moved(self, moves: Moves | None) -> dict[str, set[str]]:
        """Members of the tokens that moved, and of those moved earlier whose move the
        database had not recorded yet (another process confirms the bot's transactions): a
        token is asked about again each pass until recorded, for at most `WATCH_S`."""
        now = time.monotonic()
        self._watched = {t: until for t, until in self._watched.items() if until > now}
        tokens = set(self._watched) | (moves.tokens if moves else set())
        if not tokens:
            return {}
        users, unsettled = await custody_of_tokens(self.sessions, tokens)
        self._watched = {t: self._watched.get(t, now + WATCH_S) for t in unsettled}
        return users

    async def _followed_rules(self) -> list[Rule]:
        return [r for p in self.keepers for r in await self.rules.of(p)]

    # ----- deciding ----------------------------------------------------------------------------

    async def decide(self, rule: Rule, users: Iterable[str] | None, cause: str) -> int:
        """Decide whether each of `users` (everyone who might hold, if None) should have the
        rule's role; record what changed. Returns how many changed. A member whose balance
        the chain does not give now keeps their last decision."""
        if users is None:
            async with self.sessions() as session:
                users = await candidates(session, rule)
        ordered = sorted(set(users))
        changed = 0
        for start in range(0, len(ordered), AT_ONCE):
            changed += await self._decide(rule, set(ordered[start : start + AT_ONCE]), cause)
        if changed:
            log.info("holder role %s: %d change(s) (%s)", rule.role_id, changed, cause)
        return changed

    async def _decide(self, rule: Rule, users: set[str], cause: str) -> int:
        async with self.sessions() as session:
            addresses = await verified_addresses(session, rule.platform, users)
            custody = await custody_counts(
                session, rule.platform, rule.contract, rule.token_id, users
            )
        held = await self._balances(rule, addresses)
        changed = 0
        async with self.sessions.begin() as session:
            rows = {
                m.user_id: m
                for m in await session.scalars(
                    select(HolderMember)
                    .where(HolderMember.rule_id == rule.id, HolderMember.user_id.in_(users))
                    # Locked until the commit: another process deciding the same members at
                    # once reads them after it, and records no change twice.
                    .with_for_update()
                )
            }
            for user_id in sorted(users):
                address = addresses.get(user_id)
                wallet = held.get(address) if address else 0
                if wallet is None:
                    continue  # the chain gave no balance: decided at the next look
                total = wallet + custody[user_id]
                want = total >= rule.min_count
                row = rows.get(user_id)
                if row is None and not want:
                    continue  # never given by us: nothing to take
                if row is None:
                    row = HolderMember(rule_id=rule.id, user_id=user_id, want=want, held=total)
                    row.applied, row.attempts = False, 0
                    session.add(row)
                elif row.want == want:
                    row.held = total
                    continue
                else:
                    row.want, row.held, row.applied, row.attempts = want, total, False, 0
                    row.error = None
                changed += 1
                session.add(
                    HolderChange(
                        platform=rule.platform,
                        community_id=rule.community_id,
                        role_id=rule.role_id,
                        user_id=user_id,
                        action="grant" if want else "remove",
                        held=total,
                        cause=cause,
                    )
                )
        return changed

    async def _balances(self, rule: Rule, addresses: dict[str, str]) -> dict[str, int | None]:
        """Each address's balance, fresh from the chain; None where it gave none."""
        limit = asyncio.Semaphore(CONCURRENT_READS)

        async def one(address: str) -> tuple[str, int | None]:
            async with limit:
                try:
                    return address, await self.holdings.fresh(rule.contract, address, rule.token_id)
                except HoldingsUnavailable as err:
                    log.warning("holder role %s: %s", rule.role_id, err)
                    return address, None

        return dict(await asyncio.gather(*(one(a) for a in set(addresses.values()))))

    # ----- telling the platforms ---------------------------------------------------------------

    async def apply_pending(self) -> int:
        """Tell the platforms every decision they have not taken; returns how many took.
        What they took is recorded together at the end, in one transaction."""
        async with self.sessions() as session:
            rows = [
                (Rule.of(rule), member.user_id, member.want)
                for member, rule in await session.execute(
                    select(HolderMember, HolderRule)
                    .join(HolderRule, HolderRule.id == HolderMember.rule_id)
                    .where(
                        HolderMember.applied.is_(False),
                        HolderMember.attempts < MAX_ATTEMPTS,
                        HolderRule.platform.in_(list(self.keepers)),
                    )
                    .limit(AT_ONCE)
                )
            ]
        if not rows:
            return 0
        limit = asyncio.Semaphore(CONCURRENT_CALLS)

        async def one(rule: Rule, user_id: str, want: bool) -> str | Exception | None:
            async with limit:
                keeper = self.keepers[rule.platform]
                try:
                    await keeper.set_role(rule.community_id, user_id, rule.role_id, want)
                except NotAMember:
                    return NOT_A_MEMBER
                except Exception as err:  # this member alone waits for the next pass
                    log.warning("holder role %s for %s: %r", rule.role_id, user_id, err)
                    return err
                return None

        outcomes = await asyncio.gather(*(one(*row) for row in rows))
        await self._record_applied(list(zip(rows, outcomes, strict=True)))
        if len(rows) == AT_ONCE:
            self._wake.set()  # more are waiting: the next pass comes at once
        return sum(outcome is None for outcome in outcomes)

    async def _record_applied(
        self, told: list[tuple[tuple[Rule, str, bool], str | Exception | None]]
    ) -> None:
        """Record what the platforms took (only the decision that was told: a newer one made
        meanwhile is told next pass) and count a try against those that failed."""
        taken: dict[tuple[Rule, bool, str | None], list[str]] = {}
        async with self.sessions.begin() as session:
            for (rule, user_id, want), outcome in told:
                if isinstance(outcome, Exception):
                    await session.execute(
                        update(HolderMember)
                        .where(*_decided(rule, [user_id], want))
                        .values(attempts=HolderMember.attempts + 1, error=repr(outcome)[:500])
                    )
                else:
                    taken.setdefault((rule, want, outcome), []).append(user_id)
            for (rule, want, note), users in taken.items():
                await session.execute(
                    update(HolderMember)
                    .where(*_decided(rule, users, want))
                    .values(applied=True, error=note)
                )
                # A change counts once the platform made it; for someone not in the
                # community it stays unmade (and is made if they are found there later).
                await session.execute(
                    update(HolderChange)
                    .where(
                        HolderChange.platform == rule.platform,
                        HolderChange.community_id == rule.community_id,
                        HolderChange.role_id == rule.role_id,
                        HolderChange.user_id.in_(users),
                        HolderChange.action == ("grant" if want else "remove"),
                        HolderChange.applied_at.is_(None),
                    )
                    .values(applied_at=None if note else utcnow(), error=note)
                )


def _decided(rule: Rule, users: list[str], want: bool) -> list[ColumnElement[bool]]:
    return [
        HolderMember.rule_id == rule.id,
        HolderMember.user_id.in_(users),
        HolderMember.want.is_(want),
    ]


def holder_roles(
    settings: Settings,
    chain: Chain,
    sessions: async_sessionmaker[AsyncSession],
    watchers: Iterable[TxWatcher],
    wallets: WalletLinks,
) -> HolderRoles:
    """The bot's holder roles, following the transaction watchers' looks and members' wallet
    links; its `holdings` are what the holder gate reads too."""
    roles = HolderRoles(
        sessions,
        chain_holdings(settings, chain.w3),
        TransferLogs(chain.w3, sessions, chain.chain_id, settings.rpc_timeout),
        poll_interval=settings.poll_interval,
        recheck_s=settings.holder_recheck_s,
    )
    for watcher in watchers:
        watcher.follow(roles)
    wallets.on_linked.append(roles.member_linked)
    return roles
