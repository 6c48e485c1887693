"""The bot's side of Telegram's flood limits (bot/telegram/limits.py): whatever the network
does to a message between its start and its answer, Telegram never counts more than the limit
in any window; turns go to the urgent first; one busy chat does not hold up the others."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import RetryAfter

from bot.telegram.limits import LATER, NOW, MessageLimits, Window
from bot.telegram.sent_journal import SentJournal

# (arrives, seconds to reach Telegram, seconds for the answer to come back, urgent)
calls = st.lists(
    st.tuples(
        st.floats(0, 5, allow_nan=False),
        st.floats(0, 2, allow_nan=False),
        st.floats(0, 2, allow_nan=False),
        st.booleans(),
    ),
    max_size=60,
)


def simulate(window: Window, wanted: list[tuple[float, float, float, bool]]) -> list[float]:
    """Start each call when the window allows, first come first served; returns when each
    reached Telegram."""
    pending = deque(sorted(wanted))
    waiting: deque[tuple[float, float, float, bool]] = deque()
    under_way: list[float] = []  # when each started call's answer comes back
    arrived: list[float] = []
    now = 0.0
    while True:
        while pending and pending[0][0] <= now:
            waiting.append(pending.popleft())
        while under_way and under_way[0] <= now:
            window.end(heapq.heappop(under_way))
        for call in list(waiting):  # in order, each as soon as its kind may start
            _, there, back, urgent = call
            if window.ready_at(now, urgent=urgent) <= now:
                waiting.remove(call)
                window.begin(now, urgent=urgent)
                arrived.append(now + there)
                heapq.heappush(under_way, now + there + back)
        later = [pending[0][0]] if pending else []
        later += under_way[:1]
        later += [window.ready_at(now, urgent=call[3]) for call in waiting]
        later = [x for x in later if x != float("inf")]
        if not later:
            assert not waiting, "a call waits for nothing that will happen"
            return sorted(arrived)
        now = min(later)


@settings(max_examples=300, deadline=None)
@given(calls, st.integers(1, 5), st.floats(0.1, 3, allow_nan=False))
def test_telegram_never_counts_more_than_the_limit_in_any_window(wanted, count, period):
    arrived = simulate(Window(count, period), wanted)
    assert len(arrived) == len(wanted)  # every call got its turn
    for first, later in zip(arrived, arrived[count:], strict=False):
        assert later - first >= period - 1e-9


@given(st.integers(1, 80), st.integers(1, 30))
def test_instant_calls_use_the_whole_limit(n, count):
    """Not over-careful: with no network delay, `count` calls start in each period."""
    arrived = simulate(Window(count, 1.0), [(0.0, 0.0, 0.0, True)] * n)
    assert arrived[-1] == (n - 1) // count


async def _limits(**given: float) -> MessageLimits:
    limits = MessageLimits(
        overall_per_s=given.get("overall", 1000),
        group_per_minute=given.get("group", 1000),
        private_per_s=given.get("private", 1000),
        max_retries=given.get("retries", 2),  # type: ignore[arg-type]
    )
    await limits.initialize()
    return limits


async def test_a_member_waiting_goes_before_an_update_of_what_they_see():
    limits = await _limits(private=0.5)  # one message per 2 s in a private chat
    order: list[str] = []

    async def send(label: str, priority: int) -> None:
        async with limits.turn(7, priority):
            order.append(label)

    try:
        first = asyncio.create_task(send("first", NOW))
        await first  # its place is held for 2 s
        queued = [asyncio.create_task(send("edit", LATER))]
        await asyncio.sleep(0)
        queued.append(asyncio.create_task(send("reply", NOW)))
        await asyncio.gather(*queued)
    finally:
        await limits.shutdown()
    assert order == ["first", "reply", "edit"]


async def test_a_group_at_its_limit_does_not_hold_up_other_chats():
    limits = await _limits(group=1)  # one message a minute in a group
    try:
        async with limits.turn(-100, NOW):
            pass
        blocked = asyncio.create_task(_turn(limits, -100))
        await asyncio.wait_for(_turn(limits, -200), 10)  # another group
        await asyncio.wait_for(_turn(limits, 5), 10)  # a private chat
        assert not blocked.done()
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
    finally:
        await limits.shutdown()


async def _turn(limits: MessageLimits, chat_id: int, priority: int = NOW) -> None:
    async with limits.turn(chat_id, priority):
        pass


async def test_retry_after_is_obeyed_a_bounded_number_of_times():
    limits = await _limits(retries=2)
    tries = 0

    async def refused_then_sent() -> bool:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise RetryAfter(timedelta(seconds=0))
        return True

    async def always_refused() -> bool:
        raise RetryAfter(timedelta(seconds=0))

    data = {"chat_id": 5}
    try:
        assert await limits.process_request(refused_then_sent, (), {}, "sendMessage", data, None)
        assert tries == 3
        with pytest.raises(RetryAfter):
            await limits.process_request(always_refused, (), {}, "sendMessage", data, None)
    finally:
        await limits.shutdown()


def test_updates_leave_room_in_a_window_for_first_answers():
    window = Window(20, 60.0)
    for _ in range(17):
        window.begin(0.0, urgent=False)
        window.end(0.0)
    assert window.ready_at(1.0, urgent=False) == 60.0  # an update waits for the oldest to leave
    assert window.ready_at(1.0) == 1.0  # a first answer goes now


def test_updates_past_their_sixth_leave_first_answers_their_last_periods_share():
    """A group's minute with twelve first answers in it: updates take their own sixth (three
    places), then wait while as many places as the first answers took are not free, so the
    thirteenth first answer still finds one."""
    window = Window(20, 60.0)
    for second in range(12):
        window.begin(float(second), urgent=True)
        window.end(float(second))
    for second in range(12, 15):
        assert window.ready_at(float(second), urgent=False) == float(second)
        window.begin(float(second), urgent=False)
        window.end(float(second))
    assert window.ready_at(15.0, urgent=False) == 60.0  # when the oldest first answer leaves
    assert window.ready_at(15.0) == 15.0


async def test_an_update_waiting_for_its_turn_goes_as_urgent_once_promoted():
    limits = await _limits(group=6)  # updates may use five places of a group's minute
    try:
        for _ in range(5):
            async with limits.turn(-100, NOW):
                pass
        update = asyncio.create_task(_turn(limits, -100, LATER))
        await asyncio.sleep(0.3)
        assert not update.done()  # the group's minute has no place left for updates
        limits.promote(-100)  # a member's first answer joined the message it updates
        await asyncio.wait_for(update, 10)
    finally:
        await limits.shutdown()


async def test_a_restarted_bot_remembers_what_it_sent_in_the_last_minute(tmp_path):
    """Telegram counts per bot: the next process starts with the last one's windows."""
    journal = tmp_path / "telegram-sent"

    def one_a_minute_in_groups() -> MessageLimits:
        return MessageLimits(
            overall_per_s=30,
            group_per_minute=1,
            private_per_s=1,
            max_retries=0,
            journal=SentJournal(journal),
        )

    before = one_a_minute_in_groups()
    await before.initialize()
    await _turn(before, -100)
    await before.shutdown()  # killed or stopped: the journal has the message
    (written,) = journal.glob("*.log")
    written.write_text(written.read_text() + "torn line\n")
    after = one_a_minute_in_groups()
    await after.initialize()
    try:
        blocked = asyncio.create_task(_turn(after, -100))
        await asyncio.wait_for(_turn(after, -200), 10)  # a chat it did not write to
        assert not blocked.done()  # the group's minute is not over
        blocked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await blocked
    finally:
        await after.shutdown()


def test_the_journal_keeps_what_may_have_ended_in_the_last_minute(tmp_path):
    """A line is a message's start; it may have ended up to CALL_S later (20 s). A line's time
    is written rounded to the millisecond, so the next start can read a line written a moment
    ago as a little in the future: it counts as just sent, not as foreign."""
    journal = tmp_path / "telegram-sent"
    journal.mkdir()
    (journal / "ended.lock").touch()  # a life that ended: no process holds its lock
    now = time.time()
    (journal / "ended.1.log").write_text(
        f"{now + 0.0009:.3f} -1\n{now + 1:.3f} -2\n{now - 30:.3f} -3\n{now - 61:.3f} -4\n"
        f"{now - 85:.3f} -6\n{now + 3600:.3f} -5\nnot a line\n"
    )
    recent = SentJournal(journal).open()
    assert [chat for _, chat in recent] == ["-4", "-3", "-1", "-2"]
    ended_ago = {chat: ago for ago, chat in recent}
    assert 40 < ended_ago["-4"] < 42 and 9 < ended_ago["-3"] < 11
    assert ended_ago["-1"] == ended_ago["-2"] == 0.0


async def test_a_message_is_in_the_journal_from_its_start(tmp_path):
    """A process killed while a message is under way may have delivered it: the next start
    must count it, so its line is written before the call, not after its answer."""
    journal = tmp_path / "telegram-sent"
    limits = MessageLimits(
        overall_per_s=30,
        group_per_minute=20,
        private_per_s=1,
        max_retries=0,
        journal=SentJournal(journal),
    )
    await limits.initialize()
    try:
        async with limits.turn(-100, NOW):
            (written,) = journal.glob("*.log")
            assert written.read_text().split()[1:] == ["-100"]  # killed here: still counted
    finally:
        await limits.shutdown()


def test_processes_sharing_the_journal_count_ended_lives_only(tmp_path):
    """Each chat process keeps to its own share of the limits: a starting process counts what
    ended lives sent (its own earlier one among them), never what a running one sends, and
    deletes a life with nothing recent left."""
    journal = tmp_path / "telegram-sent"
    running, ended = SentJournal(journal), SentJournal(journal)
    assert running.open() == [] and ended.open() == []
    running.record(-1)
    ended.record(-2)
    ended.close()  # killed: the kernel drops its lock
    stale = journal / "long-ago.1.log"
    (journal / "long-ago.lock").touch()
    stale.write_text(f"{time.time() - 3600:.3f} -3\n")
    legacy = tmp_path / "telegram-sent.log"  # the single file of earlier versions
    legacy.write_text(f"{time.time() - 10:.3f} -4\n")
    starting = SentJournal(journal)
    assert [chat for _, chat in starting.open()] == ["-4", "-2"]
    assert not stale.exists() and not (journal / "long-ago.lock").exists()
    assert not legacy.exists()
    running.close()
    assert sorted(chat for _, chat in SentJournal(journal).open()) == ["-1", "-2"]
    starting.close()
