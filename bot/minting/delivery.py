"""The last stage of the mint pipeline: decided (confirmed, rejected, failed) -> answered.

Each request is answered by whoever answers its origin (the `platform` it was made on): an
answerer registered for that origin (drops, the CLI), else the running chat platform of that
name. A confirmed mint is then announced where its community wants it, through its platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, Table, bindparam, case, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chain.faults import crash_point
from bot.communities import Communities
from bot.config import Settings
from bot.i18n import speaking
from bot.metrics import PipelineMetrics
from bot.minting.answer_claims import MESSAGE_CLASS, AnswerClaims, message_key
from bot.minting.progress import Progress
from bot.minting.queries import MintQueries, request_key
from bot.minting.types import MintResult
from bot.ports import Answerer, ChatPlatform, NotReachableHere, RunningPlatforms
from db.models import UNANSWERED, ChainTx, MintRequest, Phase, aware_utc, utcnow

log = logging.getLogger(__name__)

DELIVERY_GROUP = 200
# Looks past requests another process is answering before a round gives up for now.
CLAIM_LOOKS = 3
# An answer may take long to show (a chat at its flood limit, a slow platform). A round
# records the answers shown within ROUND_WAIT_S and ends; each slower one is recorded on its
# own when it is shown, and the next round answers requests decided since, beside them. At
# most ROUNDS_AT_ONCE rounds, and ANSWERS_AT_ONCE answers, are under way at once.
ROUND_WAIT_S = 1.0
ROUNDS_AT_ONCE = 4
ANSWERS_AT_ONCE = 2000
# Seconds before a failed answer is tried again, doubling up to the most.
ANSWER_RETRY_FIRST = 1.0
ANSWER_RETRY_MAX = 600.0
# How often an answer whose platform does not run in this process looks for it again.
AWAY_RECHECK = timedelta(seconds=10)

_REQUESTS: Table = MintRequest.__table__  # type: ignore[assignment]
_TXS: Table = ChainTx.__table__  # type: ignore[assignment]
Due = Row[*tuple[Any, ...]]  # a mint_request row and its transaction's hash (`tx_hash`)
# Answered requests: one statement, so that each row changes once in the transaction. A row
# changed twice in one transaction has its foreign keys checked again (PostgreSQL then locks
# its chain_tx row), which deadlocked with the watcher confirming that transaction.
_ANSWERED = (
    update(_REQUESTS)
    .where(
        _REQUESTS.c.id.in_(bindparam("b_ids", expanding=True)),
        or_(_REQUESTS.c.phase == Phase.CONFIRMED, _REQUESTS.c.answered_at.is_(None)),
    )
    .values(
        phase=case((_REQUESTS.c.phase == Phase.CONFIRMED, Phase.REPLIED), else_=_REQUESTS.c.phase),
        answered_at=func.coalesce(_REQUESTS.c.answered_at, bindparam("b_at")),
    )
)
# Tries at recording a round's answers, against a database that refuses for a moment.
RECORD_TRIES = 3
# A failed answer: its tries, when the next is due, why, and whether it is given up.
_ANSWER_FAILED = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("b_id"), _REQUESTS.c.answered_at.is_(None))
    .values(
        answer_attempts=bindparam("b_attempts"),
        answer_due_at=bindparam("b_due"),
        answer_error=bindparam("b_error"),
        undeliverable_at=bindparam("b_given_up"),
        # Kept as it was: it tells when the outcome was decided, which bounds the retries.
        updated_at=_REQUESTS.c.updated_at,
    )
)


class Delivery:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        communities: Communities,
        platforms: RunningPlatforms,
        queries: MintQueries,
        progress: Progress,
        metrics: PipelineMetrics,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.communities = communities
        self.platforms = platforms
        self.queries = queries
        self.progress = progress
        self.metrics = metrics
        self._answerers: dict[str, Answerer] = {}
        self._rounds: set[asyncio.Task[bool]] = set()
        self._slow: set[asyncio.Task[None]] = set()  # answers left by their round, recording
        self._answering: set[int] = set()  # requests being answered (and not yet recorded)
        # Other processes answering too (PostgreSQL): each request's claim, held until recorded.
        self.claims = AnswerClaims(sessions.kw.get("bind"))
        # Shared messages (`answered_in`) claimed here: requests being answered in each.
        self._in_message: Counter[int] = Counter()
        self._message_of: dict[int, int] = {}  # request -> its message's claim
        self._selecting = asyncio.Lock()  # a round takes its requests, then the next one
        self._stopping = False
        # A platform that starts running may have answers waiting for it.
        platforms.on_add(lambda _platform: progress.finalised.set())

    def answer_through(self, origin: str, answerer: Answerer) -> None:
        """Answer the requests of `origin` through `answerer` (for origins that are not a chat
        platform of their own: drop claims, the CLI)."""
        self._answerers[origin] = answerer
        self.progress.finalised.set()

    def answerer_of(self, origin: str) -> Answerer | None:
        """Who answers requests made on `origin` now, if anyone."""
        return self._answerers.get(origin) or self.platforms.get(origin)

    def _origins(self) -> list[str]:
        return [*self._answerers, *(p.name for p in self.platforms)]

    async def run(self, look_every: float = 5.0) -> None:
        """Answer decided requests until cancelled, in rounds of up to ROUNDS_AT_ONCE at a
        time, each a task of its own (so that stopping can let them finish recording). Woken
        by this process's stages, and every `look_every` seconds for what others decided."""
        finalised = self.progress.finalised
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(look_every):
                    await finalised.wait()
            finalised.clear()
            while len(self._rounds) >= ROUNDS_AT_ONCE or len(self._answering) >= ANSWERS_AT_ONCE:
                await asyncio.wait(self._rounds | self._slow, return_when=asyncio.FIRST_COMPLETED)
            if self._stopping:
                return
            answering = asyncio.create_task(self._round(), name="deliver-answers")
            self._rounds.add(answering)
            answering.add_done_callback(self._rounds.discard)

    async def _round(self) -> bool:
        try:
            more = await self.deliver_due()
        except Exception as err:
            log.warning("answering: %s; retrying", type(err).__name__)
            await asyncio.sleep(1)
            more = True
        if more:
            self.progress.finalised.set()
        return more

    async def stop(self, grace: float) -> None:
        """Start no more rounds, and give the answers being given now up to `grace` seconds to
        be recorded, so a user who was answered is not answered again after a restart; then
        cancel what is left."""
        self._stopping = True
        if self._rounds or self._slow:
            await asyncio.wait(self._rounds | self._slow, timeout=grace)
        for left in [*self._rounds, *self._slow]:
            left.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await left
        await self.claims.close()  # what is left unrecorded, another process may answer

    async def deliver_due(self) -> bool:
        """Answer decided requests through their origin's answerer and record that they were
        answered, one transaction for the group. Returns whether more may be due.

        An answer that fails waits its turn apart (its back-off is in the database, so it
        never holds up the others and survives a restart); one that keeps failing is given
        up, recorded as undeliverable with its last error. Requests another round is
        answering are left to it."""
        async with self._selecting:
            due = await self._take_due()
        if not due:
            return False
        try:
            results = [self.queries.render(row, row.tx_hash) for row in due]
            if any(r.phase == Phase.CONFIRMED for r in results):
                crash_point("after_confirm", self.settings.crash_at)
            answers = {
                asyncio.ensure_future(self._answer(result)): (row, result)
                for row, result in zip(due, results, strict=True)
            }
        except BaseException:
            await self._done_with({row.id for row in due})
            raise
        try:
            shown, slow = await asyncio.wait(answers, timeout=ROUND_WAIT_S)
        except asyncio.CancelledError:  # stopping: what is not recorded is answered after
            for answer in answers:
                answer.cancel()
            self._answering.difference_update(row.id for row in due)
            raise
        for answer in slow:
            recording = asyncio.create_task(self._record_when_done(answer, answers[answer]))
            self._slow.add(recording)
            recording.add_done_callback(self._slow.discard)
        await self._record([(answer, *answers[answer]) for answer in shown])
        return True

    async def _record_when_done(
        self, answer: asyncio.Future[None], of: tuple[Due, MintResult]
    ) -> None:
        try:
            await asyncio.wait([answer])
        except asyncio.CancelledError:
            answer.cancel()  # stopping: not recorded, so answered after the restart
            self._answering.discard(of[0].id)
            raise
        await self._record([(answer, *of)])

    async def _take_due(self) -> list[Due]:
        """Up to DELIVERY_GROUP requests due an answer that no round of this process, nor
        another process, is answering; this process holds their claims."""
        due: list[Due] = []
        passed: set[int] = set()  # claimed by another process: look past them
        for _ in range(CLAIM_LOOKS):
            found = await self._due_rows(passed)
            if not found:
                break
            claimed = await self.claims.claim([row.id for row in found])
            passed.update(row.id for row in found if row.id not in claimed)
            if claimed and self.claims.shared:
                # Answered and recorded by another process before this one claimed it?
                still = {row.id for row in await self._due_rows(set(), only=claimed)}
                await self.claims.release(claimed - still)
                claimed = still
            due = await self._held_messages([row for row in found if row.id in claimed], passed)
            if due:
                break
        self._answering.update(row.id for row in due)
        return due

    async def _due_rows(self, passed: set[int], only: set[int] | None = None) -> list[Due]:
        # Rows, not ORM objects: a round answers up to DELIVERY_GROUP requests.
        r = _REQUESTS.c
        async with self.sessions() as session:
            return list(
                (
                    await session.execute(
                        select(_REQUESTS, _TXS.c.mined_hash.label("tx_hash"))
                        .outerjoin(_TXS, _TXS.c.id == r.tx_id)
                        .where(
                            r.phase.in_(UNANSWERED),
                            r.answered_at.is_(None),
                            r.undeliverable_at.is_(None),
                            r.platform.in_(self._origins()),
                            or_(r.answer_due_at.is_(None), r.answer_due_at <= utcnow()),
                            r.id.not_in(self._answering | passed),
                            *([r.id.in_(only)] if only is not None else []),
                        )
                        .order_by(r.id)
                        .limit(DELIVERY_GROUP)
                    )
                ).all()
            )

    async def _held_messages(self, due: list[Due], passed: set[int]) -> list[Due]:
        """Those of `due` this process may answer: each answered in a message of its own, or
        in a shared message this process holds or now claims (`bot.minting.answer_claims`).
        The others' claims go back, and the round looks past them."""
        keys = {r.id: message_key(r.chat_id, r.answered_in) for r in due if r.answered_in}
        wanted = {key for key in keys.values() if not self._in_message[key]}
        held = await self.claims.claim(wanted, MESSAGE_CLASS) if wanted else set()
        refused = {i for i, key in keys.items() if key in wanted and key not in held}
        if refused:
            await self.claims.release(refused)
            passed.update(refused)
        for request_id, key in keys.items():
            if request_id not in refused:
                self._in_message[key] += 1
                self._message_of[request_id] = key
        return [row for row in due if row.id not in refused]

    async def _done_with(self, ids: set[int]) -> None:
        """These requests are no longer being answered here: recorded, or left for later."""
        self._answering.difference_update(ids)
        await self.claims.release(ids)
        free = []
        for request_id in ids:
            key = self._message_of.pop(request_id, None)
            if key is not None:
                self._in_message[key] -= 1
                if not self._in_message[key]:
                    del self._in_message[key]
                    free.append(key)
        await self.claims.release(free, MESSAGE_CLASS)

    async def _record(self, answers: list[tuple[asyncio.Future[None], Due, MintResult]]) -> None:
        """Record how these answers went, in one transaction, then announce the mints among
        them that were answered; they are no longer being answered either way."""
        if not answers:
            return
        try:
            answered = []
            retries = []
            for answer, request, _ in answers:
                outcome = answer.exception()
                if isinstance(outcome, NotReachableHere):
                    retries.append(self._answer_away(request, outcome))
                elif outcome is not None:
                    retries.append(self._answer_failed(request, outcome))
                    self.metrics.answer_failures.inc()
                else:
                    answered.append(request.id)
            # The answers were given: recording them is retried (it is idempotent) rather than
            # left to a later round, which would give them again.
            for attempt in range(1, RECORD_TRIES + 1):
                try:
                    async with self.sessions.begin() as session:
                        if answered:
                            await session.execute(_ANSWERED, {"b_ids": answered, "b_at": utcnow()})
                        if retries:
                            await session.execute(_ANSWER_FAILED, retries)
                    break
                except DBAPIError:
                    if attempt == RECORD_TRIES:
                        raise
                    await asyncio.sleep(0.1 * attempt)
        finally:
            await self._done_with({request.id for _, request, _ in answers})
        done = set(answered)
        await self._announce([r for _, _, r in answers if r.minted and r.request_id in done])

    async def _answer(self, result: MintResult) -> None:
        answerer = self.answerer_of(result.platform)
        if answerer is None:  # it stopped running since the requests were selected
            raise NotReachableHere(f"nobody answers requests made on {result.platform!r} now")
        # Said in the language the member asked in, recorded with the request (each answer
        # runs in a task of its own, so the locale holds for it alone).
        with speaking(result.locale):
            await answerer.deliver(result)

    def _answer_away(self, request: Due, away: NotReachableHere) -> dict[str, Any]:
        """Parameters of `_ANSWER_FAILED` for an answer that cannot be given from here now:
        looked at again soon, its tries unchanged, until the give-up time bounds it."""
        if utcnow() - aware_utc(request.updated_at) >= self.settings.answer_give_up_after:
            return self._answer_failed(request, away)
        return {
            "b_id": request.id,
            "b_attempts": request.answer_attempts,
            "b_due": utcnow() + AWAY_RECHECK,
            "b_error": request.answer_error,
            "b_given_up": None,
        }

    def _answer_failed(self, request: Due, error: BaseException) -> dict[str, Any]:
        """Parameters of `_ANSWER_FAILED`: when to try again, or that it is given up."""
        tries = request.answer_attempts + 1
        delay = min(ANSWER_RETRY_FIRST * 2 ** (tries - 1), ANSWER_RETRY_MAX)
        now = utcnow()
        decided = aware_utc(request.updated_at)
        give_up = (
            tries >= self.settings.answer_max_attempts
            or now - decided >= self.settings.answer_give_up_after
        )
        text = f"{type(error).__name__}: {error}"[:500]
        if give_up:
            log.error(
                "answering %s failed %d times; giving up: %s", request_key(request), tries, text
            )
        else:
            log.warning(
                "answering %s failed (%s); retrying in %.0f s", request_key(request), text, delay
            )
        return {
            "b_id": request.id,
            "b_attempts": tries,
            "b_due": now + timedelta(seconds=delay),
            "b_error": text,
            "b_given_up": now if give_up else None,
        }

    async def _announce(self, results: list[MintResult]) -> None:
        """Post newly answered mints where their community wants them. Best effort: a failed
        announcement is logged and not retried, so it never repeats the requester's answer."""
        posts = []
        targets: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        for result in results:
            platform: ChatPlatform | None = self.platforms.get(result.platform)
            if platform is None or result.community_id is None:
                continue
            community = (result.platform, result.community_id)
            if community not in targets:
                config = await self.communities.config(*community)
                targets[community] = (config.announce_channel_id, config.locale)
            target, locale = targets[community]
            if target:
                posts.append((result, platform.announce(result, target, locale)))
        outcomes = await asyncio.gather(*(post for _, post in posts), return_exceptions=True)
        for (result, _), outcome in zip(posts, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("announcing %s failed: %s", result.key, outcome)
