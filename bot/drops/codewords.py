"""Codeword drops (`Runtime.codewords`): admins give a drop a secret word or single-use codes;
members claim it with one.

A claim with a code goes: the drop must be open (a code expires with its drop); a slot of
the member's and the drop's wrong tries is taken (`code_tries`); the word is compared, or a
single-use code is reserved for the member by a conditional UPDATE (free, or already theirs);
then the claim is submitted through `Drops.claim` with the code among the claimant's facts,
which the codeword gate asks for. A single-use code claims with the source "code:<its row>",
so whatever delivers it again (a redelivered message, a retry after a crash between the
reservation and the claim) gets that one claim back. A refused claim (sold out, limit) frees
the code; a recorded one marks it used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.drops.code_tries import CodeTriesCounter
from bot.drops.codes import (
    MAX_BATCH,
    MAX_CODES,
    MIN_WORD,
    CodeKey,
    code_key,
    code_length,
    new_code,
    read_code,
    read_word,
    shown,
)
from bot.drops.gates import store_gates
from bot.drops.gates.codeword import CodeGiven, CodewordGate
from bot.drops.service import Drops, drop_info
from bot.drops.types import ClaimResult, DropInfo, known_id
from bot.env_values import Secret
from bot.errors import (
    CodeRefused,
    DropClosed,
    DropNotFound,
    DropNotOpen,
    DropSoldOut,
    RequestRejected,
)
from bot.i18n import N_, _
from bot.inbox_rows import withhold_typed
from bot.ports import Claimant
from db.engine import insert_unless_present
from db.models import Drop, DropCode, DropCodeword, utcnow

# What stands in the inbox for a code or word once acted on (`Codewords.forget_typed`).
WITHHELD = "[code withheld]"
_CODES: Table = DropCode.__table__  # type: ignore[assignment]
_BOOKS: Table = DropCodeword.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class CodeClaim:
    """A claim made with a code: the edition, and whether the code was single-use."""

    drop: DropInfo
    result: ClaimResult
    single_use: bool

    @property
    def text(self) -> str:
        """What the member is told, in plain words, in the current locale (adapters mark the
        name up)."""
        edition = f"{self.drop.name} {self.result.edition_text}"
        if self.result.duplicate and self.single_use:
            message = _("This code was already used: it claimed {edition} for you.")
        elif self.result.duplicate:
            message = _("You claimed {edition} with this message already.")
        else:
            message = _("You claimed {edition}! Minting it now.")
        return message.format(edition=edition)


@dataclass(frozen=True)
class CodeCounts:
    """A drop's codes: how many were made and used, and whether it has a word."""

    issued: int
    used: int
    word: bool


class Codewords:
    """Secret words and single-use codes of drops, and claims made with them."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        drops: Drops,
        key: CodeKey,
        tries: CodeTriesCounter | None = None,
    ) -> None:
        self.sessions = sessions
        self.drops = drops
        self.key = key
        self.tries = tries or CodeTriesCounter(sessions)

    @classmethod
    def keyed(cls, drops: Drops, secret: Secret | None, data_dir: Path) -> Codewords:
        """The service on the drops' database, its key `secret` or the one kept in
        `data_dir` (`codes.code_key`)."""
        return cls(sessions=drops.sessions, drops=drops, key=code_key(secret, data_dir))

    # ----- admins ------------------------------------------------------------------------

    async def make_codes(self, drop_id: int, count: int) -> list[str]:
        """`count` new single-use codes for the drop, as handed out (the only time they
        exist outside members' hands); the drop is claimed with a code from now on."""
        if not 1 <= count <= MAX_BATCH:
            raise RequestRejected(
                N_("Make between 1 and {most} codes at a time."), most=f"{MAX_BATCH:,}"
            )
        codes: list[str] = []
        async with self.sessions.begin() as session:
            drop = await self._codeword_drop(session, drop_id)
            issued = await session.scalar(
                select(func.count()).select_from(_CODES).where(_CODES.c.drop_id == drop.id)
            )
            issued = int(issued or 0)
            if issued + count > MAX_CODES:
                raise RequestRejected(
                    N_("A drop has at most {most} codes; this one has {issued}."),
                    most=f"{MAX_CODES:,}",
                    issued=f"{issued:,}",
                )
            while len(codes) < count:
                batch = [new_code(code_length(issued + len(codes) + i)) for i in range(count)]
                batch = list(dict.fromkeys(batch))[: count - len(codes)]
                rows = [
                    {"drop_id": drop.id, "digest": self.key.digest(drop.id, "code", code)}
                    for code in batch
                ]
                inserted = await session.execute(
                    insert_unless_present(session, _CODES).returning(_CODES.c.digest), rows
                )
                fresh = {digest for (digest,) in inserted}
                # A code drawn twice (one in 2^30 or less) is drawn again.
                codes += [c for c, r in zip(batch, rows, strict=True) if r["digest"] in fresh]
        return [shown(code) for code in codes]

    async def set_word(self, drop_id: int, word: str) -> None:
        """Set (or replace) the drop's secret word; the drop is claimed with a code from now
        on. Raises `RequestRejected` for a word too short to keep anyone out."""
        read = read_word(word)
        if WITHHELD in word:  # a command handled already, dispatched again
            raise RequestRejected(N_("This was handled already; send the word again to change it."))
        if len(read) < MIN_WORD:
            raise RequestRejected(
                N_("The secret word needs at least {least} letters or digits."), least=MIN_WORD
            )
        async with self.sessions.begin() as session:
            drop = await self._codeword_drop(session, drop_id)
            await session.execute(
                update(_BOOKS)
                .where(_BOOKS.c.drop_id == drop.id)
                .values(word_digest=self.key.digest(drop.id, "word", read))
            )

    async def counts(self, drop_id: int) -> CodeCounts:
        """How many codes the drop has and how many were used."""
        known_id(drop_id)
        async with self.sessions() as session:
            issued, used = (
                await session.execute(
                    select(func.count(), func.count(_CODES.c.used_at)).where(
                        _CODES.c.drop_id == drop_id
                    )
                )
            ).one()
            word = await session.scalar(
                select(_BOOKS.c.word_digest).where(_BOOKS.c.drop_id == drop_id)
            )
        return CodeCounts(int(issued), int(used), word is not None)

    async def _codeword_drop(self, session: AsyncSession, drop_id: int) -> Drop:
        """The drop (locked), made a codeword drop if it is not one yet."""
        known_id(drop_id)
        drop = await session.scalar(select(Drop).where(Drop.id == drop_id).with_for_update())
        if drop is None:
            raise DropNotFound(N_("There is no drop #{id}."), id=drop_id)
        if drop_info(drop).is_over(utcnow()):
            raise DropClosed(N_("{name} is over: it takes no more codes."), name=drop.name)
        gates = drop_info(drop).gates
        if not any(isinstance(g, CodewordGate) for g in gates):
            drop.gates = store_gates([*gates, CodewordGate()])
        await session.execute(
            insert_unless_present(session, _BOOKS).values(
                drop_id=drop.id, key_id=self.key.key_id, wrong=0, created_at=utcnow()
            )
        )
        self._same_key(
            await session.scalar(select(_BOOKS.c.key_id).where(_BOOKS.c.drop_id == drop.id))
        )
        return drop

    def _same_key(self, key_id: str | None) -> None:
        if key_id is not None and key_id != self.key.key_id:
            raise RequestRejected(
                N_(
                    "This drop's codes were made with another CODEWORD_SECRET than this bot's: "
                    "they cannot be checked here. Tell the bot's operator."
                )
            )

    # ----- members -----------------------------------------------------------------------

    async def open_drops(self, platform: str, community_id: str | None = None) -> list[DropInfo]:
        """The open drops claimed with a code, on `platform` (in one community, if given)."""
        async with self.sessions() as session:
            query = (
                select(Drop)
                .join(_BOOKS, _BOOKS.c.drop_id == Drop.id)
                .where(Drop.platform == platform)
            )
            if community_id is not None:
                query = query.where(Drop.community_id == community_id)
            drops = [drop_info(d) for d in await session.scalars(query.order_by(Drop.id))]
        now = utcnow()
        return [d for d in drops if d.status(now) == "open"]

    async def claim(
        self,
        drop_id: int,
        claimant: Claimant,
        user_name: str,
        code: str,
        *,
        reply_to: dict[str, object] | None = None,
        source: str | None = None,
    ) -> CodeClaim:
        """Claim the drop with `code` (its word or one of its single-use codes). `source` keys
        a claim with the word as `Drops.claim` does; a single-use code keys its own. Raises
        `CodeRefused` (wrong, used, or no code drop), `CodeLocked` (too many wrong codes),
        or what `Drops.claim` raises."""
        drop = await self.drops.info(drop_id)
        if not any(isinstance(g, CodewordGate) for g in drop.gates):
            raise CodeRefused(
                N_("{name} is not claimed with a code: use its Claim button."), name=drop.name
            )
        _expired_with(drop)
        as_word, as_code = read_word(code), read_code(code)
        if WITHHELD in code:  # a claim handled already, dispatched again
            raise CodeRefused(N_("This claim was handled already; send the code again to retry."))
        if not as_word:
            raise CodeRefused(N_("Send the code with the command: /claim {id} CODE"), id=drop.id)
        now = utcnow()
        async with self.sessions() as session:
            book = (
                await session.execute(
                    select(_BOOKS.c.word_digest, _BOOKS.c.key_id).where(_BOOKS.c.drop_id == drop.id)
                )
            ).first()
        if book is None:
            raise CodeRefused(
                N_("{name} has no codes yet; ask an admin of the drop."), name=drop.name
            )
        self._same_key(book.key_id)
        await self.tries.take(drop.id, claimant, now)
        word = book.word_digest is not None and self.key.matches(
            book.word_digest, self.key.digest(drop.id, "word", as_word)
        )
        code_id = None
        if not word and as_code:
            code_id = await self._reserve(drop, claimant, as_code)
        if not word and code_id is None:
            left = await self.tries.left(drop.id, claimant, now)
            if not left:
                raise CodeRefused(N_("That is not a code of {name}."), name=drop.name)
            raise CodeRefused(N_("That is not a code of {name}. {left}"), name=drop.name, left=left)
        await self.tries.give_back(drop.id, claimant)
        given = dataclasses.replace(
            claimant, facts={**claimant.facts, CodewordGate(): CodeGiven(drop.id)}
        )
        try:
            result = await self.drops.claim(
                drop.id,
                given,
                user_name,
                reply_to=reply_to,
                source=f"code:{code_id}" if code_id is not None else source,
            )
        except RequestRejected:
            if code_id is not None:
                await self._release(code_id, claimant)
            raise
        if code_id is not None:
            await self._mark_used(code_id)
        return CodeClaim(drop, result, single_use=code_id is not None)

    async def forget_typed(self, platform: str, update_id: str, typed: str) -> None:
        """Take what a member (or an admin) typed, a code or a word, out of the inbox's copy
        of their update (kept there for a re-dispatch), once it was acted on: a database copy
        must not give away a code a refused claim freed, nor a drop's word. An update handled
        again after this finds `WITHHELD` in its place."""
        await withhold_typed(self.sessions, platform, update_id, typed, WITHHELD)

    async def _reserve(self, drop: DropInfo, claimant: Claimant, code: str) -> int | None:
        """The code's row, reserved for the claimant (free before, or theirs already); None
        if the drop has no such code. Raises `CodeRefused` if another member has it."""
        digest = self.key.digest(drop.id, "code", code)
        mine = (_CODES.c.platform == claimant.platform) & (_CODES.c.user_id == claimant.user_id)
        async with self.sessions.begin() as session:
            await session.execute(
                update(_CODES)
                .where(_CODES.c.drop_id == drop.id, _CODES.c.digest == digest)
                .where(_CODES.c.platform.is_(None) | mine)
                .values(platform=claimant.platform, user_id=claimant.user_id, reserved_at=utcnow())
            )
            row = (
                await session.execute(
                    select(_CODES.c.id, _CODES.c.platform, _CODES.c.user_id).where(
                        _CODES.c.drop_id == drop.id, _CODES.c.digest == digest
                    )
                )
            ).first()
        if row is None:
            return None
        if (row.platform, row.user_id) != (claimant.platform, claimant.user_id):
            await self.tries.give_back(drop.id, claimant)  # not a guess: the code exists
            raise CodeRefused(N_("This code was already used."))
        return int(row.id)

    async def _release(self, code_id: int, claimant: Claimant) -> None:
        """Free a code whose claim was refused, unless a claim of it was recorded."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(_CODES)
                .where(
                    _CODES.c.id == code_id,
                    _CODES.c.used_at.is_(None),
                    _CODES.c.platform == claimant.platform,
                    _CODES.c.user_id == claimant.user_id,
                )
                .values(platform=None, user_id=None, reserved_at=None)
            )

    async def _mark_used(self, code_id: int) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(_CODES)
                .where(_CODES.c.id == code_id, _CODES.c.used_at.is_(None))
                .values(used_at=utcnow())
            )


def _expired_with(drop: DropInfo) -> None:
    """A code is good only while its drop is open: checked before any code is looked at."""
    status = drop.status(utcnow())
    if status in ("closed", "ended"):
        raise DropClosed(N_("{name} is over: its codes expired with it."), name=drop.name)
    if status == "sold out":
        raise DropSoldOut(
            N_("Sold out: all {supply} editions of {name} are claimed."),
            supply=drop.supply or 0,
            name=drop.name,
        )
    if status == "not open yet":
        raise DropNotOpen(
            N_("{name} is not open yet; claim it with your code once it is."), name=drop.name
        )


def codes_csv(drop_id: int, codes: Sequence[str]) -> str:
    """The codes as the admin gets them: a CSV file, one code a line."""
    return "drop,code\n" + "".join(f"{drop_id},{code}\n" for code in codes)
