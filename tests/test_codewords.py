"""Codeword drops in the core: a drop claimed with its secret word or single-use codes, the
codes kept only as keyed digests, wrong codes counted in the database (shared by every
process), used codes and codes of a drop that is over, and whatever a member types failing
only their own request."""

from __future__ import annotations

import asyncio
import contextlib
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from bot.app import Runtime, open_runtime
from bot.config import load_settings
from bot.drops.allowlists import Allowlists
from bot.drops.code_tries import PER_MEMBER, CodeTriesCounter
from bot.drops.codes import ALPHABET, CodeKey, read_code, read_word
from bot.drops.codewords import Codewords, codes_csv
from bot.drops.types import DropInfo
from bot.errors import (
    CodeLocked,
    CodeRefused,
    DropClosed,
    DropLimitReached,
    NotAllowed,
    RequestRejected,
)
from bot.ports import Claimant
from bot.telegram.handlers.codewords import parse_claim
from db.models import CodeTries, DropCode, DropCodeword, utcnow
from tests.platform_stub import RecordingPlatform
from tests.support import CliResult, Inbox, answered, png, run_cli


async def code_drop(runtime: Runtime, name: str = "Harbour", **more: Any) -> DropInfo:
    return await runtime.drops.create_drop(
        platform="test", community_id="g", created_by="admin", name=name, image=png(21), **more
    )


@pytest.fixture
def codebot(bot: tuple[Runtime, Inbox]) -> tuple[Runtime, Inbox]:
    """The bot, with a "test" platform its claimers are answered on."""
    runtime, inbox = bot
    runtime.platforms.add(RecordingPlatform("test", inbox))
    return runtime, inbox


def member(user: str) -> Claimant:
    return Claimant("test", user)


# ----- reading codes ---------------------------------------------------------------------------


def test_codes_read_forgivingly_and_words_ignore_case_and_punctuation() -> None:
    assert read_code(" ab-c d0 ") == "ABCD0"
    assert read_code("oil") == "011"  # O, I and L read as 0, 1, 1
    assert read_code("ÄBC") == "" and read_code("x" * 65) == ""
    assert read_word("Harbour  Lights!") == read_word("harbour-lights") == "harbourlights"
    assert read_word("ＨＡＲＢＯＵＲ") == "harbour"  # full-width forms read as themselves (NFKC)
    assert len(ALPHABET) == 32 == len(set(ALPHABET))


# ----- claiming with codes ---------------------------------------------------------------------


async def test_a_code_claims_once_and_then_says_it_was_used(codebot: tuple[Runtime, Inbox]):
    runtime, inbox = codebot
    drop = await code_drop(runtime, supply=10)
    codes = await runtime.codewords.make_codes(drop.id, 3)
    assert len(set(codes)) == 3 and all(len(c) == 6 and set(c) <= set(ALPHABET) for c in codes)
    assert codes_csv(drop.id, codes).splitlines()[1] == f"{drop.id},{codes[0]}"
    # The Claim button (a claim without a code) says how to claim.
    with pytest.raises(NotAllowed, match=rf"/claim {drop.id} YOURCODE"):
        await runtime.drops.claim(drop.id, member("ada"), "Ada")

    claimed = await runtime.codewords.claim(drop.id, member("ada"), "Ada", codes[0].lower())
    assert claimed.text == "You claimed Harbour #1 of 10! Minting it now."
    assert (await answered(runtime, inbox, claimed.result.key)).minted
    # Someone else with the same code: used. Ada again: the same claim, and she is told so.
    with pytest.raises(CodeRefused, match="^This code was already used.$"):
        await runtime.codewords.claim(drop.id, member("max"), "Max", codes[0])
    again = await runtime.codewords.claim(drop.id, member("ada"), "Ada", codes[0])
    assert again.result.duplicate and again.result.edition == 1
    assert again.text == "This code was already used: it claimed Harbour #1 of 10 for you."
    counts = await runtime.codewords.counts(drop.id)
    assert (counts.issued, counts.used, counts.word) == (3, 1, False)
    assert (await runtime.drops.info(drop.id)).claimed == 1


async def test_a_redelivered_claim_and_a_crash_after_the_reservation_claim_once(
    codebot: tuple[Runtime, Inbox], monkeypatch: pytest.MonkeyPatch
):
    runtime, _ = codebot
    drop = await code_drop(runtime, supply=10, per_user_limit=3)
    first, second = await runtime.codewords.make_codes(drop.id, 2)
    # The same message delivered twice at once: one edition.
    both = await asyncio.gather(
        *(runtime.codewords.claim(drop.id, member("ada"), "Ada", first) for _ in range(2))
    )
    assert {c.result.edition for c in both} == {1}
    assert sorted(c.result.duplicate for c in both) == [False, True]
    # The process dies between reserving the code and recording the claim: the code stays
    # Ada's (nobody else may use it), and her retry claims it.
    real_claim = runtime.drops.claim

    async def dies(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("the process died")

    monkeypatch.setattr(runtime.drops, "claim", dies)
    with pytest.raises(ConnectionResetError):
        await runtime.codewords.claim(drop.id, member("ada"), "Ada", second)
    monkeypatch.setattr(runtime.drops, "claim", real_claim)
    with pytest.raises(CodeRefused, match="already used"):
        await runtime.codewords.claim(drop.id, member("max"), "Max", second)
    retried = await runtime.codewords.claim(drop.id, member("ada"), "Ada", second)
    assert (retried.result.edition, retried.result.duplicate) == (2, False)
    assert (await runtime.drops.info(drop.id)).claimed == 2


async def test_a_refused_claim_frees_its_code(codebot: tuple[Runtime, Inbox]):
    runtime, _ = codebot
    drop = await code_drop(runtime, supply=10)
    one, two = await runtime.codewords.make_codes(drop.id, 2)
    await runtime.codewords.claim(drop.id, member("ada"), "Ada", one)
    with pytest.raises(DropLimitReached):
        await runtime.codewords.claim(drop.id, member("ada"), "Ada", two)
    # Ada could not use the second code: it is still good for someone else.
    claimed = await runtime.codewords.claim(drop.id, member("max"), "Max", two)
    assert claimed.result.edition == 2


async def test_the_secret_word_claims_per_member_and_per_message(codebot: tuple[Runtime, Inbox]):
    runtime, _ = codebot
    drop = await code_drop(runtime)
    with pytest.raises(RequestRejected, match="at least 4"):
        await runtime.codewords.set_word(drop.id, "a b!")
    await runtime.codewords.set_word(drop.id, "Harbour Lights")
    claimed = await runtime.codewords.claim(
        drop.id, member("ada"), "Ada", "harbour-lights", source="m1"
    )
    again = await runtime.codewords.claim(
        drop.id, member("ada"), "Ada", "HARBOUR LIGHTS", source="m1"
    )
    assert again.result.duplicate and again.result.edition == claimed.result.edition
    assert again.text == "You claimed Harbour #1 with this message already."
    with pytest.raises(DropLimitReached):
        await runtime.codewords.claim(drop.id, member("ada"), "Ada", "harbour lights", source="m2")
    assert (await runtime.codewords.counts(drop.id)).word


async def test_codes_expire_with_their_drop(codebot: tuple[Runtime, Inbox]):
    runtime, _ = codebot
    drop = await code_drop(runtime)
    (code,) = await runtime.codewords.make_codes(drop.id, 1)
    await runtime.drops.close(drop.id)
    for typed in (code, "WRONG1"):  # no code is looked at: nothing says which is right
        with pytest.raises(DropClosed, match="^Harbour is over: its codes expired with it.$"):
            await runtime.codewords.claim(drop.id, member("ada"), "Ada", typed)
    with pytest.raises(DropClosed):
        await runtime.codewords.make_codes(drop.id, 1)


async def test_the_database_holds_no_code_and_no_word(codebot: tuple[Runtime, Inbox]):
    runtime, _ = codebot
    drop = await code_drop(runtime)
    codes = await runtime.codewords.make_codes(drop.id, 50)
    await runtime.codewords.set_word(drop.id, "Lighthouse")
    async with runtime.sessions() as session:
        rows = [
            str(tuple(row))
            for table in (DropCode, DropCodeword)
            for row in await session.execute(sa.select(table.__table__))
        ]
    dump = "\n".join(rows).upper()
    assert len(rows) == 51
    assert not [c for c in codes if c in dump] and "LIGHTHOUSE" not in dump
    # The digests are keyed: the same code under another key is another digest.
    other = CodeKey(b"another key")
    assert other.digest(drop.id, "code", codes[0]) != runtime.codewords.key.digest(
        drop.id, "code", codes[0]
    )


async def test_a_code_and_an_allowlist_both_apply(codebot: tuple[Runtime, Inbox]):
    """The allowlist gate looks its entries up before the claim is decided; the code checked
    before that stays among the claimant's facts."""
    runtime, _ = codebot
    drop = await runtime.drops.create_drop(
        platform="discord", community_id="g", created_by="admin", name="Guests", image=png(22)
    )
    await Allowlists(runtime.sessions).replace(drop.id, b"discord:1\n", by="admin")
    (code,) = await runtime.codewords.make_codes(drop.id, 1)
    with pytest.raises(NotAllowed, match="not on it"):
        await runtime.codewords.claim(drop.id, Claimant("discord", "2"), "Max", code)
    with pytest.raises(NotAllowed, match="is claimed with a code"):
        await runtime.drops.claim(drop.id, Claimant("discord", "1"), "Ada")
    # Max's refused claim freed the code.
    claimed = await runtime.codewords.claim(drop.id, Claimant("discord", "1"), "Ada", code)
    assert claimed.result.edition == 1


# ----- wrong codes -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def second_process(env: dict[str, str]) -> AsyncIterator[Codewords]:
    """The codewords service of another bot process on the same database."""
    async with open_runtime(load_settings(env), start=False) as other:
        yield other.codewords


@pytest.mark.db
async def test_wrong_codes_lock_a_member_out_across_processes(
    codebot: tuple[Runtime, Inbox], bot_env: dict[str, str]
):
    runtime, _ = codebot
    drop = await code_drop(runtime)
    (code,) = await runtime.codewords.make_codes(drop.id, 1)
    async with second_process(bot_env) as elsewhere:
        services = [runtime.codewords, elsewhere]
        # A burst of guesses, spread over both processes: only PER_MEMBER are compared.
        outcomes = await asyncio.gather(
            *(
                services[i % 2].claim(drop.id, member("eve"), "Eve", f"GUESS{i}")
                for i in range(3 * PER_MEMBER)
            ),
            return_exceptions=True,
        )
        wrong = [o for o in outcomes if type(o) is CodeRefused]
        locked = [o for o in outcomes if isinstance(o, CodeLocked)]
        assert (len(wrong), len(locked)) == (PER_MEMBER, 2 * PER_MEMBER), outcomes
        assert "Too many wrong codes: you can try again after" in str(locked[0])
        # Locked: even the right code is not looked at, in either process.
        for service in services:
            with pytest.raises(CodeLocked):
                await service.claim(drop.id, member("eve"), "Eve", code)
        # Others are not locked out by Eve.
        assert (await elsewhere.claim(drop.id, member("ada"), "Ada", code)).result.edition == 1


async def test_the_drop_takes_a_bounded_number_of_wrong_codes_from_everyone(
    codebot: tuple[Runtime, Inbox],
):
    """Many accounts together get the drop's wrong codes per window, not each their own; the
    window ends and both counts start again."""
    runtime, _ = codebot
    codewords = Codewords(
        sessions=runtime.sessions,
        drops=runtime.drops,
        key=runtime.codewords.key,
        tries=CodeTriesCounter(runtime.sessions, per_member=2, per_drop=3),
    )
    drop = await code_drop(runtime)
    (code,) = await codewords.make_codes(drop.id, 1)
    for user in ("a1", "a2", "a3"):
        with pytest.raises(CodeRefused, match="not a code"):
            await codewords.claim(drop.id, member(user), user, "NOPE22")
    with pytest.raises(CodeLocked, match="tried for this drop in the last hour") as paused:
        await codewords.claim(drop.id, member("ada"), "Ada", code)
    # Ada's own count was not touched by the pause: when the hour is over she claims.
    async with runtime.sessions.begin() as session:
        for table in (CodeTries, DropCodeword):
            await session.execute(
                sa.update(table).values(window_start=paused.value.until - timedelta(hours=2))
            )
    assert (await codewords.claim(drop.id, member("ada"), "Ada", code)).result.edition == 1
    assert await codewords.tries.left(drop.id, member("a1"), utcnow()) == ""


async def test_wrong_codes_say_how_many_are_left(codebot: tuple[Runtime, Inbox]):
    runtime, _ = codebot
    drop = await code_drop(runtime)
    await runtime.codewords.make_codes(drop.id, 1)
    with pytest.raises(CodeRefused) as wrong:
        await runtime.codewords.claim(drop.id, member("eve"), "Eve", "NOPE22")
    assert str(wrong.value) == (
        f"That is not a code of Harbour. {PER_MEMBER - 1} more wrong codes and you wait an hour."
    )


# ----- whatever a member types -----------------------------------------------------------------


@given(typed=st.text(max_size=80) | st.sampled_from(["", " ", "-", "\x00", "0" * 64, "😀" * 70]))
async def test_any_code_input_fails_only_its_own_request(
    codebot: tuple[Runtime, Inbox], typed: str
) -> None:
    runtime, _ = codebot
    # Each example a member of its own, on a drop without the cap on everyone's wrong codes
    # (a long run would reach it, which is a refusal too, but hides the right code's claim).
    codewords = Codewords(
        sessions=runtime.sessions,
        drops=runtime.drops,
        key=runtime.codewords.key,
        tries=CodeTriesCounter(runtime.sessions, per_drop=10**6),
    )
    seen = _PROPERTY_RUNS.setdefault(id(runtime), [])
    if not seen:
        drop = await code_drop(runtime, name="Anything")
        seen += [drop.id, *(await runtime.codewords.make_codes(drop.id, 1))]
    drop_id, code = int(seen[0]), str(seen[1])
    seen.append(typed)
    user = f"u{len(seen)}"
    try:
        await codewords.claim(drop_id, member(user), user, typed, source=user)
    except RequestRejected as err:
        assert str(err)  # a reason the member reads
    # The bot goes on: the right code still claims (once: later examples are told so).
    assert (await codewords.claim(drop_id, member("ada"), "Ada", code)).result.n == 1


_PROPERTY_RUNS: dict[int, list[object]] = {}


@given(args=st.lists(st.text(max_size=20), max_size=4))
def test_any_telegram_claim_command_reads_as_a_drop_and_a_code(args: list[str]) -> None:
    drop_id, code = parse_claim(args)
    assert drop_id is None or drop_id >= 0
    assert code == " ".join(args[1:] if drop_id is not None else args)


# ----- the command line ------------------------------------------------------------------------


async def test_the_command_line_writes_codes_to_a_new_private_file(
    codebot: tuple[Runtime, Inbox], bot_env: dict[str, str], tmp_path: Path
):
    runtime, _ = codebot
    drop = await code_drop(runtime, supply=10)
    out = tmp_path / "codes.csv"

    async def cli(*args: str, stdin: str | None = None) -> CliResult:
        return await asyncio.to_thread(
            run_cli, "drop", *args, env=bot_env, timeout=120, stdin=stdin
        )

    made = await cli("codes", str(drop.id), "3", "--out", str(out))
    assert made.returncode == 0, made.output
    assert made.stdout.strip() == f"wrote 3 codes for drop #{drop.id} to {out}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    codes = [line.split(",")[1] for line in out.read_text().splitlines()[1:]]
    assert len(codes) == 3 and not [c for c in codes if c in made.output]
    # The bot (the same key, in the same data directory) takes them.
    claimed = await runtime.codewords.claim(drop.id, member("ada"), "Ada", codes[2])
    assert claimed.result.edition == 1
    again = await cli("codes", str(drop.id), "3", "--out", str(out))
    assert again.returncode != 0 and "exists" in again.stderr
    worded = await cli("word", str(drop.id), stdin="Lantern\nLantern\n")
    assert worded.returncode == 0 and "Lantern" not in worded.output
    by_word = await runtime.codewords.claim(drop.id, member("max"), "Max", "lantern", source="m")
    assert by_word.result.edition == 2
