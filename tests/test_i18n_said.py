"""`Said` (bot/i18n/said.py): a message decided in one place, shown in another language later,
after a trip through the database or a worker process; and the errors that carry one."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.chain.nonces import SigningStopped
from bot.chain.sending import needs_funds_reason
from bot.chain.spend import SpendCapReached
from bot.errors import CodeLocked, FeeCapExceeded, RateLimited, RequestRejected
from bot.i18n import current, detached, speaking
from bot.i18n.said import Said, said, shown

# Messages the shipped catalogues translate (tests/test_i18n.py keeps them complete).
WAIT = "You are minting too fast; try again in {seconds} s."


def test_a_said_is_english_as_a_string_and_translated_as_text():
    message = said(WAIT, seconds=4)
    assert str(message) == "You are minting too fast; try again in 4 s."
    with speaking("de"):
        assert str(message) == "You are minting too fast; try again in 4 s."
        german = message.text()
    assert german != str(message) and "4" in german
    assert message.in_locale("de") == german


def test_an_argument_that_is_said_is_translated_with_its_sentence():
    inner = said(WAIT, seconds=2)
    outer = said("Not minted: {reason}", reason=inner)
    assert str(outer) == "Not minted: You are minting too fast; try again in 2 s."
    assert Said.from_json(outer.to_json()) == outer


def test_a_message_without_arguments_keeps_its_braces():
    assert shown(Said("a name like {this} or {")) == "a name like {this} or {"
    assert shown("plain") == "plain"


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
values = st.one_of(names, st.integers(), st.floats(allow_nan=False, allow_infinity=False))


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), values, max_size=4))
def test_any_stored_said_comes_back_equal(args: dict[str, object]):
    message = Said(" ".join(f"{{{k}}}" for k in args) or "x", args)  # type: ignore[arg-type]
    assert Said.from_json(message.to_json()) == message


@given(st.one_of(st.none(), names, st.binary().map(lambda b: b.decode("latin-1"))))
def test_an_unreadable_stored_said_is_none_never_an_error(data: str | None):
    revived = Said.from_json(data)
    assert revived is None or isinstance(revived, Said)


def roundtrip(err: Exception) -> Exception:
    # The bot's own pickles between its processes, as the content workers send a refusal.
    return pickle.loads(pickle.dumps(err))  # noqa: S301


def test_errors_carry_their_said_through_pickling():
    until = datetime(2030, 1, 1, tzinfo=UTC)
    for err in (
        RequestRejected("too big: {mb} MB", mb=30),
        RateLimited(1.2),
        FeeCapExceeded(50 * 10**9, 20 * 10**9),
        CodeLocked(said("locked"), until),
    ):
        back = roundtrip(err)
        assert (type(back), str(back), back.said) == (type(err), str(err), err.said)
    assert roundtrip(CodeLocked("x", until)).until == until  # type: ignore[attr-defined]
    assert str(RequestRejected("too big: {mb} MB", mb=30)) == "too big: 30 MB"


async def test_a_detached_task_speaks_english_whoever_started_it():
    async def spoken() -> str:
        return current()

    with speaking("es"):
        loop = asyncio.get_running_loop()
        inherited = await loop.create_task(spoken())
        shared = await loop.create_task(spoken(), context=detached())
        assert current() == "es"
    assert (inherited, shared) == ("es", "en")


def test_why_minting_waits_is_said_in_the_members_language():
    """The chain's reasons a queued request waits (shown by /status) stay untranslated until
    a member reads them; their English is what the health page and the logs show."""
    funds = needs_funds_reason("0xabc")
    spend = SpendCapReached().said
    stopped = SigningStopped("0xabc", "a rotation holds it").said
    assert str(funds) == "the hot wallet 0xabc needs funds for gas"
    assert funds.in_locale("de") == "die Hot Wallet 0xabc braucht Guthaben für Gas"
    assert spend.in_locale("es").startswith("se alcanzó el límite de gasto de hoy")
    assert stopped.in_locale("de").endswith(": a rotation holds it")  # the operators' words


@given(st.text(st.sampled_from("{}x0a:!.[] "), max_size=12), names)
def test_a_message_that_cannot_be_formatted_is_said_as_it_is(message: str, value: str):
    """Whatever the text and its values, a Said renders: never an error in a member's reply."""
    said_ = Said(message, {"x": value})
    with speaking("de"):
        assert isinstance(said_.text(), str)
    assert isinstance(str(said_), str)
