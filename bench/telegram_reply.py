"""Telegram at its flood limits: a burst of 500 mint messages across 100 group chats, then a
steady 20 mint messages a second across 100 group chats for 30 s.

    python bench/telegram_reply.py [--json] [--messages N] [--chats N]
                                   [--steady-seconds S] [--steady-rate R]

The bot runs as `python -m bot run` (long polling, TELEGRAM_MESSAGES_PER_S=30) against the
local Bot API emulator (tests/emulators/telegram/), which enforces Telegram's limits: 30
message calls a second overall, 20 a minute in a group, and refuses (429) and counts a call
over them. Each scenario has its own bot process, collection and emulator, on one anvil.

Every request is a photo captioned `/mint NAME` with a name no other request's contains. The
bot answers a request either alone (a reply to its photo, "⏳ Minting…", edited into the final
answer) or on a status board (one bot message in the chat, a line per request, edited as they
finish). From the emulator's record of the bot's successful sendMessage/editMessageText calls:
a request's first reply is the earliest that replies to its photo or has a line naming it; its
final is the earliest whose text for it (the whole reply to its photo, or its line on a status
board, which a reply becomes when others join it) no longer says "minting…". Times run from
the photo's delivery; a request never answered counts as infinitely late (a p99 it decides is
reported as null).

Floors from the limits, beside the burst's figures: a first reply needs one message in each
chat at the overall limit (chats / 30 s), a final answer two (a first reply, then one edit).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import math
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import deploy, percentile  # noqa: E402
from bot.chain.devchain import Anvil  # noqa: E402
from tests.emulators.telegram import (  # noqa: E402
    MESSAGE_METHODS,
    Call,
    TelegramLimits,
    TelegramServer,
)
from tests.support import bot_process, png  # noqa: E402

LIMITS = TelegramLimits()  # Telegram's; the bot's TELEGRAM_MESSAGES_PER_S is the overall one
ANSWER_WAIT_S = 240.0  # after the last photo, how long the bench waits for every final answer
MINTING = "minting…"  # what a reply or a line says until its request ends
BOARD = "Mint requests here:"  # how a status message starts
TAGS = re.compile(r"<[^>]*>")
ANSWERS = ("sendMessage", "editMessageText")


@dataclass
class Request:
    """One mint message: its name, chat, photo and when it was delivered."""

    name: str
    chat: int
    photo: int
    sent_at: float
    first_at: float | None = None
    final_at: float | None = None


@dataclass
class Scenario:
    """What one scenario sent, and how the bot answered."""

    requests: list[Request] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)  # refused calls by limit
    bot_messages: int = 0  # message calls Telegram performed

    def all_answered(self) -> bool:
        return all(r.final_at is not None for r in self.requests)

    def stats(self, prefix: str) -> dict[str, Any]:
        firsts = [_late(r.first_at, r.sent_at) * 1000 for r in self.requests]
        finals = [_late(r.final_at, r.sent_at) for r in self.requests]
        return {
            f"{prefix}_requests": len(self.requests),
            f"{prefix}_first_reply_p50_ms": _finite(statistics.median(firsts)),
            f"{prefix}_first_reply_p99_ms": _finite(percentile(firsts, 0.99)),
            f"{prefix}_final_p50_s": _finite(statistics.median(finals)),
            f"{prefix}_final_p99_s": _finite(percentile(finals, 0.99)),
            f"{prefix}_answered": sum(1 for r in self.requests if r.final_at is not None),
            f"{prefix}_limit_violations": sum(self.violations.values()),
            f"{prefix}_limit_violations_by_limit": self.violations,
            f"{prefix}_bot_messages": self.bot_messages,
        }


def _late(at: float | None, sent_at: float) -> float:
    return math.inf if at is None else at - sent_at


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 3)


def _readable(text: str) -> str:
    return html.unescape(TAGS.sub("", text))


def _still_minting(text: str) -> bool:
    return MINTING in text.lower()


class Answers:
    """Reads the bot's successful sendMessage/editMessageText calls in the order they
    arrived, noting each request's first reply and final answer."""

    def __init__(self, requests: list[Request]) -> None:
        self._by_photo = {(r.chat, r.photo): r for r in requests}
        self._by_chat: dict[int, list[Request]] = {}
        for r in requests:
            self._by_chat.setdefault(r.chat, []).append(r)
        self._replying_to: dict[tuple[int, int], Request] = {}  # bot message -> its photo
        self._read = 0  # calls read so far

    def read(self, calls: list[Call]) -> None:
        """Read the calls not read yet, up to the first still being answered."""
        while self._read < len(calls) and calls[self._read].status is not None:
            call = calls[self._read]
            self._read += 1
            if call.method in ANSWERS and call.status == 200:
                self._answer(call)

    def _answer(self, call: Call) -> None:
        chat = int(call.params["chat_id"])
        text = _readable(str(call.params["text"]))
        if call.method == "sendMessage":
            reply = call.params.get("reply_parameters") or {}
            photo = reply.get("message_id", call.params.get("reply_to_message_id"))
            solo = self._by_photo.get((chat, int(photo))) if photo is not None else None
            if solo is not None:
                self._replying_to[(chat, call.result["message_id"])] = solo
        else:
            solo = self._replying_to.get((chat, int(call.params["message_id"])))
        # A reply that became the chat's status message answers its own request in its line,
        # like every other request on it.
        board = text.startswith(BOARD)
        if solo is not None and not board:
            _answered(solo, call.at, text)
        for line in text.split("\n"):
            for r in self._by_chat.get(chat, ()):
                if (board or r is not solo) and r.name in line:
                    _answered(r, call.at, line)


def _answered(request: Request, at: float, text: str) -> None:
    if request.first_at is None:
        request.first_at = at
    if request.final_at is None and not _still_minting(text):
        request.final_at = at


async def run_scenario(
    node: Anvil, schedule: list[float], chats: int, label: str, seed: int
) -> Scenario:
    """Photos `/mint <label>NNNN` at the offsets of `schedule` (seconds), chats taking turns,
    each from a member of its own; until each is answered or ANSWER_WAIT_S after the last."""
    width = max(4, len(str(len(schedule))))
    scenario = Scenario()
    with tempfile.TemporaryDirectory() as tmp:
        env = await deploy(node, tmp)
        telegram = TelegramServer(LIMITS)
        await telegram.start()
        groups = [telegram.group(f"{label} chat {i}") for i in range(chats)]
        users = [telegram.user(f"{label} member {i}") for i in range(len(schedule))]
        images = [png(seed + i) for i in range(len(schedule))]
        env |= {**telegram.env(), "TELEGRAM_MESSAGES_PER_S": str(LIMITS.overall_per_s)}
        try:
            async with bot_process(env, Path(tmp) / "bot.log"):
                await telegram.wait_for(lambda: telegram.sent("getUpdates"), 60)
                start = time.monotonic()
                for i, offset in enumerate(schedule):
                    await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
                    name = f"{label}{i:0{width}d}"
                    photo = telegram.send_photo(
                        groups[i % chats], users[i], [images[i]], f"/mint {name}"
                    )
                    sent_at = time.monotonic()
                    chat_id, photo_id = photo["chat"]["id"], photo["message_id"]
                    scenario.requests.append(Request(name, chat_id, photo_id, sent_at))
                answers = Answers(scenario.requests)
                deadline = time.monotonic() + ANSWER_WAIT_S
                while time.monotonic() < deadline and not scenario.all_answered():
                    await asyncio.sleep(0.5)
                    answers.read(telegram.calls)
        finally:
            await telegram.stop()
    answers.read(telegram.calls)
    for violation in telegram.limit_violations:
        scenario.violations[violation.limit] = scenario.violations.get(violation.limit, 0) + 1
    scenario.bot_messages = sum(
        1 for c in telegram.calls if c.status == 200 and c.method in MESSAGE_METHODS
    )
    return scenario


async def run(messages: int, chats: int, steady_seconds: float, steady_rate: float) -> Any:
    steady = [i / steady_rate for i in range(round(steady_seconds * steady_rate))]
    with Anvil() as node:
        burst_run = await run_scenario(node, [0.0] * messages, chats, "Burst", 200_000)
        steady_run = await run_scenario(node, steady, chats, "Steady", 300_000)
    results = {**burst_run.stats("burst"), **steady_run.stats("steady")}
    budget = min(
        LIMITS.overall_per_s / steady_rate, LIMITS.group_per_minute / 60 / (steady_rate / chats)
    )
    return {
        "burst_first_reply_p99_ms": results["burst_first_reply_p99_ms"],
        "burst_final_p99_s": results["burst_final_p99_s"],
        "steady_first_reply_p99_ms": results["steady_first_reply_p99_ms"],
        "steady_final_p99_s": results["steady_final_p99_s"],
        "answered": results["burst_answered"] + results["steady_answered"],
        "limit_violations": results["burst_limit_violations"] + results["steady_limit_violations"],
        "requests": messages + len(steady),
        # One message in each chat at the overall limit; for the finals, two (a first reply,
        # then one edit into final states).
        "burst_first_reply_floor_ms": round(chats / LIMITS.overall_per_s * 1000, 1),
        "burst_final_floor_s": round(2 * chats / LIMITS.overall_per_s, 2),
        # Message calls each steady request may cost on average, under the overall and the
        # per-group limits together: below 2, a reply and an edit per request cannot keep up.
        "steady_messages_per_request_budget": round(budget, 2),
        **results,
    }


# (figure, key, the floor's key or None, target, whether a value meets it)
Check = Callable[[float, dict[str, Any]], bool]
TARGETS: list[tuple[str, str, str | None, str, Check | None]] = [
    (
        "burst first reply p99 (ms)",
        "burst_first_reply_p99_ms",
        "burst_first_reply_floor_ms",
        "≤ 4000",
        lambda v, r: v <= 4000,
    ),
    (
        "burst final p99 (s)",
        "burst_final_p99_s",
        "burst_final_floor_s",
        "≤ 12",
        lambda v, r: v <= 12,
    ),
    (
        "steady first reply p99 (ms)",
        "steady_first_reply_p99_ms",
        None,
        "≤ 1000",
        lambda v, r: v <= 1000,
    ),
    ("steady final p99 (s)", "steady_final_p99_s", None, "", None),
    ("limit violations", "limit_violations", None, "= 0", lambda v, r: v == 0),
    ("answered", "answered", None, "= requests", lambda v, r: v == r["requests"]),
]
NOTES = [
    ("requests", "requests"),
    ("burst first reply p50 (ms)", "burst_first_reply_p50_ms"),
    ("burst final p50 (s)", "burst_final_p50_s"),
    ("steady first reply p50 (ms)", "steady_first_reply_p50_ms"),
    ("steady final p50 (s)", "steady_final_p50_s"),
    ("steady message budget / request", "steady_messages_per_request_budget"),
    ("bot messages burst / steady", "burst_bot_messages", "steady_bot_messages"),
    ("violations burst / steady", "burst_limit_violations", "steady_limit_violations"),
]
BY_LIMIT = [
    ("burst violations by limit", "burst_limit_violations_by_limit"),
    ("steady violations by limit", "steady_limit_violations_by_limit"),
]


def _cell(value: Any) -> str:
    if value is None:
        return "never"
    return f"{value:.2f}" if isinstance(value, float) and value < 100 else f"{value:.0f}"


def table(results: dict[str, Any]) -> str:
    lines = [f"{'figure':<34}{'measured':>12}{'floor':>10}  {'target':<12}"]
    for label, key, floor, target, met in TARGETS:
        value = results[key]
        floor_cell = _cell(results[floor]) if floor else ""
        verdict = ""
        if met is not None:
            verdict = "ok" if value is not None and met(value, results) else "MISSED"
        lines.append(f"{label:<34}{_cell(value):>12}{floor_cell:>10}  {target:<12}{verdict}")
    for label, *keys in NOTES:
        lines.append(f"{label:<34}{' / '.join(_cell(results[k]) for k in keys):>12}")
    for label, key in BY_LIMIT:
        counts = ", ".join(f"{limit} {n}" for limit, n in sorted(results[key].items()))
        lines.append(f"{label:<34}  {counts or 'none'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--messages", type=int, default=500, help="burst: photos sent at once")
    parser.add_argument("--chats", type=int, default=100, help="group chats in each scenario")
    parser.add_argument("--steady-seconds", type=float, default=30.0)
    parser.add_argument("--steady-rate", type=float, default=20.0, help="steady: photos a second")
    args = parser.parse_args()
    started = time.monotonic()
    results = asyncio.run(run(args.messages, args.chats, args.steady_seconds, args.steady_rate))
    if args.json:
        print(json.dumps(results))
        return
    print(table(results))
    print(f"(whole run {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
